// Times a CUDA header (sofiec --target cuda) on the GPU: infer() on device buffers, replaying
// its CUDA graph and kernel by kernel, per call and in events/s, and the device memory the
// Session holds. Built by benchmarks/run_cuda.sh with -include the header and MODEL_NS; prints
// one JSON line. Built with -DWEIGHTS_FILE_MODE for a header written with --weights file:
//   bench NAME BATCH [WEIGHTS_FILE]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "../tests/cuda/session_calls.cuh"

int main(int argc, char** argv) {
  using Session = MODEL_NS::Session;
  const char* name = argc > 1 ? argv[1] : "model";
  const int batch = argc > 2 ? std::atoi(argv[2]) : 1;
  std::size_t free_before = 0, free_after = 0, total = 0;
  cudaFree(nullptr);  // the context, before the first measurement
  cudaMemGetInfo(&free_before, &total);
  // (--weights file: its .dat, the third argument.)
  const auto owned = session_calls::make_session<Session>(argc, argv, 3, "NAME BATCH WEIGHTS_FILE");
  Session& session = *owned;
  cudaMemGetInfo(&free_after, &total);
  // Every input 0.5 (timing only), every output a buffer of its own.
  const session_calls::DeviceBuffers<Session> io(0.5f);
  const auto run = [&] { session_calls::infer_device(session, io.x, io.y); };
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  auto time_calls = [&](bool graph) {
    session.use_graph(graph);
    for (int i = 0; i < 50; ++i) run();
    cudaStreamSynchronize(session.stream());
    // The median of 7 rounds of back-to-back calls, microseconds per call; a round is about
    // 20 ms of calls (1 to 1000), so that a large batch is timed in seconds, not minutes.
    float ms = 0;
    cudaEventRecord(start, session.stream());
    for (int i = 0; i < 3; ++i) run();
    cudaEventRecord(stop, session.stream());
    cudaEventSynchronize(stop);
    cudaEventElapsedTime(&ms, start, stop);
    const int calls = std::max(1, std::min(1000, int(20.0 / std::max(ms / 3.0, 1e-3))));
    std::vector<double> rounds;
    for (int r = 0; r < 7; ++r) {
      cudaEventRecord(start, session.stream());
      for (int i = 0; i < calls; ++i) run();
      cudaEventRecord(stop, session.stream());
      cudaEventSynchronize(stop);
      cudaEventElapsedTime(&ms, start, stop);
      rounds.push_back(1000.0 * ms / calls);
    }
    std::sort(rounds.begin(), rounds.end());
    return rounds[3];
  };
  const double graph_us = time_calls(true), kernels_us = time_calls(false);
  std::printf(
      "{\"model\": \"%s\", \"batch\": %d, \"graph_us\": %.2f, \"kernels_us\": %.2f, \"events_per_s\": %.0f, "
      "\"session_bytes\": %zu, \"arena_bytes\": %zu, \"weights_bytes\": %zu}\n",
      name, batch, graph_us, kernels_us, batch * 1e6 / graph_us, free_before - free_after,
      std::size_t(Session::arena_bytes), std::size_t(Session::weights_bytes));
  return 0;
}
