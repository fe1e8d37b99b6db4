// ElementwiseFusion (--target cuda, `extended`): trees of elementwise maps into one node.
#include <algorithm>
#include <map>
#include <set>

#include "ops/cuda.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// A map that can be a member of a fused tree: one float32 output of static shape (rank <= 6),
// float32 operands of static shapes, a unary or binary functor (and a fused epilogue's) that
// templates/cuda/functors.cuh has.
bool fusable(const Graph& g, const Node& n) {
  if (n.outputs.size() != 1 || n.outputs[0].empty()) return false;
  const OpDef* def = Registry::instance().find(n, g);
  if (!def) return false;
  try {
    const NodeView v(n, g, nullptr);
    std::string f;
    if (n.inputs.size() == 1 && def->unary_functor) f = def->unary_functor(v);
    else if (n.inputs.size() == 2 && def->binary_functor) f = def->binary_functor(v);
    else return false;
    if (!cuda_has_functors(f)) return false;
    for (const Node& q : n.epilogue) {
      const OpDef* qd = Registry::instance().find(q, g);
      if (!qd || !qd->unary_functor || !cuda_has_functors(qd->unary_functor(NodeView(q, g, nullptr)))) return false;
    }
  } catch (const Error&) {
    return false;
  }
  for (const std::string& in : n.inputs) {
    if (in.empty()) return false;
    const ValueInfo& x = g.value(in);
    if (x.dtype != DType::Float || !x.has_shape || !is_static(x.shape)) return false;
  }
  const ValueInfo& y = g.value(n.outputs[0]);
  return y.dtype == DType::Float && y.has_shape && is_static(y.shape) && y.shape.size() <= 6;
}

// Maps whose output only the next map reads, joined into trees of at most kMaxLeaves operands
// (graph inputs, constants, other nodes' outputs; each broadcast to the root's output, which
// broadcasting makes the tree's shape): one FusedElementwise node in the root's place, the
// members its epilogue list in their order. In a replayed CUDA graph each map is a launch of a
// few microseconds for a few thousand elements (a transformer's adaLN modulation, a residual
// with a gate); a tree is one, and its intermediates are never stored.
class ElementwiseFusion : public Pass {
 public:
  static constexpr std::size_t kMaxLeaves = 8;
  const char* name() const override { return "ElementwiseFusion"; }
  int run(Graph& g, Analysis&) override {
    struct Tree {
      std::vector<std::size_t> members;
      std::vector<std::string> leaves;
      bool absorbed = false;
    };
    std::vector<Tree> trees;
    std::map<std::string, std::size_t> tree_of;  // a member's output -> its tree
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (!fusable(g, n)) continue;
      Tree t;
      for (std::size_t k = 0; k < n.inputs.size(); ++k) {
        const std::string& in = n.inputs[k];
        auto it = tree_of.find(in);
        bool absorb = it != tree_of.end() && !trees[it->second].absorbed && sole_consumer(g, in) == int(i);
        if (absorb) {
          std::set<std::string> joined(t.leaves.begin(), t.leaves.end());
          joined.insert(trees[it->second].leaves.begin(), trees[it->second].leaves.end());
          absorb = joined.size() + (n.inputs.size() - k - 1) <= kMaxLeaves;
        }
        if (absorb) {
          Tree& sub = trees[it->second];
          sub.absorbed = true;
          t.members.insert(t.members.end(), sub.members.begin(), sub.members.end());
          for (const std::string& l : sub.leaves)
            if (std::find(t.leaves.begin(), t.leaves.end(), l) == t.leaves.end()) t.leaves.push_back(l);
        } else if (std::find(t.leaves.begin(), t.leaves.end(), in) == t.leaves.end()) {
          t.leaves.push_back(in);
        }
      }
      t.members.push_back(i);
      tree_of[n.outputs[0]] = trees.size();
      trees.push_back(std::move(t));
    }
    // Each root's node becomes the tree; the other members go.
    std::map<std::size_t, Node> fused;
    std::set<std::size_t> gone;
    for (Tree& t : trees) {
      if (t.absorbed || t.members.size() < 2) continue;
      std::sort(t.members.begin(), t.members.end());
      const Node& root = g.nodes[t.members.back()];
      Node f;
      f.name = root.name + "/fused";
      f.op_type = "FusedElementwise";
      f.domain = kSofiecDomain;
      f.inputs = t.leaves;
      f.outputs = {root.outputs[0]};
      for (std::size_t m : t.members) {
        f.epilogue.push_back(g.nodes[m]);
        if (m != t.members.back()) gone.insert(m);
      }
      fused.emplace(t.members.back(), std::move(f));
    }
    if (fused.empty()) return 0;
    std::vector<Node> nodes;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (gone.count(i)) continue;
      auto it = fused.find(i);
      nodes.push_back(it != fused.end() ? std::move(it->second) : std::move(g.nodes[i]));
    }
    g.nodes = std::move(nodes);
    return int(fused.size());
  }
};

}  // namespace

std::unique_ptr<Pass> make_elementwise_fusion() { return std::make_unique<ElementwiseFusion>(); }

}  // namespace sofiec
