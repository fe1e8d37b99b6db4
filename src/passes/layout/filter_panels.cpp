// ConvFilterPanels: a 2-D Conv of one group whose filters fill the vector lanes becomes the
// compiler's FilterPanelConv (templates/kernels/filter_lane_conv.hpp): an implicit GEMM with the
// filters along the lanes, reading its inputs from the image's stride phases. With few output
// positions (resnet18's 7x7 planes) the lanes would otherwise hold 49 positions of 64. The
// weights are packed here, once, in panels of 32 filters that the kernel reads in place.
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
  // Filters that fill the lanes, and at least 4 positions (below, a block of rows is too short
  // to keep the FMA pipe busy). Then either fewer positions than 64 that leave a quarter of the
  // lanes or more empty, or any other convolution but a pointwise one, whose GEMM reads the
  // image in place and stays ahead of the filters along the lanes. The others (resnet18's stem
  // and its 3x3/2 convolutions, a 5x5 of 32 -> 64 channels at 28x28) run faster so than as the
  // GEMM with its columns packed from the stride phases, which spends much of its time packing.
  // The 3x3 stride-1 ones that ConvWinograd takes (it runs first) compute less still.
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
    if (positions < 4 || filters < 32 || lane_fill(filters) < 0.9) return false;
    if (positions < 64 && lane_fill(positions) < 0.8) return true;
    return !pointwise(n, *w, x, y);
  }

  // A 1x1 kernel at unit strides without padding: y = W x, x read in place.
  static bool pointwise(const Node& n, const Tensor& w, const ValueInfo& x, const ValueInfo& y) {
    if (w.dims[2] != 1 || w.dims[3] != 1) return false;
    for (int64_t s : n.attr_ints("strides", {}))
      if (s != 1) return false;
    return x.shape[2].value == y.shape[2].value && x.shape[3].value == y.shape[3].value;
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_filter_panels() { return std::make_unique<ConvFilterPanels>(); }

}  // namespace sofiec
