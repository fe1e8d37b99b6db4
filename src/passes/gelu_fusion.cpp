// GeluFusion: the erf form of GELU torch writes before opset 20, 0.5 * x * (1 + Erf(x /
// sqrt(2))), recognized and replaced by one operator of the compiler's own domain (elementwise,
// which EpilogueFusion can then fuse).
#include <cmath>

#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

bool close_to(double v, double target) { return std::fabs(v - target) <= 1e-4 * std::fabs(target); }

class GeluFusion : public Pass {
 public:
  const char* name() const override { return "GeluFusion"; }
  int run(Graph& g, Analysis& a) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& erf = g.nodes[i];
      if (erf.op_type != "Erf" || !erf.domain.empty()) continue;
      // erf(x / sqrt(2)) or erf(x * (1 / sqrt(2)))
      const int scale_index = producer_of(g, erf.inputs[0]);
      if (scale_index < 0) continue;
      const Node& scale = g.nodes[std::size_t(scale_index)];
      double c = 0;
      if (scale.inputs.size() != 2 || !scalar_constant(g, scale.inputs[1], c) ||
          !((scale.op_type == "Div" && close_to(c, std::sqrt(2.0))) ||
            (scale.op_type == "Mul" && close_to(c, std::sqrt(0.5)))))
        continue;
      const std::string x = scale.inputs[0];
      // + 1
      Node* add = only_reader(g, erf.outputs[0], "Add");
      const std::string* one = add ? other_operand(*add, erf.outputs[0]) : nullptr;
      if (!one || !scalar_constant(g, *one, c) || c != 1.0) continue;
      // * x and * 0.5, in either order
      Node* times_x = only_reader(g, add->outputs[0], "Mul");
      const std::string* xx = times_x ? other_operand(*times_x, add->outputs[0]) : nullptr;
      if (!xx || *xx != x) continue;
      Node* half = only_reader(g, times_x->outputs[0], "Mul");
      const std::string* h = half ? other_operand(*half, times_x->outputs[0]) : nullptr;
      if (!h || !scalar_constant(g, *h, c) || c != 0.5) continue;
      if (g.value(half->outputs[0]).shape != g.value(x).shape) continue;
      become_unary(*half, "Gelu", x);
      ++fused;
    }
    make_dead_node_elimination()->run(g, a);  // the Div, Erf, Add and first Mul
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_gelu_fusion() { return std::make_unique<GeluFusion>(); }

}  // namespace sofiec
