// ReshapeChainElimination: Reshape chains.
#include <algorithm>
#include <set>

#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

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

std::unique_ptr<Pass> make_reshape_chain_elimination() { return std::make_unique<ReshapeChainElimination>(); }

}  // namespace sofiec
