// The vector layer every kernel is written on: vec<T, L>, L lanes of T as one value, held as
// L / P native registers of P lanes each, P chosen from the compiler's target macros:
//   AVX-512: 64-byte registers; AVX/AVX2: 32; SSE2..SSE4.2 and NEON: 16; otherwise (or with
//   SOFIEC_SCALAR_KERNELS defined) one lane per "register": plain C++17, no vector extensions.
// Kernels think in blocks of 16 floats (f32x16) whatever the target: a sum is taken in the
// same order at every width, so a target with FMA gives the same bits at every width
// (x86-64-v3, v4, aarch64). Nothing is ever wider than the target's registers: GCC keeps
// vectors wider than the registers in memory (BLKmode), every operation a load and a store.
//
// The layer is a struct of native vectors with inline operators. GCC and Clang scalarize such
// structs (SRA) into registers once the operators are inlined; lane loops are index-sequence
// folds, never run-time loops, so that no piece is ever indexed by a variable.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "isa.hpp"
#if SOFIEC_ISA_X86
#include <immintrin.h>
#elif SOFIEC_ISA_NEON
#include <arm_neon.h>
#endif

#ifndef SOFIEC_ALWAYS_INLINE
// For the helpers of inner loops, which must be inlined whatever else a header instantiates:
// GCC's inlining budget is per translation unit, and an operator left out of line passes its
// vectors through memory.
#if defined(__GNUC__)
#define SOFIEC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SOFIEC_ALWAYS_INLINE inline
#endif
#endif
#ifndef SOFIEC_INLINE_LAMBDA
// The same for the lambdas the vector operations apply to each register: a lambda's call
// operator is an ordinary function to the inliner, and past the budget a 16-lane FMA became a
// call per register (resnet18 at -O3, 7x slower in a translation unit with a few more
// functions).
#if defined(__GNUC__)
#define SOFIEC_INLINE_LAMBDA __attribute__((always_inline))
#else
#define SOFIEC_INLINE_LAMBDA
#endif
#endif

// Once per translation unit for the header's target, and once more for the AVX-512 copy of
// a dispatching header (isa.hpp).
#if defined(SOFIEC_DISPATCH_COPY_) && !defined(SOFIEC_VEC_LAYER_DISPATCH_DEFINED)
#define SOFIEC_VEC_LAYER_DISPATCH_DEFINED
#define SOFIEC_VEC_LAYER_NOW_
#elif !defined(SOFIEC_DISPATCH_COPY_) && !defined(SOFIEC_VEC_LAYER_DEFINED)
#define SOFIEC_VEC_LAYER_DEFINED
#define SOFIEC_VEC_LAYER_NOW_
#endif
#ifdef SOFIEC_VEC_LAYER_NOW_
#undef SOFIEC_VEC_LAYER_NOW_
namespace sofiec {
namespace SOFIEC_VEC_NAMESPACE {

// Bytes in one vector register of the target (0: scalar code), and how many registers the
// register blocking may plan with (AVX-512 and AArch64 have 32, AVX2 and SSE 16).
#if SOFIEC_ISA_AVX512
constexpr int kVectorBytes = 64;
constexpr int kVectorRegisters = 32;
#elif SOFIEC_ISA_AVX
constexpr int kVectorBytes = 32;
constexpr int kVectorRegisters = 16;
#elif SOFIEC_ISA_X86
constexpr int kVectorBytes = 16;
constexpr int kVectorRegisters = 16;
#elif SOFIEC_ISA_NEON
constexpr int kVectorBytes = 16;
#if defined(__aarch64__)
constexpr int kVectorRegisters = 32;
#else
constexpr int kVectorRegisters = 16;
#endif
#else
constexpr int kVectorBytes = 0;
constexpr int kVectorRegisters = 16;
#endif
// Floats per register (1 for scalar code).
constexpr int kFloatLanes = kVectorBytes ? kVectorBytes / 4 : 1;

// Whether the target fuses a multiply and an add in one rounding.
#if SOFIEC_ISA_FMA
constexpr bool kHasFma = true;
#else
constexpr bool kHasFma = false;
#endif

namespace simd_detail {
template <class T, int P> struct native {
#if defined(__GNUC__)
  typedef T type __attribute__((vector_size(sizeof(T) * P)));
#endif
};
template <class T> struct native<T, 1> { typedef T type; };
template <class T> constexpr int piece_lanes(int lanes) {
  return kVectorBytes == 0 ? 1 : (lanes * int(sizeof(T)) < kVectorBytes ? lanes : kVectorBytes / int(sizeof(T)));
}
template <class T> struct mask_of { typedef int32_t type; };
template <> struct mask_of<double> { typedef int64_t type; };
template <> struct mask_of<int64_t> { typedef int64_t type; };
}  // namespace simd_detail

template <class T, int L> struct vec;

// The integer lanes of a comparison of vec<T, L>: all ones where true, 0 where false.
template <class T, int L> using mask_vec = vec<typename simd_detail::mask_of<T>::type, L>;

// f(I) for each I of 0..N-1, unrolled at compile time.
template <class F, int... I> SOFIEC_ALWAYS_INLINE void for_each_index(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}

template <class T, int L> struct vec {
  static constexpr int lanes = L;
  static constexpr int P = simd_detail::piece_lanes<T>(L);  // lanes per register
  static constexpr int K = L / P;                           // registers
  static_assert(K * P == L, "a vec is a whole number of registers");
  typedef T value_type;
  typedef typename simd_detail::native<T, P>::type piece;
  typedef mask_vec<T, L> mask;

  piece p[K];

  vec() = default;
  // A broadcast: every lane x. Implicit, so that mixed expressions (2.0f * v) read as math.
  SOFIEC_ALWAYS_INLINE vec(T x) {               // NOLINT(google-explicit-constructor)
    each([&](auto i) SOFIEC_INLINE_LAMBDA { p[i] = x - piece{}; });  // x - 0 is x, also for -0
  }

  template <class F> static SOFIEC_ALWAYS_INLINE void each(F&& f) {
    for_each_index(f, std::make_integer_sequence<int, K>{});
  }

  // Lane l (after unrolling, l is a constant and this is a register extract).
  SOFIEC_ALWAYS_INLINE T operator[](int l) const {
    if constexpr (P == 1) return p[l];
    else return p[l / P][l % P];
  }
  SOFIEC_ALWAYS_INLINE void set(int l, T x) {
    if constexpr (P == 1) p[l] = x;
    else p[l / P][l % P] = x;
  }

  static SOFIEC_ALWAYS_INLINE vec load(const T* src) {
    vec v;
    each([&](auto i) SOFIEC_INLINE_LAMBDA { std::memcpy(&v.p[i], src + i * P, sizeof(piece)); });
    return v;
  }
  SOFIEC_ALWAYS_INLINE void store(T* dst) const {
    each([&](auto i) SOFIEC_INLINE_LAMBDA { std::memcpy(dst + i * P, &p[i], sizeof(piece)); });
  }

#define SOFIEC_VEC_BINARY(op)                                                            \
  friend SOFIEC_ALWAYS_INLINE vec operator op(const vec& a, const vec& b) {              \
    vec r;                                                                               \
    each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = a.p[i] op b.p[i]; });                                    \
    return r;                                                                            \
  }                                                                                      \
  friend SOFIEC_ALWAYS_INLINE vec operator op(const vec& a, T b) { return a op vec(b); } \
  friend SOFIEC_ALWAYS_INLINE vec operator op(T a, const vec& b) { return vec(a) op b; } \
  SOFIEC_ALWAYS_INLINE vec& operator op##=(const vec& b) {                               \
    each([&](auto i) SOFIEC_INLINE_LAMBDA { p[i] = p[i] op b.p[i]; });                                        \
    return *this;                                                                        \
  }
  SOFIEC_VEC_BINARY(+)
  SOFIEC_VEC_BINARY(-)
  SOFIEC_VEC_BINARY(*)
  SOFIEC_VEC_BINARY(/)
#undef SOFIEC_VEC_BINARY
  friend SOFIEC_ALWAYS_INLINE vec operator-(const vec& a) {
    vec r;
    each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = -a.p[i]; });
    return r;
  }

#define SOFIEC_VEC_INTEGER(op)                                                  \
  template <class U = T, std::enable_if_t<std::is_integral<U>::value, int> = 0> \
  friend SOFIEC_ALWAYS_INLINE vec operator op(const vec& a, const vec& b) {     \
    vec r;                                                                      \
    each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = a.p[i] op b.p[i]; });                           \
    return r;                                                                   \
  }
  SOFIEC_VEC_INTEGER(&)
  SOFIEC_VEC_INTEGER(|)
  SOFIEC_VEC_INTEGER(^)
#undef SOFIEC_VEC_INTEGER
  template <class U = T, std::enable_if_t<std::is_integral<U>::value, int> = 0>
  friend SOFIEC_ALWAYS_INLINE vec operator~(const vec& a) {
    vec r;
    each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = ~a.p[i]; });
    return r;
  }
  template <class U = T, std::enable_if_t<std::is_integral<U>::value, int> = 0>
  friend SOFIEC_ALWAYS_INLINE vec operator<<(const vec& a, int s) {
    vec r;
    each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = a.p[i] << s; });
    return r;
  }
  template <class U = T, std::enable_if_t<std::is_integral<U>::value, int> = 0>
  friend SOFIEC_ALWAYS_INLINE vec operator>>(const vec& a, int s) {
    vec r;
    each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = a.p[i] >> s; });
    return r;
  }
  // Masks (all ones or 0 per lane) combine as bits.
  template <class U = T, std::enable_if_t<std::is_integral<U>::value, int> = 0>
  friend SOFIEC_ALWAYS_INLINE vec operator||(const vec& a, const vec& b) {
    return a | b;
  }
  template <class U = T, std::enable_if_t<std::is_integral<U>::value, int> = 0>
  friend SOFIEC_ALWAYS_INLINE vec operator&&(const vec& a, const vec& b) {
    return a & b;
  }
  template <class U = T, std::enable_if_t<std::is_integral<U>::value, int> = 0>
  friend SOFIEC_ALWAYS_INLINE vec operator!(const vec& a) {
    return ~a;
  }

#define SOFIEC_VEC_COMPARE(op)                                                                          \
  friend SOFIEC_ALWAYS_INLINE mask operator op(const vec& a, const vec& b) {                            \
    mask r;                                                                                             \
    if constexpr (P == 1) each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = -typename mask::value_type(a.p[i] op b.p[i]); }); \
    else each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = a.p[i] op b.p[i]; });                                              \
    return r;                                                                                           \
  }                                                                                                     \
  friend SOFIEC_ALWAYS_INLINE mask operator op(const vec& a, T b) { return a op vec(b); }               \
  friend SOFIEC_ALWAYS_INLINE mask operator op(T a, const vec& b) { return vec(a) op b; }
  SOFIEC_VEC_COMPARE(<)
  SOFIEC_VEC_COMPARE(<=)
  SOFIEC_VEC_COMPARE(>)
  SOFIEC_VEC_COMPARE(>=)
  SOFIEC_VEC_COMPARE(==)
  SOFIEC_VEC_COMPARE(!=)
#undef SOFIEC_VEC_COMPARE
};

typedef vec<float, 16> f32x16;
typedef vec<int32_t, 16> i32x16;
typedef vec<double, 8> f64x8;

// v = the L values at p, and the L lanes of v to p: each register moved on its own (a memcpy of
// the whole struct goes through the stack in 16-byte pieces, then is read back whole: a
// store-forwarding stall per vector with AVX2).
template <class T, int L> SOFIEC_ALWAYS_INLINE void load(vec<T, L>& v, const T* p) { v = vec<T, L>::load(p); }
template <class T, int L> SOFIEC_ALWAYS_INLINE void store(T* p, const vec<T, L>& v) { v.store(p); }

// m ? a : b lane by lane (m from a comparison); for scalars, the plain choice, so that one
// template serves a float and its 16-lane form.
template <class T, int L>
SOFIEC_ALWAYS_INLINE vec<T, L> select(const mask_vec<T, L>& m, const vec<T, L>& a, const vec<T, L>& b) {
  vec<T, L> r;
  vec<T, L>::each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = m.p[i] ? a.p[i] : b.p[i]; });
  return r;
}
template <class T, std::enable_if_t<std::is_arithmetic<T>::value, int> = 0>
SOFIEC_ALWAYS_INLINE T select(bool m, T a, T b) {
  return m ? a : b;
}

// Lanes 0, 1, ..., L-1 (a constant: masks of the first n lanes are lane_indices < n).
template <class T, int L> SOFIEC_ALWAYS_INLINE vec<T, L> lane_indices() {
  vec<T, L> r;
  for_each_index([&](auto l) SOFIEC_INLINE_LAMBDA { r.set(l, T(l)); }, std::make_integer_sequence<int, L>{});
  return r;
}

// The same bits as another lane type of the same width (float <-> int32 for exponent tricks).
template <class To, class T, int L> SOFIEC_ALWAYS_INLINE vec<To, L> bit_cast_lanes(const vec<T, L>& v) {
  static_assert(sizeof(To) == sizeof(T), "same-size lanes");
  vec<To, L> r;
  vec<T, L>::each([&](auto i) SOFIEC_INLINE_LAMBDA { std::memcpy(&r.p[i], &v.p[i], sizeof(r.p[i])); });
  return r;
}
// The scalar forms, so that one template serves a float and its 16 lanes (exp_poly).
template <class To, class T, std::enable_if_t<std::is_arithmetic<T>::value, int> = 0>
SOFIEC_ALWAYS_INLINE To bit_cast_lanes(T x) {
  static_assert(sizeof(To) == sizeof(T), "same-size lanes");
  To r;
  std::memcpy(&r, &x, sizeof r);
  return r;
}
template <class To, class T, std::enable_if_t<std::is_arithmetic<T>::value, int> = 0>
SOFIEC_ALWAYS_INLINE To convert_lanes(T x) {
  return To(x);
}
// Lanes First.. of a register, as a narrower register.
template <int First, class P, int... M>
SOFIEC_ALWAYS_INLINE auto convert_part(const P& p, std::integer_sequence<int, M...>) {
  return __builtin_shufflevector(p, p, (First + M)...);
}
// Each lane converted as by a C++ cast (float -> int32 truncates). To wider lanes (float ->
// double) each result register converts a part of a source register.
template <class To, class T, int L> SOFIEC_ALWAYS_INLINE vec<To, L> convert_lanes(const vec<T, L>& v) {
  typedef vec<To, L> R;
  typedef vec<T, L> V;
  R r;
  if constexpr (R::P == V::P && V::P > 1) {
    V::each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = __builtin_convertvector(v.p[i], typename R::piece); });
  } else if constexpr (R::P < V::P && R::P > 1) {
    R::each([&](auto j) SOFIEC_INLINE_LAMBDA {
      constexpr int from = decltype(j)::value * R::P;
      r.p[j] = __builtin_convertvector(
          convert_part<from % V::P>(v.p[from / V::P], std::make_integer_sequence<int, R::P>{}), typename R::piece);
    });
  } else {
    for_each_index([&](auto l) SOFIEC_INLINE_LAMBDA { r.set(l, To(v[l])); }, std::make_integer_sequence<int, L>{});
  }
  return r;
}

// a * b + c in one rounding where the target has FMA (else two), per register: explicit, so
// that what is fused never depends on the compiler's contraction choices or the register width.
template <class P> SOFIEC_ALWAYS_INLINE P fma_piece(const P& a, const P& b, const P& c) {
  if constexpr (std::is_same<P, float>::value) {
    if constexpr (kHasFma) return __builtin_fmaf(a, b, c);
    else return a * b + c;
  } else if constexpr (std::is_same<P, double>::value) {
    if constexpr (kHasFma) return __builtin_fma(a, b, c);
    else return a * b + c;
  } else {
    typedef std::remove_cv_t<std::remove_reference_t<decltype(a[0])>> lane;
    (void)sizeof(lane);
#if SOFIEC_ISA_X86 && SOFIEC_ISA_FMA
    if constexpr (sizeof(P) == 64 && sizeof(lane) == 4) return (P)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
    else if constexpr (sizeof(P) == 64) return (P)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
    else if constexpr (sizeof(P) == 32 && sizeof(lane) == 4) return (P)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
    else if constexpr (sizeof(P) == 32) return (P)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
    else if constexpr (sizeof(P) == 16 && sizeof(lane) == 4) return (P)_mm_fmadd_ps((__m128)a, (__m128)b, (__m128)c);
    else return (P)_mm_fmadd_pd((__m128d)a, (__m128d)b, (__m128d)c);
#elif SOFIEC_ISA_NEON && defined(__aarch64__)
    if constexpr (sizeof(lane) == 4) return (P)vfmaq_f32((float32x4_t)c, (float32x4_t)a, (float32x4_t)b);
    else return (P)vfmaq_f64((float64x2_t)c, (float64x2_t)a, (float64x2_t)b);
#else
    return a * b + c;
#endif
  }
}
template <class T, int L>
SOFIEC_ALWAYS_INLINE vec<T, L> fma(const vec<T, L>& a, const vec<T, L>& b, const vec<T, L>& c) {
  vec<T, L> r;
  vec<T, L>::each([&](auto i) SOFIEC_INLINE_LAMBDA { r.p[i] = fma_piece(a.p[i], b.p[i], c.p[i]); });
  return r;
}
SOFIEC_ALWAYS_INLINE float fma(float a, float b, float c) { return fma_piece(a, b, c); }
// A broadcast scalar times a vector (a row of A against a row of B).
template <class T, int L> SOFIEC_ALWAYS_INLINE vec<T, L> fma(T a, const vec<T, L>& b, const vec<T, L>& c) {
  return fma(vec<T, L>(a), b, c);
}

// Tells the compiler that v's registers are to stay registers here (an empty asm that reads
// and writes them): GCC otherwise rematerializes some loads inside a following loop, each
// load of a row split over two cache lines.
// (Through a local copy: an asm operand naming a member of the vec would keep the whole vec in
// memory.)
template <class P> SOFIEC_ALWAYS_INLINE void keep_in_register(P& p) {
  P t = p;
#if SOFIEC_ISA_X86
  asm("" : "+x"(t));
#elif SOFIEC_ISA_NEON && defined(__aarch64__)
  asm("" : "+w"(t));
#endif
  p = t;
}
template <class T, int L> SOFIEC_ALWAYS_INLINE void keep_in_registers(vec<T, L>& v) {
  vec<T, L>::each([&](auto i) SOFIEC_INLINE_LAMBDA { keep_in_register(v.p[i]); });
}

// out = (a, b)[I...], lanes of a numbered 0..L-1 and of b L..2L-1, as __builtin_shufflevector.
// Each register of the result comes from the one or two registers its lanes lie in (one
// native two-register shuffle); lanes spread wider are gathered one by one.
template <class T, int L, int... I> struct shuffler {
  typedef vec<T, L> V;
  typedef vec<T, int(sizeof...(I))> R;
  typedef typename V::piece piece;
  static constexpr int P = V::P, K = V::K, RP = R::P;  // RP <= P: results may be narrower
  static constexpr int idx[sizeof...(I)] = {I...};
  // The source registers (0..2K-1: a's, then b's) of result register j's lanes.
  static constexpr int first(int j) { return idx[j * RP] / P; }
  static constexpr int second(int j) {
    int s = first(j);
    for (int l = 0; l < RP; ++l)
      if (idx[j * RP + l] / P != first(j)) s = idx[j * RP + l] / P;
    return s;
  }
  static constexpr bool two_registers(int j) {
    for (int l = 0; l < RP; ++l)
      if (idx[j * RP + l] / P != first(j) && idx[j * RP + l] / P != second(j)) return false;
    return true;
  }
  static constexpr int lane(int j, int l) {
    return idx[j * RP + l] / P == first(j) ? idx[j * RP + l] % P : P + idx[j * RP + l] % P;
  }
  template <int S> static SOFIEC_ALWAYS_INLINE const piece& reg(const V& a, const V& b) {
    if constexpr (S < K) return a.p[S];
    else return b.p[S - K];
  }
  static SOFIEC_ALWAYS_INLINE T lane_of(const V& a, const V& b, int s) { return s < L ? a[s] : b[s - L]; }
  template <int J, int... M>
  static SOFIEC_ALWAYS_INLINE typename R::piece from_two(const V& a, const V& b, std::integer_sequence<int, M...>) {
    return __builtin_shufflevector(reg<first(J)>(a, b), reg<second(J)>(a, b), lane(J, M)...);
  }
  template <int J, int... M>
  static SOFIEC_ALWAYS_INLINE typename R::piece gathered(const V& a, const V& b, std::integer_sequence<int, M...>) {
    return typename R::piece{lane_of(a, b, idx[J * RP + M])...};
  }
  template <int... J> static SOFIEC_ALWAYS_INLINE R run(const V& a, const V& b, std::integer_sequence<int, J...>) {
    R r;
    if constexpr (P == 1) {
      ((r.p[J] = lane_of(a, b, idx[J])), ...);
    } else {
      auto one = [&](auto j) SOFIEC_INLINE_LAMBDA {
        constexpr int Jc = decltype(j)::value;
        if constexpr (two_registers(Jc)) r.p[Jc] = from_two<Jc>(a, b, std::make_integer_sequence<int, RP>{});
        else r.p[Jc] = gathered<Jc>(a, b, std::make_integer_sequence<int, RP>{});
      };
      (one(std::integral_constant<int, J>{}), ...);
    }
    return r;
  }
};
template <int... I, class T, int L>
SOFIEC_ALWAYS_INLINE vec<T, int(sizeof...(I))> shuffle(const vec<T, L>& a, const vec<T, L>& b) {
  typedef shuffler<T, L, I...> S;
  return S::run(a, b, std::make_integer_sequence<int, S::R::K>{});
}

}  // namespace SOFIEC_VEC_NAMESPACE
}  // namespace sofiec
#endif
