// EdgeConvGather (the compiler's domain, made by the EdgeConvFactorization pass): the edge
// half of an EdgeConv's first linear layer. Inputs: pc [B, P, 2F], the per-point products
// (per point the centre's F channels, then the neighbour's), indices (B * P * K points of the flattened
// batch, int32 or int64), optional bias [F]; output [B, F, P, K] (kernels/edge_conv.hpp).
#include "emit/emit_context.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

struct EdgeShape {
  int64_t batch, filters, points, k;
};

EdgeShape edge_shape(const NodeView& v) {
  const auto pc = v.input_dims(0);
  if (pc.size() != 3 || pc[2] % 2 != 0) v.fail("per-point products must be [B, P, 2F]");
  const int64_t batch = pc[0], points = pc[1], filters = pc[2] / 2;
  const int64_t indices = element_count(v.input_dims(1));
  if (batch * points == 0 || indices % (batch * points) != 0)
    v.fail("{} indices do not give every one of the {} points the same number of neighbours", indices, batch * points);
  if (v.has_input(2) && element_count(v.input_dims(2)) != filters) v.fail("bias must hold {} values", filters);
  return {batch, filters, points, indices / (batch * points)};
}

}  // namespace

void register_edge_conv_ops(Registry& r) {
  OpDef d;
  d.op_type = "EdgeConvGather";
  d.types = "float, int32/int64 indices";
  d.infer = [](const NodeView& v) {
    if (v.input_dtype(0) != DType::Float) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    const DType index = v.input_dtype(1);
    if (index != DType::Int32 && index != DType::Int64) v.fail("indices must be int32 or int64");
    const EdgeShape s = edge_shape(v);
    return InferResult{{static_value(DType::Float, {s.batch, s.filters, s.points, s.k})}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("edge_conv");
    const EdgeShape s = edge_shape(e);
    const std::string epilogue = e.epilogue();
    e.line("detail::edge_conv_gather({}, {}, {}, {}, {}, {}, {}, {}{});", e.in(0), e.in(1), e.in_or_null(2, "float"),
           e.out(0), s.batch, s.filters, s.points, s.k, epilogue.empty() ? "" : ", " + epilogue);
  };
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e, 1);
    e.use_kernel("select");
    const EdgeShape s = edge_shape(e);
    e.line("detail::edge_conv_gather({}, {}, {}, {}, {}, {}, {}, {}, {}, stream);", e.in(0), e.in(1),
           e.in_or_null(2, "float"), e.out(0), s.batch, s.filters, s.points, s.k, cuda_epilogue(e));
  };
  d.accepts_epilogue = true;
  d.flops = [](const NodeView& v) {
    const EdgeShape s = edge_shape(v);
    return 2 * s.batch * s.filters * s.points * s.k;
  };
  r.add_internal(std::move(d));
}

}  // namespace sofiec
