// Convolution and pooling over any spatial rank, on the shared window geometry.
#include <fmt/ranges.h>

#include <limits>

#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"
#include "ops/window.hpp"

namespace sofiec {
namespace gpu {
#include "shared/conv_tiles.hpp"  // the CUDA convolution's tiling, to size its scratch
}  // namespace gpu

ConvPlan plan_conv(const NodeView& v, std::size_t x_input, std::size_t w_input, std::size_t bias_input) {
  const auto x = v.input_dims(x_input), wt = v.input_dims(w_input);
  if (x.size() < 3) v.fail("input must have rank >= 3, got {}", x.size());
  if (wt.size() != x.size()) v.fail("weights have rank {}, input has {}", wt.size(), x.size());
  ConvPlan p;
  p.batch = x[0];
  p.channels = x[1];
  p.filters = wt[0];
  p.groups = v.node().attr_int("group", 1);
  if (p.groups < 1 || p.channels % p.groups || p.filters % p.groups)
    v.fail("group {} does not divide channels {} and filters {}", p.groups, p.channels, p.filters);
  if (wt[1] * p.groups != p.channels)
    v.fail("weights expect {} input channels per group, input has {} channels in {} groups", wt[1], p.channels,
           p.groups);
  const auto kernel = v.node().attr_ints("kernel_shape", spatial_dims(wt));
  if (kernel != spatial_dims(wt)) v.fail("kernel_shape does not match the weights");
  p.w = compute_window(v, spatial_dims(x), kernel, false);
  if (v.has_input(bias_input) && v.input_dims(bias_input) != std::vector<int64_t>{p.filters})
    v.fail("bias must have shape [{}]", p.filters);
  p.pointwise = true;
  int64_t ksize = 1, osize = 1;
  for (int d = 0; d < p.w.rank(); ++d) {
    ksize *= kernel[d];
    osize *= p.w.out[d];
    p.pointwise = p.pointwise && kernel[d] == 1 && p.w.strides[d] == 1 && p.w.pad_begin[d] == 0 && p.w.in[d] == p.w.out[d];
  }
  const bool pointwise = p.pointwise;
  p.workspace_elements = pointwise ? 0 : (p.channels / p.groups) * ksize * osize;
  // 2-D float convolutions run directly or by phases where that pays (conv.hpp's conv2d_direct,
  // conv2d_by_phases).
  if (!pointwise && p.w.rank() == 2 && v.input_dtype(x_input) == DType::Float) {
    const rt::ConvGeometry g = kernel_geometry(p.w);
    if (rt::conv2d_direct_pays(g, p.channels / p.groups) ||
        rt::conv2d_direct_few_filters_pays(g, p.channels / p.groups, p.filters / p.groups))
      p.workspace_elements = rt::direct_conv_scratch(g, p.channels / p.groups);
    else if (rt::conv2d_by_phases_pays(g, p.channels / p.groups))
      p.workspace_elements = rt::implicit_conv_scratch(g, p.channels / p.groups);
  }
  return p;
}

namespace {

std::vector<int64_t> with_spatial_dims(int64_t a, int64_t b, const std::vector<int64_t>& s) {
  std::vector<int64_t> d{a, b};
  d.insert(d.end(), s.begin(), s.end());
  return d;
}

// templates/cuda/conv.cuh's WindowShape of a window of 1 to 3 spatial dims (the rest extent 1).
std::string cuda_window(const EmitContext& e, const Window& w) {
  if (w.rank() > 3) e.unsupported("the CUDA target runs windows of 1 to 3 spatial dims, this one has {}", w.rank());
  if (element_count(w.kernel) > std::numeric_limits<int>::max())
    e.unsupported("a window of {} taps (the CUDA kernels count them in an int)", element_count(w.kernel));
  auto padded = [&](const std::vector<int64_t>& v, int64_t fill) {
    std::vector<int64_t> r(v.begin(), v.end());
    r.resize(3, fill);
    return fmt::format("{{{}}}", fmt::join(r, ", "));
  };
  return fmt::format("detail::WindowShape{{{}, {}, {}, {}, {}, {}}}", padded(w.in, 1), padded(w.out, 1),
                     padded(w.kernel, 1), padded(w.strides, 1), padded(w.dilations, 1), padded(w.pad_begin, 0));
}

// The CUDA convolution's scratch (templates/shared/conv_tiles.hpp): the partial sums of the
// inner dim's slices, where the product's tiles alone cannot fill the card. With run-time dims
// the most any size can take, a constant (the sizes must be polynomials of the dims); grouped
// convolutions run directly and pointwise ones through cuBLAS: they need none.
int64_t cuda_conv_scratch_floats(const ConvPlan& p, bool runtime_dims) {
  if (p.groups > 1 || p.pointwise) return 0;
  if (runtime_dims) return gpu::kConvMaxScratchFloats;
  const int64_t columns = p.batch * element_count(p.w.out);
  const gpu::ConvTiling t =
      gpu::conv_tiling(p.filters, columns, p.channels * element_count(p.w.kernel), gpu::kConvMaxScratchFloats);
  return t.splits > 1 ? t.splits * p.filters * columns : 0;
}

void add_conv(Registry& r) {
  OpDef d;
  d.op_type = "Conv";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float_input(v);
    const ConvPlan p = plan_conv(v);
    return InferResult{{static_value(v.input_dtype(0), with_spatial_dims(p.batch, p.filters, p.w.out))},
                       p.workspace_elements * int64_t(dtype_size(v.input_dtype(0)))};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("conv");
    const ConvPlan p = plan_conv(e);
    e.line("static constexpr auto geometry = {};", geometry_initializer(p.w));
    const std::string epilogue = e.epilogue();
    e.line("detail::conv_nd({}, {}, {}, {}, reinterpret_cast<{}*>({}), {}, {}, {}, {}, geometry{});", e.in(0), e.in(1),
           e.in_or_null(2, e.in_type(0)), e.out(0), e.in_type(0), e.workspace(), p.batch, p.channels, p.filters,
           p.groups, epilogue.empty() ? "" : ", " + epilogue);
  };
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e);
    e.use_kernel("conv");
    const ConvPlan p = plan_conv(e);
    const int64_t scratch = cuda_conv_scratch_floats(p, e.graph().runtime_dims_sampled);
    // The implicit GEMM indexes an image's input, its columns and its inner dim in ints.
    for (int64_t v : {p.batch * element_count(p.w.out), p.channels * element_count(p.w.in),
                      p.channels * element_count(p.w.kernel)})
      cuda_int_dim(e, v);
    e.line("detail::conv(blas, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, rt_.tf32(), stream);", e.in(0),
           e.in(1), e.in_or_null(2, "float"), e.out(0),
           scratch > 0 ? fmt::format("reinterpret_cast<float*>({})", e.workspace()) : "static_cast<float*>(nullptr)",
           scratch, p.batch, p.channels, p.filters, p.groups, p.pointwise, cuda_window(e, p.w),
           e.has_input(2) || !e.node().epilogue.empty(), cuda_epilogue(e));
  };
  d.cuda_workspace = [](const NodeView& v) {
    return cuda_conv_scratch_floats(plan_conv(v), v.graph().runtime_dims_sampled) * int64_t(sizeof(float));
  };
  d.accepts_epilogue = true;
  d.flops = [](const NodeView& v) {
    const ConvPlan p = plan_conv(v);
    return conv_flops(p);
  };
  r.add(std::move(d));
}

// DeformConv: Conv's geometry, plus per-tap offsets (and an optional mask) over the output.
void add_deform_conv(Registry& r) {
  OpDef d;
  d.op_type = "DeformConv";
  d.min_opset = 19;
  d.types = "float, double (2 spatial dims)";
  d.infer = [](const NodeView& v) {
    require_float_input(v);
    const ConvPlan p = plan_conv(v, 0, 1, 3);
    if (p.w.rank() != 2) v.unsupported("{} spatial dims (2 supported)", p.w.rank());
    const int64_t offset_groups = v.node().attr_int("offset_group", 1);
    if (offset_groups < 1 || p.channels % offset_groups)
      v.fail("offset_group {} does not divide {} channels", offset_groups, p.channels);
    const int64_t taps = p.w.kernel[0] * p.w.kernel[1];
    if (v.input_dims(2) != std::vector<int64_t>{p.batch, offset_groups * taps * 2, p.w.out[0], p.w.out[1]})
      v.fail("offset has shape {}, expected [{}, {}, {}, {}]", shape_str(v.input(2).shape), p.batch,
             offset_groups * taps * 2, p.w.out[0], p.w.out[1]);
    if (v.has_input(4) &&
        v.input_dims(4) != std::vector<int64_t>{p.batch, offset_groups * taps, p.w.out[0], p.w.out[1]})
      v.fail("mask has shape {}, expected [{}, {}, {}, {}]", shape_str(v.input(4).shape), p.batch, offset_groups * taps,
             p.w.out[0], p.w.out[1]);
    const int64_t columns = (p.channels / p.groups) * taps * p.w.out[0] * p.w.out[1];
    return InferResult{{static_value(v.input_dtype(0), with_spatial_dims(p.batch, p.filters, p.w.out))},
                       columns * int64_t(dtype_size(v.input_dtype(0)))};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("conv");
    const ConvPlan p = plan_conv(e, 0, 1, 3);
    e.line("static constexpr auto geometry = {};", geometry_initializer(p.w));
    e.line("detail::deform_conv2d({}, {}, {}, {}, {}, {}, reinterpret_cast<{}*>({}), {}, {}, {}, {}, {}, geometry);",
           e.in(0), e.in(1), e.in(2), e.in_or_null(3, e.in_type(0)), e.in_or_null(4, e.in_type(0)), e.out(0),
           e.in_type(0), e.workspace(), p.batch, p.channels, p.filters, p.groups, e.node().attr_int("offset_group", 1));
  };
  r.add(std::move(d));
}

// ConvTranspose geometry, in the terms of the col2im kernel: in = the output's spatial dims,
// out = the input's (the positions the GEMM produces columns for).
struct ConvTransposePlan {
  Window w;
  int64_t batch, channels, filters, groups;
};

ConvTransposePlan plan_conv_transpose(const NodeView& v) {
  const auto x = v.input_dims(0), wt = v.input_dims(1);
  if (x.size() < 3) v.fail("input must have rank >= 3, got {}", x.size());
  if (wt.size() != x.size()) v.fail("weights have rank {}, input has {}", wt.size(), x.size());
  const Node& n = v.node();
  ConvTransposePlan p;
  p.batch = x[0];
  p.channels = x[1];
  p.groups = n.attr_int("group", 1);
  if (p.groups < 1 || p.channels % p.groups) v.fail("group {} does not divide {} channels", p.groups, p.channels);
  if (wt[0] != p.channels) v.fail("weights have {} input channels, the input {}", wt[0], p.channels);
  p.filters = wt[1] * p.groups;
  const std::size_t r = x.size() - 2;
  if (r > 8) v.unsupported("spatial rank {} (1 to 8 supported)", r);
  Window& w = p.w;
  w.kernel = n.attr_ints("kernel_shape", spatial_dims(wt));
  if (w.kernel != spatial_dims(wt)) v.fail("kernel_shape does not match the weights");
  w.strides = n.attr_ints("strides", std::vector<int64_t>(r, 1));
  w.dilations = n.attr_ints("dilations", std::vector<int64_t>(r, 1));
  auto output_padding = n.attr_ints("output_padding", std::vector<int64_t>(r, 0));
  if (w.strides.size() != r || w.dilations.size() != r || output_padding.size() < r)
    v.fail("strides, dilations or output_padding do not match the spatial rank");
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  const std::vector<int64_t> shape = n.attr_ints("output_shape");
  if (!shape.empty() && shape.size() != r) v.fail("output_shape has {} values for {} spatial dims", shape.size(), r);
  w.out = spatial_dims(x);
  w.in.assign(r, 0);
  w.pad_begin.assign(r, 0);
  w.pad_end.assign(r, 0);
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  if (!same && auto_pad != "NOTSET" && auto_pad != "VALID") v.fail("unknown auto_pad '{}'", auto_pad);
  const auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
  if (pads.size() != 2 * r) v.fail("pads has {} values, {} expected", pads.size(), 2 * r);
  for (std::size_t d = 0; d < r; ++d) {
    const int64_t full = w.strides[d] * (w.out[d] - 1) + output_padding[d] + (w.kernel[d] - 1) * w.dilations[d] + 1;
    if (same) {
      w.in[d] = shape.empty() ? w.out[d] * w.strides[d] : shape[d];
      const int64_t total = full - w.in[d];
      w.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pad_end[d] = total - w.pad_begin[d];
    } else {
      if (auto_pad == "NOTSET") {
        w.pad_begin[d] = pads[d];
        w.pad_end[d] = pads[d + r];
      }
      w.in[d] = shape.empty() ? full - w.pad_begin[d] - w.pad_end[d] : shape[d];
    }
    if (w.in[d] <= 0) v.fail("the output would have extent {} along spatial axis {}", w.in[d], d);
  }
  if (v.has_input(2) && v.input_dims(2) != std::vector<int64_t>{p.filters})
    v.fail("bias must have shape [{}]", p.filters);
  return p;
}

void add_conv_transpose(Registry& r) {
  OpDef d;
  d.op_type = "ConvTranspose";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float_input(v);
    const ConvTransposePlan p = plan_conv_transpose(v);
    const int64_t col = p.filters / p.groups * element_count(p.w.kernel) * element_count(p.w.out);
    return InferResult{{static_value(v.input_dtype(0), with_spatial_dims(p.batch, p.filters, p.w.in))},
                       col * int64_t(dtype_size(v.input_dtype(0)))};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("conv");
    const ConvTransposePlan p = plan_conv_transpose(e);
    e.line("static constexpr auto geometry = {};", geometry_initializer(p.w));
    e.line("detail::conv_transpose_nd({}, {}, {}, {}, reinterpret_cast<{}*>({}), {}, {}, {}, {}, geometry);", e.in(0),
           e.in(1), e.in_or_null(2, e.in_type(0)), e.out(0), e.in_type(0), e.workspace(), p.batch, p.channels,
           p.filters, p.groups);
  };
  d.flops = [](const NodeView& v) {
    const ConvTransposePlan p = plan_conv_transpose(v);
    return 2 * p.batch * p.channels * element_count(p.w.out) * (p.filters / p.groups) * element_count(p.w.kernel);
  };
  r.add(std::move(d));
}

// Col2Im: the columns [N, C * prod(block), L] summed back into images [N, C, image...].
struct Col2ImPlan {
  Window w;
  int64_t batch, channels;
};

Col2ImPlan plan_col2im(const NodeView& v) {
  const auto x = v.input_dims(0);
  const auto image = v.constant_ints(1, "image_shape");
  const auto block = v.constant_ints(2, "block_shape");
  const std::size_t r = image.size();
  if (x.size() != 3) v.fail("input must be 3-D");
  if (block.size() != r || r == 0 || r > 8) v.fail("image_shape and block_shape must have the same length (1 to 8)");
  const Node& n = v.node();
  Col2ImPlan p;
  Window& w = p.w;
  w.in = image;
  w.kernel = block;
  w.strides = n.attr_ints("strides", std::vector<int64_t>(r, 1));
  w.dilations = n.attr_ints("dilations", std::vector<int64_t>(r, 1));
  const auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
  if (w.strides.size() != r || w.dilations.size() != r || pads.size() != 2 * r)
    v.fail("attributes do not match the image rank");
  int64_t positions = 1;
  for (std::size_t d = 0; d < r; ++d) {
    w.pad_begin.push_back(pads[d]);
    w.pad_end.push_back(pads[d + r]);
    const int64_t span = w.dilations[d] * (block[d] - 1) + 1;
    w.out.push_back((image[d] + pads[d] + pads[d + r] - span) / w.strides[d] + 1);
    positions *= w.out.back();
  }
  const int64_t ksize = element_count(block);
  if (ksize == 0 || x[1] % ksize) v.fail("{} rows do not split into blocks of {}", x[1], ksize);
  if (x[2] != positions) v.fail("{} columns given, the geometry makes {}", x[2], positions);
  p.batch = x[0];
  p.channels = x[1] / ksize;
  return p;
}

void add_col2im(Registry& r) {
  OpDef d;
  d.op_type = "Col2Im";
  d.min_opset = 18;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float_input(v);
    const Col2ImPlan p = plan_col2im(v);
    return InferResult{{static_value(v.input_dtype(0), with_spatial_dims(p.batch, p.channels, p.w.in))}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("conv");
    e.use_kernel("elementwise");
    const Col2ImPlan p = plan_col2im(e);
    const int64_t image = element_count(p.w.in), cols = e.input_dims(0)[1] * e.input_dims(0)[2];
    e.line("static constexpr auto geometry = {};", geometry_initializer(p.w));
    e.line("detail::fill({}, {}, {}(0));", e.out(0), p.batch * p.channels * image, e.in_type(0));
    e.line("for (int64_t n = 0; n < {}; ++n) detail::col2im_nd({} + n * {}, {} + n * {}, {}, geometry);", p.batch,
           e.in(0), cols, e.out(0), p.channels * image, p.channels);
  };
  r.add(std::move(d));
}

void add_causal_conv_with_state(Registry& r) {
  OpDef d;
  d.op_type = "CausalConvWithState";
  d.min_opset = 27;
  d.types = "float, double (float16/bfloat16 computed in float)";
  d.infer = [](const NodeView& v) {
    require_float_input(v);
    const auto x = v.input_dims(0), w = v.input_dims(1);
    if (x.size() != 3) v.fail("input must be [batch, channels, length]");
    if (w.size() != 3 || w[0] != x[1] || w[1] != 1 || w[2] < 1) v.fail("weight must have shape [{}, 1, k]", x[1]);
    if (v.has_input(2) && v.input_dims(2) != std::vector<int64_t>{x[1]}) v.fail("bias must have shape [{}]", x[1]);
    const std::vector<int64_t> state{x[0], x[1], w[2] - 1};
    if (v.has_input(3) && v.input_dims(3) != state) v.fail("past_state must have shape {}", shape_str(to_shape(state)));
    const std::string act = v.node().attr_string("activation", "none");
    if (act != "none" && act != "silu" && act != "swish") v.fail("unknown activation '{}'", act);
    return InferResult{{v.input(0), static_value(v.input_dtype(0), state)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("conv");
    const auto x = e.input_dims(0);
    const std::string t = e.in_type(0);
    e.line("detail::causal_conv_with_state({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1),
           e.in_or_null(2, t), e.in_or_null(3, t), e.out(0), e.out_or_null(1, t), x[0], x[1], x[2], e.input_dims(1)[2],
           e.node().attr_string("activation", "none") != "none");
  };
  r.add(std::move(d));
}

enum class Pooling { Max, Average, Lp };

Window plan_pool(const NodeView& v) {
  const auto x = v.input_dims(0);
  if (x.size() < 3) v.fail("input must have rank >= 3, got {}", x.size());
  const auto kernel = v.node().require_attr("kernel_shape", Attribute::Kind::Ints).ints;
  return compute_window(v, spatial_dims(x), kernel, true);
}

float lp_exponent(const NodeView& v) {
  const Attribute* p = v.node().attr("p");
  if (!p) return 2.f;
  return p->kind == Attribute::Kind::Float ? p->f : float(p->i);
}

// The PoolKind (kernels/pool.hpp, cuda/conv.cuh) of a pooling node.
const char* pool_kind(const NodeView& v, Pooling kind) {
  if (kind == Pooling::Max) return "Max";
  if (kind == Pooling::Lp) return "Lp";
  return v.node().attr_int("count_include_pad", 0) != 0 ? "AverageCountPad" : "Average";
}

bool max_pool_type(DType t) { return t == DType::Float || t == DType::Double || t == DType::Int8 || t == DType::UInt8; }

void add_pool(Registry& r, const char* op, Pooling kind) {
  OpDef d;
  d.op_type = op;
  d.types = kind == Pooling::Max ? "float, double, int8, uint8" : "float, double";
  d.infer = [kind](const NodeView& v) {
    if (kind == Pooling::Max ? !max_pool_type(v.input_dtype(0)) : false)
      v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    if (kind != Pooling::Max) require_float_input(v);
    const auto x = v.input_dims(0);
    const Window w = plan_pool(v);
    const ValueInfo y = static_value(v.input_dtype(0), with_spatial_dims(x[0], x[1], w.out));
    if (kind == Pooling::Max) return InferResult{{y, static_value(DType::Int64, with_spatial_dims(x[0], x[1], w.out))}};
    return InferResult{{y}};
  };
  d.emit = [kind](EmitContext& e) {
    e.use_kernel("pool");
    const auto x = e.input_dims(0);
    const Window w = plan_pool(e);
    const char* k = pool_kind(e, kind);
    const bool indices = kind == Pooling::Max && e.num_outputs() > 1 && !e.node().outputs[1].empty();
    e.line("static constexpr auto geometry = {};", geometry_initializer(w));
    e.line("detail::pool_nd({}, {}, {}, geometry, {}, detail::PoolKind::{}, {}, {}, {});", e.in(0), e.out(0),
           x[0] * x[1], e.int_array("pad_end", w.pad_end), k, indices ? e.out(1) : "static_cast<int64_t*>(nullptr)",
           e.node().attr_int("storage_order", 0) != 0, cpp_float(lp_exponent(e)));
  };
  d.emit_cuda = [kind](EmitContext& e) {
    cuda_require_float(e);
    e.use_kernel("conv");
    const Window w = plan_pool(e);
    const char* k = pool_kind(e, kind);
    std::vector<int64_t> ends = w.pad_end;
    ends.resize(3, 0);
    const auto x = e.input_dims(0);
    e.line("detail::pool({}, {}, {}, {}, {}, {}, {}, detail::PoolKind::{}, {}, stream);", e.in(0), e.out(0),
           x[0] * x[1], cuda_window(e, w), ends[0], ends[1], ends[2], k, cpp_float(lp_exponent(e)));
  };
  r.add(std::move(d));
}

void add_global_pool(Registry& r, const char* op, Pooling kind) {
  OpDef d;
  d.op_type = op;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float_input(v);
    auto x = v.input_dims(0);
    if (x.size() < 3) v.fail("input must have rank >= 3");
    std::fill(x.begin() + 2, x.end(), 1);
    return InferResult{{static_value(v.input_dtype(0), x)}};
  };
  d.emit = [kind](EmitContext& e) {
    e.use_kernel("pool");
    const auto x = e.input_dims(0);
    const char* k = pool_kind(e, kind);  // (no padding: never AverageCountPad)
    e.line("detail::global_pool({}, {}, {}, {}, detail::PoolKind::{}, {});", e.in(0), e.out(0), x[0] * x[1],
           element_count(spatial_dims(x)), k, cpp_float(lp_exponent(e)));
  };
  // A window as large as the input, at one position.
  d.emit_cuda = [kind](EmitContext& e) {
    cuda_require_float(e);
    e.use_kernel("conv");
    const auto x = e.input_dims(0);
    Window w;
    w.in = spatial_dims(x);
    w.kernel = w.in;
    w.out.assign(w.in.size(), 1);
    w.strides.assign(w.in.size(), 1);
    w.dilations.assign(w.in.size(), 1);
    w.pad_begin.assign(w.in.size(), 0);
    w.pad_end = w.pad_begin;
    e.line("detail::pool({}, {}, {}, {}, 0, 0, 0, detail::PoolKind::{}, {}, stream);", e.in(0), e.out(0), x[0] * x[1],
           cuda_window(e, w), pool_kind(e, kind), cpp_float(lp_exponent(e)));
  };
  r.add(std::move(d));
}

std::vector<int64_t> max_unpool_shape(const NodeView& v, bool inferred = false) {
  const auto x = v.input_dims(0);
  if (v.has_input(2) && !inferred) return v.constant_ints(2, "output_shape");
  const auto kernel = v.node().require_attr("kernel_shape", Attribute::Kind::Ints).ints;
  const std::size_t r = x.size() - 2;
  const auto strides = v.node().attr_ints("strides", std::vector<int64_t>(r, 1));
  const auto pads = v.node().attr_ints("pads", std::vector<int64_t>(2 * r, 0));
  if (kernel.size() != r || strides.size() != r || pads.size() != 2 * r)
    v.fail("attributes do not match the spatial rank");
  std::vector<int64_t> out{x[0], x[1]};
  for (std::size_t d = 0; d < r; ++d) out.push_back((x[d + 2] - 1) * strides[d] + kernel[d] - pads[d] - pads[d + r]);
  return out;
}

void add_max_unpool(Registry& r) {
  OpDef d;
  d.op_type = "MaxUnpool";
  d.min_opset = 9;
  d.types = "float, double; int64 indices";
  d.infer = [](const NodeView& v) {
    require_float_input(v);
    if (v.input_dims(0).size() < 3) v.fail("input must have rank >= 3");
    return InferResult{{static_value(v.input_dtype(0), max_unpool_shape(v))}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("pool");
    const auto inferred = max_unpool_shape(e, true), out = e.output_dims(0);
    if (inferred.size() != out.size()) e.fail("output_shape has rank {}, the input {}", out.size(), inferred.size());
    e.line("detail::max_unpool({}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0),
           element_count(e.input_dims(0)), out.size(), e.int_array("inferred", inferred), e.int_array("out_dims", out));
  };
  r.add(std::move(d));
}

}  // namespace

void register_conv_ops(Registry& r) {
  add_conv(r);
  add_deform_conv(r);
  add_conv_transpose(r);
  add_col2im(r);
  add_causal_conv_with_state(r);
  add_pool(r, "MaxPool", Pooling::Max);
  add_pool(r, "AveragePool", Pooling::Average);
  add_global_pool(r, "GlobalAveragePool", Pooling::Average);
  add_global_pool(r, "GlobalMaxPool", Pooling::Max);
  add_global_pool(r, "GlobalLpPool", Pooling::Lp);
  add_pool(r, "LpPool", Pooling::Lp);
  add_max_unpool(r);
}

}  // namespace sofiec
