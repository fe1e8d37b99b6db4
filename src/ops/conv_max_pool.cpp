// ConvMaxPool (the compiler's domain, made by the ConvMaxPoolFusion pass): a Conv that runs as
// the direct convolution (2-D, unit strides, few taps per output: conv.hpp's conv2d_direct)
// followed by a 2x2 stride-2 MaxPool, in one kernel. Inputs and attributes are the Conv's; the
// output is the pooled [N, M, out_h / 2, out_w / 2].
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/registry.hpp"
#include "ops/window.hpp"

namespace sofiec {
namespace {

ConvPlan plan_conv_max_pool(const NodeView& v) {
  const ConvPlan p = plan_conv(v);
  if (p.w.rank() != 2 || !rt::conv2d_direct_pays(kernel_geometry(p.w), p.channels / p.groups))
    v.fail("not a direct 2-D convolution (unit strides, at most {} taps per output)", rt::kDirectConvTaps);
  return p;
}

}  // namespace

void register_conv_max_pool_ops(Registry& r) {
  OpDef d;
  d.op_type = "ConvMaxPool";
  d.types = "float";
  d.infer = [](const NodeView& v) {
    if (v.input_dtype(0) != DType::Float) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    const ConvPlan p = plan_conv_max_pool(v);
    const int64_t scratch = rt::direct_conv_scratch(kernel_geometry(p.w), p.channels / p.groups);
    return InferResult{{static_value(DType::Float, {p.batch, p.filters, p.w.out[0] / 2, p.w.out[1] / 2})},
                       scratch * int64_t(sizeof(float))};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("conv");
    const ConvPlan p = plan_conv_max_pool(e);
    e.line("static constexpr auto geometry = {};", geometry_initializer(p.w));
    const std::string epilogue = e.epilogue();
    e.line("detail::conv2d_direct_max_pool({}, {}, {}, {}, reinterpret_cast<float*>({}), {}, {}, {}, {}, geometry{});",
           e.in(0), e.in(1), e.in_or_null(2, "float"), e.out(0), e.workspace(), p.batch, p.channels, p.filters,
           p.groups, epilogue.empty() ? "" : ", " + epilogue);
  };
  d.accepts_epilogue = true;
  // The convolution's count, as Conv's (the pool's compares are not counted).
  d.flops = [](const NodeView& v) {
    const ConvPlan p = plan_conv_max_pool(v);
    return conv_flops(p);
  };
  r.add_internal(std::move(d));
}

}  // namespace sofiec
