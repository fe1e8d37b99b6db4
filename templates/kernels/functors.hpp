// Scalar functions of the elementwise operators. One definition serves the generated code and
// the compiler's constant folding, so both compute bit-identical values.
#pragma once
#include "prelude.hpp"

// A functor with a 16-lane form: f.lanes(v) replaces each float lane of v by f(lane), with
// the same operations, so that vector loops and their scalar tails agree bit for bit.
template <class F, class = void> struct has_lanes : std::false_type {};
template <class F>
struct has_lanes<F, std::void_t<decltype(std::declval<const F&>().lanes(std::declval<simd::f32x16&>()))>>
    : std::true_type {};

// The 16 lanes of v folded into one by combine(acc, x) (acc = acc op x, on vectors and on
// floats), halving the width each step: a tree, not a chain of dependent operations.
// Lane l is combined with lane l + 8, then l + 4, 2, 1, at every register width: the same
// order, and so the same bits, on every target.
template <class F> SOFIEC_ALWAYS_INLINE float fold_lanes(const simd::f32x16& v, F combine) {
  using simd::shuffle;
  simd::vec<float, 8> a = shuffle<0, 1, 2, 3, 4, 5, 6, 7>(v, v), b = shuffle<8, 9, 10, 11, 12, 13, 14, 15>(v, v);
  combine(a, b);
  simd::vec<float, 4> c = shuffle<0, 1, 2, 3>(a, a), d = shuffle<4, 5, 6, 7>(a, a);
  combine(c, d);
  float x = c[0], y = c[2], z = c[1], w = c[3];
  combine(x, y);
  combine(z, w);
  combine(x, z);
  return x;
}
// Lane l of `even` (`odd`) = p[2l] (p[2l + 1]): 32 floats read as the taps of 16 windows
// two columns apart (stride-2 pooling, Winograd tiles).
SOFIEC_ALWAYS_INLINE void deinterleave(const float* p, simd::f32x16& even, simd::f32x16& odd) {
  const simd::f32x16 lo = simd::f32x16::load(p), hi = simd::f32x16::load(p + 16);
  even = simd::shuffle<0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30>(lo, hi);
  odd = simd::shuffle<1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31>(lo, hi);
}

// A 16x16 tile of floats transposed in registers: y[i * ldy + j] = x[j * ldx + i]. Each
// stage swaps the off-diagonal blocks of size S (8, 4, 2, 1) between rows i and i + S, one
// two-register shuffle per row; the folds unroll every loop (at -O2 too), keeping the 16 rows
// in registers.
template <int S, std::size_t... J>
SOFIEC_ALWAYS_INLINE void swap_lane_blocks(simd::f32x16& a, simd::f32x16& b, std::index_sequence<J...>) {
  const simd::f32x16 lo = simd::shuffle<int((J & S) ? 16 + J - S : J)...>(a, b);
  const simd::f32x16 hi = simd::shuffle<int((J & S) ? 16 + J : J + S)...>(a, b);
  a = lo;
  b = hi;
}
template <int S, std::size_t... P>
SOFIEC_ALWAYS_INLINE void transpose_stage(simd::f32x16 (&r)[16], std::index_sequence<P...>) {
  (swap_lane_blocks<S>(r[(P / S) * 2 * S + P % S], r[(P / S) * 2 * S + P % S + S], std::make_index_sequence<16>{}),
   ...);
}
template <std::size_t... I>
SOFIEC_ALWAYS_INLINE void transpose_tile16(const float* x, int64_t ldx, float* y, int64_t ldy,
                                           std::index_sequence<I...>) {
  simd::f32x16 r[16];
  ((r[I] = simd::f32x16::load(x + int64_t(I) * ldx)), ...);
  transpose_stage<8>(r, std::make_index_sequence<8>{});
  transpose_stage<4>(r, std::make_index_sequence<8>{});
  transpose_stage<2>(r, std::make_index_sequence<8>{});
  transpose_stage<1>(r, std::make_index_sequence<8>{});
  (r[I].store(y + int64_t(I) * ldy), ...);
}

SOFIEC_ALWAYS_INLINE float max_lanes(const simd::f32x16& v) {
  return fold_lanes(v, [](auto& acc, const auto& x) { acc = simd::select(x > acc, x, acc); });
}
SOFIEC_ALWAYS_INLINE float sum_lanes(const simd::f32x16& v) {
  return fold_lanes(v, [](auto& acc, const auto& x) { acc += x; });
}

// Functors applied one after the other (an epilogue fused into a Conv or GEMM); empty, the identity.
template <class... F> struct functor_chain;
template <> struct functor_chain<> {
  template <class T> T operator()(T x) const { return x; }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16&) const {}
};
template <class F, class... R> struct functor_chain<F, R...> {
  F first;
  functor_chain<R...> rest;
  template <class T> T operator()(T x) const { return rest(first(x)); }
  template <class V = simd::f32x16,
            std::enable_if_t<has_lanes<F>::value && has_lanes<functor_chain<R...>>::value && sizeof(V) != 0, int> = 0>
  SOFIEC_ALWAYS_INLINE void lanes(V& x) const {
    first.lanes(x);
    rest.lanes(x);
  }
};
inline functor_chain<> chain() { return {}; }
template <class F, class... R> functor_chain<F, R...> chain(F f, R... r) { return {f, chain(r...)}; }

// v = epilogue(v): in the lanes, or lane by lane when the epilogue has no lane form.
template <class E> SOFIEC_ALWAYS_INLINE void apply_lanes(simd::f32x16& v, const E& epilogue) {
  if constexpr (has_lanes<E>::value) {
    epilogue.lanes(v);
  } else {
    simd::for_each_index([&](auto l) SOFIEC_INLINE_LAMBDA { v.set(l, epilogue(v[l])); }, std::make_integer_sequence<int, 16>{});
  }
}
// v = epilogue(v + b).
template <class E> SOFIEC_ALWAYS_INLINE void add_bias_then(simd::f32x16& v, float b, const E& epilogue) {
  v += b;
  apply_lanes(v, epilogue);
}

// a = the larger of a and b in each lane, NaN where either is (MaxPool's rule).
SOFIEC_ALWAYS_INLINE void max_nan_lanes(simd::f32x16& a, const simd::f32x16& b) {
  a = simd::select(b > a || b != b, b, a);
}

// out[j] = the larger of p[2j] and p[2j + 1] for the 32 values p = (lo, hi): a row's 2-wide
// max pool.
SOFIEC_ALWAYS_INLINE void max_of_pairs(const simd::f32x16& lo, const simd::f32x16& hi, simd::f32x16& out) {
  out = simd::shuffle<0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30>(lo, hi);
  max_nan_lanes(out, simd::shuffle<1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31>(lo, hi));
}

// f followed by the unary epilogue e (an Add whose Relu was fused into it).
template <class F, class E> struct with_epilogue {
  F f;
  E e;
  template <class... T> auto operator()(T... x) const { return e(f(x...)); }
  template <class V = simd::f32x16, std::enable_if_t<sizeof(V) != 0, int> = 0>
  SOFIEC_ALWAYS_INLINE auto lanes(V& a, const V& b) const -> decltype(f.lanes(a, b), e.lanes(a), void()) {
    f.lanes(a, b);
    e.lanes(a);
  }
};
template <class F, class E> with_epilogue<F, E> then(F f, E e) { return {f, e}; }

// A binary functor with a 16-lane form: f.lanes(a, b) replaces each lane of a by f(a, b).
template <class F, class = void> struct has_binary_lanes : std::false_type {};
template <class F>
struct has_binary_lanes<F, std::void_t<decltype(std::declval<const F&>().lanes(
                               std::declval<simd::f32x16&>(), std::declval<const simd::f32x16&>()))>> : std::true_type {
};

// Integer arithmetic wraps around (two's complement), as ONNX runtimes do; C++ leaves signed
// overflow undefined, so it is done on the unsigned type of at least int's width.
template <class T> using wrap_unsigned_t = std::make_unsigned_t<std::common_type_t<T, int>>;
template <class T> constexpr bool wraps_v = std::is_integral<T>::value && !std::is_same<T, bool>::value;

struct op_add {
  template <class T> T operator()(T a, T b) const {
    if constexpr (wraps_v<T>) {
      return T(wrap_unsigned_t<T>(a) + wrap_unsigned_t<T>(b));
    } else {
      return a + b;
    }
  }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& a, const simd::f32x16& b) const { a = a + b; }
};
struct op_sub {
  template <class T> T operator()(T a, T b) const {
    if constexpr (wraps_v<T>) {
      return T(wrap_unsigned_t<T>(a) - wrap_unsigned_t<T>(b));
    } else {
      return a - b;
    }
  }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& a, const simd::f32x16& b) const { a = a - b; }
};
struct op_mul {
  template <class T> T operator()(T a, T b) const {
    if constexpr (wraps_v<T>) {
      return T(wrap_unsigned_t<T>(a) * wrap_unsigned_t<T>(b));
    } else {
      return a * b;
    }
  }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& a, const simd::f32x16& b) const { a = a * b; }
};
struct op_div {
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_integral<T>::value) {
      if (b == 0) return T(0);
      if constexpr (std::is_signed<T>::value) {
        if (b == T(-1)) return op_sub{}(T(0), a);  // the lowest value / -1 wraps
      }
      return T(a / b);
    } else {
      return a / b;
    }
  }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& a, const simd::f32x16& b) const { a = a / b; }
};
struct op_pow {
  template <class T, class U> T operator()(T a, U b) const {
    if constexpr (std::is_integral<T>::value && std::is_integral<U>::value) {
      // Exact integer power by squaring; negative exponents truncate toward zero as in C.
      if (b < 0) return a == 1 ? T(1) : (a == T(-1) ? T((b % 2) ? -1 : 1) : T(0));
      T r = 1, base = a;
      for (U e = b; e > 0; e >>= 1) {
        if (e & 1) r = op_mul{}(r, base);
        base = op_mul{}(base, base);
      }
      return r;
    } else if constexpr (std::is_same<T, float>::value && std::is_floating_point<U>::value) {
      return std::pow(a, float(b));
    } else {
      return T(std::pow(double(a), double(b)));
    }
  }
};

struct op_relu {
  template <class T> T operator()(T x) const { return x > T(0) ? x : T(0); }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& x) const {
    const simd::f32x16 zero = {};
    x = simd::select(x > zero, x, zero);
  }
};
struct op_leaky_relu {
  float alpha;
  template <class T> T operator()(T x) const { return x >= T(0) ? x : T(alpha) * x; }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& x) const {
    const simd::f32x16 zero = {};
    x = simd::select(x >= zero, x, alpha * x);
  }
};
// The integer lanes matching V (float or f32x16), for exponent bits.
template <class V> struct int_lanes { using type = int32_t; };
template <> struct int_lanes<simd::f32x16> { using type = simd::i32x16; };

// a = a * b + c for float or f32x16, fused wherever the target has FMA, for scalars and lanes
// alike. Left to the compiler (GCC fuses a product and a sum by default, -ffp-contract=fast),
// the same expression was fused in one inlined copy and not in another, and vector code and
// its scalar tails differed in the last bit.
template <class V> SOFIEC_ALWAYS_INLINE void mul_add(V& a, const V& b, const V& c) { a = simd::fma(a, b, c); }

// e^x in place for float or f32x16: 2^n * p(r) with x = n ln2 + r, |r| <= ln2/2, p of degree
// 6 (within 3 ulp of e^x) for x in [-87.3, 88]; below, the smallest normal float (not 0),
// above, 2^127 * e^0.3; NaN stays NaN. One sequence of operations for both forms (the
// products and sums through mul_add), so that vector code and its scalar tails agree bit for
// bit.
template <class V> SOFIEC_ALWAYS_INLINE void exp_poly(V& x) {
  using I = typename int_lanes<V>::type;
  const V lo = V{} - 87.3f, hi = V{} + 88.0f, zero = V{};
  const auto is_nan = x != x;
  const V nan = x;
  x = simd::select(is_nan, zero, x);
  x = simd::select(x < lo, lo, x);
  x = simd::select(x > hi, hi, x);
  // Round x / ln2 to the nearest integer by adding and removing 1.5 * 2^23.
  V shifted = x;
  mul_add(shifted, V{} + 1.44269504f, V{} + 12582912.0f);
  const V n = shifted - 12582912.0f;
  // r = x - n ln2, ln2 split so that n * ln2 is exact.
  V high = n, r = n;
  mul_add(high, V{} - 0.693145752f, x);
  mul_add(r, V{} - 1.42860677e-6f, high);
  V p = r;
  mul_add(p, V{} + 1.0f / 720, V{} + 1.0f / 120);
  mul_add(p, r, V{} + 1.0f / 24);
  mul_add(p, r, V{} + 1.0f / 6);
  mul_add(p, r, V{} + 0.5f);
  mul_add(p, r, V{} + 1.0f);
  mul_add(p, r, V{} + 1.0f);
  I bits = simd::convert_lanes<int32_t>(n);
  bits = (bits + 127) << 23;
  x = p * simd::bit_cast_lanes<float>(bits);
  x = simd::select(is_nan, nan, x);
}

// 1 / (1 + e^-x) from e = e^-|x| (never overflows): 1 / (1 + e), or e times it below 0.
template <class V> SOFIEC_ALWAYS_INLINE void sigmoid_poly(V& x) {
  const V zero = V{};
  V e = simd::select(x < zero, x, zero - x);
  exp_poly(e);
  const V s = 1.0f / (1.0f + e);
  x = simd::select(x >= zero, s, simd::select(x < zero, e * s, x));  // NaN stays NaN
}

struct op_sigmoid {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same<T, float>::value) {
      sigmoid_poly(x);
      return x;
    } else {
      // Split by sign so that exp never overflows.
      if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
      const T e = std::exp(x);
      return e / (T(1) + e);
    }
  }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& x) const { sigmoid_poly(x); }
};
// tanh in place for float or f32x16: x + x^3 P(x^2) below |x| = 0.625 (a fit within 1 ulp),
// 1 - 2 / (e^2|x| + 1) with its sign above (within 3 ulp), +-1 from |x| = 9; NaN stays NaN.
template <class V> SOFIEC_ALWAYS_INLINE void tanh_poly(V& x) {
  const V zero = V{}, nine = V{} + 9.0f, one = V{} + 1.0f;
  const V ax = simd::select(x < zero, zero - x, x);
  const V t = x * x;
  V p = t;  // through mul_add, as in exp_poly
  mul_add(p, V{} - 6.15535118e-03f, V{} + 2.10458413e-02f);
  mul_add(p, t, V{} - 5.38639687e-02f);
  mul_add(p, t, V{} + 1.33328915e-01f);
  mul_add(p, t, V{} - 3.33333313e-01f);
  V small = x * t;
  mul_add(small, p, x);
  V e = simd::select(ax > nine, nine, ax) * 2.0f;
  exp_poly(e);
  V big = one - 2.0f / (e + one);
  big = simd::select(ax >= nine, one, big);  // tanh rounds to 1 from 9.01 on
  big = simd::select(x < zero, zero - big, big);
  x = simd::select(ax < V{} + 0.625f, small, big);
}

struct op_tanh {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same<T, float>::value) {
      tanh_poly(x);
      return x;
    } else {
      return std::tanh(x);
    }
  }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& x) const { tanh_poly(x); }
};

struct op_exp {
  template <class T> T operator()(T x) const { return std::exp(x); }
};
struct op_log {
  template <class T> T operator()(T x) const { return std::log(x); }
};
struct op_sqrt {
  template <class T> T operator()(T x) const { return std::sqrt(x); }
};
struct op_neg {
  template <class T> T operator()(T x) const { return op_sub{}(T(0), x); }
};
struct op_abs {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_unsigned<T>::value) {
      return x;
    } else {
      return x < T(0) ? op_sub{}(T(0), x) : x;
    }
  }
};
struct op_reciprocal {
  template <class T> T operator()(T x) const { return T(1) / x; }
};

// Cast between numeric types: float to integer truncates toward zero, saturates outside the
// integer's range and gives 0 for NaN (C++ leaves those undefined); to bool tests against zero.
template <class To> struct op_cast {
  template <class From> To operator()(From x) const {
    if constexpr (std::is_same<To, bool>::value) {
      return x != From(0);
    } else if constexpr (std::is_integral<To>::value && std::is_floating_point<From>::value) {
      if (x != x) return To(0);
      if (x <= From(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
      if (x >= From(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
      return static_cast<To>(x);
    } else {
      return static_cast<To>(x);
    }
  }
};

struct op_ceil {
  template <class T> T operator()(T x) const { return std::ceil(x); }
};
struct op_floor {
  template <class T> T operator()(T x) const { return std::floor(x); }
};
// Halves round to even, as ONNX Round requires (the default floating-point rounding mode).
struct op_round {
  template <class T> T operator()(T x) const { return std::nearbyint(x); }
};
struct op_sin {
  template <class T> T operator()(T x) const { return std::sin(x); }
};
struct op_cos {
  template <class T> T operator()(T x) const { return std::cos(x); }
};
struct op_tan {
  template <class T> T operator()(T x) const { return std::tan(x); }
};
struct op_asin {
  template <class T> T operator()(T x) const { return std::asin(x); }
};
struct op_acos {
  template <class T> T operator()(T x) const { return std::acos(x); }
};
struct op_atan {
  template <class T> T operator()(T x) const { return std::atan(x); }
};
struct op_sinh {
  template <class T> T operator()(T x) const { return std::sinh(x); }
};
struct op_cosh {
  template <class T> T operator()(T x) const { return std::cosh(x); }
};
struct op_asinh {
  template <class T> T operator()(T x) const { return std::asinh(x); }
};
struct op_acosh {
  template <class T> T operator()(T x) const { return std::acosh(x); }
};
struct op_atanh {
  template <class T> T operator()(T x) const { return std::atanh(x); }
};
// erf in float: x P(x^2) / Q(x^2) on [-4, 4] (a rational fit to relative error 7e-8; within
// 7 ulp of the exact value after rounding), +-1 beyond. V is float or f32x16: one sequence of
// operations for the scalar and the 16-lane forms, so that they agree bit for bit.
template <class V> SOFIEC_ALWAYS_INLINE void erf_rational(V& x) {
  const V four = V{} + 4.0f, minus_four = V{} - 4.0f, one = V{} + 1.0f, minus_one = V{} - 1.0f;
  x = simd::select(x > four, four, x);
  x = simd::select(x < minus_four, minus_four, x);
  const V t = x * x;
  // Horner's steps through mul_add: fused on every target with FMA, whatever the compiler
  // would contract.
  V p = t;
  mul_add(p, V{} + 1.90989500e-08f, V{} - 1.92205357e-06f);
  mul_add(p, t, V{} + 1.43390353e-04f);
  mul_add(p, t, V{} + 3.84083530e-03f);
  mul_add(p, t, V{} + 5.10599688e-02f);
  mul_add(p, t, V{} + 2.03715980e-01f);
  mul_add(p, t, V{} + 1.12837911e+00f);
  V q = t;
  mul_add(q, V{} + 9.83813661e-04f, V{} + 1.46582751e-02f);
  mul_add(q, t, V{} + 1.16548836e-01f);
  mul_add(q, t, V{} + 5.13870656e-01f);
  mul_add(q, t, V{} + 1.0f);
  x = x * p / q;
  x = simd::select(x > one, one, x);
  x = simd::select(x < minus_one, minus_one, x);
}

struct op_erf {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same<T, float>::value) {
      erf_rational(x);
      return x;
    } else {
      return std::erf(x);
    }
  }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& x) const { erf_rational(x); }
};
struct op_sign {
  template <class T> T operator()(T x) const { return T((T(0) < x) - (x < T(0))); }
};
// log(1 + e^x) without overflow for large x.
struct op_softplus {
  template <class T> T operator()(T x) const {
    return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
};
struct op_softsign {
  template <class T> T operator()(T x) const { return x / (T(1) + std::fabs(x)); }
};
struct op_elu {
  float alpha;
  template <class T> T operator()(T x) const { return x >= T(0) ? x : T(alpha) * (std::exp(x) - T(1)); }
};
struct op_selu {
  float alpha, gamma;
  template <class T> T operator()(T x) const {
    return x > T(0) ? T(gamma) * x : T(gamma) * (T(alpha) * std::exp(x) - T(alpha));
  }
};
struct op_celu {
  float alpha;
  template <class T> T operator()(T x) const {
    return std::max(T(0), x) + std::min(T(0), T(alpha) * (std::exp(x / T(alpha)) - T(1)));
  }
};
struct op_hard_sigmoid {
  float alpha, beta;
  template <class T> T operator()(T x) const { return std::max(T(0), std::min(T(1), T(alpha) * x + T(beta))); }
};
struct op_hard_swish {
  template <class T> T operator()(T x) const { return x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5))); }
};
struct op_thresholded_relu {
  float alpha;
  template <class T> T operator()(T x) const { return x > T(alpha) ? x : T(0); }
};
struct op_mish {
  template <class T> T operator()(T x) const { return x * std::tanh(op_softplus{}(x)); }
};

// Comparison and logic: results are bool.
struct op_equal {
  template <class T> bool operator()(T a, T b) const { return a == b; }
};
struct op_less {
  template <class T> bool operator()(T a, T b) const { return a < b; }
};
struct op_greater {
  template <class T> bool operator()(T a, T b) const { return a > b; }
};
struct op_less_equal {
  template <class T> bool operator()(T a, T b) const { return a <= b; }
};
struct op_greater_equal {
  template <class T> bool operator()(T a, T b) const { return a >= b; }
};
struct op_and {
  bool operator()(bool a, bool b) const { return a && b; }
};
struct op_or {
  bool operator()(bool a, bool b) const { return a || b; }
};
struct op_xor {
  bool operator()(bool a, bool b) const { return a != b; }
};
struct op_not {
  bool operator()(bool a) const { return !a; }
};
struct op_isnan {
  template <class T> bool operator()(T x) const { return std::isnan(x); }
};
struct op_isinf {
  float detect_negative, detect_positive;
  template <class T> bool operator()(T x) const {
    return std::isinf(x) && (x > T(0) ? detect_positive != 0.f : detect_negative != 0.f);
  }
};

// Bitwise operators on integers.
struct op_bit_and {
  template <class T> T operator()(T a, T b) const { return T(a & b); }
};
struct op_bit_or {
  template <class T> T operator()(T a, T b) const { return T(a | b); }
};
struct op_bit_xor {
  template <class T> T operator()(T a, T b) const { return T(a ^ b); }
};
struct op_bit_not {
  template <class T> T operator()(T a) const { return T(~a); }
};
// Shifts by the width of the type or more give 0 (C++ leaves them undefined).
struct op_shift_left {
  template <class T> T operator()(T a, T b) const { return b >= T(8 * sizeof(T)) ? T(0) : T(a << b); }
};
struct op_shift_right {
  template <class T> T operator()(T a, T b) const { return b >= T(8 * sizeof(T)) ? T(0) : T(a >> b); }
};

// Mod with fmod=0: the result takes the divisor's sign (Python's %); fmod=1: C's fmod.
struct op_mod {
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point<T>::value) {
      const T r = std::fmod(a, b);
      return (r != T(0) && ((r < T(0)) != (b < T(0)))) ? T(r + b) : r;
    } else {
      if (b == 0) return T(0);
      if constexpr (std::is_signed<T>::value) {
        if (b == T(-1)) return T(0);  // the lowest value % -1 is undefined in C++
      }
      const T r = T(a % b);
      if constexpr (std::is_signed<T>::value) {
        return (r != 0 && ((r < 0) != (b < 0))) ? T(r + b) : r;
      } else {
        return r;
      }
    }
  }
};
struct op_fmod {
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point<T>::value) {
      return std::fmod(a, b);
    } else {
      return b == 0 || (std::is_signed<T>::value && b == T(-1)) ? T(0) : T(a % b);
    }
  }
};

// Max and Min propagate NaN, as numpy's maximum and minimum do.
struct op_max {
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point<T>::value) {
      if (std::isnan(a)) return a;
    }
    return a >= b ? a : b;
  }
};
struct op_min {
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point<T>::value) {
      if (std::isnan(a)) return a;
    }
    return a <= b ? a : b;
  }
};
struct op_div_by {
  double n;
  template <class T> T operator()(T x) const { return T(x / T(n)); }
};
struct op_where {
  template <class T> T operator()(bool c, T a, T b) const { return c ? a : b; }
};
struct op_prelu {
  template <class T> T operator()(T x, T slope) const { return x < T(0) ? T(slope * x) : x; }
};
struct op_shrink {
  float lambd, bias;
  template <class T> T operator()(T x) const {
    return x < T(-lambd) ? T(x + T(bias)) : (x > T(lambd) ? T(x - T(bias)) : T(0));
  }
};
struct op_gelu {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same<T, float>::value) {
      float e = x * 0.707106781f;
      erf_rational(e);
      return 0.5f * x * (1.0f + e);
    } else {
      return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
    }
  }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& x) const {
    simd::f32x16 e = x * 0.707106781f;
    erf_rational(e);
    x = 0.5f * x * (1.0f + e);
  }
};
struct op_gelu_tanh {
  template <class T> T operator()(T x) const {
    return T(0.5) * x * (T(1) + std::tanh(T(0.79788456080286535588) * (x + T(0.044715) * x * x * x)));
  }
};
struct op_swish {
  float alpha;
  template <class T> T operator()(T x) const { return x * op_sigmoid{}(T(alpha) * x); }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& x) const {
    simd::f32x16 s = alpha * x;
    sigmoid_poly(s);
    x = x * s;
  }
};
struct op_swiglu {
  float alpha;
  template <class T> T operator()(T a, T b) const { return op_swish{alpha}(a)*b; }
};
