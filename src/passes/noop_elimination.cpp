// NoOpElimination: nodes that do not change their input (Identity, inference Dropout, a Cast
// to the type it already has, an Expand or Reshape to the shape it already has, a Pad of zeros).
#include <algorithm>

#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

bool same_static_shape(const Graph& g, const std::string& a, const std::string& b) {
  const ValueInfo& x = g.value(a);
  const ValueInfo& y = g.value(b);
  return x.dtype == y.dtype && x.has_shape && y.has_shape && is_static(x.shape) && x.shape == y.shape;
}

// Whether node n copies its first input to its first output unchanged.
bool is_noop(const Graph& g, const Node& n, const std::map<std::string, int>& uses) {
  if (!n.domain.empty() || n.inputs.empty() || n.outputs.empty() || n.inputs[0].empty() || !n.epilogue.empty())
    return false;
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

}  // namespace

std::unique_ptr<Pass> make_noop_elimination() { return std::make_unique<NoOpElimination>(); }

}  // namespace sofiec
