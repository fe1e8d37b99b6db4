// Elementwise operators: one implementation of "map a scalar function over tensors", each
// operator a single registration line naming its functor from templates/kernels/functors.hpp.
#include <array>

#include "ops/cuda.hpp"
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

// Which element types an operator accepts (for its first input).
enum class Types { Float, Numeric, Integer, Unsigned, Bool, All, SignedOrFloat };

constexpr const char* types_text(Types t) {
  switch (t) {
    case Types::Float: return "float, double";
    case Types::Numeric: return "float, double, int8/16/32/64, uint8/16/32/64";
    case Types::Integer: return "int8/16/32/64, uint8/16/32/64";
    case Types::Unsigned: return "uint8/16/32/64";
    case Types::Bool: return "bool";
    case Types::All: return "float, double, int8/16/32/64, uint8/16/32/64, bool";
    case Types::SignedOrFloat: return "float, double, int8/16/32/64";
  }
  return "";
}

template <class T> constexpr bool accepts(Types t) {
  constexpr bool fp = std::is_floating_point_v<T>;
  constexpr bool integer = std::is_integral_v<T> && !std::is_same_v<T, bool>;
  switch (t) {
    case Types::Float: return fp;
    case Types::Numeric: return fp || integer;
    case Types::Integer: return integer;
    case Types::Unsigned: return integer && std::is_unsigned_v<T>;
    case Types::Bool: return std::is_same_v<T, bool>;
    case Types::All: return true;
    case Types::SignedOrFloat: return fp || (integer && std::is_signed_v<T>);
  }
  return false;
}

bool accepts(DType d, Types t) {
  bool ok = false;
  visit_dtype(d, [&](auto tag) { ok = accepts<decltype(tag)>(t); });
  return ok;
}

// A functor with float parameters read from attributes (alpha, beta, ...), in field order.
struct ParamSpec {
  std::vector<std::pair<const char*, float>> attrs;  // name and default
  std::vector<float> values(const Node& n) const {
    std::vector<float> v;
    for (const auto& [name, fallback] : attrs) v.push_back(n.attr_float(name, fallback));
    return v;
  }
};

template <class F> F make_functor(const std::vector<float>& p) {
  if constexpr (std::is_empty_v<F>) return F{};
  else if constexpr (sizeof(F) == sizeof(float)) return F{p.at(0)};
  else return F{p.at(0), p.at(1)};
}

std::string functor_expr(const std::string& name, const std::vector<float>& params) {
  std::string args;
  for (std::size_t i = 0; i < params.size(); ++i) args += (i ? ", " : "") + cpp_float(params[i]);
  return fmt::format("detail::{}{{{}}}", name, args);
}

enum class Arity { Unary, Binary, Variadic, VariadicMean };

// The element type F gives for inputs of type T (bool for comparisons, T for arithmetic).
template <class F, Arity arity, class T>
using map_result_t =
    typename std::conditional_t<arity == Arity::Unary, std::invoke_result<F, T>, std::invoke_result<F, T, T>>::type;

// y = f(x0, x1, ...) at generation time, with the same kernels the generated code runs.
template <class Y, class F, class... X>
void run_map(const std::vector<std::vector<int64_t>>& in_dims, const std::vector<int64_t>& out_dims, Y* y, F f,
             const X*... x) {
  if constexpr (sizeof...(X) == 1) {
    if (element_count(in_dims[0]) == element_count(out_dims)) {
      rt::map_unary(x..., y, element_count(out_dims), f);
      return;
    }
  }
  const BroadcastLayout l = plan_broadcast(in_dims, out_dims);
  const std::vector<int64_t> strides = l.flat_strides();
  rt::map_strided(y, int(l.dims.size()), l.dims.data(), strides.data(), f, x...);
}

// Emits y = f(operands...) for operands of the given dims broadcast to out_dims.
void emit_map(EmitContext& e, const std::string& functor, const std::vector<std::string>& operands,
              const std::vector<std::vector<int64_t>>& dims, const std::string& y,
              const std::vector<int64_t>& out_dims) {
  e.use_kernel("elementwise");
  const int64_t count = element_count(out_dims);
  if (operands.size() == 1 && element_count(dims[0]) == count) {
    e.line("detail::map_unary({}, {}, {}, {});", operands[0], y, count, functor);
    return;
  }
  if (operands.size() == 2) {
    const BinaryLayout l = plan_binary(dims[0], dims[1], out_dims);
    const char* kernel = l.kind == BinaryLayout::Kind::Same      ? "map_binary_same"
                         : l.kind == BinaryLayout::Kind::ScalarA ? "map_binary_scalar_a"
                         : l.kind == BinaryLayout::Kind::ScalarB ? "map_binary_scalar_b"
                                                                 : nullptr;
    if (kernel) {
      e.line("detail::{}({}, {}, {}, {}, {});", kernel, operands[0], operands[1], y, count, functor);
      return;
    }
  }
  const BroadcastLayout l = plan_broadcast(dims, out_dims);
  if (l.dims.size() > 16) e.unsupported("broadcasting over more than 16 dimensions");
  std::string args;
  for (const std::string& o : operands) args += ", " + o;
  e.line("{{ static constexpr int64_t dims[] = {{{}}}; static constexpr int64_t strides[] = {{{}}};",
         fmt::join(l.dims, ", "), fmt::join(l.flat_strides(), ", "));
  e.line("  detail::map_strided({}, {}, dims, strides, {}{}); }}", y, l.dims.size(), functor, args);
}

std::vector<std::vector<int64_t>> all_input_dims(const NodeView& v) {
  std::vector<std::vector<int64_t>> dims;
  for (std::size_t i = 0; i < v.num_inputs(); ++i) dims.push_back(v.input_dims(i));
  return dims;
}

// An elementwise operator: the functor F mapped over its inputs with numpy broadcasting.
// Variadic operators (Max, Min, Sum, Mean) fold their inputs pairwise into the output.
template <class F, Types types, Arity arity = Arity::Binary>
OpDef map_def(const char* op, const char* functor, ParamSpec params = {}, int64_t min_opset = 1) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.types = types_text(types);
  d.infer = [](const NodeView& v) {
    const std::size_t n = v.num_inputs();
    if ((arity == Arity::Unary && n != 1) || (arity == Arity::Binary && n != 2) || n == 0) v.fail("has {} inputs", n);
    const DType t = v.input_dtype(0);
    DType result = DType::Undefined;
    visit_dtype(t, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (accepts<T>(types)) result = dtype_of<map_result_t<F, arity, T>>();
    });
    if (result == DType::Undefined) v.unsupported("input type {} is not supported", dtype_name(t));
    bool shaped = true;
    Shape shape;
    for (std::size_t i = 0; i < n; ++i) {
      const ValueInfo& x = v.input(i);
      if (x.dtype != t) v.fail("inputs have different types ({} and {})", dtype_name(t), dtype_name(x.dtype));
      shaped = shaped && x.has_shape;
      if (shaped) shape = i == 0 ? x.shape : broadcast_shapes(v, shape, x.shape);
    }
    return InferResult{{ValueInfo{result, shaped ? shape : Shape{}, shaped}}};
  };
  d.eval = [params](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y(outs[0].dtype, static_dims(outs[0].shape));
    const F f = make_functor<F>(params.values(v.node()));
    std::vector<std::vector<int64_t>> dims;
    for (const Tensor* t : in) dims.push_back(t->dims);
    visit_dtype(in[0]->dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (accepts<T>(types)) {
        using Y = map_result_t<F, arity, T>;
        if constexpr (arity == Arity::Unary) {
          run_map(dims, y.dims, y.data<Y>(), f, in[0]->data<T>());
        } else if constexpr (arity == Arity::Binary) {
          run_map(dims, y.dims, y.data<Y>(), f, in[0]->data<T>(), in[1]->data<T>());
        } else if constexpr (std::is_same_v<Y, T>) {
          if (in.size() == 1) y.bytes = in[0]->bytes;
          else run_map({dims[0], dims[1]}, y.dims, y.data<T>(), f, in[0]->data<T>(), in[1]->data<T>());
          for (std::size_t k = 2; k < in.size(); ++k)
            run_map({y.dims, dims[k]}, y.dims, y.data<T>(), f, static_cast<const T*>(y.data<T>()), in[k]->data<T>());
          if (arity == Arity::VariadicMean)
            rt::map_unary(y.data<T>(), y.data<T>(), y.size(), rt::op_div_by{double(in.size())});
        }
      }
    });
    return std::vector<Tensor>{std::move(y)};
  };
  if (arity == Arity::Unary)
    d.unary_functor = [params, functor](const NodeView& v) { return functor_expr(functor, params.values(v.node())); };
  if (arity == Arity::Binary)
    d.binary_functor = [params, functor](const NodeView& v) { return functor_expr(functor, params.values(v.node())); };
  // Binary maps apply a fused epilogue in the same loop (Add + Relu of a residual block).
  d.accepts_epilogue = arity == Arity::Binary;
  d.in_place = arity == Arity::Unary || arity == Arity::Binary;
  // On the GPU: float32, the functions of templates/cuda/functors.cuh, one launch per pair of
  // operands (operands broadcast by strides).
  d.emit_cuda = [params, functor](EmitContext& e) {
    // Index arithmetic (a batch offset added to TopK's indices) runs on integers too, and
    // masks on comparisons of float32 or integers and on logic of bools.
    const std::string name(functor);
    const bool sum = name == "op_add" || name == "op_sub" || name == "op_mul";
    const bool compare = name == "op_equal" || name == "op_less" || name == "op_less_equal" ||
                         name == "op_greater" || name == "op_greater_equal";
    const bool logic = name == "op_and" || name == "op_or" || name == "op_xor" || name == "op_not";
    if (compare && name == "op_equal")
      cuda_require_types(e, {DType::Float, DType::Int64, DType::Int32, DType::Bool}, DType::Bool);
    else if (compare)
      cuda_require_types(e, {DType::Float, DType::Int64, DType::Int32}, DType::Bool);
    else if (logic)
      cuda_require_types(e, {DType::Bool}, DType::Bool);
    else if (sum && arity == Arity::Binary && e.node().epilogue.empty() && e.output(0).dtype != DType::Float)
      cuda_require_float_or_index(e);
    else
      cuda_require_float(e);
    std::string f = cuda_functor(e, functor_expr(functor, params.values(e.node())));
    if (!e.node().epilogue.empty()) f = fmt::format("detail::then({}, {})", f, cuda_epilogue(e));
    e.use_kernel("elementwise");
    const std::vector<int64_t> out = e.output_dims(0);
    const int64_t n = element_count(out);
    if (arity == Arity::Unary || e.num_inputs() == 1) {
      if (arity == Arity::Unary)
        e.line("detail::map1({}, {}, {}, {}, stream);", e.in(0), e.out(0), n, f);
      else
        e.line("detail::copy_device({}, {}, {}, stream);", e.out(0), e.in(0), n * int64_t(dtype_size(e.output(0).dtype)));
      return;
    }
    if (out.size() > 6) e.unsupported("the CUDA target broadcasts up to 6 dims, not {}", out.size());
    auto map2 = [&](const std::string& a, const std::vector<int64_t>& a_dims, const std::string& b,
                    const std::vector<int64_t>& b_dims) {
      const std::vector<int64_t> sa = broadcast_strides(a_dims, out), sb = broadcast_strides(b_dims, out);
      const bool same = a_dims == out && b_dims == out;
      e.line("detail::map2({}, {}, {}, {}, detail::Broadcast2{{{}, {{{}}}, {{{}}}, {{{}}}}}, {}, {}, stream);", a, b,
             e.out(0), n, out.size(), fmt::join(out, ", "), fmt::join(sa, ", "), fmt::join(sb, ", "), same, f);
    };
    const std::vector<std::vector<int64_t>> dims = all_input_dims(e);
    map2(e.in(0), dims[0], e.in(1), dims[1]);
    for (std::size_t k = 2; k < e.num_inputs(); ++k) map2(e.out(0), out, e.in(k), dims[k]);
    if (arity == Arity::VariadicMean)
      e.line("detail::map1({0}, {0}, {1}, detail::op_div_by{{{2}.f}}, stream);", e.out(0), n, e.num_inputs());
  };
  d.emit = [params, functor](EmitContext& e) {
    std::string f = functor_expr(functor, params.values(e.node()));
    if (const std::string epilogue = e.epilogue(); !epilogue.empty())
      f = fmt::format("detail::then({}, {})", f, epilogue);
    const std::vector<std::vector<int64_t>> dims = all_input_dims(e);
    const std::vector<int64_t> out = e.output_dims(0);
    if (arity == Arity::Unary || arity == Arity::Binary) {
      std::vector<std::string> operands;
      for (std::size_t i = 0; i < e.num_inputs(); ++i) operands.push_back(e.in(i));
      emit_map(e, f, operands, dims, e.out(0), out);
      return;
    }
    if (e.num_inputs() == 1) {
      e.use_kernel("elementwise");
      e.line("detail::copy_elements({}, {}, {});", e.in(0), e.out(0), element_count(out));
    } else {
      emit_map(e, f, {e.in(0), e.in(1)}, {dims[0], dims[1]}, e.out(0), out);
    }
    for (std::size_t k = 2; k < e.num_inputs(); ++k) emit_map(e, f, {e.out(0), e.in(k)}, {out, dims[k]}, e.out(0), out);
    if (arity == Arity::VariadicMean)
      e.line("detail::map_unary({0}, {0}, {1}, detail::op_div_by{{{2}}});", e.out(0), element_count(out),
             e.num_inputs());
  };
  return d;
}

template <class F, Types types, Arity arity = Arity::Binary>
void add_map(Registry& r, const char* op, const char* functor, ParamSpec params = {}, int64_t min_opset = 1) {
  r.add(map_def<F, types, arity>(op, functor, std::move(params), min_opset));
}

// An operator whose scalar function a string or integer attribute selects (Mod's fmod,
// BitShift's direction, Gelu's approximate): each choice is a complete elementwise definition.
void add_selected(Registry& r, std::function<std::size_t(const NodeView&)> select, std::vector<OpDef> choices) {
  OpDef d = choices.at(0);
  d.infer = [=](const NodeView& v) { return choices.at(select(v)).infer(v); };
  d.eval = [=](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    return choices.at(select(v)).eval(v, in, outs);
  };
  d.emit = [=](EmitContext& e) { choices.at(select(e)).emit(e); };
  d.emit_cuda = [=](EmitContext& e) {
    const OpDef& chosen = choices.at(select(e));
    if (!chosen.emit_cuda) e.unsupported("this form is not supported on the CUDA target");
    chosen.emit_cuda(e);
  };
  if (choices.at(0).unary_functor)
    d.unary_functor = [=](const NodeView& v) { return choices.at(select(v)).unary_functor(v); };
  r.add(std::move(d));
}

template <class F, Types types = Types::Float>
void add_unary(Registry& r, const char* op, const char* functor, ParamSpec params = {}, int64_t min_opset = 1) {
  add_map<F, types, Arity::Unary>(r, op, functor, std::move(params), min_opset);
}

// Pow: the exponent may have another type than the base.
void add_pow(Registry& r) {
  OpDef d;
  d.op_type = "Pow";
  d.types = types_text(Types::Numeric);
  d.infer = [](const NodeView& v) {
    const ValueInfo& a = v.input(0);
    const ValueInfo& b = v.input(1);
    if (!accepts(a.dtype, Types::Numeric)) v.unsupported("input type {} is not supported", dtype_name(a.dtype));
    if (!accepts(b.dtype, Types::Numeric)) v.unsupported("exponent type {} is not supported", dtype_name(b.dtype));
    if (!a.has_shape || !b.has_shape) return InferResult{{ValueInfo{a.dtype, {}, false}}};
    return InferResult{{ValueInfo{a.dtype, broadcast_shapes(v, a.shape, b.shape), true}}};
  };
  d.eval = [](const NodeView&, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y(outs[0].dtype, static_dims(outs[0].shape));
    visit_dtype(in[0]->dtype, [&](auto ta) {
      using A = decltype(ta);
      visit_dtype(in[1]->dtype, [&](auto tb) {
        using B = decltype(tb);
        if constexpr (!std::is_same_v<A, bool> && !std::is_same_v<B, bool>)
          run_map({in[0]->dims, in[1]->dims}, y.dims, y.data<A>(), rt::op_pow{}, in[0]->data<A>(), in[1]->data<B>());
      });
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    emit_map(e, "detail::op_pow{}", {e.in(0), e.in(1)}, all_input_dims(e), e.out(0), e.output_dims(0));
  };
  r.add(std::move(d));
}

// PRelu's slope broadcasts to x as numpy does; a 1-D slope of x's channel count that does not
// (exporters before opset 7 wrote those) applies along axis 1.
std::vector<int64_t> prelu_slope_dims(const NodeView& v) {
  const auto x = v.input_dims(0);
  auto slope = v.input_dims(1);
  bool numpy = slope.size() <= x.size();
  for (std::size_t i = 0; numpy && i < slope.size(); ++i) {
    const int64_t a = x[x.size() - slope.size() + i], b = slope[i];
    numpy = b == a || b == 1;
  }
  if (numpy) return slope;
  if (slope.size() == 1 && x.size() >= 2 && slope[0] == x[1]) {
    std::vector<int64_t> per_channel(x.size() - 1, 1);
    per_channel[0] = slope[0];
    return per_channel;
  }
  v.fail("slope of shape {} does not broadcast to {}", shape_str(to_shape(slope)), shape_str(to_shape(x)));
}

void add_prelu(Registry& r) {
  OpDef d;
  d.op_type = "PRelu";
  d.types = types_text(Types::SignedOrFloat);
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!accepts(t, Types::SignedOrFloat)) v.unsupported("input type {} is not supported", dtype_name(t));
    if (v.input_dtype(1) != t) v.fail("x and slope have different types");
    prelu_slope_dims(v);
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    emit_map(e, "detail::op_prelu{}", {e.in(0), e.in(1)}, {e.input_dims(0), prelu_slope_dims(e)}, e.out(0),
             e.output_dims(0));
  };
  r.add(std::move(d));
}

// Where(condition, x, y): a three-operand map.
void add_where(Registry& r) {
  OpDef d;
  d.op_type = "Where";
  d.min_opset = 9;
  d.types = "condition bool; x, y: any";
  d.infer = [](const NodeView& v) {
    if (v.input_dtype(0) != DType::Bool) v.fail("the condition must be bool");
    const ValueInfo& x = v.input(1);
    if (!dtype_is_supported(x.dtype)) v.unsupported("input type {} is not supported", dtype_name(x.dtype));
    if (v.input_dtype(2) != x.dtype) v.fail("x and y have different types");
    for (std::size_t i = 0; i < 3; ++i)
      if (!v.input(i).has_shape) return InferResult{{ValueInfo{x.dtype, {}, false}}};
    return InferResult{{ValueInfo{
        x.dtype, broadcast_shapes(v, broadcast_shapes(v, v.input(0).shape, x.shape), v.input(2).shape), true}}};
  };
  d.eval = [](const NodeView&, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y(outs[0].dtype, static_dims(outs[0].shape));
    visit_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      run_map({in[0]->dims, in[1]->dims, in[2]->dims}, y.dims, y.data<T>(), rt::op_where{}, in[0]->data<bool>(),
              in[1]->data<T>(), in[2]->data<T>());
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    emit_map(e, "detail::op_where{}", {e.in(0), e.in(1), e.in(2)}, all_input_dims(e), e.out(0), e.output_dims(0));
  };
  // A thread per output element, each operand read through its broadcast strides.
  d.emit_cuda = [](EmitContext& e) {
    const DType t = e.output(0).dtype;
    if (t != DType::Float && t != DType::Int64 && t != DType::Int32)
      e.unsupported("output 0 is {}; the CUDA target runs float32, int64 and int32 here", dtype_name(t));
    const std::vector<int64_t> out = e.output_dims(0);
    if (out.size() > 6) e.unsupported("the CUDA target broadcasts up to 6 dims, not {}", out.size());
    e.use_kernel("elementwise");
    const std::vector<std::vector<int64_t>> dims = all_input_dims(e);
    std::string strides;
    for (std::size_t i = 0; i < 3; ++i)
      strides += fmt::format("{}{{{}}}", i ? ", " : "", fmt::join(broadcast_strides(dims[i], out), ", "));
    e.line("detail::where({}, {}, {}, {}, {}, detail::Broadcast3{{{}, {{{}}}, {{{}}}}}, stream);", e.in(0), e.in(1),
           e.in(2), e.out(0), element_count(out), out.size(), fmt::join(out, ", "), strides);
  };
  r.add(std::move(d));
}

// Clip: bounds are attributes before opset 11 and optional scalar inputs from 11 on; it runs
// as Max with the lower bound, then Min with the upper one.
void add_clip(Registry& r) {
  OpDef d;
  d.op_type = "Clip";
  d.types = types_text(Types::Numeric);
  d.infer = [](const NodeView& v) {
    const ValueInfo& x = v.input(0);
    if (!accepts(x.dtype, v.opset() >= 12 ? Types::Numeric : Types::Float))
      v.unsupported("input type {} is not supported", dtype_name(x.dtype));
    for (std::size_t i = 1; i < 3; ++i) {
      if (!v.has_input(i)) continue;
      if (v.input_dtype(i) != x.dtype) v.fail("the bounds must have the input's type");
      if (v.input(i).has_shape && v.input(i).shape.size() > 1) v.fail("the bounds must be scalars");
    }
    return InferResult{{x}};
  };
  d.eval = [](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>&) {
    Tensor y = *in[0];
    visit_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (accepts<T>(Types::Numeric)) {
        T* p = y.data<T>();
        const int64_t n = y.size();
        if (v.opset() < 11) {
          const T lo = T(v.node().attr_float("min", -std::numeric_limits<float>::max()));
          const T hi = T(v.node().attr_float("max", std::numeric_limits<float>::max()));
          rt::map_binary_scalar_b(static_cast<const T*>(p), &lo, p, n, rt::op_max{});
          rt::map_binary_scalar_b(static_cast<const T*>(p), &hi, p, n, rt::op_min{});
          return;
        }
        if (in.size() > 1 && in[1])
          rt::map_binary_scalar_b(static_cast<const T*>(p), in[1]->data<T>(), p, n, rt::op_max{});
        if (in.size() > 2 && in[2])
          rt::map_binary_scalar_b(static_cast<const T*>(p), in[2]->data<T>(), p, n, rt::op_min{});
      }
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("elementwise");
    const int64_t n = element_count(e.output_dims(0));
    std::string lo, hi;
    if (e.opset() < 11) {
      lo = cpp_float(e.node().attr_float("min", -std::numeric_limits<float>::max()), e.input_dtype(0));
      hi = cpp_float(e.node().attr_float("max", std::numeric_limits<float>::max()), e.input_dtype(0));
    } else {
      if (e.has_input(1)) lo = e.in(1) + "[0]";
      if (e.has_input(2)) hi = e.in(2) + "[0]";
    }
    std::string x = e.in(0);
    if (!lo.empty()) {
      e.line("{{ const {} bound = {}; detail::map_binary_scalar_b({}, &bound, {}, {}, detail::op_max{{}}); }}",
             e.in_type(0), lo, x, e.out(0), n);
      x = e.out(0);
    }
    if (!hi.empty()) {
      e.line("{{ const {} bound = {}; detail::map_binary_scalar_b({}, &bound, {}, {}, detail::op_min{{}}); }}",
             e.in_type(0), hi, x, e.out(0), n);
      x = e.out(0);
    }
    if (x != e.out(0)) e.line("detail::copy_elements({}, {}, {});", x, e.out(0), n);
  };
  r.add(std::move(d));
}

// Like visit_dtype, and also float16/bfloat16 (which only Cast computes with).
template <class F> void visit_with_halves(DType t, F&& f) {
  if (t == DType::Float16) f(float16_t{});
  else if (t == DType::BFloat16) f(bfloat16_t{});
  else visit_dtype(t, f);
}

// Cast (target type from the `to` attribute) and CastLike (from the second input's type).
void add_cast(Registry& r, const char* op, int64_t min_opset) {
  const bool like = std::string(op) == "CastLike";
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.types = "numeric, float16, bfloat16 and bool to the same";
  if (like) d.type_only_inputs = {1};
  d.infer = [like](const NodeView& v) {
    const auto to = like ? v.input_dtype(1) : static_cast<DType>(v.node().require_attr("to", Attribute::Kind::Int).i);
    if (!dtype_is_storable(to)) v.unsupported("cast to {} is not supported", dtype_name(to));
    if (!dtype_is_storable(v.input_dtype(0)))
      v.unsupported("cast from {} is not supported", dtype_name(v.input_dtype(0)));
    ValueInfo y = v.input(0);
    y.dtype = to;
    return InferResult{{y}};
  };
  d.eval = [](const NodeView&, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y(outs[0].dtype, in[0]->dims);
    visit_with_halves(in[0]->dtype, [&](auto tf) {
      visit_with_halves(y.dtype, [&](auto tt) {
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
  d.emit_cuda = [](EmitContext& e) {
    for (const DType t : {e.input_dtype(0), e.output(0).dtype})
      if (t != DType::Float && t != DType::Int64 && t != DType::Int32 && t != DType::Bool)
        e.unsupported("a cast of {}; the CUDA target casts between float32, int64, int32 and bool", dtype_name(t));
    e.use_kernel("elementwise");
    e.use_kernel("functors");
    e.line("detail::map1({}, {}, {}, detail::op_cast<{}>{{}}, stream);", e.in(0), e.out(0),
           element_count(e.output_dims(0)), e.out_type(0));
  };
  r.add(std::move(d));
}

std::size_t select_by_string(const NodeView& v, const char* attr, const char* fallback,
                             std::initializer_list<const char*> choices) {
  const std::string value = v.node().attr_string(attr, fallback);
  std::size_t i = 0;
  for (const char* c : choices) {
    if (value == c) return i;
    ++i;
  }
  v.fail("{} '{}' is not one of the allowed values", attr, value);
}

}  // namespace

void register_elementwise_ops(Registry& r) {
  using rt::op_add, rt::op_sub, rt::op_mul, rt::op_div;
  add_map<op_add, Types::Numeric>(r, "Add", "op_add");
  add_map<op_sub, Types::Numeric>(r, "Sub", "op_sub");
  add_map<op_mul, Types::Numeric>(r, "Mul", "op_mul");
  add_map<op_div, Types::Numeric>(r, "Div", "op_div");
  add_pow(r);
  add_map<rt::op_equal, Types::All>(r, "Equal", "op_equal");
  add_map<rt::op_less, Types::Numeric>(r, "Less", "op_less");
  add_map<rt::op_greater, Types::Numeric>(r, "Greater", "op_greater");
  add_map<rt::op_less_equal, Types::Numeric>(r, "LessOrEqual", "op_less_equal", {}, 12);
  add_map<rt::op_greater_equal, Types::Numeric>(r, "GreaterOrEqual", "op_greater_equal", {}, 12);
  add_map<rt::op_and, Types::Bool>(r, "And", "op_and");
  add_map<rt::op_or, Types::Bool>(r, "Or", "op_or");
  add_map<rt::op_xor, Types::Bool>(r, "Xor", "op_xor");
  add_unary<rt::op_not, Types::Bool>(r, "Not", "op_not");
  add_map<rt::op_bit_and, Types::Integer>(r, "BitwiseAnd", "op_bit_and", {}, 18);
  add_map<rt::op_bit_or, Types::Integer>(r, "BitwiseOr", "op_bit_or", {}, 18);
  add_map<rt::op_bit_xor, Types::Integer>(r, "BitwiseXor", "op_bit_xor", {}, 18);
  add_unary<rt::op_bit_not, Types::Integer>(r, "BitwiseNot", "op_bit_not", {}, 18);
  add_selected(r,
               [](const NodeView& v) {
                 return select_by_string(v, "direction", "", {"LEFT", "RIGHT"});
               },
               {map_def<rt::op_shift_left, Types::Unsigned>("BitShift", "op_shift_left", {}, 11),
                map_def<rt::op_shift_right, Types::Unsigned>("BitShift", "op_shift_right", {}, 11)});
  add_selected(r, [](const NodeView& v) { return std::size_t(v.node().attr_int("fmod", 0) != 0); },
               {map_def<rt::op_mod, Types::Numeric>("Mod", "op_mod", {}, 10),
                map_def<rt::op_fmod, Types::Numeric>("Mod", "op_fmod", {}, 10)});
  add_map<rt::op_max, Types::Numeric, Arity::Variadic>(r, "Max", "op_max");
  add_map<rt::op_min, Types::Numeric, Arity::Variadic>(r, "Min", "op_min");
  add_map<rt::op_add, Types::Numeric, Arity::Variadic>(r, "Sum", "op_add");
  add_map<rt::op_add, Types::Float, Arity::VariadicMean>(r, "Mean", "op_add");
  add_prelu(r);
  add_where(r);
  add_clip(r);

  add_unary<rt::op_relu, Types::SignedOrFloat>(r, "Relu", "op_relu");
  add_unary<rt::op_leaky_relu>(r, "LeakyRelu", "op_leaky_relu", {{{"alpha", 0.01f}}});
  add_unary<rt::op_sigmoid>(r, "Sigmoid", "op_sigmoid");
  add_unary<rt::op_tanh>(r, "Tanh", "op_tanh");
  add_unary<rt::op_exp>(r, "Exp", "op_exp");
  add_unary<rt::op_log>(r, "Log", "op_log");
  add_unary<rt::op_sqrt>(r, "Sqrt", "op_sqrt");
  add_unary<rt::op_neg, Types::SignedOrFloat>(r, "Neg", "op_neg");
  add_unary<rt::op_abs, Types::Numeric>(r, "Abs", "op_abs");
  add_unary<rt::op_reciprocal>(r, "Reciprocal", "op_reciprocal");
  add_unary<rt::op_ceil>(r, "Ceil", "op_ceil");
  add_unary<rt::op_floor>(r, "Floor", "op_floor");
  add_unary<rt::op_round>(r, "Round", "op_round", {}, 11);
  add_unary<rt::op_sin>(r, "Sin", "op_sin", {}, 7);
  add_unary<rt::op_cos>(r, "Cos", "op_cos", {}, 7);
  add_unary<rt::op_tan>(r, "Tan", "op_tan", {}, 7);
  add_unary<rt::op_asin>(r, "Asin", "op_asin", {}, 7);
  add_unary<rt::op_acos>(r, "Acos", "op_acos", {}, 7);
  add_unary<rt::op_atan>(r, "Atan", "op_atan", {}, 7);
  add_unary<rt::op_sinh>(r, "Sinh", "op_sinh", {}, 9);
  add_unary<rt::op_cosh>(r, "Cosh", "op_cosh", {}, 9);
  add_unary<rt::op_asinh>(r, "Asinh", "op_asinh", {}, 9);
  add_unary<rt::op_acosh>(r, "Acosh", "op_acosh", {}, 9);
  add_unary<rt::op_atanh>(r, "Atanh", "op_atanh", {}, 9);
  add_unary<rt::op_erf>(r, "Erf", "op_erf", {}, 9);
  add_unary<rt::op_sign, Types::Numeric>(r, "Sign", "op_sign", {}, 9);
  add_unary<rt::op_isnan>(r, "IsNaN", "op_isnan", {}, 9);
  add_unary<rt::op_isinf>(r, "IsInf", "op_isinf", {{{"detect_negative", 1.f}, {"detect_positive", 1.f}}}, 10);
  add_unary<rt::op_softplus>(r, "Softplus", "op_softplus");
  add_unary<rt::op_softsign>(r, "Softsign", "op_softsign");
  add_unary<rt::op_elu>(r, "Elu", "op_elu", {{{"alpha", 1.f}}});
  add_unary<rt::op_selu>(r, "Selu", "op_selu",
                         {{{"alpha", 1.67326319217681884765625f}, {"gamma", 1.05070102214813232421875f}}});
  add_unary<rt::op_celu>(r, "Celu", "op_celu", {{{"alpha", 1.f}}}, 12);
  add_unary<rt::op_hard_sigmoid>(r, "HardSigmoid", "op_hard_sigmoid", {{{"alpha", 0.2f}, {"beta", 0.5f}}});
  add_unary<rt::op_hard_swish>(r, "HardSwish", "op_hard_swish", {}, 14);
  add_unary<rt::op_thresholded_relu>(r, "ThresholdedRelu", "op_thresholded_relu", {{{"alpha", 1.f}}}, 10);
  add_unary<rt::op_mish>(r, "Mish", "op_mish", {}, 18);
  add_unary<rt::op_shrink, Types::Numeric>(r, "Shrink", "op_shrink", {{{"lambd", 0.5f}, {"bias", 0.f}}}, 9);
  add_unary<rt::op_swish>(r, "Swish", "op_swish", {{{"alpha", 1.f}}}, 24);
  add_map<rt::op_swiglu, Types::Float>(r, "SwiGLU", "op_swiglu", {{{"alpha", 1.f}}}, 28);
  add_selected(r,
               [](const NodeView& v) {
                 return select_by_string(v, "approximate", "none", {"none", "tanh"});
               },
               {map_def<rt::op_gelu, Types::Float, Arity::Unary>("Gelu", "op_gelu", {}, 20),
                map_def<rt::op_gelu_tanh, Types::Float, Arity::Unary>("Gelu", "op_gelu_tanh", {}, 20)});
  add_cast(r, "Cast", 1);
  add_cast(r, "CastLike", 15);
}

}  // namespace sofiec

namespace sofiec {

// Operators of the compiler's own domain that pattern passes create (see kSofiecDomain).
void register_internal_ops(Registry& r) {
  r.add_internal(map_def<rt::op_swish, Types::Float, Arity::Unary>("Silu", "op_swish", {{{"alpha", 1.f}}}));
  r.add_internal(map_def<rt::op_gelu, Types::Float, Arity::Unary>("Gelu", "op_gelu"));
}

}  // namespace sofiec
