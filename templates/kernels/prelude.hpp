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
#include "simd.hpp"

#ifndef SOFIEC_SGEMM_DECLARED
#define SOFIEC_SGEMM_DECLARED
// The Fortran BLAS entry point, declared here so generated code links against any BLAS.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
#endif

// The vector layer's helpers, beside simd.hpp's vec, once per translation unit and copy.
#if defined(SOFIEC_DISPATCH_COPY_) && !defined(SOFIEC_VEC_HELPERS_DISPATCH_DEFINED)
#define SOFIEC_VEC_HELPERS_DISPATCH_DEFINED
#define SOFIEC_VEC_HELPERS_NOW_
#elif !defined(SOFIEC_DISPATCH_COPY_) && !defined(SOFIEC_VEC_HELPERS_DEFINED)
#define SOFIEC_VEC_HELPERS_DEFINED
#define SOFIEC_VEC_HELPERS_NOW_
#endif
#ifdef SOFIEC_VEC_HELPERS_NOW_
#undef SOFIEC_VEC_HELPERS_NOW_
namespace sofiec {
namespace SOFIEC_VEC_NAMESPACE {
// The first n (0 <= n <= L) floats at p into lanes 0..n-1 (the others 0), and the first n
// lanes stored to p, a register at a time. Where the target has masked moves (AVX-512, AVX2)
// these touch no byte past the n-th; elsewhere whole registers and a copy of the rest (a
// variable-length memcpy, a libc call: dearer than the arithmetic on rows of a few dozen
// floats, hence the masks).
namespace simd_detail {
// How many of register i's P lanes lie among the first n (0..P).
constexpr int live_lanes(int64_t n, int i, int P) { return n - i * P <= 0 ? 0 : n - i * P >= P ? P : int(n - i * P); }
#if SOFIEC_ISA_AVX2
// All ones in the first `live` of 8 lanes: the mask of vmaskmov.
SOFIEC_ALWAYS_INLINE __m256i first_lanes8(int live) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(live), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif
}  // namespace simd_detail

template <int L> SOFIEC_ALWAYS_INLINE void load_first(const float* p, int64_t n, vec<float, L>& v) {
  typedef vec<float, L> V;
  typedef typename V::piece piece;
  V::each([&](auto i) SOFIEC_INLINE_LAMBDA {
    const float* at = p + i * V::P;
#if SOFIEC_ISA_AVX512
    if constexpr (V::P == 16) {
      v.p[i] = (piece)_mm512_maskz_loadu_ps(__mmask16((1u << simd_detail::live_lanes(n, i, 16)) - 1u), at);
      return;
    }
#endif
#if SOFIEC_ISA_AVX2
    if constexpr (V::P == 8) {
      v.p[i] = (piece)_mm256_maskload_ps(at, simd_detail::first_lanes8(simd_detail::live_lanes(n, i, 8)));
      return;
    }
#endif
    // The count left, not live_lanes: GCC's bounds warning cannot see that live_lanes <= P.
    const int64_t left = n - i * V::P;
    piece t = {};
    if (left >= V::P) std::memcpy(&t, at, sizeof t);  // a whole register: one load
    else if (left > 0) std::memcpy(&t, at, sizeof(float) * std::size_t(left));
    v.p[i] = t;
  });
}
// Steps the multi-index `index` over dims[0..rank) (the last fastest) and moves `offset` with
// it by strides: the walk of every strided kernel (views, reductions).
SOFIEC_ALWAYS_INLINE void advance_index(int rank, const int64_t* dims, const int64_t* strides, int64_t* index,
                                        int64_t& offset) {
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
SOFIEC_ALWAYS_INLINE int merge_dims(int rank, const int64_t* dims, const int64_t* strides, int64_t* out_dims,
                                    int64_t* out_strides) {
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
SOFIEC_ALWAYS_INLINE uint32_t lane_bits(const i32x16& m) {
#if SOFIEC_ISA_AVX512
  return uint32_t(_mm512_test_epi32_mask((__m512i)m.p[0], (__m512i)m.p[0]));
#elif SOFIEC_ISA_AVX
  return uint32_t(_mm256_movemask_ps((__m256)m.p[0])) | uint32_t(_mm256_movemask_ps((__m256)m.p[1])) << 8;
#elif SOFIEC_ISA_X86
  return uint32_t(_mm_movemask_ps((__m128)m.p[0])) | uint32_t(_mm_movemask_ps((__m128)m.p[1])) << 4 |
         uint32_t(_mm_movemask_ps((__m128)m.p[2])) << 8 | uint32_t(_mm_movemask_ps((__m128)m.p[3])) << 12;
#else
  uint32_t bits = 0;
  for_each_index([&](auto l) SOFIEC_INLINE_LAMBDA { bits |= uint32_t(m[l] != 0) << l; }, std::make_integer_sequence<int, 16>{});
  return bits;
#endif
}
template <int L> SOFIEC_ALWAYS_INLINE void store_first(float* p, int64_t n, const vec<float, L>& v) {
  typedef vec<float, L> V;
  V::each([&](auto i) SOFIEC_INLINE_LAMBDA {
    float* at = p + i * V::P;
#if SOFIEC_ISA_AVX512
    if constexpr (V::P == 16) {
      _mm512_mask_storeu_ps(at, __mmask16((1u << simd_detail::live_lanes(n, i, 16)) - 1u), (__m512)v.p[i]);
      return;
    }
#endif
#if SOFIEC_ISA_AVX2
    if constexpr (V::P == 8) {
      _mm256_maskstore_ps(at, simd_detail::first_lanes8(simd_detail::live_lanes(n, i, 8)), (__m256)v.p[i]);
      return;
    }
#endif
    const int64_t left = n - i * V::P;
    if (left >= V::P) std::memcpy(at, &v.p[i], sizeof v.p[i]);
    else if (left > 0) std::memcpy(at, &v.p[i], sizeof(float) * std::size_t(left));
  });
}
}  // namespace SOFIEC_VEC_NAMESPACE
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
    if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // NaN
    if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // overflows to infinity
    if (abs < 0x38800000u) {                                  // subnormal or zero
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
