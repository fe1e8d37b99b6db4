// Static memory planning: one arena, offsets fixed at generation time.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "sofiec/compiler.hpp"

namespace sofiec {
namespace {

struct Block {
  std::string name;
  bool is_workspace;
  int64_t bytes;            // aligned
  std::size_t first, last;  // steps (node indices) during which the block is alive
  int64_t raw_bytes;
};

int64_t align_up(int64_t v) { return (v + kAlignment - 1) / kAlignment * kAlignment; }

// Places blocks in the given order, each where it overlaps no placed block alive at the same
// time: at the lowest such offset (first fit), or in the smallest gap that holds it (best
// fit, the end of the arena counting as an unbounded gap). Returns the offsets; arena gets
// the bytes used.
std::vector<int64_t> place_blocks(const std::vector<Block>& blocks, const std::vector<std::size_t>& order,
                                  int64_t& arena, bool best_fit) {
  std::vector<int64_t> offset(blocks.size(), -1);
  arena = 0;
  for (std::size_t idx : order) {
    const Block& b = blocks[idx];
    std::vector<std::pair<int64_t, int64_t>> taken;
    for (std::size_t j = 0; j < blocks.size(); ++j)
      if (offset[j] >= 0 && blocks[j].first <= b.last && b.first <= blocks[j].last)
        taken.emplace_back(offset[j], offset[j] + blocks[j].bytes);
    std::sort(taken.begin(), taken.end());
    int64_t at = 0;
    if (!best_fit) {
      for (const auto& [lo, hi] : taken) {
        if (at + b.bytes <= lo) break;
        at = std::max(at, hi);
      }
    } else {
      int64_t best = -1, best_gap = INT64_MAX, cursor = 0;
      for (const auto& [lo, hi] : taken) {
        if (lo - cursor >= b.bytes && lo - cursor < best_gap) {
          best = cursor;
          best_gap = lo - cursor;
        }
        cursor = std::max(cursor, hi);
      }
      at = best >= 0 ? best : cursor;
    }
    offset[idx] = at;
    arena = std::max(arena, at + b.bytes);
  }
  return offset;
}

// Where node n's output starts in its input when it is a run of consecutive input elements
// (OpDef::run_start: a strided view that is a reshape, or one chunk), judged on static shapes;
// a view whose plan cannot be made here (its parameters unknown) is no alias.
std::optional<int64_t> run_start(const Graph& g, const Node& n) {
  const OpDef* def = Registry::instance().find(n, g);
  if (!def || !def->run_start || n.outputs.size() != 1) return std::nullopt;
  const ValueInfo& in = g.value(n.inputs[0]);
  if (!in.has_shape || !is_static(in.shape)) return std::nullopt;
  try {
    return def->run_start(NodeView(n, g, nullptr));
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

std::map<std::string, std::string> find_aliases(const Graph& g, std::map<std::string, int64_t>* offsets,
                                                bool split_views) {
  static const std::set<std::string> views = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
  const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  std::map<std::string, std::string> aliases;
  std::map<std::string, int64_t> starts;
  auto can_view = [&](const Node& n, const std::string& out) {
    return !out.empty() && !outputs.count(out) && !g.is_constant(out) &&
           g.value(out).dtype == g.value(n.inputs[0]).dtype;
  };
  auto add = [&](const std::string& out, const std::string& in, int64_t start) {
    auto root = aliases.find(in);
    aliases[out] = root != aliases.end() ? root->second : in;
    const int64_t base = starts.count(in) ? starts.at(in) : 0;
    if (base + start != 0) starts[out] = base + start;
  };
  for (const Node& n : g.nodes) {
    if (!n.domain.empty() || n.inputs.empty() || n.inputs[0].empty() || !n.epilogue.empty()) continue;
    const bool reshape = views.count(n.op_type) != 0;
    const std::optional<int64_t> run = reshape ? std::optional<int64_t>(0) : run_start(g, n);
    // A reshape (a run of all the input) always; a chunk (a Slice of a range) where views are
    // chosen, as Split's. (run_start judged the input's shape static.)
    auto whole = [&] {
      const Shape& out = g.value(n.outputs[0]).shape;
      return reshape || (*run == 0 && is_static(out) &&
                         element_count(static_dims(out)) == element_count(static_dims(g.value(n.inputs[0]).shape)));
    };
    if (run && n.outputs.size() == 1 && can_view(n, n.outputs[0]) &&
        (whole() || (split_views && !g.is_constant(n.inputs[0])))) {
      add(n.outputs[0], n.inputs[0], *run);
    } else if (split_views && n.op_type == "Split" && !g.is_constant(n.inputs[0])) {
      // Chunks along an axis with only 1s before it are consecutive runs of the input.
      const ValueInfo& in = g.value(n.inputs[0]);
      if (!in.has_shape || !is_static(in.shape)) continue;
      const std::vector<int64_t> dims = static_dims(in.shape);
      int64_t axis = n.attr_int("axis", 0);
      if (axis < 0) axis += int64_t(dims.size());
      if (axis < 0 || axis >= int64_t(dims.size())) continue;
      bool contiguous = true;
      for (int64_t d = 0; d < axis; ++d) contiguous = contiguous && dims[std::size_t(d)] == 1;
      int64_t inner = 1;
      for (std::size_t d = std::size_t(axis) + 1; d < dims.size(); ++d) inner *= dims[d];
      if (!contiguous ||
          !std::all_of(n.outputs.begin(), n.outputs.end(), [&](const std::string& o) { return can_view(n, o); }))
        continue;
      int64_t start = 0;
      for (const std::string& o : n.outputs) {
        const ValueInfo& v = g.value(o);
        if (!v.has_shape || !is_static(v.shape) || v.shape.size() != dims.size()) break;
        add(o, n.inputs[0], start * inner);
        start += v.shape[std::size_t(axis)].value;
      }
    }
  }
  if (offsets) *offsets = std::move(starts);
  return aliases;
}

MemoryPlan plan_memory(const Graph& g, const Analysis& a, bool reuse, bool alias_views, bool split_views) {
  const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  std::map<std::string, std::size_t> index;  // intermediate -> position in blocks
  std::vector<Block> blocks;
  MemoryPlan plan;
  if (alias_views) plan.aliases = find_aliases(g, &plan.view_offsets, split_views);
  auto root = [&](const std::string& t) {
    auto alias = plan.aliases.find(t);
    return alias != plan.aliases.end() ? alias->second : t;
  };
  // The step at which each tensor (through its views) is read for the last time.
  std::map<std::string, std::size_t> last_read;
  for (std::size_t step = 0; step < g.nodes.size(); ++step)
    for (const auto& read : g.nodes[step].inputs) last_read[root(read)] = step;
  for (const std::string& o : g.outputs) last_read[root(o)] = g.nodes.size();
  const Registry& registry = Registry::instance();
  for (std::size_t step = 0; step < g.nodes.size(); ++step) {
    const Node& n = g.nodes[step];
    for (const auto& read : n.inputs) {
      // Reading a view keeps the tensor it shares memory with alive.
      auto it = index.find(root(read));
      if (it != index.end()) blocks[it->second].last = step;
    }
    // An elementwise node whose input of the same shape dies here writes over it.
    const OpDef* def = reuse ? registry.find(n, g) : nullptr;
    if (def && def->in_place && n.outputs.size() == 1 && !outputs.count(n.outputs[0]) &&
        !plan.aliases.count(n.outputs[0])) {
      const ValueInfo& out = g.value(n.outputs[0]);
      for (const std::string& in : n.inputs) {
        auto block = index.find(in);
        if (in.empty() || block == index.end() || plan.aliases.count(in) || last_read[in] != step ||
            blocks[block->second].is_workspace)
          continue;
        const ValueInfo& v = g.value(in);
        if (v.shape != out.shape || dtype_size(v.dtype) != dtype_size(out.dtype)) continue;
        index[n.outputs[0]] = block->second;
        plan.in_place[n.outputs[0]] = in;
        break;
      }
      if (plan.in_place.count(n.outputs[0])) continue;
    }
    if (auto ws = a.workspace.find(n.name); ws != a.workspace.end())
      blocks.push_back(Block{n.name, true, align_up(ws->second), step, step, ws->second});
    for (const auto& o : n.outputs) {
      if (o.empty() || outputs.count(o) || g.is_constant(o) || plan.aliases.count(o)) continue;
      const ValueInfo& v = g.value(o);
      const int64_t bytes = element_count(g.capacity_dims(v.shape)) * int64_t(dtype_size(v.dtype));
      index[o] = blocks.size();
      blocks.push_back(Block{o, false, align_up(std::max<int64_t>(bytes, 1)), step, step, bytes});
    }
  }
  for (const Block& b : blocks) plan.no_reuse_bytes += b.bytes;
  std::vector<int64_t> alive(g.nodes.size() + 1, 0);
  for (const Block& b : blocks)
    for (std::size_t s = b.first; s <= b.last; ++s) alive[s] += b.bytes;
  std::size_t peak_step = 0;
  for (std::size_t step = 0; step < alive.size(); ++step)
    if (alive[step] > plan.lower_bound_bytes) {
      plan.lower_bound_bytes = alive[step];
      peak_step = step;
    }

  std::vector<int64_t> offset(blocks.size(), 0);
  if (!reuse) {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      offset[i] = plan.arena_bytes;
      plan.arena_bytes += blocks[i].bytes;
    }
  } else {
    // Greedy placement depends on the order blocks are placed in; no order wins on every
    // graph, so try a few and keep the smallest arena (ties: the first, for determinism).
    auto lifetime = [&](std::size_t i) { return int64_t(blocks[i].last - blocks[i].first + 1); };
    const std::vector<std::function<bool(std::size_t, std::size_t)>> orders = {
        [&](std::size_t x, std::size_t y) { return blocks[x].bytes > blocks[y].bytes; },
        [&](std::size_t x, std::size_t y) { return blocks[x].bytes * lifetime(x) > blocks[y].bytes * lifetime(y); },
        [&](std::size_t x, std::size_t y) {
          return lifetime(x) != lifetime(y) ? lifetime(x) > lifetime(y) : blocks[x].bytes > blocks[y].bytes;
        },
        [&](std::size_t x, std::size_t y) {
          return blocks[x].first != blocks[y].first ? blocks[x].first < blocks[y].first
                                                    : blocks[x].bytes > blocks[y].bytes;
        },
        [&](std::size_t x, std::size_t y) {
          return blocks[x].last != blocks[y].last ? blocks[x].last > blocks[y].last : blocks[x].bytes > blocks[y].bytes;
        },
        // Blocks alive at the busiest step first (they are what the lower bound counts).
        [&](std::size_t x, std::size_t y) {
          const bool px = blocks[x].first <= peak_step && peak_step <= blocks[x].last;
          const bool py = blocks[y].first <= peak_step && peak_step <= blocks[y].last;
          return px != py ? px : blocks[x].bytes > blocks[y].bytes;
        },
    };
    plan.arena_bytes = -1;
    for (const auto& before : orders) {
      std::vector<std::size_t> order(blocks.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), before);
      for (bool best_fit : {false, true}) {
        int64_t arena = 0;
        const std::vector<int64_t> placed = place_blocks(blocks, order, arena, best_fit);
        if (plan.arena_bytes < 0 || arena < plan.arena_bytes) {
          plan.arena_bytes = arena;
          offset = placed;
        }
      }
    }
    // If still above the lower bound, a few deterministic perturbations of the size order
    // (sizes jittered by up to 50% with a fixed-seed generator); bounded for large graphs.
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    auto next = [&] {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return double(state >> 11) / double(1ULL << 53);
    };
    for (int trial = 0; trial < 64 && plan.arena_bytes > plan.lower_bound_bytes && blocks.size() <= 2000; ++trial) {
      std::vector<double> key(blocks.size());
      for (std::size_t i = 0; i < blocks.size(); ++i) key[i] = double(blocks[i].bytes) * (1.0 + 0.5 * next());
      std::vector<std::size_t> order(blocks.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return key[x] > key[y]; });
      for (bool best_fit : {false, true}) {
        int64_t arena = 0;
        const std::vector<int64_t> placed = place_blocks(blocks, order, arena, best_fit);
        if (arena < plan.arena_bytes) {
          plan.arena_bytes = arena;
          offset = placed;
        }
      }
    }
    plan.arena_bytes = std::max<int64_t>(plan.arena_bytes, 0);
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    (blocks[i].is_workspace ? plan.workspace_offsets : plan.tensor_offsets)[blocks[i].name] = offset[i];
    (blocks[i].is_workspace ? plan.workspace_blocks : plan.tensor_blocks)[blocks[i].name] = i;
    plan.blocks.push_back(
        ArenaBlock{blocks[i].name, blocks[i].is_workspace, blocks[i].raw_bytes, blocks[i].first, blocks[i].last});
  }
  for (const auto& [tensor, block] : index) {
    plan.tensor_offsets[tensor] = offset[block];
    plan.tensor_blocks[tensor] = block;
  }
  return plan;
}

std::vector<std::size_t> memory_aware_order(const Graph& g, const Analysis& a, bool split_views) {
  const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  const std::map<std::string, std::string> aliases = find_aliases(g, nullptr, split_views);
  auto root = [&](const std::string& t) {
    auto it = aliases.find(t);
    return it != aliases.end() ? it->second : t;
  };
  std::map<std::string, std::size_t> producer;
  std::map<std::string, int64_t> bytes;  // arena tensors
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const std::string& o : g.nodes[i].outputs) {
      if (o.empty()) continue;
      producer[o] = i;
      if (outputs.count(o) || g.is_constant(o) || aliases.count(o)) continue;
      const ValueInfo& v = g.value(o);
      bytes[o] = align_up(std::max<int64_t>(element_count(g.capacity_dims(v.shape)) * int64_t(dtype_size(v.dtype)), 1));
    }
  // Readers left per arena tensor (a view's readers count for the tensor it shares).
  std::map<std::string, int> readers_left;
  std::vector<std::vector<std::size_t>> deps(g.nodes.size());
  std::vector<std::set<std::string>> reads(g.nodes.size());
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const std::string& in : g.nodes[i].inputs) {
      if (in.empty()) continue;
      if (auto p = producer.find(in); p != producer.end()) deps[i].push_back(p->second);
      const std::string r = root(in);
      if (bytes.count(r) && reads[i].insert(r).second) ++readers_left[r];
    }
  std::vector<bool> done(g.nodes.size(), false);
  std::vector<std::size_t> order;
  while (order.size() < g.nodes.size()) {
    std::size_t best = g.nodes.size();
    int64_t best_score = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (done[i] || !std::all_of(deps[i].begin(), deps[i].end(), [&](std::size_t d) { return done[d]; })) continue;
      int64_t score = 0;
      for (const std::string& o : g.nodes[i].outputs)
        if (auto b = bytes.find(o); b != bytes.end()) score += b->second;
      if (auto ws = a.workspace.find(g.nodes[i].name); ws != a.workspace.end()) score += align_up(ws->second);
      for (const std::string& r : reads[i])
        if (readers_left[r] == 1) score -= bytes[r];
      if (best == g.nodes.size() || score < best_score) {
        best = i;
        best_score = score;
      }
    }
    done[best] = true;
    order.push_back(best);
    for (const std::string& r : reads[best]) --readers_left[r];
  }
  return order;
}

MemoryPlan choose_schedule(Graph& g, const Analysis& analysis, const CompileOptions& options, CompileStats& stats) {
  const std::vector<bool> orders =
      options.memory_aware_order ? std::vector<bool>{*options.memory_aware_order} : std::vector<bool>{false, true};
  const std::vector<bool> splits =
      options.split_views ? std::vector<bool>{*options.split_views} : std::vector<bool>{true, false};
  const std::vector<Node> file_order = g.nodes;
  // The smallest arena with chunk views and the smallest without. On the GPU a chunk copied is
  // a kernel launch (microseconds in a replayed graph) where the bytes it saves are nothing to
  // the card: the views are kept unless they cost more than a quarter more arena.
  struct Best {
    std::optional<MemoryPlan> plan;
    std::vector<Node> nodes;
    bool reordered = false;
  } best[2];
  for (bool reorder : orders)
    for (bool split_views : splits) {
      g.nodes = file_order;
      if (reorder) {
        std::vector<Node> nodes;
        for (std::size_t i : memory_aware_order(g, analysis, split_views)) nodes.push_back(file_order[i]);
        g.nodes = std::move(nodes);
      }
      MemoryPlan candidate = plan_memory(g, analysis, true, true, split_views);
      Best& b = best[split_views ? 1 : 0];
      if (!b.plan || candidate.arena_bytes < b.plan->arena_bytes) {
        b.plan = std::move(candidate);
        b.nodes = g.nodes;
        b.reordered = reorder;
      }
    }
  bool views = !best[0].plan;
  if (best[0].plan && best[1].plan) {
    const int64_t with = best[1].plan->arena_bytes, without = best[0].plan->arena_bytes;
    views = options.target == Target::Cuda ? with <= without + without / 4 : with < without;
  }
  Best& chosen = best[views ? 1 : 0];
  stats.reordered = chosen.reordered;
  stats.split_views = views;
  g.nodes = std::move(chosen.nodes);
  return std::move(*chosen.plan);
}

}  // namespace sofiec
