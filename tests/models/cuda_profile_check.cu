// A CUDA header written with --profile on the GPU: runs infer() on device buffers (every input
// 0.5), then checks what Session::profile() says (every node timed on every call, a node that
// launches work taking time, the medians' sum within the wall time of a call) and prints it, one JSON line per node
// (benchmarks/run_cuda.sh: where the time goes, node by node). Built with -include the header
// and -DMODEL_NS; -DWEIGHTS_FILE_MODE for --weights file:
//   profile_check NAME [WEIGHTS_FILE]
#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "../cuda/session_calls.cuh"

int main(int argc, char** argv) {
  using Session = MODEL_NS::Session;
  const char* name = argc > 1 ? argv[1] : "model";
  const auto owned = session_calls::make_session<Session>(argc, argv, 2, "NAME WEIGHTS_FILE");
  Session& session = *owned;
  const session_calls::DeviceBuffers<Session> io(0.5f);
  const int warm_up = 20, calls = 200;
  for (int i = 0; i < warm_up; ++i) session_calls::infer_device(session, io.x, io.y);
  session.reset_profile();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) session_calls::infer_device(session, io.x, io.y);
  const double wall_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / calls;
  const std::vector<Session::NodeProfile> profile = session.profile();
  int failed = 0;
  double sum_us = 0;
  if (profile.size() != Session::profile_nodes) {
    std::printf("FAIL %s: %zu nodes profiled, %zu timed\n", name, profile.size(), Session::profile_nodes);
    ++failed;
  }
  for (const auto& p : profile) {
    // (A node may launch nothing, a copy of zero bytes: 0 s is a time.)
    if (p.calls != calls || !(p.median_s >= 0) || !std::isfinite(p.total_s)) {
      std::printf("FAIL %s: node %s: %lld calls, median %g s\n", name, p.name.c_str(), static_cast<long long>(p.calls),
                  p.median_s);
      ++failed;
    }
    sum_us += p.median_s * 1e6;
    std::printf("{\"model\": \"%s\", \"node\": \"%s\", \"op\": \"%s\", \"median_us\": %.2f, \"gflops\": %.1f}\n", name,
                p.name.c_str(), p.op.c_str(), p.median_s * 1e6, p.median_s > 0 ? p.flops / p.median_s * 1e-9 : 0.0);
  }
  // The events lie between launches on the stream: their sum is at most a call's wall time
  // (which adds the host's launches and the wait), give or take the medians' spread; and a
  // model's work takes time.
  if (!(sum_us > 0)) {
    std::printf("FAIL %s: no node took any time\n", name);
    ++failed;
  }
  if (sum_us > 1.5 * wall_us) {
    std::printf("FAIL %s: the nodes' medians add up to %.1f us, a call takes %.1f us\n", name, sum_us, wall_us);
    ++failed;
  }
  std::printf("{\"model\": \"%s\", \"nodes\": %zu, \"sum_of_medians_us\": %.1f, \"call_us\": %.1f}\n", name,
              profile.size(), sum_us, wall_us);
  std::printf("%s: %s\n", name, failed ? "FAILED" : "ok");
  return failed ? 1 : 0;
}
