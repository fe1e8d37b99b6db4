// Sliding-window geometry shared by convolution and pooling: output extents and padding
// from kernel, strides, dilations, pads / auto_pad and ceil_mode.
#pragma once

#include <string>
#include <vector>

#include "ops/registry.hpp"

namespace sofiec {

struct Window {
  std::vector<int64_t> in, out, kernel, strides, dilations, pad_begin, pad_end;
  int rank() const { return int(in.size()); }
};

// in: spatial input dims; kernel: spatial kernel dims (already read from attribute or weights).
// The attributes are read with the prefix in front of their names (a fused pool's `pool_pads`).
Window compute_window(const NodeView& v, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                      bool allow_ceil_mode, const std::string& prefix = "");

// The spatial dims of an [N, C, spatial...] shape.
inline std::vector<int64_t> spatial_dims(const std::vector<int64_t>& dims) { return {dims.begin() + 2, dims.end()}; }

// Conv's geometry: input, weights and optional bias at the given input positions (Conv:
// 0, 1, 2; QLinearConv: 0, 3, 8).
struct ConvPlan {
  Window w;
  int64_t batch, channels, filters, groups;
  int64_t workspace_elements;  // im2col columns, or stride phases of 2-D float convolutions (0 if pointwise)
  bool pointwise;              // 1x1 taps, stride 1, no padding: the input is already the columns
};
ConvPlan plan_conv(const NodeView& v, std::size_t x_input = 0, std::size_t w_input = 1, std::size_t bias_input = 2);
// Multiply-adds (times 2) of the convolution as written.
inline int64_t conv_flops(const ConvPlan& p) {
  return 2 * p.batch * p.filters * element_count(p.w.out) * (p.channels / p.groups) * element_count(p.w.kernel);
}

// "detail::ConvGeometry{...}" initializer for the kernels of conv.hpp / pool.hpp.
std::string geometry_initializer(const Window& w);

// The same geometry as a value, for the kernels' scratch sizes at generation time.
namespace rt {
struct ConvGeometry;
}
rt::ConvGeometry kernel_geometry(const Window& w);

}  // namespace sofiec
