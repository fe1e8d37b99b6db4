// The ONNX backend cases the CUDA target supports, run on a GPU against their stored outputs.
// tools/cuda_conformance.py writes, per group of cases, a .cu file that includes their headers
// (each in its namespace) and this file, and lists them in `kCases`; the program runs every
// case through infer_host on its test_data_set_0 (as raw float32 files written beside it) and
// prints one line per case. Tolerance: the conformance suite's (rtol 1e-3, atol 1e-5).
#pragma once

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "session_calls.cuh"

namespace conformance {

inline bool read_floats(const std::string& path, std::vector<float>& v) {
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  return in && in.peek() == std::char_traits<char>::eof();
}

// Runs one case from its folder (input_<i>.bin, output_<i>.bin); false with a message if it
// does not match.
template <class Session> bool check(const char* name, const std::string& dir) {
  std::vector<std::vector<float>> x, y, expected;
  for (std::size_t i = 0; i != Session::num_inputs; ++i) {  // (!=: nvcc calls i < 0 pointless)
    x.emplace_back(std::size_t(Session::input_shapes[i].size()));
    if (!read_floats(dir + "/input_" + std::to_string(i) + ".bin", x.back())) {
      std::printf("FAIL %s: input %zu missing or of another size\n", name, i);
      return false;
    }
  }
  for (std::size_t i = 0; i != Session::num_outputs; ++i) {
    y.emplace_back(std::size_t(Session::output_shapes[i].size()));
    expected.emplace_back(y.back().size());
    if (!read_floats(dir + "/output_" + std::to_string(i) + ".bin", expected.back())) {
      std::printf("FAIL %s: output %zu missing or of another size\n", name, i);
      return false;
    }
  }
  try {
    Session session;
    session_calls::infer_host(session, x, y);
  } catch (const std::exception& e) {
    std::printf("FAIL %s: %s\n", name, e.what());
    return false;
  }
  for (std::size_t o = 0; o < y.size(); ++o)
    for (std::size_t i = 0; i < y[o].size(); ++i) {
      const double got = y[o][i], want = expected[o][i];
      const bool both_nan = std::isnan(got) && std::isnan(want);
      if (!both_nan && !(std::fabs(got - want) <= 1e-5 + 1e-3 * std::fabs(want)) && !(got == want)) {
        std::printf("FAIL %s: output %zu element %zu is %.9g, expected %.9g\n", name, o, i, got, want);
        return false;
      }
    }
  std::printf("pass %s\n", name);
  return true;
}

struct Case {
  const char* name;
  bool (*run)(const char*, const std::string&);
};

}  // namespace conformance
