// Reductions along axes: Softmax and LogSoftmax.
#include "emit/emit_context.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

struct SoftmaxExtent {
  int64_t outer = 1, length = 1, inner = 1;
};

// Before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13 on, softmax runs
// along the single axis (default -1).
SoftmaxExtent softmax_extent(const NodeView& v) {
  const auto x = v.input_dims(0);
  const int64_t rank = int64_t(x.size());
  const bool legacy = v.opset() < 13;
  SoftmaxExtent s;
  if (rank == 0) return s;
  const int64_t axis = v.axis(v.node().attr_int("axis", legacy ? 1 : -1), rank);
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) s.outer *= x[d];
    else if (d == axis || legacy) s.length *= x[d];
    else s.inner *= x[d];
  }
  return s;
}

void add_softmax(Registry& r, const char* op, bool log_output) {
  OpDef d;
  d.op_type = op;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (t != DType::Float && t != DType::Double) v.unsupported("input type {} is not supported", dtype_name(t));
    softmax_extent(v);
    return InferResult{{v.input(0)}};
  };
  d.emit = [log_output](EmitContext& e) {
    e.use_kernel("softmax");
    const SoftmaxExtent s = softmax_extent(e);
    e.line("detail::softmax({}, {}, {}, {}, {}, {});", e.in(0), e.out(0), s.outer, s.length, s.inner, log_output);
  };
  r.add(std::move(d));
}

}  // namespace

void register_reduction_ops(Registry& r) {
  add_softmax(r, "Softmax", false);
  add_softmax(r, "LogSoftmax", true);
}

}  // namespace sofiec
