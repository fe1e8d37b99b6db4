// Separate Sessions on separate threads, built with ThreadSanitizer: every thread's outputs
// must be bit-identical to a single-threaded run, and TSan must report no race (a Session
// holds all the mutable state its infer() touches; the header has no global mutable state).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include MODEL_HEADER

int main() {
  using Session = MODEL_NS::Session;
  std::vector<float> x(std::size_t(Session::input_shapes[0].size()));
  std::ifstream in(std::string(MODEL_DATA) + ".input.bin", std::ios::binary);
  in.read(reinterpret_cast<char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  if (!in) {
    std::fprintf(stderr, "cannot read the input\n");
    return 1;
  }
  const std::size_t n = std::size_t(Session::output_shapes[0].size());
  std::vector<float> reference(n);
  Session().infer(x.data(), reference.data());

  constexpr int kThreads = 4, kRuns = 8;
  std::vector<std::vector<float>> results(kThreads * kRuns, std::vector<float>(n));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto session = std::make_unique<Session>();
      for (int r = 0; r < kRuns; ++r) session->infer(x.data(), results[std::size_t(t * kRuns + r)].data());
    });
  for (auto& th : threads) th.join();
  int mismatches = 0;
  for (const auto& y : results) mismatches += std::memcmp(y.data(), reference.data(), n * sizeof(float)) != 0;
  std::printf("%d threads x %d runs: %d results differ from the single-threaded run\n", kThreads, kRuns, mismatches);
  return mismatches == 0 ? 0 : 1;
}
