// Sessions on threads (built with ThreadSanitizer in one test, plainly in another): first a
// Session per thread, then one Session shared by every thread, each thread with a Workspace of
// its own. Every output must be bit-identical to a single-threaded run, TSan must report no race
// (a Session holds all the mutable state its infer() touches, infer(Workspace&, ...) is const
// and only reads the weights, the header has no global mutable state), and, built without a
// sanitizer, the heap must hold the weights once and one workspace per thread (glibc's
// mallinfo2 counts the bytes allocated).
// MODEL_HEADER, MODEL_NS, MODEL_DATA (<model>.input.bin) as for model_test.cpp;
// MODEL_WEIGHTS_FILE for a header written with --weights file.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__) && defined(__GLIBC__)
#include <malloc.h>
#define MEASURE_HEAP 1
// Bytes in use: small chunks from the heap and large ones mmapped apart.
static std::size_t heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}
#endif

#include MODEL_HEADER

using Session = MODEL_NS::Session;
using Workspace = MODEL_NS::Workspace;

static std::unique_ptr<Session> make_session() {
#ifdef MODEL_WEIGHTS_FILE
  return std::make_unique<Session>(MODEL_WEIGHTS_FILE);
#else
  return std::make_unique<Session>();
#endif
}

int main() {
  std::vector<float> x(std::size_t(Session::input_shapes[0].size()));
  std::ifstream in(std::string(MODEL_DATA) + ".input.bin", std::ios::binary);
  in.read(reinterpret_cast<char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  if (!in) {
    std::fprintf(stderr, "cannot read the input\n");
    return 1;
  }
  const std::size_t n = std::size_t(Session::output_shapes[0].size());
  std::vector<float> reference(n);
  make_session()->infer(x.data(), reference.data());

#ifdef MEASURE_HEAP
  const std::size_t before = heap_bytes();
#endif
  auto session = make_session();
  session->release_workspace();
#ifdef MEASURE_HEAP
  const std::size_t session_heap = heap_bytes() - before;
#endif
  int failures = 0;
  {
    constexpr int kThreads = 4, kRuns = 8;
    std::vector<std::vector<float>> results(kThreads * kRuns, std::vector<float>(n));
    std::vector<std::thread> pool;
    for (int t = 0; t < kThreads; ++t)
      pool.emplace_back([&, t] {
        auto own = make_session();
        for (int r = 0; r < kRuns; ++r) own->infer(x.data(), results[std::size_t(t * kRuns + r)].data());
      });
    for (auto& th : pool) th.join();
    int mismatches = 0;
    for (const auto& y : results) mismatches += std::memcmp(y.data(), reference.data(), n * sizeof(float)) != 0;
    std::printf("a Session per thread, %d threads x %d runs: %d results differ from the single-threaded run\n",
                kThreads, kRuns, mismatches);
    failures += mismatches;
  }
  try {
    session->infer(x.data(), reference.data());
    std::fprintf(stderr, "infer() without a Workspace after release_workspace() did not throw\n");
    ++failures;
  } catch (const std::logic_error&) {
  }

  constexpr int kThreads = 8, kRuns = 6;
  std::vector<std::vector<float>> results(kThreads * kRuns, std::vector<float>(n));
  for (int threads : {1, 2, kThreads}) {
#ifdef MEASURE_HEAP
    const std::size_t start = heap_bytes();
#endif
    std::vector<Workspace> workspaces;
    workspaces.reserve(std::size_t(threads));
    for (int t = 0; t < threads; ++t) workspaces.emplace_back(*session);
#ifdef MEASURE_HEAP
    // Each Workspace: its bytes, 64 for the alignment, the allocator's header (16 here) and
    // the object in the vector.
    const std::size_t workspaces_heap = heap_bytes() - start;
    const std::size_t expected = std::size_t(threads) * (Session::workspace_bytes() + 64 + 16 + sizeof(Workspace));
    std::printf("%d thread(s): weights %zu bytes once (Session: %zu bytes of heap) + %d x workspace %zu = %zu bytes\n",
                threads, std::size_t(Session::weights_bytes), session_heap, threads, Session::workspace_bytes(),
                session_heap + workspaces_heap);
    if (workspaces_heap > expected + 1024) {
      std::fprintf(stderr, "%d workspaces took %zu bytes of heap, expected %zu\n", threads, workspaces_heap, expected);
      ++failures;
    }
#endif
    const Session& shared = *session;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (int r = 0; r < kRuns; ++r)
          shared.infer(workspaces[std::size_t(t)], x.data(), results[std::size_t(t * kRuns + r)].data());
      });
    for (auto& th : pool) th.join();
    int mismatches = 0;
    for (int i = 0; i < threads * kRuns; ++i)
      mismatches += std::memcmp(results[std::size_t(i)].data(), reference.data(), n * sizeof(float)) != 0;
    std::printf("one Session, %d thread(s) x %d runs: %d results differ from the single-threaded run\n", threads, kRuns,
                mismatches);
    failures += mismatches;
  }
#ifdef MEASURE_HEAP
  // The Session alone: the weights (read from a file) and its small members, no workspace.
  if (session_heap > std::size_t(Session::weights_bytes) + 1024) {
    std::fprintf(stderr, "the Session took %zu bytes of heap after release_workspace(), weights are %zu\n",
                 session_heap, std::size_t(Session::weights_bytes));
    ++failures;
  }
#endif
  return failures == 0 ? 0 : 1;
}
