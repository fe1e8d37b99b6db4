// The compiler's entry points: model in, header text (and weights) out.
#pragma once

#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "sofiec/ir.hpp"

namespace sofiec {

enum class OptLevel { O0, Basic, Extended };
enum class WeightsMode { Embed, File };
// cpu: a C++17 header; cuda: a CUDA C++ header for NVIDIA GPUs (nvcc, cuBLAS).
enum class Target { Cpu, Cuda };

struct CompileOptions {
  OptLevel level = OptLevel::Extended;
  WeightsMode weights = WeightsMode::Embed;
  std::string namespace_name;                 // empty: "model"
  std::string weights_file_name;              // for WeightsMode::File: the .dat file's name, for messages
  std::map<std::string, int64_t> fixed_dims;  // --dim NAME=VALUE
  // Graph inputs given a value at generation time (--freeze NAME=VALUES): they become
  // constants and leave infer()'s parameters. For inputs that decide shapes (axes, K, pads).
  std::map<std::string, Tensor> frozen_inputs;
  // false: stop after planning (for --report), CompiledModel::header stays empty.
  bool emit_header = true;
  // Whether -O extended runs the nodes in a memory-aware order: unset, when it needs less
  // memory than the file's order (the run-time-dims path fixes it so that every sample of the
  // dims gets the same schedule).
  std::optional<bool> memory_aware_order;
  // Whether -O extended makes Split's contiguous chunks views of its input: unset, when that
  // needs no more memory than copies.
  std::optional<bool> split_views;
  // --dispatch avx512: the header also carries its kernels compiled for AVX-512 and runs them
  // where the CPU has AVX-512 and the header is built for less (x86-64, GCC or Clang).
  bool dispatch_avx512 = false;
  Target target = Target::Cpu;
  // --tf32 (CUDA target): products in TF32 on the tensor cores.
  bool tf32 = false;
  // Set by the run-time dims' compilation for its samples (Graph::runtime_dims_sampled).
  bool sampling_runtime_dims = false;
  // --profile: infer() times each node (steady clock) into the Workspace; Session::profile()
  // gives calls, total and median time, FLOPs and bytes per node.
  bool profile = false;
  // Debug builds for sofiec verify: infer() hands each node's outputs to the tracer set on
  // the Workspace (static shapes only). perturb_node: that node's first output gets 1 added
  // to every element after it runs (to test the search for the first differing node).
  bool trace = false;
  std::string perturb_node;
};

// One node of the compiled graph, for --report.
struct NodeSummary {
  std::string name, op_type;
  std::vector<std::string> fused;  // op types of its epilogue
  std::vector<std::string> outputs;
  int64_t flops = 0;
};

struct TensorSummary {
  std::string name, dtype, shape;
  int64_t bytes = 0;
};

// What compilation did and what the generated code will need (sofiec --report).
struct CompileStats {
  std::size_t nodes_before = 0, nodes_after = 0;
  std::map<std::string, int> ops_before, ops_after;  // op type -> nodes
  int64_t weights_bytes = 0;
  int64_t arena_bytes = 0, arena_lower_bound = 0, arena_no_reuse = 0;
  std::vector<std::pair<std::string, int>> pass_changes;  // in pass order: name -> nodes changed
  std::vector<NodeSummary> nodes;                         // in execution order
  int64_t total_flops = 0;
  std::vector<TensorSummary> largest_tensors;  // intermediates, largest first (at most 10)
  std::size_t views = 0;                       // reshape-like nodes turned into views
  bool reordered = false;                      // a memory-aware execution order was chosen
  bool split_views = false;                    // Split's chunks are views of its input
};

// One input or output of the generated Session, for code written around it (the Python module).
struct TensorInterface {
  std::string name;
  DType dtype = DType::Float;
  // Per axis: a C++ int64_t expression of the run-time dims' values d[0], d[1]...
  // (a number for a static axis; for an axis the data decides, its upper bound), the same
  // for people ("1", "ntracks", "2*L", "<=N"), the run-time dim it is exactly (-1: none), the
  // run-time dims it depends on (bit i: d[i]) and whether the data decides it.
  std::vector<std::string> dims_cpp, dims_text;
  std::vector<int> dim_index;
  std::vector<uint32_t> dim_mask;
  std::vector<bool> data_dependent;
};

struct SessionInterface {
  std::string ns;  // the C++ namespace of the Session
  bool embed_weights = true;
  std::vector<std::string> dims;  // run-time dims, in the order infer() takes them
  std::vector<int64_t> dim_min;   // the smallest value of each the model accepts
  std::vector<TensorInterface> inputs, outputs;
};

struct CompiledModel {
  std::string header;
  SessionInterface interface;
  std::vector<unsigned char> weights;  // the .dat contents for WeightsMode::File (empty for Embed)
  CompileStats stats;
};

const char* version();

// Parses "0", "basic", "extended" (also "O0", "1", "2"); throws Error otherwise.
OptLevel parse_opt_level(const std::string& s);

// Turns a file stem into a C++ identifier usable as a namespace.
std::string sanitize_identifier(const std::string& name);

// The NAME and values of --freeze NAME=v0,v1,... (NAME= alone: no values, an empty tensor).
// Throws Error.
std::pair<std::string, std::vector<double>> parse_freeze(const std::string& spec);

// A tensor for --freeze NAME=v0,v1,...: the graph input's type, and its declared shape (or
// 1-D with as many elements as values when the shape is unknown). Throws Error.
Tensor frozen_value(const Graph& g, const std::string& input, const std::vector<double>& values);

CompiledModel compile_model(Model model, const CompileOptions& options);

// The --report text: human-readable, or JSON.
std::string format_report(const CompileStats& stats, const std::string& model_name, bool json);

}  // namespace sofiec
