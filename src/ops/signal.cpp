// Signal processing: HannWindow, HammingWindow, BlackmanWindow.
#include "emit/emit_context.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

int64_t window_size(const NodeView& v) {
  const auto size = v.constant_ints(0, "size");
  if (size.size() != 1 || size[0] < 0) v.fail("size must be one non-negative value");
  return size[0];
}

void add_window(Registry& r, const char* op, const char* kind) {
  OpDef d;
  d.op_type = op;
  d.min_opset = 17;
  d.types = "int32/int64 size to numeric";
  d.infer = [](const NodeView& v) {
    const auto t = static_cast<DType>(v.node().attr_int("output_datatype", 1));
    if (!dtype_is_storable(t) || t == DType::Bool) v.unsupported("output type {}", dtype_name(t));
    return InferResult{{static_value(t, {window_size(v)})}};
  };
  d.emit = [kind](EmitContext& e) {
    e.use_kernel("signal");
    e.line("detail::window_function({}, {}, detail::WindowKind::{}, {});", e.out(0), window_size(e), kind,
           e.node().attr_int("periodic", 1) != 0);
  };
  r.add(std::move(d));
}

}  // namespace

void register_signal_ops(Registry& r) {
  add_window(r, "HannWindow", "Hann");
  add_window(r, "HammingWindow", "Hamming");
  add_window(r, "BlackmanWindow", "Blackman");
}

}  // namespace sofiec
