#include "ops/window.hpp"

#include "kernels.hpp"

namespace sofiec {

Window compute_window(const NodeView& v, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                      bool allow_ceil_mode, const std::string& prefix) {
  const std::size_t r = in.size();
  if (r == 0 || r > 8) v.unsupported("spatial rank {} (1 to 8 supported)", r);
  if (kernel.size() != r) v.fail("kernel has rank {} but the input has {} spatial dims", kernel.size(), r);
  const Node& n = v.node();
  Window w;
  w.in = in;
  w.kernel = kernel;
  w.strides = n.attr_ints(prefix + "strides", std::vector<int64_t>(r, 1));
  w.dilations = n.attr_ints(prefix + "dilations", std::vector<int64_t>(r, 1));
  if (w.strides.size() != r || w.dilations.size() != r) v.fail("strides or dilations do not match the spatial rank");
  for (std::size_t d = 0; d < r; ++d)
    if (w.strides[d] < 1 || w.dilations[d] < 1 || kernel[d] < 1) v.fail("strides, dilations and kernel must be >= 1");
  const std::string auto_pad = n.attr_string(prefix + "auto_pad", "NOTSET");
  const bool ceil_mode = allow_ceil_mode && n.attr_int(prefix + "ceil_mode", 0) != 0;
  w.pad_begin.assign(r, 0);
  w.pad_end.assign(r, 0);
  w.out.assign(r, 0);
  if (auto_pad == "NOTSET") {
    const auto pads = n.attr_ints(prefix + "pads", std::vector<int64_t>(2 * r, 0));
    if (pads.size() != 2 * r) v.fail("pads has {} values, {} expected", pads.size(), 2 * r);
    for (std::size_t d = 0; d < r; ++d) {
      w.pad_begin[d] = pads[d];
      w.pad_end[d] = pads[d + r];
      if (pads[d] < 0 || pads[d + r] < 0) v.unsupported("negative pads");
    }
  } else if (auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    v.fail("unknown auto_pad '{}'", auto_pad);
  }
  for (std::size_t d = 0; d < r; ++d) {
    const int64_t span = (kernel[d] - 1) * w.dilations[d] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      w.out[d] = (in[d] + w.strides[d] - 1) / w.strides[d];
      const int64_t total = std::max<int64_t>(0, (w.out[d] - 1) * w.strides[d] + span - in[d]);
      w.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pad_end[d] = total - w.pad_begin[d];
      continue;
    }
    const int64_t room = in[d] + w.pad_begin[d] + w.pad_end[d] - span;
    if (room < 0) v.fail("the kernel ({}) is larger than the padded input ({})", span, room + span);
    w.out[d] = (ceil_mode ? (room + w.strides[d] - 1) / w.strides[d] : room / w.strides[d]) + 1;
    // A window that would start in the end padding only is dropped (as PyTorch and ONNX do).
    if (ceil_mode && (w.out[d] - 1) * w.strides[d] >= in[d] + w.pad_begin[d]) --w.out[d];
  }
  return w;
}

namespace {
std::string list(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}
}  // namespace

rt::ConvGeometry kernel_geometry(const Window& w) {
  rt::ConvGeometry g{w.rank(), {}, {}, {}, {}, {}, {}};
  for (int d = 0; d < w.rank(); ++d) {
    g.in[d] = w.in[d];
    g.out[d] = w.out[d];
    g.kernel[d] = w.kernel[d];
    g.stride[d] = w.strides[d];
    g.dilation[d] = w.dilations[d];
    g.pad_begin[d] = w.pad_begin[d];
  }
  return g;
}

std::string geometry_initializer(const Window& w) {
  return fmt::format("detail::ConvGeometry{{{}, {}, {}, {}, {}, {}, {}}}", w.rank(), list(w.in), list(w.out),
                     list(w.kernel), list(w.strides), list(w.dilations), list(w.pad_begin));
}

}  // namespace sofiec
