// One benchmark binary per model (benchmarks/CMakeLists.txt sets MODEL_HEADER, MODEL_NS and
// MODEL_DATA): checks the generated code against torch's output, then times infer() with
// Google Benchmark. With --peak-rss it instead runs one inference and prints what the Session
// and that inference add to the process's peak resident memory (kB), for the memory comparison.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include MODEL_HEADER

namespace {

using Session = MODEL_NS::Session;

struct Data {
  std::vector<std::vector<float>> inputs;
  std::vector<float> expected;
};

Data load() {
  Data d;
  std::ifstream in(std::string(MODEL_DATA) + ".input.bin", std::ios::binary);
  for (std::size_t i = 0; i < Session::num_inputs; ++i) {
    d.inputs.emplace_back(std::size_t(Session::input_shapes[i].size()));
    in.read(reinterpret_cast<char*>(d.inputs.back().data()), std::streamsize(d.inputs.back().size() * sizeof(float)));
  }
  d.expected.resize(std::size_t(Session::output_shapes[0].size()));
  std::ifstream out(std::string(MODEL_DATA) + ".output.bin", std::ios::binary);
  out.read(reinterpret_cast<char*>(d.expected.data()), std::streamsize(d.expected.size() * sizeof(float)));
  if (!in || !out) {
    std::fprintf(stderr, "cannot read %s.{input,output}.bin\n", MODEL_DATA);
    std::exit(2);
  }
  return d;
}

template <std::size_t... I> void run(Session& s, const Data& d, float* y, std::index_sequence<I...>) {
  s.infer(d.inputs[I].data()..., y);
}

void infer(Session& s, const Data& d, float* y) { run(s, d, y, std::make_index_sequence<Session::num_inputs>()); }

// A field of /proc/self/status (VmRSS, VmHWM), in kB.
long proc_status_kb(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(status, line))
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  return -1;
}

void BM_Infer(benchmark::State& state) {
  static const Data d = load();
  auto session = std::make_unique<Session>();
  std::vector<float> y(d.expected.size());
  std::vector<double> samples;  // per call, for the median and p90 (ORT's side is timed the same way)
  samples.reserve(std::size_t(state.max_iterations));
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    infer(*session, d, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
    samples.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  auto pick = [&](double q) { return samples[std::min(samples.size() - 1, std::size_t(q * double(samples.size())))]; };
  state.counters["p50_us"] = pick(0.5);
  state.counters["p90_us"] = pick(0.9);
  state.counters["events_per_s"] = benchmark::Counter(
      double(state.iterations()) * double(Session::input_shapes[0].dims[0]), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Infer)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  const Data d = load();
  std::vector<float> y(d.expected.size());
  if (argc > 1 && std::string(argv[1]) == "--peak-rss") {
    // What the Session and one inference add to the peak, as ORT's side measures it
    // (ort_bench.js): the peak reset (clear_refs 5) once the inputs are loaded.
    std::ofstream("/proc/self/clear_refs") << "5";
    const long before = proc_status_kb("VmRSS");
    auto session = std::make_unique<Session>();
    infer(*session, d, y.data());
    benchmark::DoNotOptimize(y.data());
    const long peak = proc_status_kb("VmHWM");
    if (before < 0 || peak < 0) return 2;
    std::printf("%ld\n", peak - before);
    return 0;
  }
  auto session = std::make_unique<Session>();
  infer(*session, d, y.data());
  double worst = 0;
  for (std::size_t i = 0; i < y.size(); ++i)
    worst = std::max(worst, std::fabs(double(y[i]) - d.expected[i]) / std::max(1.0, std::fabs(double(d.expected[i]))));
  std::fprintf(stderr, "max relative difference to torch: %.3g\n", worst);
  if (!(worst <= 1e-3)) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
