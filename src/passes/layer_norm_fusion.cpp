// LayerNormFusion: layer normalization as exporters spell it out in primitive nodes before
// opset 17, recognized and replaced by one operator of the compiler's own domain.
#include <algorithm>

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// The axes a ReduceMean averages over, if they are the last `count` dims of a rank-`rank`
// input and it keeps them (so that the mean broadcasts back).
bool reduces_trailing_axes(const Graph& g, const Node& n, int64_t rank, int64_t& first_axis) {
  if (n.op_type != "ReduceMean" || !n.domain.empty() || n.attr_int("keepdims", 1) != 1) return false;
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
    const Tensor* t = g.constant(n.inputs[1]);
    if (!t) return false;
    axes = t->as_ints();
  }
  if (axes.empty()) return false;
  for (int64_t& a : axes) a = a < 0 ? a + rank : a;
  std::sort(axes.begin(), axes.end());
  for (std::size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != rank - int64_t(axes.size()) + int64_t(i)) return false;
  first_axis = axes[0];
  return true;
}

// A constant whose elements line up with the normalized dims (shape = those dims, possibly
// with leading 1s).
bool per_feature_constant(const Graph& g, const std::string& name, const std::vector<int64_t>& normalized) {
  const Tensor* t = g.constant(name);
  if (!t || !dtype_is_float(t->dtype) || t->size() != element_count(normalized)) return false;
  std::vector<int64_t> dims = t->dims;
  while (dims.size() > normalized.size() && dims.front() == 1) dims.erase(dims.begin());
  return dims == normalized;
}

// (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) [* scale] [+ bias] over trailing axes.
class LayerNormFusion : public Pass {
 public:
  const char* name() const override { return "LayerNormFusion"; }
  int run(Graph& g, Analysis& a) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& mean = g.nodes[i];
      const ValueInfo& xv = g.value(mean.inputs.empty() ? std::string() : mean.inputs[0]);
      if (mean.op_type != "ReduceMean" || !xv.has_shape || !is_static(xv.shape) || !dtype_is_float(xv.dtype)) continue;
      const std::string x = mean.inputs[0];
      const int64_t rank = int64_t(xv.shape.size());
      int64_t axis = 0, axis2 = 0;
      if (!reduces_trailing_axes(g, mean, rank, axis)) continue;
      // x - mean, read by Pow and Div
      const auto subs = consumers_of(g, mean.outputs[0]);
      if (subs.size() != 1 || is_graph_output(g, mean.outputs[0])) continue;
      const Node& sub = g.nodes[subs[0]];
      if (sub.op_type != "Sub" || sub.inputs[0] != x || sub.inputs[1] != mean.outputs[0]) continue;
      const std::string d = sub.outputs[0];
      const auto readers = consumers_of(g, d);
      if (readers.size() != 2 || is_graph_output(g, d)) continue;
      Node* pow = &g.nodes[readers[0]];
      Node* div = &g.nodes[readers[1]];
      if (pow->op_type != "Pow") std::swap(pow, div);
      double c = 0;
      if (pow->op_type != "Pow" || pow->inputs[0] != d || !scalar_constant(g, pow->inputs[1], c) || c != 2.0) continue;
      if (div->op_type != "Div" || div->inputs[0] != d) continue;
      Node* var = only_reader(g, pow->outputs[0], "ReduceMean");
      if (!var || !reduces_trailing_axes(g, *var, rank, axis2) || axis2 != axis) continue;
      Node* add_eps = only_reader(g, var->outputs[0], "Add");
      const std::string* eps = add_eps ? other_operand(*add_eps, var->outputs[0]) : nullptr;
      double epsilon = 0;
      if (!eps || !scalar_constant(g, *eps, epsilon) || epsilon < 0) continue;
      Node* sqrt = only_reader(g, add_eps->outputs[0], "Sqrt");
      if (!sqrt || div->inputs[1] != sqrt->outputs[0]) continue;
      // Optional affine part: * scale, + bias, each a constant over the normalized dims.
      const std::vector<int64_t> dims = static_dims(xv.shape);
      const std::vector<int64_t> normalized(dims.begin() + axis, dims.end());
      Node* last = div;
      std::string scale, bias;
      if (Node* mul = only_reader(g, last->outputs[0], "Mul")) {
        const std::string* s = other_operand(*mul, last->outputs[0]);
        if (s && per_feature_constant(g, *s, normalized)) {
          scale = *s;
          last = mul;
        }
      }
      if (Node* add = only_reader(g, last->outputs[0], "Add")) {
        const std::string* b = other_operand(*add, last->outputs[0]);
        if (b && per_feature_constant(g, *b, normalized)) {
          bias = *b;
          last = add;
        }
      }
      if (g.value(last->outputs[0]).shape != xv.shape || g.value(last->outputs[0]).dtype != xv.dtype) continue;
      if (scale.empty()) {
        Tensor ones(xv.dtype, normalized);
        for (int64_t k = 0; k < ones.size(); ++k) {
          if (xv.dtype == DType::Double) ones.data<double>()[k] = 1.0;
          else ones.data<float>()[k] = 1.f;
        }
        scale = add_fresh_constant(g, last->name + "/scale", std::move(ones));
      }
      last->op_type = "LayerNormalization";
      last->domain = kSofiecDomain;
      last->inputs = bias.empty() ? std::vector<std::string>{x, scale} : std::vector<std::string>{x, scale, bias};
      last->attributes.clear();
      last->attributes["axis"] = int_attribute(axis);
      last->attributes["epsilon"] = float_attribute(float(epsilon));
      ++fused;
    }
    make_dead_node_elimination()->run(g, a);  // the statistics and the Sub, Pow, Div
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_layer_norm_fusion() { return std::make_unique<LayerNormFusion>(); }

}  // namespace sofiec
