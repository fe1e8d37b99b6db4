// GroupNormFusion: group normalization as torch spells it out in primitive nodes before opset
// 18, recognized and replaced by one operator of the compiler's own domain.
#include <algorithm>
#include <optional>

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

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
          !filled_with(g.constant(norm->inputs[1]), groups, 1.f) ||
          !filled_with(g.constant(norm->inputs[2]), groups, 0.f))
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

}  // namespace sofiec
