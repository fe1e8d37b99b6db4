// The cases of a test model with run-time dims (NAME.cases, written by
// models/generate_dynamic_models.py): one line per case, the dims' values, a colon, then the
// output's dims as torch computed them. Shared by the CPU and CUDA checks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace model_cases {

template <std::size_t Dims> struct Case {
  std::array<std::size_t, Dims> dims{};
  std::vector<int64_t> output_dims;
};

// The file's cases in order (none if it cannot be read).
template <std::size_t Dims> std::vector<Case<Dims>> read(const std::string& path) {
  std::ifstream in(path);
  std::vector<Case<Dims>> cases;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    Case<Dims> c;
    for (std::size_t& d : c.dims) fields >> d;
    std::string colon;
    fields >> colon;
    for (int64_t d; fields >> d;) c.output_dims.push_back(d);
    cases.push_back(c);
  }
  return cases;
}

}  // namespace model_cases
