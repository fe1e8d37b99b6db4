// Static memory planning: one arena, offsets fixed at generation time.
#include <algorithm>
#include <set>

#include "passes/passes.hpp"

namespace sofiec {
namespace {

struct Block {
  std::string name;
  bool is_workspace;
  int64_t bytes;
  std::size_t first, last;  // steps (node indices) during which the block is alive
};

int64_t align_up(int64_t v) { return (v + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

std::map<std::string, std::string> find_aliases(const Graph& g) {
  static const std::set<std::string> views = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
  const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  std::map<std::string, std::string> aliases;
  for (const Node& n : g.nodes) {
    if (!n.domain.empty() || !views.count(n.op_type) || n.inputs.empty() || n.outputs.size() != 1 || !n.epilogue.empty())
      continue;
    const std::string& out = n.outputs[0];
    if (out.empty() || outputs.count(out) || g.is_constant(out) || g.value(out).dtype != g.value(n.inputs[0]).dtype) continue;
    auto root = aliases.find(n.inputs[0]);
    aliases[out] = root != aliases.end() ? root->second : n.inputs[0];
  }
  return aliases;
}

MemoryPlan plan_memory(const Graph& g, const Analysis& a, bool reuse, bool alias_views) {
  const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  std::map<std::string, std::size_t> index;  // intermediate -> position in blocks
  std::vector<Block> blocks;
  MemoryPlan plan;
  if (alias_views) plan.aliases = find_aliases(g);
  for (std::size_t step = 0; step < g.nodes.size(); ++step) {
    const Node& n = g.nodes[step];
    for (const auto& read : n.inputs) {
      // Reading a view keeps the tensor it shares memory with alive.
      auto alias = plan.aliases.find(read);
      auto it = index.find(alias != plan.aliases.end() ? alias->second : read);
      if (it != index.end()) blocks[it->second].last = step;
    }
    if (auto ws = a.workspace.find(n.name); ws != a.workspace.end())
      blocks.push_back(Block{n.name, true, align_up(ws->second), step, step});
    for (const auto& o : n.outputs) {
      if (o.empty() || outputs.count(o) || g.is_constant(o) || plan.aliases.count(o)) continue;
      const ValueInfo& v = g.value(o);
      const int64_t bytes = element_count(g.capacity_dims(v.shape)) * int64_t(dtype_size(v.dtype));
      index[o] = blocks.size();
      blocks.push_back(Block{o, false, align_up(std::max<int64_t>(bytes, 1)), step, step});
    }
  }
  for (const Block& b : blocks) plan.no_reuse_bytes += b.bytes;
  std::vector<int64_t> alive(g.nodes.size() + 1, 0);
  for (const Block& b : blocks)
    for (std::size_t s = b.first; s <= b.last; ++s) alive[s] += b.bytes;
  for (int64_t v : alive) plan.lower_bound_bytes = std::max(plan.lower_bound_bytes, v);

  std::vector<std::size_t> order(blocks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (reuse)  // largest first; ties by birth so the plan is deterministic
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return blocks[x].bytes > blocks[y].bytes; });
  std::vector<int64_t> offset(blocks.size(), -1);
  for (std::size_t idx : order) {
    const Block& b = blocks[idx];
    int64_t at = 0;
    if (reuse) {
      // Occupied ranges of already placed blocks whose lifetimes overlap this one.
      std::vector<std::pair<int64_t, int64_t>> taken;
      for (std::size_t j = 0; j < blocks.size(); ++j)
        if (offset[j] >= 0 && blocks[j].first <= b.last && b.first <= blocks[j].last)
          taken.emplace_back(offset[j], offset[j] + blocks[j].bytes);
      std::sort(taken.begin(), taken.end());
      for (const auto& [lo, hi] : taken) {
        if (at + b.bytes <= lo) break;
        at = std::max(at, hi);
      }
    } else {
      at = plan.arena_bytes;
    }
    offset[idx] = at;
    plan.arena_bytes = std::max(plan.arena_bytes, at + b.bytes);
    (b.is_workspace ? plan.workspace_offsets : plan.tensor_offsets)[b.name] = at;
  }
  return plan;
}

}  // namespace sofiec
