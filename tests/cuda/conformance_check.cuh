// The ONNX backend cases the CUDA target supports, run on a GPU against their stored outputs.
// tools/cuda_conformance.py writes, per group of cases, a .cu file that includes their headers
// (each in its namespace) and this file, and lists them in `kCases`; the program runs every
// case through infer_host on its test_data_set_0 (as raw files written beside it, float32,
// int64, int32 or bool as the Session declares) and prints one line per case. Tolerance: the
// conformance suite's (rtol 1e-3, atol 1e-5) for floats; integers exactly.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "session_calls.cuh"

namespace conformance {

// Bytes per element of the types the backend cases use on the device (the Session's names).
inline std::size_t element_bytes(const std::string& type) { return type == "int64" ? 8 : type == "bool" ? 1 : 4; }

inline bool read_bytes(const std::string& path, std::vector<unsigned char>& v) {
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size()));
  return in && in.peek() == std::char_traits<char>::eof();
}

// Element i of a tensor of `type`, as a double (int64 indices stay exact below 2^53).
inline double element(const std::vector<unsigned char>& v, const std::string& type, std::size_t i) {
  if (type == "int64") {
    int64_t x;
    std::memcpy(&x, v.data() + 8 * i, 8);
    return double(x);
  }
  if (type == "bool") return double(v[i] != 0);
  if (type == "int32") {
    int32_t x;
    std::memcpy(&x, v.data() + 4 * i, 4);
    return double(x);
  }
  float x;
  std::memcpy(&x, v.data() + 4 * i, 4);
  return double(x);
}

// Runs one case from its folder (input_<i>.bin, output_<i>.bin); false with a message if it
// does not match: floats within the tolerance, integers exactly.
template <class Session> bool check(const char* name, const std::string& dir) {
  std::vector<std::vector<unsigned char>> x, y, expected;
  for (std::size_t i = 0; i != Session::num_inputs; ++i) {  // (!=: nvcc calls i < 0 pointless)
    x.emplace_back(std::size_t(Session::input_shapes[i].size()) * element_bytes(Session::input_types[i]));
    if (!read_bytes(dir + "/input_" + std::to_string(i) + ".bin", x.back())) {
      std::printf("FAIL %s: input %zu missing or of another size\n", name, i);
      return false;
    }
  }
  for (std::size_t i = 0; i != Session::num_outputs; ++i) {
    y.emplace_back(std::size_t(Session::output_shapes[i].size()) * element_bytes(Session::output_types[i]));
    expected.emplace_back(y.back().size());
    if (!read_bytes(dir + "/output_" + std::to_string(i) + ".bin", expected.back())) {
      std::printf("FAIL %s: output %zu missing or of another size\n", name, i);
      return false;
    }
  }
  try {
    Session session;
    session_calls::infer_host_bytes(session, x, y);
  } catch (const std::exception& e) {
    std::printf("FAIL %s: %s\n", name, e.what());
    return false;
  }
  for (std::size_t o = 0; o != Session::num_outputs; ++o) {
    const std::string type = Session::output_types[o];
    const bool exact = type != "float";
    for (std::size_t i = 0; i < std::size_t(Session::output_shapes[o].size()); ++i) {
      const double got = element(y[o], type, i), want = element(expected[o], type, i);
      const bool both_nan = std::isnan(got) && std::isnan(want);
      if (!both_nan && !(got == want) && (exact || !(std::fabs(got - want) <= 1e-5 + 1e-3 * std::fabs(want)))) {
        std::printf("FAIL %s: output %zu element %zu is %.9g, expected %.9g\n", name, o, i, got, want);
        return false;
      }
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
