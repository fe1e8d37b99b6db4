// Quantization: QuantizeLinear, DequantizeLinear (per tensor, per axis, blocked),
// DynamicQuantizeLinear, MatMulInteger, QLinearMatMul.
#include "emit/emit_context.hpp"
#include "ops/linalg.hpp"
#include "ops/window.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

bool quantized_type(DType t) {
  return t == DType::UInt8 || t == DType::Int8 || t == DType::UInt16 || t == DType::Int16 || t == DType::Int32;
}

// Where the scale (input `scale_input`) of each element of input 0 is.
std::string quant_layout(const NodeView& v, std::size_t scale_input) {
  const auto x = v.input_dims(0);
  const auto s = v.input_dims(scale_input);
  const int64_t n = element_count(s);
  const int64_t block = v.node().attr_int("block_size", 0);
  if (x.empty() || (n == 1 && block == 0)) return fmt::format("{{1, {}, 1, 0, 0, 0, 1}}", element_count(x));
  const int64_t axis = v.axis(v.node().attr_int("axis", 1), int64_t(x.size()));
  const int64_t outer = element_count(std::vector<int64_t>(x.begin(), x.begin() + axis));
  const int64_t len = x[std::size_t(axis)];
  const int64_t inner = element_count(std::vector<int64_t>(x.begin() + axis + 1, x.end()));
  if (block == 0) {
    if (s.size() != 1 || s[0] != len) v.fail("a per-axis scale must have shape [{}]", len);
    return fmt::format("{{{}, {}, {}, 0, 1, 0, 1}}", outer, len, inner);
  }
  if (block < 0) v.fail("block_size must be positive");
  const int64_t blocks = (len + block - 1) / block;
  std::vector<int64_t> expected = x;
  expected[std::size_t(axis)] = blocks;
  if (s != expected) v.fail("a blocked scale must have shape {}", shape_str(to_shape(expected)));
  return fmt::format("{{{}, {}, {}, {}, {}, 1, {}}}", outer, len, inner, blocks * inner, inner, block);
}

void add_quantize(Registry& r) {
  OpDef d;
  d.op_type = "QuantizeLinear";
  d.min_opset = 10;
  d.types = "float, double (float16/bfloat16 in float) to uint8, int8, uint16, int16";
  d.infer = [](const NodeView& v) {
    const DType t = require_float_input(v);
    if (v.input_dtype(1) != t)
      v.unsupported("a scale of type {} for input of type {}", dtype_name(v.input_dtype(1)), dtype_name(t));
    DType out = DType::UInt8;
    if (v.has_input(2)) out = v.input_dtype(2);
    else if (v.node().has_attr("output_dtype")) out = static_cast<DType>(v.node().attr_int("output_dtype", 2));
    if (!quantized_type(out) || out == DType::Int32) v.unsupported("quantizing to {}", dtype_name(out));
    return InferResult{{ValueInfo{out, v.input(0).shape, v.input(0).has_shape}}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("quantize");
    e.line("static constexpr detail::QuantLayout layout{};", quant_layout(e, 1));
    e.line("detail::quantize_linear({}, {}, {}, {}, layout);", e.in(0), e.in(1), e.in_or_null(2, e.out_type(0)),
           e.out(0));
  };
  r.add(std::move(d));
}

void add_dequantize(Registry& r) {
  OpDef d;
  d.op_type = "DequantizeLinear";
  d.min_opset = 10;
  d.types = "uint8, int8, uint16, int16, int32 to float, double (float16/bfloat16 in float)";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!quantized_type(t)) v.unsupported("input type {} is not supported", dtype_name(t));
    const DType s = v.input_dtype(1);
    if (s != DType::Float && s != DType::Double) v.unsupported("scale type {} is not supported", dtype_name(s));
    if (v.has_input(2) && v.input_dtype(2) != t) v.fail("the zero point must have the input's type");
    return InferResult{{ValueInfo{s, v.input(0).shape, v.input(0).has_shape}}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("quantize");
    e.line("static constexpr detail::QuantLayout layout{};", quant_layout(e, 1));
    e.line("detail::dequantize_linear({}, {}, {}, {}, layout);", e.in(0), e.in(1), e.in_or_null(2, e.in_type(0)),
           e.out(0));
  };
  r.add(std::move(d));
}

void add_dynamic_quantize(Registry& r) {
  OpDef d;
  d.op_type = "DynamicQuantizeLinear";
  d.min_opset = 11;
  d.types = "float to uint8";
  d.infer = [](const NodeView& v) {
    if (v.input_dtype(0) != DType::Float) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    return InferResult{{ValueInfo{DType::UInt8, v.input(0).shape, v.input(0).has_shape}, static_value(DType::Float, {}),
                        static_value(DType::UInt8, {})}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("quantize");
    for (std::size_t i = 1; i < 3; ++i)
      if (i >= e.num_outputs() || e.node().outputs[i].empty())
        e.unsupported("DynamicQuantizeLinear without its scale and zero point outputs");
    e.line("detail::dynamic_quantize_linear({}, {}, {}, {}, {});", e.in(0), e.out(0), e.out(1), e.out(2),
           element_count(e.input_dims(0)));
  };
  r.add(std::move(d));
}

// A scalar zero point (or 0 when absent) as C++ code reading it at run time.
std::string zero_point(const NodeView& v, std::size_t i, const std::string& var) {
  if (!v.has_input(i)) return "0";
  if (element_count(v.input_dims(i)) != 1) v.unsupported("zero points that are not scalars");
  return fmt::format("int32_t({}[0])", var);
}

bool int8_type(DType t) { return t == DType::UInt8 || t == DType::Int8; }

// MatMulInteger (a, b, a_zero, b_zero) and QLinearMatMul (a, a_scale, a_zero, b, b_scale,
// b_zero, y_scale, y_zero).
void add_matmul_integer(Registry& r, const char* op, bool quantized) {
  OpDef d;
  d.op_type = op;
  d.min_opset = 10;
  d.types = "uint8, int8";
  const std::size_t a = 0, b = quantized ? 3 : 1;
  d.infer = [=](const NodeView& v) {
    if (!int8_type(v.input_dtype(a)) || !int8_type(v.input_dtype(b)))
      v.unsupported("operand types {} and {}", dtype_name(v.input_dtype(a)), dtype_name(v.input_dtype(b)));
    const MatMulPlan p = plan_matmul(v, a, b);
    DType out = DType::Int32;
    if (quantized) {
      out = v.has_input(7) ? v.input_dtype(7) : v.input_dtype(a);
      for (std::size_t s : {1, 4, 6})
        if (element_count(v.input_dims(s)) != 1) v.unsupported("scales that are not scalars");
    }
    return InferResult{{static_value(out, p.out_dims)}};
  };
  d.emit = [=](EmitContext& e) {
    e.use_kernel("quantize");
    const MatMulPlan p = plan_matmul(e, a, b);
    const std::string a_zero = zero_point(e, 2, e.has_input(2) ? e.in(2) : "");
    const std::string b_zero =
        zero_point(e, quantized ? 5 : 3, e.has_input(quantized ? 5 : 3) ? e.in(quantized ? 5 : 3) : "");
    std::string multiplier = "0.0", y_zero = "0";
    if (quantized) {
      multiplier = fmt::format("double({}[0] * {}[0] / {}[0])", e.in(1), e.in(4), e.in(6));
      y_zero = zero_point(e, 7, e.has_input(7) ? e.in(7) : "");
    }
    e.line("detail::matmul_integer({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(a), e.in(b), a_zero,
           b_zero, e.out(0), p.a_offsets.size(), e.int_array("a_offsets", p.a_offsets),
           e.int_array("b_offsets", p.b_offsets), p.m, p.n, p.k, quantized, multiplier, y_zero);
  };
  r.add(std::move(d));
}

// ConvInteger (x, w, x_zero, w_zero) and QLinearConv (x, x_scale, x_zero, w, w_scale, w_zero,
// y_scale, y_zero, bias).
void add_conv_integer(Registry& r, const char* op, bool quantized) {
  OpDef d;
  d.op_type = op;
  d.min_opset = 10;
  d.types = "uint8, int8; int32 bias";
  const std::size_t w = quantized ? 3 : 1, bias = quantized ? 8 : kAbsent;
  d.infer = [=](const NodeView& v) {
    if (!int8_type(v.input_dtype(0)) || !int8_type(v.input_dtype(w)))
      v.unsupported("operand types {} and {}", dtype_name(v.input_dtype(0)), dtype_name(v.input_dtype(w)));
    if (quantized && (v.input_dtype(1) != DType::Float || v.input_dtype(6) != DType::Float))
      v.unsupported("scales of a type other than float");
    const ConvPlan p = plan_conv(v, 0, w, bias);
    const DType out = quantized ? (v.has_input(7) ? v.input_dtype(7) : v.input_dtype(0)) : DType::Int32;
    std::vector<int64_t> y{p.batch, p.filters};
    y.insert(y.end(), p.w.out.begin(), p.w.out.end());
    const auto x = v.input_dims(0);
    const int64_t scratch = element_count(x) + element_count(v.input_dims(w)) + element_count(y) + p.workspace_elements;
    return InferResult{{static_value(out, y)}, scratch * 4};
  };
  d.emit = [=](EmitContext& e) {
    e.use_kernel("quantize");
    const ConvPlan p = plan_conv(e, 0, w, bias);
    const std::size_t x_zero = 2, w_zero = quantized ? 5 : 3;
    if (e.has_input(x_zero) && element_count(e.input_dims(x_zero)) != 1)
      e.unsupported("a per-channel input zero point");
    const int64_t w_zero_count = e.has_input(w_zero) ? element_count(e.input_dims(w_zero)) : 0;
    const int64_t w_scale_count = quantized ? element_count(e.input_dims(4)) : 0;
    e.line("static constexpr auto geometry = {};", geometry_initializer(p.w));
    const std::string y_type = e.out_type(0);
    e.line(
        "detail::conv_integer({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, geometry, {}, {}, {}, {}, {}, "
        "reinterpret_cast<int32_t*>({}));",
        e.in(0), e.in_or_null(x_zero, e.in_type(0)), e.in(w), e.in_or_null(w_zero, e.in_type(w)), w_zero_count,
        e.in_or_null(bias, "int32_t"), e.out(0), p.batch, p.channels, p.filters, p.groups,
        e.in_or_null(quantized ? 1 : kAbsent, "float"), e.in_or_null(quantized ? 4 : kAbsent, "float"), w_scale_count,
        e.in_or_null(quantized ? 6 : kAbsent, "float"), e.in_or_null(quantized ? 7 : kAbsent, y_type), e.workspace());
  };
  r.add(std::move(d));
}

}  // namespace

void register_quantization_ops(Registry& r) {
  add_conv_integer(r, "ConvInteger", false);
  add_conv_integer(r, "QLinearConv", true);
  add_quantize(r);
  add_dequantize(r);
  add_dynamic_quantize(r);
  add_matmul_integer(r, "MatMulInteger", false);
  add_matmul_integer(r, "QLinearMatMul", true);
}

}  // namespace sofiec
