// The C++ side of benchmarks/python_bench.py: times a sofiec header's Session::infer the way the Python
// module calls it, to measure what the Python layer adds per call. Built by python_bench.py with the
// module's compiler flags:
//   g++ -O3 -march=native -std=c++17 -DMODEL_HEADER='"dir/model.hxx"' -DMODEL_NS=ns python_overhead.cpp
// and run as `a.out EVENTS REPEATS`: prints one JSON line with the median over REPEATS of the time
//   - of one infer() call on one model input ("single"), as s.infer(x) with x of the model's input shape;
//   - of EVENTS infer() calls over EVENTS consecutive inputs of one buffer ("loop"), as s.infer(x) with x
//     of shape (EVENTS, *input shape) does inside the module.
// Each repeat runs enough calls to last about 0.1 s. Models with one float input and one float output.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include MODEL_HEADER

namespace {

using Session = MODEL_NS::Session;
static_assert(Session::num_inputs == 1 && Session::num_outputs == 1, "one input, one output");
using Clock = std::chrono::steady_clock;

// Median over `repeats` of the seconds per call of body(), each repeat about 0.1 s long.
template <class F> double median_per_call(F body, int repeats) {
  long n = 1;
  for (;;) {  // calibrate: double the count until a run lasts 20 ms
    auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) body();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0.02) {
      n = std::max(1L, long(n * 0.1 / s));
      break;
    }
    n *= 2;
  }
  std::vector<double> per_call;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) body();
    per_call.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / double(n));
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const long events = argc > 1 ? std::atol(argv[1]) : 1024;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 7;
  const std::size_t in_size = std::size_t(Session::input_shapes[0].size());
  const std::size_t out_size = std::size_t(Session::output_shapes[0].size());
  std::vector<float> x(in_size * std::size_t(events)), y(out_size * std::size_t(events));
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(gen);

  Session session;
  const double single = median_per_call(
      [&] {
        session.infer(x.data(), y.data());
        asm volatile("" ::: "memory");  // the output is used: the call is not dropped
      },
      repeats);
  const double loop = median_per_call(
      [&] {
        for (long e = 0; e < events; ++e)
          session.infer(x.data() + std::size_t(e) * in_size, y.data() + std::size_t(e) * out_size);
        asm volatile("" ::: "memory");
      },
      repeats);
  std::printf("{\"single_s\": %.6e, \"loop_s\": %.6e, \"events\": %ld}\n", single, loop, events);
  return 0;
}
