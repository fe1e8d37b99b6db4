// WinogradConv (the compiler's domain, made by the ConvWinograd pass): a 3x3 stride-1
// convolution whose filters were transformed at generation time, U = G g G^T stored
// [16 or 36, filters, channels] (F(2x2) or F(4x4)), or [16 or 36, filters / 32, channels, 32] for
// the products with the filters in the lanes; or whose 3x3 taps are stored by vectors of U,
// [filters, channels / 16, 9, 16] or [filters / 32, channels, 2, 9, 16], for U to be computed
// at run time (attribute tile: 2 or 4). Inputs X [N, C, H, W], the filters, optional bias
// [filters]; attribute pads (top, left, bottom, right) as Conv's, and max_pool (1: a fused 2x2
// stride-2 MaxPool after the epilogue, made by ConvMaxPoolFusion; the output is then pooled).
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

rt::WinogradGeometry plan_winograd(const NodeView& v) {
  const auto x = v.input_dims(0), u = v.input_dims(1);
  if (x.size() != 4) v.fail("input must be [N, C, H, W]");
  // The filters' layout, from their shape: U stored (tiles or filters in the lanes) or the
  // taps by vectors of U (runtime_filters, tile from the attribute).
  int64_t filters = 0, channels = 0, tile = 0;
  bool filter_lanes = false, runtime = false;
  if (u.size() == 3) {
    filters = u[1], channels = u[2], tile = u[0] == 36 ? 4 : u[0] == 16 ? 2 : 0;
  } else if (u.size() == 4 && u[3] == 32) {
    filters = 32 * u[1], channels = u[2], tile = u[0] == 36 ? 4 : u[0] == 16 ? 2 : 0, filter_lanes = true;
  } else if (u.size() == 4 && u[2] == 9 && u[3] == 16) {
    filters = u[0], channels = 16 * u[1], runtime = true;
  } else if (u.size() == 5 && u[2] == 2 && u[3] == 9 && u[4] == 16) {
    filters = 32 * u[0], channels = u[1], runtime = filter_lanes = true;
  }
  if (runtime) tile = v.node().attr_int("tile", 4);
  if (channels != x[1] || (tile != 2 && tile != 4))
    v.fail(
        "filters must be [16 or 36, M, {0}], [16 or 36, M / 32, {0}, 32], [M, {0} / 16, 9, 16] or "
        "[M / 32, {0}, 2, 9, 16] with tile 2 or 4",
        x[1]);
  const auto pads = v.node().attr_ints("pads", {0, 0, 0, 0});
  if (pads.size() != 4) v.fail("pads must have 4 values");
  const rt::WinogradGeometry g{x[1],
                               filters,
                               x[2],
                               x[3],
                               x[2] + pads[0] + pads[2] - 2,
                               x[3] + pads[1] + pads[3] - 2,
                               pads[0],
                               pads[1],
                               tile,
                               v.node().attr_int("max_pool", 0) != 0,
                               x[0],
                               filter_lanes,
                               runtime};
  if (g.out_h < 1 || g.out_w < 1) v.fail("the 3x3 window does not fit the padded input");
  if (v.has_input(2) && v.input_dims(2) != std::vector<int64_t>{g.filters})
    v.fail("bias must have shape [{}]", g.filters);
  return g;
}

}  // namespace

void register_winograd_ops(Registry& r) {
  OpDef d;
  d.op_type = "WinogradConv";
  d.types = "float";
  d.infer = [](const NodeView& v) {
    if (v.input_dtype(0) != DType::Float) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    const rt::WinogradGeometry g = plan_winograd(v);
    const int64_t shrink = g.max_pool ? 2 : 1;
    return InferResult{{static_value(DType::Float, {g.batch, g.filters, g.out_h / shrink, g.out_w / shrink})},
                       rt::winograd_scratch_floats(g) * int64_t(sizeof(float))};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("winograd");
    const rt::WinogradGeometry g = plan_winograd(e);
    e.line("static constexpr detail::WinogradGeometry geometry{{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}}};",
           g.channels, g.filters, g.in_h, g.in_w, g.out_h, g.out_w, g.pad_top, g.pad_left, g.tile, g.max_pool, g.batch,
           g.filter_lanes, g.runtime_filters);
    const std::string epilogue = e.epilogue();
    e.line("detail::winograd_conv3x3({}, {}, {}, {}, reinterpret_cast<float*>({}), geometry{});", e.in(0), e.in(1),
           e.in_or_null(2, "float"), e.out(0), e.workspace(), epilogue.empty() ? "" : ", " + epilogue);
  };
  d.accepts_epilogue = true;
  // The convolution's own count (what a direct 3x3 convolution computes), so that the
  // fraction of peak reads as the speed of the convolution.
  d.flops = [](const NodeView& v) {
    const rt::WinogradGeometry g = plan_winograd(v);
    return 2 * g.batch * g.filters * g.out_h * g.out_w * g.channels * 9;
  };
  r.add_internal(std::move(d));
}

}  // namespace sofiec
