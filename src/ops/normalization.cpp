// Normalizations: BatchNormalization (inference mode).
#include "emit/emit_context.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

void add_batch_norm(Registry& r) {
  OpDef d;
  d.op_type = "BatchNormalization";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (t != DType::Float && t != DType::Double) v.unsupported("input type {} is not supported", dtype_name(t));
    if (v.node().attr_int("training_mode", 0) != 0) v.unsupported("training mode");
    if (v.node().attr_int("spatial", 1) == 0) v.unsupported("spatial=0 (per-activation statistics)");
    for (std::size_t i = 1; i < v.node().outputs.size(); ++i)
      if (!v.node().outputs[i].empty()) v.unsupported("the training outputs (running mean and variance)");
    const auto x = v.input_dims(0);
    if (x.size() < 2) v.fail("input must have rank >= 2");
    for (std::size_t i = 1; i <= 4; ++i) {
      if (v.input_dtype(i) != t) v.unsupported("parameters of a type other than the input's");
      if (v.input_dims(i) != std::vector<int64_t>{x[1]}) v.fail("parameter {} must have shape [{}]", i, x[1]);
    }
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("normalization");
    const auto x = e.input_dims(0);
    const int64_t spatial = element_count(std::vector<int64_t>(x.begin() + 2, x.end()));
    e.line("detail::batch_norm({}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.in(2), e.in(3), e.in(4),
           e.out(0), x[0], x[1], spatial, cpp_float(e.node().attr_float("epsilon", 1e-5f)));
  };
  r.add(std::move(d));
}

}  // namespace

void register_normalization_ops(Registry& r) { add_batch_norm(r); }

}  // namespace sofiec
