// Signal processing: DFT, STFT, HannWindow, HammingWindow, BlackmanWindow.
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

int64_t scalar_input(const NodeView& v, std::size_t i, const char* what) {
  const auto values = v.constant_ints(i, what);
  if (values.size() != 1) v.fail("{} must hold one value", what);
  return values[0];
}

struct DftPlan {
  int64_t outer = 1, n_in = 0, inner = 1, length = 0, n_out = 0;
  int c_in = 1;
  bool inverse = false, real_output = false;
  std::vector<int64_t> out_dims;
};

DftPlan plan_dft(const NodeView& v) {
  const auto x = v.input_dims(0);
  if (x.size() < 2 || (x.back() != 1 && x.back() != 2)) v.fail("the last dim must be 1 (real) or 2 (complex)");
  int64_t axis = v.opset() >= 20 ? (v.has_input(2) ? scalar_input(v, 2, "axis") : -2) : v.node().attr_int("axis", 1);
  axis = v.axis(axis, int64_t(x.size()));
  if (axis == int64_t(x.size()) - 1) v.fail("the transform axis cannot be the last (complex) dim");
  DftPlan p;
  p.inverse = v.node().attr_int("inverse", 0) != 0;
  const bool onesided = v.node().attr_int("onesided", 0) != 0;
  p.c_in = int(x.back());
  p.n_in = x[std::size_t(axis)];
  for (int64_t d = 0; d < int64_t(x.size()) - 1; ++d)
    if (d < axis) p.outer *= x[std::size_t(d)];
    else if (d > axis) p.inner *= x[std::size_t(d)];
  p.real_output = p.inverse && onesided;
  p.length = v.has_input(1) ? scalar_input(v, 1, "dft_length") : (p.real_output ? 2 * (p.n_in - 1) : p.n_in);
  if (p.length < 1) v.fail("dft_length must be positive");
  p.n_out = !p.inverse && onesided ? p.length / 2 + 1 : p.length;
  p.out_dims = x;
  p.out_dims[std::size_t(axis)] = p.n_out;
  p.out_dims.back() = p.real_output ? 1 : 2;
  return p;
}

void add_dft(Registry& r) {
  OpDef d;
  d.op_type = "DFT";
  d.min_opset = 17;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    const DType t = require_float_input(v);
    return InferResult{{static_value(t, plan_dft(v).out_dims)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("signal");
    const DftPlan p = plan_dft(e);
    e.line("detail::dft({}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.out(0), p.outer, p.n_in, p.inner, p.c_in,
           p.length, p.n_out, p.inverse, p.real_output);
  };
  r.add(std::move(d));
}

struct StftPlan {
  int64_t batch, length, step, frames, window_length, fft_length, n_out;
  int c_in;
};

StftPlan plan_stft(const NodeView& v) {
  const auto x = v.input_dims(0);
  if (x.size() != 3 || (x[2] != 1 && x[2] != 2)) v.fail("the signal must be [batch, length, 1 or 2]");
  StftPlan p{};
  p.batch = x[0];
  p.length = x[1];
  p.c_in = int(x[2]);
  p.step = scalar_input(v, 1, "frame_step");
  p.window_length = v.has_input(2) ? v.input_dims(2).at(0) : 0;
  p.fft_length = v.has_input(3) ? scalar_input(v, 3, "frame_length") : p.window_length;
  if (p.window_length == 0) p.window_length = p.fft_length;
  if (p.step < 1 || p.fft_length < 1 || p.fft_length > p.length) v.fail("invalid frame_step or frame_length");
  p.frames = 1 + (p.length - p.fft_length) / p.step;
  p.n_out = v.node().attr_int("onesided", 1) != 0 ? p.fft_length / 2 + 1 : p.fft_length;
  return p;
}

void add_stft(Registry& r) {
  OpDef d;
  d.op_type = "STFT";
  d.min_opset = 17;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    const DType t = require_float_input(v);
    const StftPlan p = plan_stft(v);
    return InferResult{{static_value(t, {p.batch, p.frames, p.n_out, 2})}, 2 * p.fft_length * int64_t(dtype_size(t))};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("signal");
    const StftPlan p = plan_stft(e);
    e.line("detail::stft({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, reinterpret_cast<{}*>({}));", e.in(0),
           e.in_or_null(2, e.in_type(0)), e.out(0), p.batch, p.length, p.c_in, p.step, p.frames, p.window_length,
           p.fft_length, p.n_out, e.in_type(0), e.workspace());
  };
  r.add(std::move(d));
}

}  // namespace

void register_signal_ops(Registry& r) {
  add_dft(r);
  add_stft(r);
  add_window(r, "HannWindow", "Hann");
  add_window(r, "HammingWindow", "Hamming");
  add_window(r, "BlackmanWindow", "Blackman");
}

}  // namespace sofiec
