// The elementwise functions of the CUDA kernels, float32, under the names (and with the
// parameters, in the same order) of the CPU kernels' functors (kernels/functors.hpp), so that
// an operator's functor expression ("detail::op_leaky_relu{0.1f}") and a fused epilogue serve
// both targets. sofiec reads the struct names of this file to know which functions the CUDA
// target has: an operator whose functor is missing here is refused at generation time.
#pragma once

#include <cuda_runtime.h>

#define SOFIEC_DEVICE __device__ __forceinline__

// (Add, Sub and Mul also serve integer index arithmetic.)
struct op_add {
  template <class T> SOFIEC_DEVICE T operator()(T a, T b) const { return a + b; }
};
struct op_sub {
  template <class T> SOFIEC_DEVICE T operator()(T a, T b) const { return a - b; }
};
struct op_mul {
  template <class T> SOFIEC_DEVICE T operator()(T a, T b) const { return a * b; }
};
struct op_div {
  SOFIEC_DEVICE float operator()(float a, float b) const { return a / b; }
};
struct op_pow {
  SOFIEC_DEVICE float operator()(float a, float b) const { return powf(a, b); }
};
struct op_max {
  SOFIEC_DEVICE float operator()(float a, float b) const { return a != a ? a : (b != b ? b : fmaxf(a, b)); }
};
struct op_min {
  SOFIEC_DEVICE float operator()(float a, float b) const { return a != a ? a : (b != b ? b : fminf(a, b)); }
};
// Comparisons (float32, int64 or int32 operands; Equal bools too) and logic on bools, for
// masks; and Cast between those types.
struct op_equal {
  template <class T> SOFIEC_DEVICE bool operator()(T a, T b) const { return a == b; }
};
struct op_less {
  template <class T> SOFIEC_DEVICE bool operator()(T a, T b) const { return a < b; }
};
struct op_less_equal {
  template <class T> SOFIEC_DEVICE bool operator()(T a, T b) const { return a <= b; }
};
struct op_greater {
  template <class T> SOFIEC_DEVICE bool operator()(T a, T b) const { return a > b; }
};
struct op_greater_equal {
  template <class T> SOFIEC_DEVICE bool operator()(T a, T b) const { return a >= b; }
};
struct op_and {
  SOFIEC_DEVICE bool operator()(bool a, bool b) const { return a && b; }
};
struct op_or {
  SOFIEC_DEVICE bool operator()(bool a, bool b) const { return a || b; }
};
struct op_xor {
  SOFIEC_DEVICE bool operator()(bool a, bool b) const { return a != b; }
};
struct op_not {
  SOFIEC_DEVICE bool operator()(bool a) const { return !a; }
};
template <class To>
struct op_cast {
  template <class T> SOFIEC_DEVICE To operator()(T x) const { return static_cast<To>(x); }
};
struct op_div_by {  // Mean's last step
  float divisor;
  SOFIEC_DEVICE float operator()(float x) const { return x / divisor; }
};
struct op_prelu {
  SOFIEC_DEVICE float operator()(float x, float slope) const { return x < 0.f ? slope * x : x; }
};
struct op_relu {
  SOFIEC_DEVICE float operator()(float x) const { return x > 0.f ? x : 0.f; }
};
struct op_leaky_relu {
  float alpha;
  SOFIEC_DEVICE float operator()(float x) const { return x < 0.f ? alpha * x : x; }
};
struct op_sigmoid {
  // Split by sign so that exp never overflows.
  SOFIEC_DEVICE float operator()(float x) const {
    if (x >= 0.f) return 1.f / (1.f + expf(-x));
    const float e = expf(x);
    return e / (1.f + e);
  }
};
struct op_thresholded_relu {
  float alpha;
  SOFIEC_DEVICE float operator()(float x) const { return x > alpha ? x : 0.f; }
};
struct op_tanh {
  SOFIEC_DEVICE float operator()(float x) const { return tanhf(x); }
};
struct op_exp {
  SOFIEC_DEVICE float operator()(float x) const { return expf(x); }
};
struct op_log {
  SOFIEC_DEVICE float operator()(float x) const { return logf(x); }
};
struct op_sqrt {
  SOFIEC_DEVICE float operator()(float x) const { return sqrtf(x); }
};
struct op_neg {
  SOFIEC_DEVICE float operator()(float x) const { return -x; }
};
struct op_abs {
  SOFIEC_DEVICE float operator()(float x) const { return fabsf(x); }
};
struct op_reciprocal {
  SOFIEC_DEVICE float operator()(float x) const { return 1.f / x; }
};
struct op_ceil {
  SOFIEC_DEVICE float operator()(float x) const { return ceilf(x); }
};
struct op_floor {
  SOFIEC_DEVICE float operator()(float x) const { return floorf(x); }
};
struct op_round {  // half to even
  SOFIEC_DEVICE float operator()(float x) const { return rintf(x); }
};
struct op_sin {
  SOFIEC_DEVICE float operator()(float x) const { return sinf(x); }
};
struct op_cos {
  SOFIEC_DEVICE float operator()(float x) const { return cosf(x); }
};
struct op_erf {
  SOFIEC_DEVICE float operator()(float x) const { return erff(x); }
};
struct op_sign {
  SOFIEC_DEVICE float operator()(float x) const { return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f); }
};
struct op_softplus {
  SOFIEC_DEVICE float operator()(float x) const { return x > 0.f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
};
struct op_softsign {
  SOFIEC_DEVICE float operator()(float x) const { return x / (1.f + fabsf(x)); }
};
struct op_elu {
  float alpha;
  SOFIEC_DEVICE float operator()(float x) const { return x < 0.f ? alpha * expm1f(x) : x; }
};
struct op_selu {
  float alpha, gamma;
  SOFIEC_DEVICE float operator()(float x) const { return gamma * (x <= 0.f ? alpha * expm1f(x) : x); }
};
struct op_hard_sigmoid {
  float alpha, beta;
  SOFIEC_DEVICE float operator()(float x) const { return fminf(1.f, fmaxf(0.f, alpha * x + beta)); }
};
struct op_hard_swish {
  SOFIEC_DEVICE float operator()(float x) const { return x * fminf(1.f, fmaxf(0.f, x / 6.f + 0.5f)); }
};
struct op_mish {
  SOFIEC_DEVICE float operator()(float x) const { return x * tanhf(op_softplus{}(x)); }
};
struct op_gelu {
  SOFIEC_DEVICE float operator()(float x) const { return 0.5f * x * (1.f + erff(x * 0.707106781f)); }
};
struct op_gelu_tanh {
  SOFIEC_DEVICE float operator()(float x) const {
    return 0.5f * x * (1.f + tanhf(0.797884561f * (x + 0.044715f * x * x * x)));
  }
};
struct op_swish {
  float alpha;
  SOFIEC_DEVICE float operator()(float x) const { return x * op_sigmoid{}(alpha * x); }
};

// Several unary functions applied in turn (a fused epilogue).
template <class... F> struct functor_chain;
template <> struct functor_chain<> {
  SOFIEC_DEVICE float operator()(float x) const { return x; }
};
template <class F, class... R> struct functor_chain<F, R...> {
  F first;
  functor_chain<R...> rest;
  SOFIEC_DEVICE float operator()(float x) const { return rest(first(x)); }
};
inline functor_chain<> chain() { return {}; }
template <class F, class... R> functor_chain<F, R...> chain(F f, R... r) { return {f, chain(r...)}; }

// A binary function followed by a unary one (Add + Relu of a residual block).
template <class F, class E> struct with_epilogue {
  F f;
  E e;
  SOFIEC_DEVICE float operator()(float a, float b) const { return e(f(a, b)); }
};
template <class F, class E> with_epilogue<F, E> then(F f, E e) { return {f, e}; }
