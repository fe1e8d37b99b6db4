// Runs a CUDA header (sofiec --target cuda) on torch's input and compares with torch's output:
// through infer_host, through infer on device buffers (replaying its CUDA graph, and kernel by
// kernel), and on several Sessions, each on its own stream and host thread, at once. Built by
// nvcc with MODEL_NS and -include the header; run on a GPU host (tools/gpu_check.sh) as
//   cuda_model_check DATA_PREFIX [WEIGHTS_FILE]
// (WEIGHTS_FILE for a header written with --weights file, built with -DWEIGHTS_FILE_MODE).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

bool read_floats(const std::string& path, std::vector<float>& v) {
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  if (!in || in.peek() != std::char_traits<char>::eof()) {
    std::fprintf(stderr, "%s: missing, short or larger than the model's tensor\n", path.c_str());
    return false;
  }
  return true;
}

double worst_error(const std::vector<float>& y, const std::vector<float>& expected) {
  double worst = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double err = std::fabs(double(y[i]) - double(expected[i])) / std::max(1.0, std::fabs(double(expected[i])));
    worst = std::isnan(err) ? INFINITY : std::max(worst, err);
  }
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  using Session = MODEL_NS::Session;
  static_assert(Session::num_inputs == 1 && Session::num_outputs == 1, "test models have one input and one output");
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_PREFIX\n", argv[0]);
    return 2;
  }
  const std::string data = argv[1];
  std::vector<float> x(std::size_t(Session::input_shapes[0].size())),
      expected(std::size_t(Session::output_shapes[0].size()));
  if (!read_floats(data + ".input.bin", x) || !read_floats(data + ".output.bin", expected)) return 1;
  const double tolerance = 1e-4;
  int failures = 0;
  auto check = [&](const char* what, const std::vector<float>& y) {
    const double err = worst_error(y, expected);
    std::printf("%-40s max relative error %.3g\n", what, err);
    if (!(err <= tolerance)) ++failures;
  };
#ifdef WEIGHTS_FILE_MODE
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DATA_PREFIX WEIGHTS_FILE\n", argv[0]);
    return 2;
  }
  auto make = [&] { return std::make_unique<Session>(argv[2]); };
#else
  auto make = [] { return std::make_unique<Session>(); };
#endif
  try {
    auto owned = make();
    Session& session = *owned;
    std::vector<float> y(expected.size());
    session.infer_host(x.data(), y.data());
    check("infer_host", y);
    // Device buffers: the trigger case.
    float *dx = nullptr, *dy = nullptr;
    cudaMalloc(&dx, x.size() * sizeof(float));
    cudaMalloc(&dy, y.size() * sizeof(float));
    cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice);
    for (bool graph : {true, false}) {
      session.use_graph(graph);
      for (int round = 0; round < 3; ++round) {
        cudaMemset(dy, 0, y.size() * sizeof(float));
        session.infer(dx, dy);
        cudaStreamSynchronize(session.stream());
        cudaMemcpy(y.data(), dy, y.size() * sizeof(float), cudaMemcpyDeviceToHost);
        check(graph ? "infer (device buffers, graph replay)" : "infer (device buffers, no graph)", y);
      }
    }
    cudaFree(dx);
    cudaFree(dy);
    // Four Sessions on four threads, each on its own stream, 50 runs each.
    std::vector<std::vector<float>> results(4, std::vector<float>(expected.size()));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        auto own = make();
        for (int i = 0; i < 50; ++i) own->infer_host(x.data(), results[t].data());
      });
    for (auto& t : threads) t.join();
    for (const auto& r : results) check("threads, a Session and stream each", r);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %s\n", data.c_str(), failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
