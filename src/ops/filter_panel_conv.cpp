// FilterPanelConv (the compiler's domain, made by the ConvFilterPanels pass): a 2-D Conv of one
// group with few output positions per image, its weights packed at generation time into panels
// of 32 filters, [ceil(M / 32), C * kh * kw, 32]; inputs X [N, C, H, W], the panels, optional
// bias [M]; attributes: Conv's (kernel_shape given), and `filters` (M). With `pool_kernel_shape`
// (and the MaxPool's other window attributes, `pool_strides`, `pool_pads`, `pool_auto_pad`; floor
// mode), ConvMaxPoolFusion's max pool follows in the same kernel and the output is the pooled
// planes.
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/registry.hpp"
#include "ops/window.hpp"

namespace sofiec {
namespace {

struct PanelConvPlan {
  int64_t batch, channels, filters;
  Window w;
  bool pooled = false;
  Window pool;  // over w.out
};

PanelConvPlan plan_panel_conv(const NodeView& v) {
  const auto x = v.input_dims(0), panels = v.input_dims(1);
  if (x.size() != 4) v.fail("input must be [N, C, H, W]");
  const auto kernel = v.node().attr_ints("kernel_shape", {});
  if (kernel.size() != 2) v.fail("kernel_shape must have 2 values");
  PanelConvPlan p{x[0],  x[1],    v.node().attr_int("filters", 0), compute_window(v, spatial_dims(x), kernel, false),
                  false, Window{}};
  const int64_t depth = p.channels * kernel[0] * kernel[1];
  if (p.filters < 1 || panels != std::vector<int64_t>{(p.filters + 31) / 32, depth, 32})
    v.fail("filter panels must be [{}, {}, 32] for {} filters", (p.filters + 31) / 32, depth, p.filters);
  if (v.has_input(2) && v.input_dims(2) != std::vector<int64_t>{p.filters})
    v.fail("bias must have shape [{}]", p.filters);
  if (v.node().has_attr("pool_kernel_shape")) {
    const auto pool_kernel = v.node().attr_ints("pool_kernel_shape", {});
    if (pool_kernel.size() != 2) v.fail("pool_kernel_shape must have 2 values");
    p.pooled = true;
    p.pool = compute_window(v, p.w.out, pool_kernel, false, "pool_");
  }
  return p;
}

}  // namespace

void register_filter_panel_conv_ops(Registry& r) {
  OpDef d;
  d.op_type = "FilterPanelConv";
  d.types = "float";
  d.infer = [](const NodeView& v) {
    if (v.input_dtype(0) != DType::Float) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    const PanelConvPlan p = plan_panel_conv(v);
    const rt::ConvGeometry g = kernel_geometry(p.w);
    const int64_t scratch = p.pooled ? rt::filter_panel_pool_scratch(g, p.channels, p.filters, kernel_geometry(p.pool))
                                     : rt::filter_panel_conv_scratch(g, p.channels);
    const std::vector<int64_t>& out = p.pooled ? p.pool.out : p.w.out;
    return InferResult{{static_value(DType::Float, {p.batch, p.filters, out[0], out[1]})},
                       scratch * int64_t(sizeof(float))};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("filter_lane_conv");
    const PanelConvPlan p = plan_panel_conv(e);
    e.line("static constexpr auto geometry = {};", geometry_initializer(p.w));
    const std::string epilogue = e.epilogue();
    const std::string tail = epilogue.empty() ? "" : ", " + epilogue;
    if (p.pooled) {
      e.line("static constexpr auto pool = {};", geometry_initializer(p.pool));
      e.line(
          "detail::conv2d_filter_panels_max_pool({}, {}, {}, {}, reinterpret_cast<float*>({}), {}, {}, {}, geometry, "
          "pool{});",
          e.in(0), e.in(1), e.in_or_null(2, "float"), e.out(0), e.workspace(), p.batch, p.channels, p.filters, tail);
    } else {
      e.line("detail::conv2d_filter_panels({}, {}, {}, {}, reinterpret_cast<float*>({}), {}, {}, {}, geometry{});",
             e.in(0), e.in(1), e.in_or_null(2, "float"), e.out(0), e.workspace(), p.batch, p.channels, p.filters, tail);
    }
  };
  d.accepts_epilogue = true;
  d.flops = [](const NodeView& v) {
    const PanelConvPlan p = plan_panel_conv(v);
    return 2 * p.batch * p.filters * element_count(p.w.out) * p.channels * element_count(p.w.kernel);
  };
  r.add_internal(std::move(d));
}

}  // namespace sofiec
