// Standard headers every kernel may use. When sofiec inlines kernels into a generated header,
// the #include lines of kernel files are dropped: the Session skeleton includes these.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifndef SOFIEC_ALWAYS_INLINE
// For the helpers of inner loops, which must be inlined whatever else a header instantiates:
// GCC's inlining budget is per translation unit, and a resnet18 header with one kernel more
// left block_row_store out of line, its accumulators passed through memory (the Winograd
// layers: 830 -> 1350 us).
#if defined(__GNUC__)
#define SOFIEC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SOFIEC_ALWAYS_INLINE inline
#endif
#endif

#ifndef SOFIEC_SGEMM_DECLARED
#define SOFIEC_SGEMM_DECLARED
// The Fortran BLAS entry point, declared here so generated code links against any BLAS.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
#endif

#ifndef SOFIEC_VECTOR_TYPES_DEFINED
#define SOFIEC_VECTOR_TYPES_DEFINED
namespace sofiec {
// 16 lanes as one value (GCC/Clang vector extensions): code generation uses the widest
// registers -march allows, at any optimization level, without relying on the vectorizer.
// Only ever local variables or references: as by-value parameters they would change the ABI.
typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));

// The first n (0 <= n <= 16) floats at p into lanes 0..n-1 (the others 0), and the first n
// lanes stored to p. With AVX-512 these are masked moves, which touch no byte past the n-th;
// elsewhere a memcpy of n floats. A variable-length memcpy compiles to a libc call or
// `rep movs`, which cost more than the arithmetic on rows of a few dozen floats.
inline void load_first(const float* p, int64_t n, f32x16& v) {
#if defined(__AVX512F__)
  v = (f32x16)_mm512_maskz_loadu_ps(__mmask16((1u << n) - 1u), p);
#else
  v = f32x16{};
  std::memcpy(&v, p, sizeof(float) * std::size_t(n));
#endif
}
// Steps the multi-index `index` over dims[0..rank) (the last fastest) and moves `offset` with
// it by strides: the walk of every strided kernel (views, reductions).
inline void advance_index(int rank, const int64_t* dims, const int64_t* strides, int64_t* index, int64_t& offset) {
  for (int d = rank - 1; d >= 0; --d) {
    offset += strides[d];
    if (++index[d] < dims[d]) return;
    offset -= strides[d] * dims[d];
    index[d] = 0;
  }
}

// The same walk over fewer dims: dims of 1 dropped, and a dim merged into the one before it
// when that one's stride steps over it whole (a contiguous [64, 100] of runs of 7 is one dim
// of 6400). Writes at most rank dims; returns their count.
inline int merge_dims(int rank, const int64_t* dims, const int64_t* strides, int64_t* out_dims, int64_t* out_strides) {
  int r = 0;
  for (int d = 0; d < rank; ++d) {
    if (dims[d] == 1) continue;
    if (r > 0 && out_strides[r - 1] == strides[d] * dims[d]) {
      out_dims[r - 1] *= dims[d];
      out_strides[r - 1] = strides[d];
    } else {
      out_dims[r] = dims[d];
      out_strides[r++] = strides[d];
    }
  }
  return r;
}

// Bit l set where lane l of the comparison mask m is true (all ones).
inline uint32_t lane_bits(const i32x16& m) {
#if defined(__AVX512F__)
  return uint32_t(_mm512_test_epi32_mask((__m512i)m, (__m512i)m));
#else
  uint32_t bits = 0;
  for (int l = 0; l < 16; ++l) bits |= uint32_t(m[l] != 0) << l;
  return bits;
#endif
}
inline void store_first(float* p, int64_t n, const f32x16& v) {
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1u), (__m512)v);
#else
  std::memcpy(p, &v, sizeof(float) * std::size_t(n));
#endif
}
}  // namespace sofiec
#endif

#ifndef SOFIEC_HALF_TYPES_DEFINED
#define SOFIEC_HALF_TYPES_DEFINED
namespace sofiec {

// IEEE binary16 and bfloat16 as storage types: the generated code computes in float and
// rounds to nearest even when it stores. Shared by every generated header (hence the guard).
struct float16_t {
  uint16_t bits;
  float16_t() = default;
  explicit float16_t(float f) : bits(from_float(f)) {}
  operator float() const { return to_float(bits); }

  static uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);           // NaN
    if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);          // overflows to infinity
    if (abs < 0x38800000u) {                                          // subnormal or zero
      if (abs < 0x33000000u) return uint16_t(sign);
      const uint32_t shift = 126u - (abs >> 23);
      const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
      uint32_t half = mantissa >> shift;
      const uint32_t rest = mantissa & ((1u << shift) - 1u), midpoint = 1u << (shift - 1u);
      if (rest > midpoint || (rest == midpoint && (half & 1u))) ++half;
      return uint16_t(sign | half);
    }
    uint32_t half = ((abs - 0x38000000u) >> 13);
    const uint32_t rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
    return uint16_t(sign | half);
  }
  static float to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    uint32_t x;
    if (exponent == 0x1fu) {
      x = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {
      x = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
      x = sign;
    } else {  // subnormal: normalize
      uint32_t m = mantissa, e = 113u;
      while (!(m & 0x400u)) {
        m <<= 1;
        --e;
      }
      x = sign | (e << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
};

struct bfloat16_t {
  uint16_t bits;
  bfloat16_t() = default;
  explicit bfloat16_t(float f) : bits(from_float(f)) {}
  operator float() const { return to_float(bits); }

  static uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // NaN stays NaN
    x += 0x7fffu + ((x >> 16) & 1u);
    return uint16_t(x >> 16);
  }
  static float to_float(uint16_t b) {
    const uint32_t x = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
};

}  // namespace sofiec
#endif
