// Runs a CUDA header (sofiec --target cuda) on torch's inputs and compares with torch's outputs
// (each file the model's tensors one after the other, in order):
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
#include <utility>
#include <vector>

#include "../cuda/session_calls.cuh"

namespace {

// Fills the tensors from one file holding them one after the other.
bool read_floats(const std::string& path, std::vector<std::vector<float>>& tensors) {
  std::vector<float> all;
  for (const auto& t : tensors) all.insert(all.end(), t.size(), 0.f);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(all.data()), std::streamsize(all.size() * sizeof(float)));
  if (!in || in.peek() != std::char_traits<char>::eof()) {
    std::fprintf(stderr, "%s: missing, short or larger than the model's tensors\n", path.c_str());
    return false;
  }
  std::size_t at = 0;
  for (auto& t : tensors) {
    std::copy(all.begin() + std::ptrdiff_t(at), all.begin() + std::ptrdiff_t(at + t.size()), t.begin());
    at += t.size();
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

std::vector<float> joined(const std::vector<std::vector<float>>& tensors) {
  std::vector<float> all;
  for (const auto& t : tensors) all.insert(all.end(), t.begin(), t.end());
  return all;
}

int main(int argc, char** argv) {
  using Session = MODEL_NS::Session;
  constexpr std::size_t num_in = Session::num_inputs, num_out = Session::num_outputs;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_PREFIX\n", argv[0]);
    return 2;
  }
  const std::string data = argv[1];
  std::vector<std::vector<float>> x, expected_parts;
  for (std::size_t i = 0; i < num_in; ++i) x.emplace_back(std::size_t(Session::input_shapes[i].size()));
  for (std::size_t i = 0; i < num_out; ++i) expected_parts.emplace_back(std::size_t(Session::output_shapes[i].size()));
  if (!read_floats(data + ".input.bin", x) || !read_floats(data + ".output.bin", expected_parts)) return 1;
  const std::vector<float> expected = joined(expected_parts);
#ifdef CHECK_TOLERANCE  // a header whose products round their inputs (--tf32)
  const double tolerance = CHECK_TOLERANCE;
#else
  const double tolerance = 1e-4;
#endif
  int failures = 0;
  auto check = [&](const char* what, const std::vector<std::vector<float>>& y) {
    const double err = worst_error(joined(y), expected);
    std::printf("%-40s max relative error %.3g\n", what, err);
    if (!(err <= tolerance)) ++failures;
  };
  auto make = [&] { return session_calls::make_session<Session>(argc, argv, 2, "DATA_PREFIX WEIGHTS_FILE"); };
  try {
    auto owned = make();
    Session& session = *owned;
    std::vector<std::vector<float>> y = expected_parts;
    session_calls::infer_host(session, x, y);
    check("infer_host", y);
    // Device buffers: the trigger case.
    std::vector<float*> dx(num_in), dy(num_out);
    for (std::size_t i = 0; i < num_in; ++i) {
      cudaMalloc(&dx[i], x[i].size() * sizeof(float));
      cudaMemcpy(dx[i], x[i].data(), x[i].size() * sizeof(float), cudaMemcpyHostToDevice);
    }
    for (std::size_t i = 0; i < num_out; ++i) cudaMalloc(&dy[i], y[i].size() * sizeof(float));
    // A pageable cudaMemcpy may return before its copy lands, and the Session's stream does not
    // wait for the legacy stream's work.
    cudaDeviceSynchronize();
    for (bool graph : {true, false}) {
      session.use_graph(graph);
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < num_out; ++i) cudaMemset(dy[i], 0, y[i].size() * sizeof(float));
        session_calls::infer_device(session, dx, dy);
        cudaStreamSynchronize(session.stream());
        for (std::size_t i = 0; i < num_out; ++i)
          cudaMemcpy(y[i].data(), dy[i], y[i].size() * sizeof(float), cudaMemcpyDeviceToHost);
        check(graph ? "infer (device buffers, graph replay)" : "infer (device buffers, no graph)", y);
      }
    }
    for (float* p : dx) cudaFree(p);
    for (float* p : dy) cudaFree(p);
    // Four Sessions on four threads, each made, run 20 times and destroyed on its thread, on
    // its own stream; ten rounds, so that one thread's set-up, first run, capture or teardown
    // meets the others' at every stage.
    constexpr int rounds = 10, per_round = 4;
    int thread_failures = 0;
    double worst = 0;
    for (int round = 0; round < rounds; ++round) {
      std::vector<std::vector<std::vector<float>>> results(per_round, expected_parts);
      std::vector<std::string> errors(per_round);
      std::vector<std::thread> threads;
      for (int t = 0; t < per_round; ++t)
        threads.emplace_back([&, t] {
          try {
            auto own = make();
            for (int i = 0; i < 20; ++i) session_calls::infer_host(*own, x, results[std::size_t(t)]);
          } catch (const std::exception& e) {
            errors[std::size_t(t)] = e.what();
          }
        });
      for (auto& t : threads) t.join();
      for (std::size_t t = 0; t < per_round; ++t) {
        if (!errors[t].empty()) {
          std::fprintf(stderr, "round %d, thread %zu: %s\n", round, t, errors[t].c_str());
          ++thread_failures;
        } else {
          worst = std::max(worst, worst_error(joined(results[t]), expected));
        }
      }
    }
    std::printf("%-40s %d of %d Sessions failed, max relative error %.3g\n", "threads, a Session and stream each",
                thread_failures, rounds * per_round, worst);
    if (thread_failures || !(worst <= tolerance)) ++failures;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %s\n", data.c_str(), failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
