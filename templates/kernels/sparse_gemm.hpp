// Products whose left operand holds zeros: a ReLU writes about half zeros on the networks
// physicists train (and on random ones), and a 0 contributes nothing to a product whose weights
// are finite. Each row of A is reduced to its nonzero entries, and C's row is summed over the
// rows of B those select: one broadcast of A's value and one FMA per vector of B's row. That
// reads B once per row of C, so the compiler uses it for products of one row (one event through
// a layer), where B is read once anyway; with many rows the blocked kernel of gemm.hpp, which
// reuses each load of B over 6 rows, stays ahead (well ahead of dense rows, about even with
// rows of half zeros).
// B is stored in column panels (pack_column_panels): each run of 16 columns as [K][16], the last
// narrower run as [K][width]. Every load of a whole vector is then one aligned cache line, where
// rows of 100 floats put three in four across two lines, and no padding is stored.
// The sums are taken in an order fixed by k alone, without the zero terms: the same input gives
// the same bits.
#pragma once
#include "functors.hpp"
#include "prelude.hpp"

// Depth of A's row reduced at a time: the nonzeros and their offsets on the stack (1 KiB each:
// deeper frames land on new pages otherwise, resident memory for a small model).
constexpr int64_t kSparseDepth = 256;

// B[K, N] (rows ldb apart) into column panels: columns 16q..16q+15 as [K][16] at 16qK, the last
// N mod 16 columns (if any) as [K][N mod 16] after them; K * N floats in all.
inline void pack_column_panels(const float* b, int64_t ldb, int64_t k, int64_t n, float* out) {
  for (int64_t j = 0; j < n; j += 16) {
    const int64_t width = n - j < 16 ? n - j : 16;
    for (int64_t p = 0; p < k; ++p)
      for (int64_t t = 0; t < width; ++t) *out++ = b[p * ldb + j + t];
  }
}

// The nonzero entries of a[from:from + depth] into vals and their indices (from on) into rows,
// in order; returns their count. vals and rows have room for depth + 16. NaN is kept (it is not
// 0), so that it reaches C as in the dense product.
inline int64_t gather_nonzeros(const float* a, int64_t from, int64_t depth, float* vals, int32_t* rows) {
  int64_t count = 0;
  a += from;
#if SOFIEC_ISA_AVX512
  __m512i index = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                   _mm512_set1_epi32(int32_t(from)));
  const __m512i step = _mm512_set1_epi32(16);
  for (int64_t p = 0; p < depth; p += 16, index = _mm512_add_epi32(index, step)) {
    const int64_t len = depth - p < 16 ? depth - p : 16;
    const __mmask16 live = __mmask16((1u << len) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(live, a + p);
    const __mmask16 nonzero = _mm512_mask_cmp_ps_mask(live, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    // Compressed into a register, then stored whole: a compressing store to memory is
    // microcoded on AMD cores (tens of cycles).
    _mm512_storeu_ps(vals + count, _mm512_maskz_compress_ps(nonzero, v));
    _mm512_storeu_si512(rows + count, _mm512_maskz_compress_epi32(nonzero, index));
    count += __builtin_popcount(unsigned(nonzero));
  }
#else
  for (int64_t p = 0; p < depth; ++p)
    if (a[p] != 0.f) {
      vals[count] = a[p];
      rows[count++] = int32_t(from + p);
    }
#endif
  return count;
}

// Row p of vector v of a panel of NV vectors: whole panels of 16 columns `stride` floats apart,
// the last `width` wide (a masked load even when whole: one instantiation per width of panel,
// not two, keeps the code of a model small).
template <int NV>
SOFIEC_ALWAYS_INLINE void sparse_load_b(const float* b, int64_t stride, int v, int64_t p, int64_t width,
                                        simd::f32x16& out) {
  if (v + 1 < NV) simd::load(out, b + v * stride + p * 16);
  else simd::load_first(b + v * stride + p * width, width, out);
}

// Vector v of a row of C or of the bias (16 floats a vector, the last of NV `width` floats).
template <int NV> SOFIEC_ALWAYS_INLINE void sparse_load_row(const float* row, int v, int64_t width, simd::f32x16& out) {
  if (v + 1 < NV) simd::load(out, row + 16 * v);
  else simd::load_first(row + 16 * v, width, out);
}

// Stores accumulator v of a panel into C's row: its running sum, or on the last slice of depth
// its finished value, epilogue(alpha * acc + bias).
template <int NV, class E>
SOFIEC_ALWAYS_INLINE void sparse_finish(simd::f32x16& acc, int v, float* c, const float* bias, int64_t width, bool last,
                                        float alpha, const E& epilogue) {
  if (last) {
    if (bias) {
      simd::f32x16 b;
      sparse_load_row<NV>(bias, v, width, b);
      acc = simd::fma(acc, simd::f32x16(alpha), b);  // explicit: the same bits in every inlined copy
    } else {
      acc *= alpha;
    }
    apply_lanes(acc, epilogue);
  }
  if (v + 1 < NV) simd::store(c + 16 * v, acc);
  else simd::store_first(c + 16 * v, width, acc);
}

// One row of C over a panel of NV <= 8 vectors: c += sum over the gathered rows of B. With 4
// vectors or fewer, odd and even terms go to two sets of accumulators (a0..a3 and a4..a7), so
// that 8 chains of FMAs are in flight (one set alone would wait on the FMA's latency); the two
// are added at the end. `first`: C holds no partial sum yet.
template <int NV, class E>
inline void sparse_row_panel(int64_t count, const float* vals, const int32_t* rows, const float* b, int64_t stride,
                             float* c, const float* bias, int64_t width, bool first, bool last, float alpha,
                             const E& epilogue) {
  using simd::f32x16;
  constexpr bool two_sets = NV <= 4;
  f32x16 a0 = {}, a1 = {}, a2 = {}, a3 = {}, a4 = {}, a5 = {}, a6 = {}, a7 = {}, r;
  if (!first) {
#define SOFIEC_SPARSE_LOAD_C(i) \
  if constexpr (NV > i) sparse_load_row<NV>(c, i, width, a##i);
    SOFIEC_SPARSE_LOAD_C(0)
    SOFIEC_SPARSE_LOAD_C(1)
    SOFIEC_SPARSE_LOAD_C(2) SOFIEC_SPARSE_LOAD_C(3) SOFIEC_SPARSE_LOAD_C(4) SOFIEC_SPARSE_LOAD_C(5)
        SOFIEC_SPARSE_LOAD_C(6) SOFIEC_SPARSE_LOAD_C(7)
#undef SOFIEC_SPARSE_LOAD_C
  }
  // Term j into accumulator `acc` for vector v of the panel.
#define SOFIEC_SPARSE_TERM(v, acc)                      \
  if constexpr (NV > v) {                               \
    sparse_load_b<NV>(b, stride, v, rows[j], width, r); \
    acc = simd::fma(x, r, acc);                         \
  }
  int64_t j = 0;
  if constexpr (two_sets) {
    for (; j + 1 < count; ++j) {
      f32x16 x = vals[j] - f32x16{};
      SOFIEC_SPARSE_TERM(0, a0)
      SOFIEC_SPARSE_TERM(1, a1) SOFIEC_SPARSE_TERM(2, a2) SOFIEC_SPARSE_TERM(3, a3) x = vals[++j] - f32x16{};
      SOFIEC_SPARSE_TERM(0, a4) SOFIEC_SPARSE_TERM(1, a5) SOFIEC_SPARSE_TERM(2, a6) SOFIEC_SPARSE_TERM(3, a7)
    }
  }
  for (; j < count; ++j) {
    const f32x16 x = vals[j] - f32x16{};
    SOFIEC_SPARSE_TERM(0, a0)
    SOFIEC_SPARSE_TERM(1, a1)
    SOFIEC_SPARSE_TERM(2, a2) SOFIEC_SPARSE_TERM(3, a3) SOFIEC_SPARSE_TERM(4, a4) SOFIEC_SPARSE_TERM(5, a5)
        SOFIEC_SPARSE_TERM(6, a6) SOFIEC_SPARSE_TERM(7, a7)
  }
#undef SOFIEC_SPARSE_TERM
  if constexpr (two_sets) {
    a0 += a4;
    a1 += a5;
    a2 += a6;
    a3 += a7;
  }
#define SOFIEC_SPARSE_FINISH(i) \
  if constexpr (NV > i) sparse_finish<NV>(a##i, i, c, bias, width, last, alpha, epilogue);
  SOFIEC_SPARSE_FINISH(0)
  SOFIEC_SPARSE_FINISH(1)
  SOFIEC_SPARSE_FINISH(2) SOFIEC_SPARSE_FINISH(3) SOFIEC_SPARSE_FINISH(4) SOFIEC_SPARSE_FINISH(5)
      SOFIEC_SPARSE_FINISH(6) SOFIEC_SPARSE_FINISH(7)
#undef SOFIEC_SPARSE_FINISH
}

template <class E>
inline void sparse_row_panel_of(int nv, int64_t count, const float* vals, const int32_t* rows, const float* b,
                                int64_t stride, float* c, const float* bias, int64_t width, bool first, bool last,
                                float alpha, const E& epilogue) {
  switch (nv) {
    case 1: sparse_row_panel<1>(count, vals, rows, b, stride, c, bias, width, first, last, alpha, epilogue); break;
    case 2: sparse_row_panel<2>(count, vals, rows, b, stride, c, bias, width, first, last, alpha, epilogue); break;
    case 3: sparse_row_panel<3>(count, vals, rows, b, stride, c, bias, width, first, last, alpha, epilogue); break;
    case 4: sparse_row_panel<4>(count, vals, rows, b, stride, c, bias, width, first, last, alpha, epilogue); break;
    case 5: sparse_row_panel<5>(count, vals, rows, b, stride, c, bias, width, first, last, alpha, epilogue); break;
    case 6: sparse_row_panel<6>(count, vals, rows, b, stride, c, bias, width, first, last, alpha, epilogue); break;
    case 7: sparse_row_panel<7>(count, vals, rows, b, stride, c, bias, width, first, last, alpha, epilogue); break;
    default: sparse_row_panel<8>(count, vals, rows, b, stride, c, bias, width, first, last, alpha, epilogue); break;
  }
}

// C[M,N] = epilogue(alpha * A[M,K] B[K,N] + bias[N]) (bias may be null), row-major, with B in
// column panels (pack_column_panels), the zeros of A skipped. B must hold no Inf or NaN
// (0 * Inf is NaN): the compiler checks its constant weights. C may alias nothing.
template <class E>
inline void gemm_skipping_zeros(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                                const float* b_panels, const float* bias, float* c, int64_t ldc, const E& epilogue) {
  float vals[kSparseDepth + 16];
  int32_t rows[kSparseDepth + 16];
  for (int64_t i = 0; i < m; ++i) {
    const float* arow = a + i * lda;
    float* crow = c + i * ldc;
    if (k == 0) {
      for (int64_t j = 0; j < n; ++j) crow[j] = epilogue(bias ? bias[j] : 0.f);
      continue;
    }
    for (int64_t p = 0; p < k; p += kSparseDepth) {
      const int64_t depth = k - p < kSparseDepth ? k - p : kSparseDepth;
      const int64_t count = gather_nonzeros(arow, p, depth, vals, rows);
      const bool first = p == 0, last = p + depth == k;
      for (int64_t j = 0; j < n; j += 128) {
        const int64_t cols = n - j < 128 ? n - j : 128;
        const int nv = int((cols + 15) / 16);
        const int64_t width = cols - 16 * (nv - 1);
        // Column j's run of 16 starts at j * k, the next 16 k floats on; rows hold B's row indices.
        sparse_row_panel_of(nv, count, vals, rows, b_panels + j * k, 16 * k, crow + j, bias ? bias + j : nullptr, width,
                            first, last, alpha, epilogue);
      }
    }
  }
}
