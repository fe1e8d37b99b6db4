// SiluFusion: SiLU written as x * Sigmoid(x), recognized and replaced by one operator of the
// compiler's own domain (elementwise, which EpilogueFusion can then fuse).
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

class SiluFusion : public Pass {
 public:
  const char* name() const override { return "SiluFusion"; }
  int run(Graph& g, Analysis& a) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& sigmoid = g.nodes[i];
      if (sigmoid.op_type != "Sigmoid" || !sigmoid.domain.empty()) continue;
      const std::string x = sigmoid.inputs[0], s = sigmoid.outputs[0];
      Node* mul = only_reader(g, s, "Mul");
      const std::string* other = mul ? other_operand(*mul, s) : nullptr;
      if (!other || *other != x || g.value(x).dtype != g.value(mul->outputs[0]).dtype) continue;
      if (g.value(mul->outputs[0]).shape != g.value(x).shape) continue;  // no broadcasting in between
      become_unary(*mul, "Silu", x);
      ++fused;
    }
    make_dead_node_elimination()->run(g, a);  // the Sigmoids, so that x's readers are counted right
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_silu_fusion() { return std::make_unique<SiluFusion>(); }

}  // namespace sofiec
