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

}  // namespace

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
        tensors.push_back(
            {o, std::string(dtype_name(v.dtype)), shape_str(v.shape), count * int64_t(dtype_size(v.dtype))});
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

}  // namespace sofiec
