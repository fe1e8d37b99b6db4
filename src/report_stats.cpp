// The report's view of a compiled graph (CompileStats), which report.cpp formats.
#include <algorithm>
#include <set>

#include "ops/registry.hpp"
#include "pipeline.hpp"

namespace sofiec {
namespace {

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

int64_t tensor_bytes(const Graph& g, const std::string& name) {
  if (name.empty() || !g.values.count(name)) return 0;
  const ValueInfo& v = g.value(name);
  if (!v.has_shape) return 0;
  return element_count(g.capacity_dims(v.shape)) * int64_t(dtype_size(v.dtype));
}

}  // namespace

int64_t node_flops(const Node& n, const Graph& g, const Analysis& a) {
  int64_t elements = 0;
  for (const std::string& o : n.outputs)
    if (!o.empty()) elements += element_count(g.capacity_dims(g.value(o).shape));
  const OpDef* def = Registry::instance().find(n, g);
  const int64_t own = def && def->flops ? def->flops(NodeView(n, g, &a.known)) : elements;
  return own + elements * int64_t(n.epilogue.size());
}

int64_t node_bytes(const Node& n, const Graph& g) {
  int64_t bytes = 0;
  for (const std::string& i : n.inputs) bytes += tensor_bytes(g, i);
  // An epilogue's first input is the chain's own result, in registers (EpilogueFusion): only
  // its other operands (a Clip's bounds) count.
  for (const Node& f : n.epilogue)
    for (std::size_t i = 1; i < f.inputs.size(); ++i) bytes += tensor_bytes(g, f.inputs[i]);
  for (const std::string& o : n.outputs) bytes += tensor_bytes(g, o);
  return bytes;
}

void summarize(const Graph& g, const Analysis& a, const MemoryPlan& plan, CompileStats& stats) {
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
    NodeSummary s{n.name, n.op_type, {}, n.outputs, 0};
    int64_t elements = 0;
    for (const std::string& o : n.outputs) {
      if (o.empty()) continue;
      const ValueInfo& v = g.value(o);
      const int64_t count = element_count(g.capacity_dims(v.shape));
      elements += count;
      if (plan.tensor_offsets.count(o))
        tensors.push_back(
            {o, std::string(dtype_name(v.dtype)), shape_str(v.shape), count * int64_t(dtype_size(v.dtype))});
    }
    s.flops = plan.aliases.count(n.outputs[0]) ? 0 : node_flops(n, g, a);
    for (const Node& f : n.epilogue) s.fused.push_back(f.op_type);
    stats.total_flops += s.flops;
    stats.nodes.push_back(std::move(s));
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const auto& x, const auto& y) { return x.bytes > y.bytes; });
  if (tensors.size() > 10) tensors.resize(10);
  stats.largest_tensors = std::move(tensors);
}

}  // namespace sofiec
