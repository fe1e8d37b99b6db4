// ConvFilterPanels: a 2-D Conv whose images have few output positions (resnet18's 7x7 planes)
// becomes the compiler's FilterPanelConv. Its GEMM puts the filters along the vector lanes
// instead of the 49 positions, which fill 49 of 64 lanes. The weights are packed here, once, in
// panels of 32 filters that the GEMM reads in place (resnet18's 512-filter 3x3 convolutions at
// 7x7: 2.98 -> 2.54 ms each).
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// The share of 16-lane vectors that `n` values fill.
double lane_fill(int64_t n) { return double(n) / double(16 * ((n + 15) / 16)); }

// wp[f / 32][q][f % 32] = w[f][q], q over C * kh * kw; zeros past the last filter.
Tensor filter_panels(const Tensor& w) {
  const int64_t filters = w.dims[0], depth = w.size() / filters, panels = (filters + 31) / 32;
  Tensor wp(DType::Float, {panels, depth, 32});
  float* out = wp.data<float>();
  std::fill(out, out + wp.size(), 0.f);
  for (int64_t f = 0; f < filters; ++f)
    for (int64_t q = 0; q < depth; ++q) out[(f / 32 * depth + q) * 32 + f % 32] = w.data<float>()[f * depth + q];
  return wp;
}

class ConvFilterPanels : public Pass {
 public:
  const char* name() const override { return "ConvFilterPanels"; }
  int run(Graph& g, Analysis&) override {
    int changed = 0;
    for (Node& n : g.nodes) {
      if (!eligible(g, n)) continue;
      const Tensor& w = *g.constant(n.inputs[1]);
      const std::vector<int64_t> kernel{w.dims[2], w.dims[3]};
      const int64_t filters = w.dims[0];
      n.inputs[1] = add_fresh_constant(g, n.name + "/filter_panels", filter_panels(w));
      n.op_type = "FilterPanelConv";
      n.domain = kSofiecDomain;
      n.attributes.erase("group");
      n.attributes["kernel_shape"] = ints_attribute(kernel);
      n.attributes["filters"] = int_attribute(filters);
      ++changed;
    }
    return changed;
  }

 private:
  // Fewer positions than 64 that leave a quarter of the lanes or more empty, at least 4 of them
  // (below, a block of rows is too short to keep the FMA pipe busy), filters that fill the lanes.
  static bool eligible(const Graph& g, const Node& n) {
    if (n.op_type != "Conv" || !n.domain.empty() || !n.epilogue.empty() || n.attr_int("group", 1) != 1) return false;
    const Tensor* w = float_constant(g, n.inputs.at(1));
    if (!w || w->dims.size() != 4) return false;
    const ValueInfo& x = g.value(n.inputs[0]);
    const ValueInfo& y = g.value(n.outputs[0]);
    if (x.dtype != DType::Float || !x.has_shape || !y.has_shape || !is_static(x.shape) || !is_static(y.shape) ||
        y.shape.size() != 4)
      return false;
    const int64_t positions = y.shape[2].value * y.shape[3].value, filters = w->dims[0];
    return positions >= 4 && positions < 64 && lane_fill(positions) < 0.8 && filters >= 32 && lane_fill(filters) >= 0.9;
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_filter_panels() { return std::make_unique<ConvFilterPanels>(); }

}  // namespace sofiec
