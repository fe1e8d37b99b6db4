// Runs a CUDA header with run-time dims (sofiec --target cuda on a model with named dynamic
// dims) at every size torch computed (DATA_PREFIX.cases: the dims' values, then the output's
// dims; DATA_PREFIX.K.input.bin / .output.bin for case K), in one Session made for the largest
// values: through infer_host, through device buffers with the graph replayed while the sizes
// change from call to call (each change re-captures), kernel by kernel, and on four Sessions on
// four threads; checks the reported output shapes and the refusal of a value above its maximum.
// Built by nvcc with MODEL_NS and -include the header; run on a GPU host (tools/gpu_check.sh):
//   cuda_dynamic_check DATA_PREFIX
// One input and one output, as the dynamic test models have.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "model_cases.hpp"

namespace {

using Session = MODEL_NS::Session;
constexpr std::size_t kDims = Session::num_dims;
using Dims = std::array<std::size_t, kDims>;
static_assert(Session::num_inputs == 1 && Session::num_outputs == 1, "one input and one output");

struct Case : model_cases::Case<kDims> {
  std::vector<float> x, expected;
};

bool read_floats(const std::string& path, std::vector<float>& v) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return false;
  v.resize(std::size_t(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  return bool(in);
}

double worst_error(const float* y, const std::vector<float>& expected) {
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double err = std::fabs(double(y[i]) - double(expected[i])) / std::max(1.0, std::fabs(double(expected[i])));
    worst = std::isnan(err) ? INFINITY : std::max(worst, err);
  }
  return worst;
}

template <std::size_t... I> std::unique_ptr<Session> make(const Dims& maxima, std::index_sequence<I...>) {
  return std::make_unique<Session>(maxima[I]...);
}
template <std::size_t... I> void host(Session& s, const Dims& d, const float* x, float* y, std::index_sequence<I...>) {
  s.infer_host(d[I]..., x, y);
}
template <std::size_t... I> void device(Session& s, const Dims& d, const float* x, float* y, std::index_sequence<I...>) {
  s.infer(d[I]..., x, y);
}
constexpr auto kSeq = std::make_index_sequence<kDims>{};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_PREFIX\n", argv[0]);
    return 2;
  }
  const std::string data = argv[1];
  std::vector<Case> cases;
  for (const auto& line : model_cases::read<kDims>(data + ".cases")) {
    Case c;
    static_cast<model_cases::Case<kDims>&>(c) = line;
    const std::string k = data + "." + std::to_string(cases.size());
    if (!read_floats(k + ".input.bin", c.x) || !read_floats(k + ".output.bin", c.expected)) {
      std::fprintf(stderr, "%s: missing input or output\n", k.c_str());
      return 1;
    }
    cases.push_back(std::move(c));
  }
  if (cases.empty()) {
    std::fprintf(stderr, "%s.cases: no cases\n", data.c_str());
    return 1;
  }
  Dims maxima{};
  std::size_t most_in = 0, most_out = 0;
  for (const Case& c : cases) {
    for (std::size_t i = 0; i < kDims; ++i) maxima[i] = std::max(maxima[i], c.dims[i]);
    most_in = std::max(most_in, c.x.size());
    most_out = std::max(most_out, c.expected.size());
  }
  const double tolerance = 1e-4;
  int failures = 0;
  auto check = [&](const char* what, std::size_t k, double err) {
    std::printf("%-44s case %zu max relative error %.3g\n", what, k, err);
    if (!(err <= tolerance)) ++failures;
  };
  try {
    auto session = make(maxima, kSeq);
    std::vector<float> y(most_out);
    for (std::size_t k = 0; k < cases.size(); ++k) {
      host(*session, cases[k].dims, cases[k].x.data(), y.data(), kSeq);
      check("infer_host", k, worst_error(y.data(), cases[k].expected));
      const auto shape = session->output_shape(0);
      if (std::vector<int64_t>(shape.dims, shape.dims + shape.rank) != cases[k].output_dims) {
        std::fprintf(stderr, "case %zu: output_shape differs from torch's\n", k);
        ++failures;
      }
    }
    // Device buffers: the sizes change on every call, so each call re-captures; then kernel by kernel.
    float *dx = nullptr, *dy = nullptr;
    cudaMalloc(&dx, most_in * sizeof(float));
    cudaMalloc(&dy, most_out * sizeof(float));
    for (bool graph : {true, false}) {
      session->use_graph(graph);
      for (int round = 0; round < 2; ++round)
        for (std::size_t k = 0; k < cases.size(); ++k) {
          cudaMemcpy(dx, cases[k].x.data(), cases[k].x.size() * sizeof(float), cudaMemcpyHostToDevice);
          cudaMemset(dy, 0, most_out * sizeof(float));
          cudaDeviceSynchronize();
          device(*session, cases[k].dims, dx, dy, kSeq);
          cudaStreamSynchronize(session->stream());
          cudaMemcpy(y.data(), dy, cases[k].expected.size() * sizeof(float), cudaMemcpyDeviceToHost);
          check(graph ? "infer (device buffers, graph replay)" : "infer (device buffers, no graph)", k,
                worst_error(y.data(), cases[k].expected));
        }
    }
    cudaFree(dx);
    cudaFree(dy);
    // A value above its maximum is refused before anything runs.
    Dims above = maxima;
    above[0] += 1;
    try {
      host(*session, above, cases[0].x.data(), y.data(), kSeq);
      std::fprintf(stderr, "a dim above its maximum was not refused\n");
      ++failures;
    } catch (const std::out_of_range&) {
    }
    // Four Sessions on four threads, each going through every case five times.
    std::vector<std::string> errors(4);
    std::vector<double> worst(4, 0.0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        try {
          auto own = make(maxima, kSeq);
          std::vector<float> out(most_out);
          for (int round = 0; round < 5; ++round)
            for (const Case& c : cases) {
              host(*own, c.dims, c.x.data(), out.data(), kSeq);
              worst[t] = std::max(worst[t], worst_error(out.data(), c.expected));
            }
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    for (auto& t : threads) t.join();
    for (std::size_t t = 0; t < 4; ++t) {
      if (!errors[t].empty()) {
        std::fprintf(stderr, "thread %zu: %s\n", t, errors[t].c_str());
        ++failures;
      }
      check("threads, a Session and stream each", t, worst[t]);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %s\n", data.c_str(), failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
