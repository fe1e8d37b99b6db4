// TransposePairElimination: Transpose pairs that cancel or merge.
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

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
      if (p < 0 || g.nodes[std::size_t(p)].op_type != "Transpose" || !g.nodes[std::size_t(p)].epilogue.empty())
        continue;
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

}  // namespace

std::unique_ptr<Pass> make_transpose_pair_elimination() { return std::make_unique<TransposePairElimination>(); }

}  // namespace sofiec
