#pragma once

#include <map>
#include <string>
#include <vector>

#include "dynamic/polynomial.hpp"
#include "passes/passes.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/ir.hpp"

namespace sofiec {

// What a Session with run-time dims needs beyond the graph (see src/dynamic/).
struct DynamicLayout {
  std::vector<std::string> symbols;                        // the dims, in order of first appearance
  std::vector<std::string> vars;                           // their int64_t variables in the code
  std::vector<int64_t> minima;                             // the smallest value of each the model accepts
  std::map<std::string, std::vector<Polynomial>> io_dims;  // graph inputs and outputs
  // Per graph input and output dim: decided by the data (an output of NonZero...); io_dims
  // then holds its upper bound.
  std::map<std::string, std::vector<bool>> data_dependent;
  std::vector<Polynomial> block_bytes;  // per MemoryPlan block, before alignment
  std::string infer_body;               // the lifted body of infer()
};

struct HeaderSpec {
  std::string ns;
  std::string banner;  // comment lines at the top
  bool embed_weights = true;
  // Arena tensors are declared at offsets the Session computes (offsets_[block]), not at
  // numbers fixed here: the code of every sample of the run-time dims reads the same.
  bool runtime_offsets = false;
  const DynamicLayout* dynamic = nullptr;  // set: a Session that takes run-time dims
  bool dispatch_avx512 = false;            // an AVX-512 copy of the kernels, chosen at run time
  Target target = Target::Cpu;
  bool profile = false;       // time each node (CompileOptions::profile)
  bool tf32 = false;          // CUDA target: products in TF32 (CompileOptions::tf32)
  bool profile_counts = true;  // with profile: each node's FLOPs and bytes too (run-time dims: where they lift)
  bool trace = false;         // hand each node's outputs to the Workspace's tracer
  std::string perturb_node;   // CompileOptions::perturb_node
};

struct HeaderOutput {
  std::string text;
  std::vector<unsigned char> weights;     // the blob the Session reads (embedded or in the .dat file)
  std::string infer_body;                 // the statements of infer()
  std::vector<std::string> weight_names;  // the constants the code reads, in blob order
};

HeaderOutput write_header(const Graph& g, const Analysis& a, const MemoryPlan& plan, const HeaderSpec& spec);

}  // namespace sofiec
