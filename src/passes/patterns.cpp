// Patterns that exporters spell out in primitive nodes, recognized and replaced by one
// elementwise operator of the compiler's own domain (which EpilogueFusion can then fuse):
// SiLU written as x * Sigmoid(x), and the erf form of GELU torch writes before opset 20,
// 0.5 * x * (1 + Erf(x / sqrt(2))).
#include <cmath>

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// The value of a one-element float constant, if `name` is one.
bool scalar_constant(const Graph& g, const std::string& name, double& value) {
  const Tensor* t = g.constant(name);
  if (!t || t->size() != 1 || !dtype_is_float(t->dtype)) return false;
  value = t->float_at(0);
  return true;
}

// The single reader of `tensor` if it is a default-domain `op` (and `tensor` no graph output).
Node* only_reader(Graph& g, const std::string& tensor, const char* op) {
  if (is_graph_output(g, tensor)) return nullptr;
  const auto readers = consumers_of(g, tensor);
  if (readers.size() != 1) return nullptr;
  Node& n = g.nodes[readers[0]];
  return n.op_type == op && n.domain.empty() ? &n : nullptr;
}

// For a binary node reading `known`, the other operand.
const std::string* other_operand(const Node& n, const std::string& known) {
  if (n.inputs.size() != 2) return nullptr;
  if (n.inputs[0] == known) return &n.inputs[1];
  if (n.inputs[1] == known) return &n.inputs[0];
  return nullptr;
}

bool close_to(double v, double target) { return std::fabs(v - target) <= 1e-4 * std::fabs(target); }

// Turns node n into the compiler's unary `op` on x (its output is kept).
void become_unary(Node& n, const char* op, const std::string& x) {
  n.op_type = op;
  n.domain = kSofiecDomain;
  n.inputs = {x};
  n.attributes.clear();
}

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
          !((scale.op_type == "Div" && close_to(c, std::sqrt(2.0))) || (scale.op_type == "Mul" && close_to(c, std::sqrt(0.5)))))
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

std::unique_ptr<Pass> make_silu_fusion() { return std::make_unique<SiluFusion>(); }
std::unique_ptr<Pass> make_gelu_fusion() { return std::make_unique<GeluFusion>(); }

}  // namespace sofiec
