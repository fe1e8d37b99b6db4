// The pipeline of compile_model: options applied to the graph, inference, the level's passes,
// the memory plan, then the header.
#include "sofiec/compiler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "options.hpp"
#include "ops/registry.hpp"
#include "emit/session_interface.hpp"
#include "pipeline.hpp"
#include "sofiec/error.hpp"

namespace sofiec {

const char* version() { return SOFIEC_VERSION; }

namespace {

void apply_fixed_dims(Graph& g, const std::map<std::string, int64_t>& dims) {
  std::set<std::string> unused;
  for (const auto& kv : dims) {
    if (kv.second < 0) throw Error(fmt::format("--dim {}={}: a dimension cannot be negative", kv.first, kv.second));
    unused.insert(kv.first);
  }
  for (auto& [name, v] : g.values)
    for (Dim& d : v.shape)
      if (!d.is_static()) {
        auto it = dims.find(d.symbol);
        if (it != dims.end()) {
          d = Dim(it->second);
          unused.erase(it->first);
        }
      }
  if (!unused.empty()) throw Error(fmt::format("--dim {}: the model has no dimension of that name", *unused.begin()));
}

void freeze_inputs(Graph& g, const std::map<std::string, Tensor>& frozen) {
  for (const auto& [name, value] : frozen) {
    auto it = std::find(g.inputs.begin(), g.inputs.end(), name);
    if (it == g.inputs.end()) throw Error(fmt::format("--freeze {}: the model has no graph input of that name", name));
    const ValueInfo& v = g.value(name);
    if (value.dtype != v.dtype)
      throw Error(fmt::format("--freeze {}: the input is {}, the value {}", name, dtype_name(v.dtype),
                              dtype_name(value.dtype)));
    if (v.has_shape && is_static(v.shape) && static_dims(v.shape) != value.dims)
      throw Error(fmt::format("--freeze {}: the input has shape {}, the value {}", name, shape_str(v.shape),
                              shape_str(to_shape(value.dims))));
    g.inputs.erase(it);
    g.constants[name] = value;
    g.values[name] = ValueInfo{value.dtype, to_shape(value.dims), true};
  }
}

}  // namespace

std::vector<std::string> runtime_dims(const Model& model, const CompileOptions& options) {
  std::vector<std::string> symbols;
  const Graph& g = model.graph;
  for (const std::string& in : g.inputs) {
    if (options.frozen_inputs.count(in)) continue;
    const ValueInfo& v = g.value(in);
    if (!v.has_shape) throw Error(fmt::format("graph input '{}' has a shape of unknown rank", in));
    for (const Dim& d : v.shape) {
      if (d.is_static() || options.fixed_dims.count(d.symbol)) continue;
      if (d.symbol.empty())
        throw Error(
            fmt::format("graph input '{}' has shape {}: a dynamic dim without a name (name it, as ONNX dim_param "
                        "or torch dynamic_axes do, to choose it at run time)",
                        in, shape_str(v.shape)));
      if (std::find(symbols.begin(), symbols.end(), d.symbol) == symbols.end()) symbols.push_back(d.symbol);
    }
  }
  return symbols;
}

PlannedModel plan_model(Model model, const CompileOptions& options) {
  PlannedModel pm;
  Graph& g = model.graph;
  apply_fixed_dims(g, options.fixed_dims);
  g.runtime_dims_sampled = options.sampling_runtime_dims;
  freeze_inputs(g, options.frozen_inputs);
  CompileStats& stats = pm.stats;
  stats.nodes_before = g.nodes.size();
  for (const Node& n : g.nodes) ++stats.ops_before[n.op_type];
  Analysis analysis = infer_graph(g);
  for (const std::string& in : g.inputs) {
    const ValueInfo& v = g.value(in);
    if (!v.has_shape || !is_static(v.shape))
      throw Error(fmt::format("graph input '{}' has shape {}; fix its symbolic dims with --dim NAME=VALUE", in,
                              v.has_shape ? shape_str(v.shape) : "of unknown rank"));
  }

  const std::vector<std::unique_ptr<Pass>> passes = passes_for_level(options.level, options.target);
  for (const auto& pass : passes) stats.pass_changes.emplace_back(pass->name(), pass->run(g, analysis));
  if (!passes.empty()) analysis = infer_graph(g);
  // The scratch sizes inference gives are the CPU kernels'; the CUDA emitters say their own.
  if (options.target == Target::Cuda) {
    analysis.workspace.clear();
    for (const Node& n : g.nodes) {
      const OpDef* def = Registry::instance().find(n, g);
      if (!def || !def->cuda_workspace) continue;
      const int64_t bytes = def->cuda_workspace(NodeView(n, g, &analysis.known));
      if (bytes > 0) analysis.workspace[n.name] = bytes;
    }
  }

  MemoryPlan plan = options.level == OptLevel::Extended
                        ? choose_schedule(g, analysis, options, stats)
                        : plan_memory(g, analysis, false, options.level != OptLevel::O0);
  summarize(g, analysis, plan, stats);
  pm.graph = std::move(g);
  pm.analysis = std::move(analysis);
  pm.plan = std::move(plan);
  return pm;
}

HeaderSpec header_spec(const Model& model, const CompileOptions& options) {
  HeaderSpec spec;
  spec.ns = sanitize_identifier(options.namespace_name.empty() ? "model" : options.namespace_name);
  spec.embed_weights = options.weights == WeightsMode::Embed;
  spec.dispatch_avx512 = options.dispatch_avx512;
  spec.target = options.target;
  spec.profile = options.profile;
  spec.tf32 = options.tf32;
  spec.trace = options.trace;
  spec.perturb_node = options.perturb_node;
  const std::string source = std::filesystem::path(model.source_path).filename().string();
  spec.banner = fmt::format("// Generated by sofiec {} from {} with -O {}{}. Do not edit.\n", version(),
                            source.empty() ? "a model" : source, level_name(options.level),
                            spec.embed_weights ? "" : fmt::format(" (weights in {})", options.weights_file_name));
  spec.banner += options.target == Target::Cuda
                     ? "// CUDA C++17 for NVIDIA GPUs: needs nvcc, the CUDA runtime (12.1 or later) and cuBLAS\n"
                       "// (-lcublas -lcublasLt).\n"
                     : "// Needs only the C++17 standard library; defining SOFIEC_USE_BLAS (and linking a BLAS that "
                       "provides\n// sgemm_) sends the matrix products of 2^21 multiply-adds or more to that BLAS.\n";
  return spec;
}

CompiledModel compile_model(Model model, const CompileOptions& options) {
  const std::vector<std::string> symbols = runtime_dims(model, options);
  if (options.target == Target::Cuda) {
    if (options.dispatch_avx512) throw Error("--dispatch avx512 is for CPU headers, not --target cuda");
  }
  if (options.trace && !symbols.empty())
    throw Error(fmt::format("tracing needs static shapes: fix the run-time dims ({})", fmt::join(symbols, ", ")));
  if (!symbols.empty()) {
    if (!options.emit_header)
      throw Error(
          fmt::format("--report needs static shapes: fix the run-time dims with --dim ({})", fmt::join(symbols, ", ")));
    return compile_dynamic(model, options, symbols);
  }
  const HeaderSpec spec = header_spec(model, options);
  PlannedModel pm = plan_model(std::move(model), options);
  CompiledModel result;
  result.stats = std::move(pm.stats);
  if (!options.emit_header) return result;
  HeaderOutput out = write_header(pm.graph, pm.analysis, pm.plan, spec);
  result.header = std::move(out.text);
  result.interface = static_interface(pm.graph, spec);
  if (!spec.embed_weights) result.weights = std::move(out.weights);
  return result;
}

}  // namespace sofiec
