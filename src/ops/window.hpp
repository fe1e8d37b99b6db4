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
Window compute_window(const NodeView& v, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                      bool allow_ceil_mode);

// "detail::ConvGeometry{...}" initializer for the kernels of conv.hpp / pool.hpp.
std::string geometry_initializer(const Window& w);

}  // namespace sofiec
