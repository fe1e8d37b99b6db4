// ConstantFolding: every node whose outputs are known at generation time becomes constants.
#include "passes/passes.hpp"

namespace sofiec {
namespace {

class ConstantFolding : public Pass {
 public:
  const char* name() const override { return "ConstantFolding"; }
  int run(Graph& g, Analysis& a) override {
    InferOptions unlimited;
    unlimited.max_known_elements = kMaxFoldedElements;
    a = infer_graph(g, unlimited);
    int folded = 0;
    std::vector<Node> kept;
    for (Node& n : g.nodes) {
      bool all_known = true;
      for (const auto& o : n.outputs) all_known = all_known && (o.empty() || a.known.count(o));
      if (!all_known) {
        kept.push_back(std::move(n));
        continue;
      }
      for (const auto& o : n.outputs)
        if (!o.empty()) g.constants[o] = std::move(a.known[o]);
      ++folded;
    }
    g.nodes = std::move(kept);
    a.known.clear();
    return folded;
  }
};

}  // namespace

std::unique_ptr<Pass> make_constant_folding() { return std::make_unique<ConstantFolding>(); }

}  // namespace sofiec
