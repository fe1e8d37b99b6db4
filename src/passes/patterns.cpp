// Patterns that exporters spell out in primitive nodes, recognized and replaced by one
// operator of the compiler's own domain: SiLU written as x * Sigmoid(x), the erf form of GELU
// torch writes before opset 20, 0.5 * x * (1 + Erf(x / sqrt(2))) (both elementwise, which
// EpilogueFusion can then fuse), layer normalization before opset 17, and group normalization
// before opset 18.
#include <algorithm>
#include <cmath>
#include <optional>

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

bool filled_with(const Tensor* t, int64_t count, float value) {
  if (!t || t->dtype != DType::Float || t->size() != count) return false;
  return std::all_of(t->data<float>(), t->data<float>() + count, [&](float v) { return v == value; });
}

// GroupNorm as torch exports it before opset 18: Reshape x [N, C, ...] to [N, G, -1],
// InstanceNormalization with unit scale and zero bias, Reshape back, Mul by the per-channel
// weight, Add the per-channel bias. One GroupNormalization of the compiler's domain (per-channel
// scale, an epilogue slot for the SiLU that usually follows) in their place.
class GroupNormFusion : public Pass {
 public:
  const char* name() const override { return "GroupNormFusion"; }
  int run(Graph& g, Analysis& a) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& split = g.nodes[i];
      if (split.op_type != "Reshape" || !split.domain.empty() || split.inputs.empty()) continue;
      const ValueInfo& xv = g.value(split.inputs[0]);
      const ValueInfo& sv = g.value(split.outputs[0]);
      if (xv.dtype != DType::Float || !xv.has_shape || !is_static(xv.shape) || xv.shape.size() < 3 || !sv.has_shape ||
          !is_static(sv.shape) || sv.shape.size() != 3)
        continue;
      const std::vector<int64_t> x = static_dims(xv.shape), grouped = static_dims(sv.shape);
      const int64_t channels = x[1], groups = grouped[1];
      if (grouped[0] != x[0] || groups <= 0 || channels % groups != 0) continue;
      Node* norm = only_reader(g, split.outputs[0], "InstanceNormalization");
      if (!norm || norm->inputs.size() != 3 || norm->inputs[0] != split.outputs[0] ||
          !filled_with(g.constant(norm->inputs[1]), groups, 1.f) || !filled_with(g.constant(norm->inputs[2]), groups, 0.f))
        continue;
      Node* merge = only_reader(g, norm->outputs[0], "Reshape");
      if (!merge || merge->inputs[0] != norm->outputs[0] || g.value(merge->outputs[0]).shape != xv.shape) continue;
      Node* last = merge;
      std::vector<float> scale(std::size_t(channels), 1.f), bias(std::size_t(channels), 0.f);
      if (Node* mul = only_reader(g, last->outputs[0], "Mul")) {
        const std::string* s = other_operand(*mul, last->outputs[0]);
        if (auto values = s ? per_channel_constant(g, *s, channels, x.size()) : std::nullopt) {
          scale = *values;
          last = mul;
        }
      }
      if (Node* add = only_reader(g, last->outputs[0], "Add")) {
        const std::string* b = other_operand(*add, last->outputs[0]);
        if (auto values = b ? per_channel_constant(g, *b, channels, x.size()) : std::nullopt) {
          bias = *values;
          last = add;
        }
      }
      if (g.value(last->outputs[0]).shape != xv.shape || g.value(last->outputs[0]).dtype != DType::Float) continue;
      const float epsilon = norm->attr_float("epsilon", 1e-5f);
      Tensor scale_t(DType::Float, {channels}), bias_t(DType::Float, {channels});
      std::copy(scale.begin(), scale.end(), scale_t.data<float>());
      std::copy(bias.begin(), bias.end(), bias_t.data<float>());
      const std::string input = split.inputs[0];
      Node& fused_node = *last;
      fused_node.op_type = "GroupNormalization";
      fused_node.domain = kSofiecDomain;
      fused_node.inputs = {input, add_fresh_constant(g, fused_node.name + "/scale", std::move(scale_t)),
                           add_fresh_constant(g, fused_node.name + "/bias", std::move(bias_t))};
      fused_node.attributes.clear();
      fused_node.attributes["num_groups"] = int_attribute(groups);
      fused_node.attributes["epsilon"] = float_attribute(epsilon);
      ++fused;
    }
    make_dead_node_elimination()->run(g, a);  // the Reshapes, the InstanceNormalization, the Mul
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_group_norm_fusion() { return std::make_unique<GroupNormFusion>(); }
std::unique_ptr<Pass> make_layer_norm_fusion() { return std::make_unique<LayerNormFusion>(); }
std::unique_ptr<Pass> make_silu_fusion() { return std::make_unique<SiluFusion>(); }
std::unique_ptr<Pass> make_gelu_fusion() { return std::make_unique<GeluFusion>(); }

}  // namespace sofiec
