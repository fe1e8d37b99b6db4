#include "sofiec/compiler.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "ops/registry.hpp"
#include "pipeline.hpp"
#include "sofiec/error.hpp"

namespace sofiec {

const char* version() { return SOFIEC_VERSION; }

OptLevel parse_opt_level(const std::string& s) {
  if (s == "0" || s == "O0") return OptLevel::O0;
  if (s == "basic" || s == "1" || s == "O1") return OptLevel::Basic;
  if (s == "extended" || s == "2" || s == "O2") return OptLevel::Extended;
  throw Error(fmt::format("unknown optimization level '{}' (use 0, basic or extended)", s));
}

std::string sanitize_identifier(const std::string& name) {
  static const std::set<std::string> keywords = {
      "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
      "char", "class", "compl", "const", "constexpr", "const_cast", "continue", "decltype", "default", "delete",
      "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
      "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
      "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
      "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct", "switch",
      "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename", "union",
      "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq", "std", "detail"};
  std::string out;
  for (unsigned char c : name) out += std::isalnum(c) ? char(c) : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "m_" + out;
  // Identifiers with a double underscore or a leading underscore + capital are reserved.
  for (std::size_t p; (p = out.find("__")) != std::string::npos;) out.erase(p, 1);
  if (out[0] == '_') out = "m" + out;
  if (keywords.count(out)) out += '_';
  return out;
}

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
      throw Error(fmt::format("--freeze {}: the input is {}, the value {}", name, dtype_name(v.dtype), dtype_name(value.dtype)));
    if (v.has_shape && is_static(v.shape) && static_dims(v.shape) != value.dims)
      throw Error(fmt::format("--freeze {}: the input has shape {}, the value {}", name, shape_str(v.shape),
                              shape_str(to_shape(value.dims))));
    g.inputs.erase(it);
    g.constants[name] = value;
    g.values[name] = ValueInfo{value.dtype, to_shape(value.dims), true};
  }
}

const char* level_name(OptLevel l) {
  switch (l) {
    case OptLevel::O0: return "0";
    case OptLevel::Basic: return "basic";
    default: return "extended";
  }
}

// Every tensor name the nodes of g read, with their epilogues and subgraph bodies (which may
// read the outer graph's constants).
void collect_reads(const Graph& g, std::set<std::string>& read) {
  for (const Node& n : g.nodes) {
    read.insert(n.inputs.begin(), n.inputs.end());
    for (const Node& f : n.epilogue) read.insert(f.inputs.begin(), f.inputs.end());
    for (const auto& [name, attr] : n.attributes)
      if (attr.kind == Attribute::Kind::Graph && attr.g) collect_reads(*attr.g, read);
  }
  read.insert(g.outputs.begin(), g.outputs.end());
}

// Fills the report's view of the compiled graph (everything but what the passes counted).
void summarize(const Graph& g, const Analysis& a, const MemoryPlan& plan, CompileStats& stats) {
  const Registry& registry = Registry::instance();
  stats.nodes_after = g.nodes.size();
  // Constants nothing reads any more (a weight a pass replaced by its transform) are not in
  // the header's blob, so they do not count.
  std::set<std::string> read;
  collect_reads(g, read);
  for (const auto& [name, t] : g.constants)
    if (read.count(name)) stats.weights_bytes += int64_t(t.bytes.size());
  stats.arena_bytes = plan.arena_bytes;
  stats.arena_lower_bound = plan.lower_bound_bytes;
  stats.arena_no_reuse = plan.no_reuse_bytes;
  stats.views = plan.aliases.size();
  std::vector<TensorSummary> tensors;
  for (const Node& n : g.nodes) {
    ++stats.ops_after[n.op_type];
    NodeSummary s{n.name, n.op_type, {}, 0};
    int64_t elements = 0;
    for (const std::string& o : n.outputs) {
      if (o.empty()) continue;
      const ValueInfo& v = g.value(o);
      const int64_t count = element_count(g.capacity_dims(v.shape));
      elements += count;
      if (plan.tensor_offsets.count(o))
        tensors.push_back({o, std::string(dtype_name(v.dtype)), shape_str(v.shape), count * int64_t(dtype_size(v.dtype))});
    }
    const OpDef* def = registry.find(n, g);
    if (plan.aliases.count(n.outputs[0])) s.flops = 0;
    else s.flops = def && def->flops ? def->flops(NodeView(n, g, &a.known)) : elements;
    for (const Node& f : n.epilogue) {
      s.fused.push_back(f.op_type);
      s.flops += elements;
    }
    stats.total_flops += s.flops;
    stats.nodes.push_back(std::move(s));
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const auto& x, const auto& y) { return x.bytes > y.bytes; });
  if (tensors.size() > 10) tensors.resize(10);
  stats.largest_tensors = std::move(tensors);
}

// -O extended: the file's order is one schedule among many, and Split chunks as views save
// copies but keep their input alive longer. Plans each combination (unless options fix it, as
// the run-time-dims path does), keeps the one that needs the least memory (ties go to the
// file's order and to views), leaves g's nodes in its order and records the choice in stats.
MemoryPlan choose_schedule(Graph& g, const Analysis& analysis, const CompileOptions& options, CompileStats& stats) {
  const std::vector<bool> orders =
      options.memory_aware_order ? std::vector<bool>{*options.memory_aware_order} : std::vector<bool>{false, true};
  const std::vector<bool> splits = options.split_views ? std::vector<bool>{*options.split_views} : std::vector<bool>{true, false};
  const std::vector<Node> file_order = g.nodes;
  std::optional<MemoryPlan> best;
  std::vector<Node> best_nodes;
  for (bool reorder : orders)
    for (bool split_views : splits) {
      g.nodes = file_order;
      if (reorder) {
        std::vector<Node> nodes;
        for (std::size_t i : memory_aware_order(g, analysis, split_views)) nodes.push_back(file_order[i]);
        g.nodes = std::move(nodes);
      }
      MemoryPlan candidate = plan_memory(g, analysis, true, true, split_views);
      if (!best || candidate.arena_bytes < best->arena_bytes) {
        best = std::move(candidate);
        best_nodes = g.nodes;
        stats.reordered = reorder;
        stats.split_views = split_views;
      }
    }
  g.nodes = std::move(best_nodes);
  return std::move(*best);
}

}  // namespace

Tensor frozen_value(const Graph& g, const std::string& input, const std::vector<double>& values) {
  if (std::find(g.inputs.begin(), g.inputs.end(), input) == g.inputs.end())
    throw Error(fmt::format("--freeze {}: the model has no graph input of that name", input));
  const ValueInfo& v = g.value(input);
  std::vector<int64_t> dims{int64_t(values.size())};
  if (v.has_shape && is_static(v.shape)) dims = static_dims(v.shape);
  Tensor t(v.dtype, dims);
  if (t.size() != int64_t(values.size()))
    throw Error(fmt::format("--freeze {}: {} values given, the input holds {}", input, values.size(), t.size()));
  const bool ok = visit_dtype(v.dtype, [&](auto tag) {
    using T = decltype(tag);
    for (std::size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = static_cast<T>(values[i]);
  });
  if (!ok) throw Error(fmt::format("--freeze {}: inputs of type {} cannot be frozen", input, dtype_name(v.dtype)));
  return t;
}

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
        throw Error(fmt::format("graph input '{}' has shape {}: a dynamic dim without a name (name it, as ONNX dim_param "
                                "or torch dynamic_axes do, to choose it at run time)", in, shape_str(v.shape)));
      if (std::find(symbols.begin(), symbols.end(), d.symbol) == symbols.end()) symbols.push_back(d.symbol);
    }
  }
  return symbols;
}

PlannedModel plan_model(Model model, const CompileOptions& options) {
  PlannedModel pm;
  Graph& g = model.graph;
  apply_fixed_dims(g, options.fixed_dims);
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

  const std::vector<std::unique_ptr<Pass>> passes = passes_for_level(options.level != OptLevel::O0);
  for (const auto& pass : passes) stats.pass_changes.emplace_back(pass->name(), pass->run(g, analysis));
  if (!passes.empty()) analysis = infer_graph(g);

  MemoryPlan plan = options.level == OptLevel::Extended ? choose_schedule(g, analysis, options, stats)
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
  const std::string source = std::filesystem::path(model.source_path).filename().string();
  spec.banner = fmt::format("// Generated by sofiec {} from {} with -O {}{}. Do not edit.\n", version(),
                            source.empty() ? "a model" : source, level_name(options.level),
                            spec.embed_weights ? "" : fmt::format(" (weights in {})", options.weights_file_name));
  spec.banner += "// Needs only the C++17 standard library; defining SOFIEC_USE_BLAS (and linking a BLAS that provides\n"
                 "// sgemm_) sends the matrix products of 2^21 multiply-adds or more to that BLAS.\n";
  return spec;
}

CompiledModel compile_model(Model model, const CompileOptions& options) {
  const std::vector<std::string> symbols = runtime_dims(model, options);
  if (!symbols.empty()) {
    if (!options.emit_header)
      throw Error(fmt::format("--report needs static shapes: fix the run-time dims with --dim ({})", fmt::join(symbols, ", ")));
    return compile_dynamic(model, options, symbols);
  }
  const HeaderSpec spec = header_spec(model, options);
  PlannedModel pm = plan_model(std::move(model), options);
  CompiledModel result;
  result.stats = std::move(pm.stats);
  if (!options.emit_header) return result;
  HeaderOutput out = write_header(pm.graph, pm.analysis, pm.plan, spec);
  result.header = std::move(out.text);
  if (!spec.embed_weights) result.weights = std::move(out.weights);
  return result;
}

void write_file_atomically(const std::string& path, const std::string& data) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(fmt::format("cannot write '{}': folder '{}' does not exist", path, dir.string()));
  if (fs::is_directory(target, ec)) throw Error(fmt::format("cannot write '{}': it is a folder", path));
  std::string tmp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = mkstemp(tmp.data());
  if (fd < 0) throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0) {
      const int err = errno;
      ::close(fd);
      std::remove(tmp.c_str());
      throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
    }
    done += std::size_t(w);
  }
  // mkstemp creates the file 0600; give it the permissions an ordinary file would get.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
  }
}

}  // namespace sofiec
