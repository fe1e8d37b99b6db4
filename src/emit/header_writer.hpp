#pragma once

#include <string>
#include <vector>

#include "passes/passes.hpp"
#include "sofiec/ir.hpp"

namespace sofiec {

struct HeaderSpec {
  std::string ns;
  std::string banner;     // comment lines at the top
  bool embed_weights = true;
};

struct HeaderOutput {
  std::string text;
  std::vector<unsigned char> weights;  // the blob the Session reads (embedded or in the .dat file)
};

HeaderOutput write_header(const Graph& g, const Analysis& a, const MemoryPlan& plan, const HeaderSpec& spec);

}  // namespace sofiec
