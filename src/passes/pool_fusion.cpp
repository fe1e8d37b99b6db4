// ConvMaxPoolFusion: a convolution followed by a 2x2 stride-2 MaxPool (the conv -> activation ->
// pool of CNN feature extractors) computes the pooled planes directly: the WinogradConv's
// output transform and the direct convolution (conv.hpp's conv2d_direct, few taps per output)
// take the max of each 2x2 block in registers, after the bias and the epilogue, and never write
// the full-size planes (nor reads them back, nor holds them in the arena).
// A FilterPanelConv takes any 2-D max pool without indices (its window becomes the node's
// pool_* attributes): it computes bands of rows into a buffer and pools them from there
// (resnet18's stem and its 3x3 / 2 pool: 3.2 MB of activations per image not written).
#include "kernels.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

bool all_equal(const std::vector<int64_t>& v, int64_t value) {
  for (int64_t x : v)
    if (x != value) return false;
  return true;
}

// MaxPool 2x2 / 2 without padding, dilation or indices, its output the floor of half the input.
bool is_2x2_max_pool(const Graph& g, const Node& n) {
  if (n.op_type != "MaxPool" || !n.domain.empty() || n.inputs.size() != 1) return false;
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return false;
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if ((auto_pad != "NOTSET" && auto_pad != "VALID") || n.attr_ints("kernel_shape", {}) != std::vector<int64_t>{2, 2} ||
      n.attr_ints("strides", {1, 1}) != std::vector<int64_t>{2, 2} || !all_equal(n.attr_ints("pads", {}), 0) ||
      !all_equal(n.attr_ints("dilations", {}), 1))
    return false;
  const ValueInfo& x = g.value(n.inputs[0]);
  const ValueInfo& y = g.value(n.outputs[0]);
  if (x.dtype != DType::Float || !x.has_shape || !y.has_shape || !is_static(x.shape) || !is_static(y.shape) ||
      x.shape.size() != 4 || y.shape.size() != 4)
    return false;
  return y.shape[2].value == x.shape[2].value / 2 && y.shape[3].value == x.shape[3].value / 2;
}

// A 2-D MaxPool in floor mode without dilation or indices, its input float and static.
bool is_plain_max_pool(const Graph& g, const Node& n) {
  if (n.op_type != "MaxPool" || !n.domain.empty() || n.inputs.size() != 1) return false;
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return false;
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  const std::vector<int64_t> kernel = n.attr_ints("kernel_shape", {});
  if ((auto_pad != "NOTSET" && auto_pad != "VALID") || kernel.size() != 2 || n.attr_int("ceil_mode", 0) != 0 ||
      n.attr_ints("strides", {1, 1}).size() != 2 || !all_equal(n.attr_ints("dilations", {}), 1))
    return false;
  const std::vector<int64_t> pads = auto_pad == "VALID" ? std::vector<int64_t>{} : n.attr_ints("pads", {});
  if (!pads.empty() && pads.size() != 4) return false;
  for (std::size_t i = 0; i < pads.size(); ++i)
    if (pads[i] < 0 || pads[i] >= kernel[i % 2]) return false;
  const ValueInfo& x = g.value(n.inputs[0]);
  return x.dtype == DType::Float && x.has_shape && is_static(x.shape) && x.shape.size() == 4;
}

// A float Conv that runs as conv2d_direct (the kernels' own test on its strides and taps).
bool is_direct_conv(const Graph& g, const Node& n) {
  if (n.op_type != "Conv" || !n.domain.empty() || g.value(n.inputs[0]).dtype != DType::Float) return false;
  const Tensor* w = float_constant(g, n.inputs.at(1));
  const std::vector<int64_t> strides = n.attr_ints("strides", {1, 1});
  if (!w || w->dims.size() != 4 || strides.size() != 2) return false;
  rt::ConvGeometry geometry{};
  geometry.rank = 2;
  for (int d = 0; d < 2; ++d) {
    geometry.kernel[d] = w->dims[std::size_t(2 + d)];
    geometry.stride[d] = strides[std::size_t(d)];
  }
  return rt::conv2d_direct_pays(geometry, w->dims[1]);
}

class ConvMaxPoolFusion : public Pass {
 public:
  const char* name() const override { return "ConvMaxPoolFusion"; }
  int run(Graph& g, Analysis&) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      Node& conv = g.nodes[i];
      if (conv.op_type == "FilterPanelConv" && conv.domain == kSofiecDomain && !conv.has_attr("pool_kernel_shape")) {
        const int j = sole_consumer(g, conv.outputs[0]);
        if (j < 0 || !is_plain_max_pool(g, g.nodes[std::size_t(j)])) continue;
        const Node& pool = g.nodes[std::size_t(j)];
        for (const char* name : {"kernel_shape", "strides", "pads", "auto_pad"})
          if (pool.has_attr(name)) conv.attributes[std::string("pool_") + name] = pool.attributes.at(name);
        conv.outputs[0] = pool.outputs[0];
        g.nodes.erase(g.nodes.begin() + j);
        if (std::size_t(j) < i) --i;
        ++fused;
        continue;
      }
      const bool winograd =
          conv.op_type == "WinogradConv" && conv.domain == kSofiecDomain && !conv.attr_int("max_pool", 0);
      if (!winograd && !is_direct_conv(g, conv)) continue;
      const int j = sole_consumer(g, conv.outputs[0]);
      if (j < 0 || !is_2x2_max_pool(g, g.nodes[std::size_t(j)])) continue;
      conv.outputs[0] = g.nodes[std::size_t(j)].outputs[0];
      if (winograd) {
        conv.attributes["max_pool"] = int_attribute(1);
      } else {
        conv.op_type = "ConvMaxPool";
        conv.domain = kSofiecDomain;
      }
      g.nodes.erase(g.nodes.begin() + j);
      if (std::size_t(j) < i) --i;
      ++fused;
    }
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_max_pool_fusion() { return std::make_unique<ConvMaxPoolFusion>(); }

}  // namespace sofiec
