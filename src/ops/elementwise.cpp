// Elementwise operators: one implementation of "map a scalar function over tensors", each
// operator a single registration line naming its functor from templates/kernels/functors.hpp.
#include <array>

#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

const char* kFloatTypes = "float, double";
const char* kNumericTypes = "float, double, int8/16/32/64, uint8/16/32/64";

bool type_allowed(DType t, bool integers_allowed) {
  if (t == DType::Float || t == DType::Double) return true;
  return integers_allowed && dtype_is_integer(t);
}

// A functor with up to two float parameters read from attributes (alpha, beta, ...).
struct ParamSpec {
  std::vector<std::pair<const char*, float>> attrs;  // name and default, in functor field order
  std::vector<float> values(const Node& n) const {
    std::vector<float> v;
    for (const auto& [name, fallback] : attrs) v.push_back(n.attr_float(name, fallback));
    return v;
  }
};

template <class F>
F make_functor(const std::vector<float>& p) {
  if constexpr (std::is_empty_v<F>) return F{};
  else if constexpr (sizeof(F) == sizeof(float)) return F{p.at(0)};
  else return F{p.at(0), p.at(1)};
}

std::string functor_expr(const std::string& name, const std::vector<float>& params) {
  std::string args;
  for (std::size_t i = 0; i < params.size(); ++i) args += (i ? ", " : "") + cpp_float(params[i]);
  return fmt::format("detail::{}{{{}}}", name, args);
}

// Integers: whether the operator is defined on integer types (the functor is then
// instantiated for them at generation time).
template <class F, bool integers>
void add_unary(Registry& r, const char* op, const char* functor, ParamSpec params = {}, int64_t min_opset = 1) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.types = integers ? kNumericTypes : kFloatTypes;
  d.infer = [](const NodeView& v) {
    const ValueInfo& x = v.input(0);
    if (!type_allowed(x.dtype, integers)) v.unsupported("input type {} is not supported", dtype_name(x.dtype));
    return InferResult{{x}};
  };
  d.eval = [params](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>&) {
    Tensor y(in[0]->dtype, in[0]->dims);
    const F f = make_functor<F>(params.values(v.node()));
    visit_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_floating_point_v<T> || (integers && std::is_integral_v<T> && !std::is_same_v<T, bool>))
        rt::map_unary(in[0]->data<T>(), y.data<T>(), y.size(), f);
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [params, functor](EmitContext& e) {
    e.use_kernel("elementwise");
    e.line("detail::map_unary({}, {}, {}, {});", e.in(0), e.out(0), element_count(e.output_dims(0)),
           functor_expr(functor, params.values(e.node())));
  };
  r.add(std::move(d));
}

// Runs the broadcast plan with the kernels of elementwise.hpp (constant folding).
template <class A, class B, class Y, class F>
void run_binary(const BinaryLayout& l, const A* a, const B* b, Y* y, F f) {
  switch (l.kind) {
    case BinaryLayout::Kind::Same: rt::map_binary_same(a, b, y, l.count, f); break;
    case BinaryLayout::Kind::ScalarA: rt::map_binary_scalar_a(a, b, y, l.count, f); break;
    case BinaryLayout::Kind::ScalarB: rt::map_binary_scalar_b(a, b, y, l.count, f); break;
    case BinaryLayout::Kind::Strided:
      rt::map_binary_strided(a, b, y, int(l.dims.size()), l.dims.data(), l.a_strides.data(), l.b_strides.data(), f);
      break;
  }
}

void emit_binary(EmitContext& e, const std::string& functor) {
  e.use_kernel("elementwise");
  const BinaryLayout l = plan_binary(e.input_dims(0), e.input_dims(1), e.output_dims(0));
  switch (l.kind) {
    case BinaryLayout::Kind::Same:
      e.line("detail::map_binary_same({}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0), l.count, functor);
      break;
    case BinaryLayout::Kind::ScalarA:
      e.line("detail::map_binary_scalar_a({}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0), l.count, functor);
      break;
    case BinaryLayout::Kind::ScalarB:
      e.line("detail::map_binary_scalar_b({}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0), l.count, functor);
      break;
    case BinaryLayout::Kind::Strided:
      if (l.dims.size() > 16) e.unsupported("broadcasting over more than 16 dimensions");
      e.line("detail::map_binary_strided({}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0),
             l.dims.size(), e.int_array("dims", l.dims), e.int_array("a_strides", l.a_strides),
             e.int_array("b_strides", l.b_strides), functor);
      break;
  }
}

// Binary arithmetic: both inputs of one type (except Pow, whose exponent may differ).
template <class F, bool mixed_exponent = false>
void add_binary(Registry& r, const char* op, const char* functor) {
  OpDef d;
  d.op_type = op;
  d.types = kNumericTypes;
  d.infer = [](const NodeView& v) {
    const ValueInfo& a = v.input(0);
    const ValueInfo& b = v.input(1);
    if (!type_allowed(a.dtype, true)) v.unsupported("input type {} is not supported", dtype_name(a.dtype));
    if (!mixed_exponent && a.dtype != b.dtype)
      v.fail("inputs have different types ({} and {})", dtype_name(a.dtype), dtype_name(b.dtype));
    if (mixed_exponent && !type_allowed(b.dtype, true))
      v.unsupported("exponent type {} is not supported", dtype_name(b.dtype));
    if (!a.has_shape || !b.has_shape) return InferResult{{ValueInfo{a.dtype, {}, false}}};
    return InferResult{{ValueInfo{a.dtype, broadcast_shapes(v, a.shape, b.shape), true}}};
  };
  d.eval = [](const NodeView&, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y(outs[0].dtype, static_dims(outs[0].shape));
    const BinaryLayout l = plan_binary(in[0]->dims, in[1]->dims, y.dims);
    visit_dtype(in[0]->dtype, [&](auto ta) {
      using A = decltype(ta);
      visit_dtype(in[1]->dtype, [&](auto tb) {
        using B = decltype(tb);
        if constexpr (!std::is_same_v<A, bool> && !std::is_same_v<B, bool> && (mixed_exponent || std::is_same_v<A, B>))
          run_binary(l, in[0]->data<A>(), in[1]->data<B>(), y.data<A>(), F{});
      });
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [functor](EmitContext& e) { emit_binary(e, fmt::format("detail::{}{{}}", functor)); };
  r.add(std::move(d));
}

void add_cast(Registry& r) {
  OpDef d;
  d.op_type = "Cast";
  d.types = "numeric and bool to numeric and bool";
  d.infer = [](const NodeView& v) {
    const auto to = static_cast<DType>(v.node().require_attr("to", Attribute::Kind::Int).i);
    if (!dtype_is_supported(to)) v.unsupported("cast to {} is not supported", dtype_name(to));
    if (!dtype_is_supported(v.input_dtype(0))) v.unsupported("cast from {} is not supported", dtype_name(v.input_dtype(0)));
    ValueInfo y = v.input(0);
    y.dtype = to;
    return InferResult{{y}};
  };
  d.eval = [](const NodeView&, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y(outs[0].dtype, in[0]->dims);
    visit_dtype(in[0]->dtype, [&](auto tf) {
      visit_dtype(y.dtype, [&](auto tt) {
        using To = decltype(tt);
        rt::map_unary(in[0]->data<decltype(tf)>(), y.data<To>(), y.size(), rt::op_cast<To>{});
      });
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("elementwise");
    e.line("detail::map_unary({}, {}, {}, detail::op_cast<{}>{{}});", e.in(0), e.out(0),
           element_count(e.output_dims(0)), e.out_type(0));
  };
  r.add(std::move(d));
}

}  // namespace

void register_elementwise_ops(Registry& r) {
  add_binary<rt::op_add>(r, "Add", "op_add");
  add_binary<rt::op_sub>(r, "Sub", "op_sub");
  add_binary<rt::op_mul>(r, "Mul", "op_mul");
  add_binary<rt::op_div>(r, "Div", "op_div");
  add_binary<rt::op_pow, /*mixed_exponent=*/true>(r, "Pow", "op_pow");

  add_unary<rt::op_relu, true>(r, "Relu", "op_relu");
  add_unary<rt::op_leaky_relu, false>(r, "LeakyRelu", "op_leaky_relu", {{{"alpha", 0.01f}}});
  add_unary<rt::op_sigmoid, false>(r, "Sigmoid", "op_sigmoid");
  add_unary<rt::op_tanh, false>(r, "Tanh", "op_tanh");
  add_unary<rt::op_exp, false>(r, "Exp", "op_exp");
  add_unary<rt::op_log, false>(r, "Log", "op_log");
  add_unary<rt::op_sqrt, false>(r, "Sqrt", "op_sqrt");
  add_unary<rt::op_neg, true>(r, "Neg", "op_neg");
  add_unary<rt::op_abs, true>(r, "Abs", "op_abs");
  add_unary<rt::op_reciprocal, false>(r, "Reciprocal", "op_reciprocal");
  add_unary<rt::op_ceil, false>(r, "Ceil", "op_ceil");
  add_unary<rt::op_floor, false>(r, "Floor", "op_floor");
  add_unary<rt::op_round, false>(r, "Round", "op_round", {}, 11);
  add_unary<rt::op_sin, false>(r, "Sin", "op_sin", {}, 7);
  add_unary<rt::op_cos, false>(r, "Cos", "op_cos", {}, 7);
  add_unary<rt::op_tan, false>(r, "Tan", "op_tan", {}, 7);
  add_unary<rt::op_asin, false>(r, "Asin", "op_asin", {}, 7);
  add_unary<rt::op_acos, false>(r, "Acos", "op_acos", {}, 7);
  add_unary<rt::op_atan, false>(r, "Atan", "op_atan", {}, 7);
  add_unary<rt::op_sinh, false>(r, "Sinh", "op_sinh", {}, 9);
  add_unary<rt::op_cosh, false>(r, "Cosh", "op_cosh", {}, 9);
  add_unary<rt::op_asinh, false>(r, "Asinh", "op_asinh", {}, 9);
  add_unary<rt::op_acosh, false>(r, "Acosh", "op_acosh", {}, 9);
  add_unary<rt::op_atanh, false>(r, "Atanh", "op_atanh", {}, 9);
  add_unary<rt::op_erf, false>(r, "Erf", "op_erf", {}, 9);
  add_unary<rt::op_sign, true>(r, "Sign", "op_sign", {}, 9);
  add_unary<rt::op_softplus, false>(r, "Softplus", "op_softplus");
  add_unary<rt::op_softsign, false>(r, "Softsign", "op_softsign");
  add_unary<rt::op_elu, false>(r, "Elu", "op_elu", {{{"alpha", 1.f}}});
  add_unary<rt::op_selu, false>(r, "Selu", "op_selu",
                         {{{"alpha", 1.67326319217681884765625f}, {"gamma", 1.05070102214813232421875f}}});
  add_unary<rt::op_celu, false>(r, "Celu", "op_celu", {{{"alpha", 1.f}}}, 12);
  add_unary<rt::op_hard_sigmoid, false>(r, "HardSigmoid", "op_hard_sigmoid", {{{"alpha", 0.2f}, {"beta", 0.5f}}});
  add_unary<rt::op_hard_swish, false>(r, "HardSwish", "op_hard_swish", {}, 14);
  add_unary<rt::op_thresholded_relu, false>(r, "ThresholdedRelu", "op_thresholded_relu", {{{"alpha", 1.f}}}, 10);
  add_unary<rt::op_mish, false>(r, "Mish", "op_mish", {}, 18);
  add_cast(r);
}

}  // namespace sofiec
