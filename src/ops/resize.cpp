// Resize (opset 10+) and Upsample (7-9): separable resampling, one pass per resized axis. The
// taps of every output position (input indices and weights, for nearest, linear and cubic,
// with antialiasing, exclude_outside and every coordinate transformation) are computed here.
#include <cmath>
#include <functional>
#include <string>

#include "emit/emit_context.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

struct AxisPass {
  int64_t axis = 0, in_len = 0, out_len = 0, outer = 1, inner = 1;
  int taps = 0;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<bool> outside;  // empty unless tf_crop_and_resize extrapolates somewhere
};

struct ResizePlan {
  std::vector<int64_t> out_dims;
  std::vector<AxisPass> passes;
  double extrapolation = 0;
};

struct ResizeAttrs {
  std::string mode, transform, nearest_mode, policy;
  double cubic_a = -0.75;
  bool antialias = false, exclude_outside = false;
};

std::vector<double> nearest_coeffs(double ratio, const std::string& mode) {
  if (ratio == std::floor(ratio)) return {0, 1};
  if (mode == "round_prefer_floor") return {double(ratio <= 0.5), double(ratio > 0.5)};
  if (mode == "round_prefer_ceil") return {double(ratio < 0.5), double(ratio >= 0.5)};
  if (mode == "floor") return {1, 0};
  return {0, 1};  // ceil
}

std::vector<double> cubic_coeffs(double r, double a) {
  return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
          ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
          ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a};
}

std::vector<double> cubic_coeffs_antialias(double ratio, double scale, double a) {
  scale = std::min(scale, 1.0);
  auto coeff = [a](double x) {
    x = std::fabs(x);
    if (x <= 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
    if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
    return 0.0;
  };
  const int64_t start = int64_t(std::floor(-2 / scale) + 1), end = 2 - start;
  std::vector<double> c;
  double sum = 0;
  for (int64_t i = start; i < end; ++i) sum += c.emplace_back(coeff(scale * (double(i) - ratio)));
  for (double& x : c) x /= sum;
  return c;
}

std::vector<double> linear_coeffs_antialias(double ratio, double scale) {
  scale = std::min(scale, 1.0);
  const int64_t start = int64_t(std::floor(-1 / scale) + 1), footprint = 2 - 2 * start;
  std::vector<double> c;
  double sum = 0;
  for (int64_t i = start; i < start + footprint; ++i)
    sum += c.emplace_back(std::clamp(1 - std::fabs((double(i) - ratio) * scale), 0.0, 1.0));
  for (double& x : c) x /= sum;
  return c;
}

std::vector<double> coeffs(const ResizeAttrs& a, double ratio, double scale) {
  if (a.mode == "nearest") return nearest_coeffs(ratio, a.nearest_mode);
  if (a.mode == "linear")
    return a.antialias ? linear_coeffs_antialias(ratio, scale) : std::vector<double>{1 - ratio, ratio};
  return a.antialias ? cubic_coeffs_antialias(ratio, scale, a.cubic_a) : cubic_coeffs(ratio, a.cubic_a);
}

// The source coordinate of output position y; sets outside for tf_crop_and_resize.
double source_coordinate(const NodeView& v, const ResizeAttrs& a, double y, double scale, int64_t in_len,
                         int64_t out_len, double roi_start, double roi_end, bool& outside) {
  const double out_width = scale * double(in_len);
  const std::string& m = a.transform;
  outside = false;
  if (m == "align_corners") return out_width == 1 ? 0.0 : y * double(in_len - 1) / (out_width - 1);
  if (m == "asymmetric") return y / scale;
  if (m == "tf_crop_and_resize") {
    double x = out_width == 1 ? (roi_end - roi_start) * double(in_len - 1) / 2
                              : y * (roi_end - roi_start) * double(in_len - 1) / (out_width - 1);
    x += roi_start * double(in_len - 1);
    outside = x < 0 || x > double(in_len - 1);
    return x;
  }
  if (m == "pytorch_half_pixel") return out_width == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
  if (m == "half_pixel") return (y + 0.5) / scale - 0.5;
  if (m == "half_pixel_symmetric") {
    const double adjustment = double(out_len) / out_width, center = double(in_len) / 2;
    return center * (1 - adjustment) + (y + 0.5) / scale - 0.5;
  }
  v.fail("unknown coordinate_transformation_mode '{}'", m);
}

AxisPass plan_axis(const NodeView& v, const ResizeAttrs& a, int64_t in_len, int64_t out_len, double scale,
                   double roi_start, double roi_end) {
  AxisPass p;
  p.in_len = in_len;
  p.out_len = out_len;
  bool any_outside = false;
  std::vector<bool> outside(static_cast<std::size_t>(out_len), false);
  for (int64_t y = 0; y < out_len; ++y) {
    bool out = false;
    const double x = source_coordinate(v, a, double(y), scale, in_len, out_len, roi_start, roi_end, out);
    outside[std::size_t(y)] = out;
    any_outside = any_outside || out;
    const double x_int = std::floor(x);
    const double ratio = x == x_int ? 1.0 : x - x_int;
    std::vector<double> c = coeffs(a, ratio, scale);
    const int n = int(c.size());
    if (p.taps == 0) p.taps = n;
    const int64_t pad = (n + 1) / 2;
    const double x_padded = x + double(pad);
    const int64_t base = int64_t(std::floor(x_padded));
    const double frac = x_padded - double(base);
    const int64_t offset =
        n % 2 == 0 ? (frac == 0 ? -(n / 2) : -(n / 2) + 1) : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1);
    std::vector<int64_t> idx(static_cast<std::size_t>(n));
    for (int k = 0; k < n; ++k) idx[std::size_t(k)] = base + offset + k - pad;
    if (a.exclude_outside) {
      double sum = 0;
      for (int k = 0; k < n; ++k) {
        if (idx[std::size_t(k)] < 0 || idx[std::size_t(k)] >= in_len) c[std::size_t(k)] = 0;
        sum += c[std::size_t(k)];
      }
      if (sum != 0)
        for (double& w : c) w /= sum;
    }
    for (int k = 0; k < n; ++k) {
      p.index.push_back(std::clamp<int64_t>(idx[std::size_t(k)], 0, in_len - 1));
      p.weight.push_back(c[std::size_t(k)]);
    }
  }
  if (any_outside) p.outside = outside;
  // Nearest (or any plan whose every position takes one input whole): one tap, which the kernel
  // copies. Taps of weight 0 would cost a product each and turn an infinity into NaN.
  bool single = p.taps > 1;
  for (int64_t y = 0; y < out_len && single; ++y) {
    int ones = 0;
    for (int k = 0; k < p.taps; ++k) {
      const double w = p.weight[std::size_t(y * p.taps + k)];
      if (w == 1.0) ++ones;
      else if (w != 0.0) single = false;
    }
    single = single && ones == 1;
  }
  if (single) {
    std::vector<int64_t> index;
    for (int64_t y = 0; y < out_len; ++y)
      for (int k = 0; k < p.taps; ++k)
        if (p.weight[std::size_t(y * p.taps + k)] == 1.0) index.push_back(p.index[std::size_t(y * p.taps + k)]);
    p.index = index;
    p.weight.assign(static_cast<std::size_t>(out_len), 1.0);
    p.taps = 1;
  }
  return p;
}

ResizeAttrs resize_attrs(const NodeView& v) {
  ResizeAttrs a;
  const Node& n = v.node();
  a.mode = n.attr_string("mode", "nearest");
  if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic") v.fail("unknown mode '{}'", a.mode);
  if (n.op_type == "Upsample" || v.opset() < 11) {
    a.transform = "asymmetric";
    a.nearest_mode = "floor";
    if (a.mode == "cubic") v.fail("cubic mode needs opset 11");
  } else {
    a.transform = n.attr_string("coordinate_transformation_mode", "half_pixel");
    a.nearest_mode = n.attr_string("nearest_mode", "round_prefer_floor");
  }
  a.cubic_a = n.attr_float("cubic_coeff_a", -0.75f);
  a.antialias = n.attr_int("antialias", 0) != 0;
  a.exclude_outside = n.attr_int("exclude_outside", 0) != 0;
  a.policy = n.attr_string("keep_aspect_ratio_policy", "stretch");
  if (a.antialias && a.mode == "nearest") v.fail("antialias does not apply to nearest mode");
  return a;
}

std::vector<double> float_values(const Tensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.size(); ++i) out.push_back(t.float_at(i));
  return out;
}

ResizePlan plan_resize(const NodeView& v) {
  const ResizeAttrs a = resize_attrs(v);
  const auto x = v.input_dims(0);
  const std::size_t rank = x.size();
  std::vector<double> scales, roi;
  std::vector<int64_t> sizes;
  const bool upsample = v.node().op_type == "Upsample";
  if (upsample && v.opset() < 9) {
    for (float s : v.node().attr_floats("scales")) scales.push_back(s);
  } else if (upsample || v.opset() < 11) {
    scales = float_values(v.known_input(1, "scales"));
  } else {
    if (v.has_input(1) && a.transform == "tf_crop_and_resize") roi = float_values(v.known_input(1, "roi"));
    if (v.has_input(2)) scales = float_values(v.known_input(2, "scales"));
    if (v.has_input(3)) sizes = v.constant_ints(3, "sizes");
  }
  if (!scales.empty() && !sizes.empty()) v.fail("both scales and sizes are given");
  if (scales.empty() && sizes.empty()) v.fail("neither scales nor sizes is given");
  std::vector<int64_t> axes(rank);
  for (std::size_t i = 0; i < rank; ++i) axes[i] = int64_t(i);
  if (v.node().has_attr("axes")) {
    axes = v.node().attr_ints("axes");
    for (int64_t& ax : axes) ax = v.axis(ax, int64_t(rank));
  }
  const std::size_t count = scales.empty() ? sizes.size() : scales.size();
  if (count != axes.size()) v.fail("{} scales or sizes for {} axes", count, axes.size());
  std::vector<double> scale(rank, 1.0), roi_start(rank, 0.0), roi_end(rank, 1.0);
  ResizePlan plan;
  plan.out_dims = x;
  if (!roi.empty()) {
    if (roi.size() != 2 * axes.size()) v.fail("roi has {} values, {} expected", roi.size(), 2 * axes.size());
    for (std::size_t i = 0; i < axes.size(); ++i) {
      roi_start[std::size_t(axes[i])] = roi[i];
      roi_end[std::size_t(axes[i])] = roi[i + axes.size()];
    }
  }
  if (!sizes.empty()) {
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const auto d = std::size_t(axes[i]);
      if (sizes[i] <= 0) v.fail("size {} is not positive", sizes[i]);
      scale[d] = double(sizes[i]) / double(x[d]);
      plan.out_dims[d] = sizes[i];
    }
    if (a.policy != "stretch") {
      if (a.policy != "not_larger" && a.policy != "not_smaller")
        v.fail("unknown keep_aspect_ratio_policy '{}'", a.policy);
      double s = a.policy == "not_larger" ? 1e300 : 0;
      for (int64_t ax : axes)
        s = a.policy == "not_larger" ? std::min(s, scale[std::size_t(ax)]) : std::max(s, scale[std::size_t(ax)]);
      for (int64_t ax : axes) {
        scale[std::size_t(ax)] = s;
        plan.out_dims[std::size_t(ax)] = int64_t(s * double(x[std::size_t(ax)]) + 0.5);
      }
    }
  } else {
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const auto d = std::size_t(axes[i]);
      if (!(scales[i] > 0)) v.fail("scale {} is not positive", scales[i]);
      scale[d] = scales[i];
      plan.out_dims[d] = int64_t(scales[i] * double(x[d]));
    }
  }
  plan.extrapolation = v.node().attr_float("extrapolation_value", 0.f);
  std::vector<int64_t> current = x;
  for (int64_t ax : axes) {
    const auto d = std::size_t(ax);
    const bool identity = std::fabs(scale[d] - 1.0) < 1e-9 && plan.out_dims[d] == x[d] &&
                          (a.transform != "tf_crop_and_resize" || (roi_start[d] == 0 && roi_end[d] == 1));
    if (identity) continue;
    AxisPass p = plan_axis(v, a, x[d], plan.out_dims[d], scale[d], roi_start[d], roi_end[d]);
    p.axis = ax;
    p.outer = element_count(std::vector<int64_t>(current.begin(), current.begin() + ax));
    p.inner = element_count(std::vector<int64_t>(current.begin() + ax + 1, current.end()));
    current[d] = plan.out_dims[d];
    plan.passes.push_back(std::move(p));
  }
  return plan;
}

int64_t scratch_elements(const ResizePlan& plan, const std::vector<int64_t>& x) {
  int64_t most = 0;
  std::vector<int64_t> current = x;
  for (std::size_t i = 0; i + 1 < plan.passes.size(); ++i) {
    current[std::size_t(plan.passes[i].axis)] = plan.passes[i].out_len;
    most = std::max(most, element_count(current));
  }
  return most;
}

// Two float buffers, each large enough for any intermediate result.
int64_t scratch_bytes(const ResizePlan& plan, const std::vector<int64_t>& x) {
  return 2 * scratch_elements(plan, x) * 4;
}

// Emits each pass with its operands: pass i reads `src` and writes `dst` (the node's output
// after the last pass, else one half of its scratch, the halves taken in turn).
void for_each_pass(EmitContext& e, const ResizePlan& plan,
                   const std::function<void(std::size_t, const AxisPass&, const std::string& src,
                                            const std::string& dst)>& emit_pass) {
  const int64_t half = scratch_elements(plan, e.input_dims(0));
  std::string src = e.in(0);
  for (std::size_t i = 0; i < plan.passes.size(); ++i) {
    const bool last = i + 1 == plan.passes.size();
    const std::string dst =
        last ? e.out(0) : fmt::format("reinterpret_cast<float*>({}) + {}", e.workspace(), (i % 2) * half);
    emit_pass(i, plan.passes[i], src, dst);
    src = dst;
  }
}

void add_resize(Registry& r, const char* op, int64_t min_opset, int64_t max_opset) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.max_opset = max_opset;
  d.types = "float, double, int8, uint8 (float16/bfloat16 computed in float)";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (t != DType::Float && t != DType::Double && t != DType::Int8 && t != DType::UInt8)
      v.unsupported("input type {} is not supported", dtype_name(t));
    const ResizePlan plan = plan_resize(v);
    return InferResult{{static_value(t, plan.out_dims)}, scratch_bytes(plan, v.input_dims(0))};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("resize");
    const ResizePlan plan = plan_resize(e);
    const auto x = e.input_dims(0);
    if (plan.passes.empty()) {
      e.use_kernel("elementwise");
      e.line("detail::copy_elements({}, {}, {});", e.in(0), e.out(0), element_count(x));
      return;
    }
    for_each_pass(e, plan, [&](std::size_t i, const AxisPass& p, const std::string& src, const std::string& dst) {
      const std::string index = fmt::format("index{}", i), weight = fmt::format("weight{}", i);
      e.int_array(index, p.index);
      std::string weights;
      for (std::size_t k = 0; k < p.weight.size(); ++k)
        weights += (k ? ", " : "") + cpp_float(p.weight[k], DType::Double);
      e.line("static constexpr double {}[] = {{{}}};", weight, weights);
      std::string outside = "static_cast<const bool*>(nullptr)";
      if (!p.outside.empty()) {
        std::string flags;
        for (std::size_t k = 0; k < p.outside.size(); ++k)
          flags += (k ? ", " : "") + std::string(p.outside[k] ? "true" : "false");
        e.line("static constexpr bool outside{}[] = {{{}}};", i, flags);
        outside = fmt::format("outside{}", i);
      }
      e.line("detail::resize_axis({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", src, dst, p.outer, p.in_len, p.inner,
             p.out_len, p.taps, index, weight, outside, cpp_float(plan.extrapolation, DType::Double));
    });
  };
  // The same passes on the GPU, each pass's tables in its kernel's parameters.
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e, 1);
    const ResizePlan plan = plan_resize(e);
    const auto x = e.input_dims(0);
    if (plan.passes.empty()) {
      e.line("detail::copy_device({}, {}, {}, stream);", e.out(0), e.in(0), element_count(x) * 4);
      return;
    }
    e.use_kernel("resize");
    for_each_pass(e, plan, [&](std::size_t i, const AxisPass& p, const std::string& src, const std::string& dst) {
      if (!p.outside.empty()) e.unsupported("tf_crop_and_resize extrapolation on the CUDA target");
      if (p.index.size() > 1024)
        e.unsupported("a resized axis of {} positions x {} taps (the CUDA target's tables hold 1024)", p.out_len,
                      p.taps);
      std::string index, weight;
      for (std::size_t k = 0; k < p.index.size(); ++k) {
        index += fmt::format("{}{}", k ? ", " : "", p.index[k]);
        weight += (k ? ", " : "") + cpp_float(float(p.weight[k]));
      }
      e.line("static constexpr detail::ResizeTable table{} = {{{{{}}}, {{{}}}}};", i, index, weight);
      e.line("detail::resize_axis({}, {}, {}, {}, {}, {}, {}, table{}, stream);", src, dst, p.outer, p.in_len, p.inner,
             p.out_len, p.taps, i);
    });
  };
  d.cuda_workspace = [](const NodeView& v) { return scratch_bytes(plan_resize(v), v.input_dims(0)); };
  r.add(std::move(d));
}

void add_grid_sample(Registry& r) {
  OpDef d;
  d.op_type = "GridSample";
  d.min_opset = 16;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    const DType t = require_float_input(v);
    if (v.input_dtype(1) != t) v.unsupported("a grid of another type than the input");
    const auto x = v.input_dims(0), grid = v.input_dims(1);
    const std::size_t rank = x.size() - 2;
    if (x.size() < 3 || rank > 3) v.unsupported("GridSample over {} spatial dims (1 to 3 supported)", rank);
    if (grid.size() != x.size() || grid[0] != x[0] || grid.back() != int64_t(rank))
      v.fail("grid must have shape [{}, ..., {}]", x[0], rank);
    std::vector<int64_t> y{x[0], x[1]};
    y.insert(y.end(), grid.begin() + 1, grid.end() - 1);
    return InferResult{{static_value(t, y)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("resize");
    const auto x = e.input_dims(0), grid = e.input_dims(1);
    std::string mode = e.node().attr_string("mode", e.opset() < 20 ? "bilinear" : "linear");
    if (mode == "bilinear") mode = "linear";
    if (mode == "bicubic") mode = "cubic";
    if (mode != "nearest" && mode != "linear" && mode != "cubic") e.fail("unknown mode '{}'", mode);
    const std::string padding = e.node().attr_string("padding_mode", "zeros");
    if (padding != "zeros" && padding != "border" && padding != "reflection")
      e.fail("unknown padding_mode '{}'", padding);
    const std::vector<int64_t> dims(x.begin() + 2, x.end());
    e.line("detail::grid_sample({}, {}, {}, {}, {}, {}, {}, {}, detail::GridMode::{}, detail::GridPadding::{}, {});",
           e.in(0), e.in(1), e.out(0), x[0], x[1], dims.size(), e.int_array("dims", dims),
           element_count(std::vector<int64_t>(grid.begin() + 1, grid.end() - 1)),
           mode == "nearest"  ? "Nearest"
           : mode == "linear" ? "Linear"
                              : "Cubic",
           padding == "zeros"    ? "Zeros"
           : padding == "border" ? "Border"
                                 : "Reflection",
           e.node().attr_int("align_corners", 0) != 0);
  };
  r.add(std::move(d));
}

void add_affine_grid(Registry& r) {
  OpDef d;
  d.op_type = "AffineGrid";
  d.min_opset = 20;
  d.types = "float, double; int64 size";
  auto plan = [](const NodeView& v) {
    const auto theta = v.input_dims(0);
    const auto size = v.constant_ints(1, "size");
    if (size.size() != 4 && size.size() != 5) v.fail("size must describe a 2-D or 3-D image");
    const int64_t rank = int64_t(size.size()) - 2;
    if (theta != std::vector<int64_t>{size[0], rank, rank + 1})
      v.fail("theta must have shape [{}, {}, {}]", size[0], rank, rank + 1);
    return std::vector<int64_t>(size.begin(), size.end());
  };
  d.infer = [plan](const NodeView& v) {
    const DType t = require_float_input(v);
    const auto size = plan(v);
    std::vector<int64_t> y{size[0]};
    y.insert(y.end(), size.begin() + 2, size.end());
    y.push_back(int64_t(size.size()) - 2);
    return InferResult{{static_value(t, y)}};
  };
  d.emit = [plan](EmitContext& e) {
    e.use_kernel("resize");
    const auto size = plan(e);
    const std::vector<int64_t> dims(size.begin() + 2, size.end());
    e.line("detail::affine_grid({}, {}, {}, {}, {}, {});", e.in(0), e.out(0), size[0], dims.size(),
           e.int_array("dims", dims), e.node().attr_int("align_corners", 0) != 0);
  };
  r.add(std::move(d));
}

void add_roi_align(Registry& r) {
  OpDef d;
  d.op_type = "RoiAlign";
  d.min_opset = 10;
  d.types = "float, double; int64 batch indices";
  d.infer = [](const NodeView& v) {
    const DType t = require_float_input(v);
    if (v.input_dtype(1) != t) v.fail("rois must have the input's type");
    const auto x = v.input_dims(0), rois = v.input_dims(1), idx = v.input_dims(2);
    if (x.size() != 4 || rois.size() != 2 || rois[1] != 4 || idx != std::vector<int64_t>{rois[0]})
      v.fail("expects x [N, C, H, W], rois [R, 4] and batch_indices [R]");
    const std::string mode = v.node().attr_string("mode", "avg");
    if (mode != "avg" && mode != "max") v.fail("unknown mode '{}'", mode);
    return InferResult{{static_value(
        t, {rois[0], x[1], v.node().attr_int("output_height", 1), v.node().attr_int("output_width", 1)})}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("resize");
    const auto x = e.input_dims(0);
    const bool half_pixel =
        e.opset() >= 16 && e.node().attr_string("coordinate_transformation_mode", "half_pixel") == "half_pixel";
    e.line("detail::roi_align({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.in(2),
           e.out(0), e.input_dims(1)[0], x[1], x[2], x[3], e.node().attr_int("output_height", 1),
           e.node().attr_int("output_width", 1), e.node().attr_int("sampling_ratio", 0),
           cpp_float(e.node().attr_float("spatial_scale", 1.f)), half_pixel,
           e.node().attr_string("mode", "avg") == "max");
  };
  r.add(std::move(d));
}

}  // namespace

void register_resize_ops(Registry& r) {
  add_roi_align(r);
  add_affine_grid(r);
  add_grid_sample(r);
  add_resize(r, "Upsample", 7, 9);
  add_resize(r, "Resize", 10, kLatestOpset);
}

}  // namespace sofiec
