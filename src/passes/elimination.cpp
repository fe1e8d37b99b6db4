// Operator elimination: nodes that do not change their input (Identity, inference Dropout, a
// Cast to the type it already has, an Expand or Reshape to the shape it already has, a Pad of
// zeros) and
// Transpose pairs that cancel or merge, and Reshape chains.
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

#include <algorithm>
#include <set>

namespace sofiec {
namespace {

bool same_static_shape(const Graph& g, const std::string& a, const std::string& b) {
  const ValueInfo& x = g.value(a);
  const ValueInfo& y = g.value(b);
  return x.dtype == y.dtype && x.has_shape && y.has_shape && is_static(x.shape) && x.shape == y.shape;
}

// Whether node n copies its first input to its first output unchanged.
bool is_noop(const Graph& g, const Node& n, const std::map<std::string, int>& uses) {
  if (!n.domain.empty() || n.inputs.empty() || n.outputs.empty() || n.inputs[0].empty() || !n.epilogue.empty()) return false;
  for (std::size_t i = 1; i < n.outputs.size(); ++i)
    if (!n.outputs[i].empty() && uses.count(n.outputs[i])) return false;  // a Dropout mask that is read
  const std::string& op = n.op_type;
  if (op == "Identity") return true;
  if (op == "Dropout") {
    if (g.opset() >= 12 && n.has_input(2)) {
      const Tensor* mode = g.constant(n.inputs[2]);
      if (!mode || mode->int_at(0) != 0) return false;
    }
    return g.opset() >= 7 || n.attr_int("is_test", 0) != 0;
  }
  if (op == "Pad") {  // torch writes AvgPool2d as a Pad of zeros and an AveragePool
    std::vector<int64_t> pads;
    if (n.has_input(1)) {
      const Tensor* t = g.constant(n.inputs[1]);
      if (!t) return false;
      for (int64_t i = 0; i < t->size(); ++i) pads.push_back(t->int_at(i));
    } else {
      pads = n.attr_ints("pads");
    }
    return std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; }) &&
           same_static_shape(g, n.inputs[0], n.outputs[0]);
  }
  if (op == "Cast" || op == "CastLike" || op == "Expand" || op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
      op == "Unsqueeze")
    return same_static_shape(g, n.inputs[0], n.outputs[0]);
  return false;
}

class NoOpElimination : public Pass {
 public:
  const char* name() const override { return "NoOpElimination"; }
  int run(Graph& g, Analysis&) override {
    int removed = 0;
    for (std::size_t i = 0; i < g.nodes.size();) {
      const Node n = g.nodes[i];
      if (is_noop(g, n, use_counts(g)) && bypass_node(g, i, n.inputs[0], n.outputs[0])) {
        ++removed;
        continue;
      }
      ++i;
    }
    return removed;
  }
};

// Transpose(Transpose(x, p), q) is Transpose(x, p[q[i]]): the identity (both go) or one node.
class TransposePairElimination : public Pass {
 public:
  const char* name() const override { return "TransposePairElimination"; }
  int run(Graph& g, Analysis&) override {
    int changed = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      Node& second = g.nodes[i];
      if (second.op_type != "Transpose" || !second.domain.empty() || !second.epilogue.empty()) continue;
      const int p = producer_of(g, second.inputs[0]);
      if (p < 0 || g.nodes[std::size_t(p)].op_type != "Transpose" || !g.nodes[std::size_t(p)].epilogue.empty()) continue;
      const Node& first = g.nodes[std::size_t(p)];
      const int64_t rank = int64_t(g.value(first.inputs[0]).shape.size());
      auto perm_of = [&](const Node& n) {
        std::vector<int64_t> perm = n.attr_ints("perm");
        if (perm.empty())
          for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
        return perm;
      };
      const auto p1 = perm_of(first), p2 = perm_of(second);
      if (int64_t(p1.size()) != rank || p2.size() != p1.size()) continue;
      std::vector<int64_t> composed;
      bool identity = true;
      for (std::size_t d = 0; d < p2.size(); ++d) {
        composed.push_back(p1[std::size_t(p2[d])]);
        identity = identity && composed.back() == int64_t(d);
      }
      const std::string source = first.inputs[0];
      if (identity) {
        if (bypass_node(g, i, source, second.outputs[0])) {
          ++changed;
          i = std::size_t(-1);  // restart: indices moved
        }
        continue;
      }
      second.inputs[0] = source;
      second.attributes["perm"] = ints_attribute(composed);
      ++changed;  // the first Transpose is dead if nothing else reads it
    }
    return changed;
  }
};

// Reshape(R(x)) where R is reshape-like: the outer Reshape (its target shape known, without 0
// which would copy a dim of its input) reads x directly.
class ReshapeChainElimination : public Pass {
 public:
  const char* name() const override { return "ReshapeChainElimination"; }
  int run(Graph& g, Analysis&) override {
    int changed = 0;
    for (Node& n : g.nodes) {
      if (n.op_type != "Reshape" || !n.domain.empty() || n.inputs.size() < 2) continue;
      const Tensor* shape = g.constant(n.inputs[1]);
      if (!shape) continue;
      const auto target = shape->as_ints();
      if (std::find(target.begin(), target.end(), 0) != target.end()) continue;
      const int p = producer_of(g, n.inputs[0]);
      if (p < 0) continue;
      const Node& inner = g.nodes[std::size_t(p)];
      static const std::set<std::string> reshapes = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"};
      if (!inner.domain.empty() || !reshapes.count(inner.op_type) || !inner.epilogue.empty()) continue;
      n.inputs[0] = inner.inputs[0];
      ++changed;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_noop_elimination() { return std::make_unique<NoOpElimination>(); }
std::unique_ptr<Pass> make_transpose_pair_elimination() { return std::make_unique<TransposePairElimination>(); }
std::unique_ptr<Pass> make_reshape_chain_elimination() { return std::make_unique<ReshapeChainElimination>(); }

}  // namespace sofiec
