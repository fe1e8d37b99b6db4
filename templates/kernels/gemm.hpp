// Matrix products. float runs the register-blocked kernel below (a header that never calls the
// BLAS needs no BLAS library, nor its ~3 MiB of resident memory); defining SOFIEC_USE_BLAS
// before including a generated header sends the large products to sgemm_ instead (a threaded
// BLAS for batch throughput). Other types use a plain loop.
//
// Every C element is one chain of fused multiply-adds in the order of k, whatever the target's
// register width and blocking: the same bits on every target with FMA.
#pragma once
#include "functors.hpp"
#include "prelude.hpp"

// c[j] = alpha * dot(w[j, 0:k], a) + beta * c[j] for j < n: one event through a layer whose
// weight is stored as the exporter wrote it ([N,K], rows contiguous). Four rows at a time
// keep four independent accumulators in flight; no blocking or packing, which one row does not
// repay.
inline void gemv_rows(int64_t n, int64_t k, float alpha, const float* w, int64_t ldw, const float* a, float beta,
                      float* c) {
  auto finish = [&](int64_t j, float dot) { c[j] = beta == 0.f ? alpha * dot : simd::fma(beta, c[j], alpha * dot); };
  // A chain of adds, not sum_lanes' tree: the four rows' sums overlap, which measured faster.
  auto chain_sum = [](const simd::f32x16& v) {
    float t = 0.f;
    for (int l = 0; l < 16; ++l) t += v[l];
    return t;
  };
  const int64_t k16 = k / 16 * 16;
  const int64_t n4 = n / 4 * 4;
  const float* row = w;
  // Four named accumulators (not an array): registers at -O2 too, where loops over an array
  // of vectors are not unrolled.
  for (int64_t j = 0; j < n4; j += 4, row += 4 * ldw) {
    const float* r0 = row;
    const float* r1 = row + ldw;
    const float* r2 = row + 2 * ldw;
    const float* r3 = row + 3 * ldw;
    simd::f32x16 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {}, x;
    for (int64_t p = 0; p < k16; p += 16) {
      x = simd::f32x16::load(a + p);
      acc0 = simd::fma(simd::f32x16::load(r0 + p), x, acc0);
      acc1 = simd::fma(simd::f32x16::load(r1 + p), x, acc1);
      acc2 = simd::fma(simd::f32x16::load(r2 + p), x, acc2);
      acc3 = simd::fma(simd::f32x16::load(r3 + p), x, acc3);
    }
    float d0 = chain_sum(acc0), d1 = chain_sum(acc1), d2 = chain_sum(acc2), d3 = chain_sum(acc3);
    for (int64_t t = k16; t < k; ++t) {
      d0 = simd::fma(r0[t], a[t], d0);
      d1 = simd::fma(r1[t], a[t], d1);
      d2 = simd::fma(r2[t], a[t], d2);
      d3 = simd::fma(r3[t], a[t], d3);
    }
    finish(j, d0);
    finish(j + 1, d1);
    finish(j + 2, d2);
    finish(j + 3, d3);
  }
  for (int64_t j = n4; j < n; ++j, row += ldw) {
    simd::f32x16 acc = {};
    for (int64_t p = 0; p < k16; p += 16) acc = simd::fma(simd::f32x16::load(row + p), simd::f32x16::load(a + p), acc);
    float dot = chain_sum(acc);
    for (int64_t t = k16; t < k; ++t) dot = simd::fma(row[t], a[t], dot);
    finish(j, dot);
  }
}

// The products' own register-blocked kernel. A block of C, MR rows (up to 6) by NV vectors of
// kGemmLanes columns, is summed over k in registers: per k, NV loads of B's row, MR broadcasts
// of A's column, MR * NV fused multiply-adds. The block's shape follows the target's registers
// (accumulators + B's vectors + a broadcast, all in registers):
//   AVX-512 (32 x 16 floats): 6 x 32 columns, 12 + 2 + 1 registers;
//   AVX2 (16 x 8): 6 x 16, 12 + 2 + 1;   NEON (32 x 4): 6 x 16, 24 + 4 + 1;
//   SSE (16 x 4): 6 x 8, 12 + 2 + 1;     scalar code: 6 x 4.
// The caller splits M into blocks of nearly equal rows (32 rows as 6,6,5,5,5,5, not five 6s
// and a 2, whose block would run at a third of the speed).
constexpr int kGemmLanes = simd::kFloatLanes >= 8 || simd::kVectorRegisters >= 32 ? 16 : simd::kFloatLanes == 4 ? 8 : 4;
constexpr int kGemmVectors = simd::kFloatLanes >= 16 ? 2 : 1;
constexpr int64_t kGemmTile = kGemmLanes * kGemmVectors;  // C's columns per block
typedef simd::vec<float, kGemmLanes> gemm_vec;

// One row of a block: NV vectors of C, scaled by alpha, plus keep times C's old values (not
// read when keep is 0: C may hold anything); width is the last vector's columns.
template <int NV, bool FULL, class V>
SOFIEC_ALWAYS_INLINE void block_row_store(V& acc0, V& acc1, float* c, int64_t width, float alpha, float keep) {
  constexpr int W = V::lanes;
  V old;
  if (alpha != 1.f) {
    acc0 *= alpha;
    acc1 *= alpha;
  }
  if (NV == 1) {
    if (keep != 0.f) {
      if (FULL) old = V::load(c);
      else simd::load_first(c, width, old);
      acc0 = simd::fma(V(keep), old, acc0);
    }
    if (FULL) acc0.store(c);
    else simd::store_first(c, width, acc0);
    return;
  }
  if (keep != 0.f) {
    acc0 = simd::fma(V(keep), V::load(c), acc0);
    if (FULL) old = V::load(c + W);
    else simd::load_first(c + W, width, old);
    acc1 = simd::fma(V(keep), old, acc1);
  }
  acc0.store(c);
  if (FULL) acc1.store(c + W);
  else simd::store_first(c + W, width, acc1);
}

// The accumulators are named variables, not an array: GCC kept arrays of vectors on the
// stack in some instantiations (a store per k). The macros only spell out the 6 rows.
template <int MR, int NV, bool FULL>
inline void gemm_block(int64_t k, const float* a, int64_t ars, int64_t acs, const float* b, int64_t ldb, float* c,
                       int64_t ldc, int64_t width, float alpha, float keep) {
  typedef gemm_vec V;
  constexpr int W = V::lanes;
  V c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {},
    c51 = {}, b0, b1 = {};
  for (int64_t p = 0; p < k; ++p, a += acs, b += ldb) {
    if (NV == 1) {
      if (FULL) b0 = V::load(b);
      else simd::load_first(b, width, b0);
    } else {
      b0 = V::load(b);
      if (FULL) b1 = V::load(b + W);
      else simd::load_first(b + W, width, b1);
    }
#define SOFIEC_GEMM_ROW(i)                                      \
  if constexpr (MR > i) {                                       \
    const V ai(a[i * ars]);                                     \
    c##i##0 = simd::fma(ai, b0, c##i##0);                       \
    if constexpr (NV > 1) c##i##1 = simd::fma(ai, b1, c##i##1); \
  }
    SOFIEC_GEMM_ROW(0) SOFIEC_GEMM_ROW(1) SOFIEC_GEMM_ROW(2) SOFIEC_GEMM_ROW(3) SOFIEC_GEMM_ROW(4) SOFIEC_GEMM_ROW(5)
#undef SOFIEC_GEMM_ROW
  }
#define SOFIEC_GEMM_STORE(i) \
  if constexpr (MR > i) block_row_store<NV, FULL>(c##i##0, c##i##1, c + i * ldc, width, alpha, keep);
  SOFIEC_GEMM_STORE(0)
  SOFIEC_GEMM_STORE(1) SOFIEC_GEMM_STORE(2) SOFIEC_GEMM_STORE(3) SOFIEC_GEMM_STORE(4) SOFIEC_GEMM_STORE(5)
#undef SOFIEC_GEMM_STORE
}

template <int NV, bool FULL>
inline void gemm_rows(int64_t rows, int64_t k, const float* a, int64_t ars, int64_t acs, const float* b, int64_t ldb,
                      float* c, int64_t ldc, int64_t width, float alpha, float keep) {
  switch (rows) {
    case 6: gemm_block<6, NV, FULL>(k, a, ars, acs, b, ldb, c, ldc, width, alpha, keep); break;
    case 5: gemm_block<5, NV, FULL>(k, a, ars, acs, b, ldb, c, ldc, width, alpha, keep); break;
    case 4: gemm_block<4, NV, FULL>(k, a, ars, acs, b, ldb, c, ldc, width, alpha, keep); break;
    case 3: gemm_block<3, NV, FULL>(k, a, ars, acs, b, ldb, c, ldc, width, alpha, keep); break;
    case 2: gemm_block<2, NV, FULL>(k, a, ars, acs, b, ldb, c, ldc, width, alpha, keep); break;
    default: gemm_block<1, NV, FULL>(k, a, ars, acs, b, ldb, c, ldc, width, alpha, keep); break;
  }
}

// Up to 6 rows of C by `cols` columns (at most a panel): the panel's columns in tiles of the
// target's block.
inline void gemm_rows_tiled(int64_t rows, int64_t k, const float* a, int64_t ars, int64_t acs, const float* b,
                            int64_t ldb, float* c, int64_t ldc, int64_t cols, float alpha, float keep) {
  for (int64_t j = 0; j < cols; j += kGemmTile) {
    const int64_t w = std::min(kGemmTile, cols - j);
    if (w == kGemmTile)
      gemm_rows<kGemmVectors, true>(rows, k, a, ars, acs, b + j, ldb, c + j, ldc, kGemmLanes, alpha, keep);
    else if (kGemmVectors == 2 && w > kGemmLanes)
      gemm_rows<kGemmVectors, false>(rows, k, a, ars, acs, b + j, ldb, c + j, ldc, w - kGemmLanes, alpha, keep);
    else if (w == kGemmLanes) gemm_rows<1, true>(rows, k, a, ars, acs, b + j, ldb, c + j, ldc, w, alpha, keep);
    else gemm_rows<1, false>(rows, k, a, ars, acs, b + j, ldb, c + j, ldc, w, alpha, keep);
  }
}

// One or two rows of C by 4 vectors of kWideLanes columns (the last ones masked to `cols`):
// with a single row, the blocked kernel has NV accumulators, and each FMA waits on the one
// before it in its chain (latency 4); 4 chains keep the FMA pipe full (LSTM's per-step
// product of one row, 64 x 256). 8 accumulators and 4 vectors of B fit the
// registers as 16 floats with AVX-512, 8 with AVX2 and NEON, 4 with SSE.
constexpr int kWideLanes = simd::kFloatLanes >= 16                                  ? 16
                           : simd::kFloatLanes >= 8 || simd::kVectorRegisters >= 32 ? 8
                                                                                    : 4;
constexpr int64_t kWideColumns = 4 * kWideLanes;
template <int MR, bool FULL>
inline void gemm_wide_block(int64_t k, const float* a, int64_t ars, int64_t acs, const float* b, int64_t ldb, float* c,
                            int64_t ldc, int64_t cols, float alpha, float keep) {
  typedef simd::vec<float, kWideLanes> V;
  constexpr int W = kWideLanes;
  int64_t width[4];
  for (int v = 0; v < 4; ++v) width[v] = std::min<int64_t>(W, std::max<int64_t>(0, cols - W * v));
  V c00 = {}, c01 = {}, c02 = {}, c03 = {}, c10 = {}, c11 = {}, c12 = {}, c13 = {}, b0, b1, b2, b3;
  for (int64_t p = 0; p < k; ++p, a += acs, b += ldb) {
    if (FULL) {
      b0 = V::load(b);
      b1 = V::load(b + W);
      b2 = V::load(b + 2 * W);
      b3 = V::load(b + 3 * W);
    } else {
      simd::load_first(b, width[0], b0);
      simd::load_first(b + W, width[1], b1);
      simd::load_first(b + 2 * W, width[2], b2);
      simd::load_first(b + 3 * W, width[3], b3);
    }
    const V a0(a[0]);
    c00 = simd::fma(a0, b0, c00);
    c01 = simd::fma(a0, b1, c01);
    c02 = simd::fma(a0, b2, c02);
    c03 = simd::fma(a0, b3, c03);
    if constexpr (MR > 1) {
      const V a1(a[ars]);
      c10 = simd::fma(a1, b0, c10);
      c11 = simd::fma(a1, b1, c11);
      c12 = simd::fma(a1, b2, c12);
      c13 = simd::fma(a1, b3, c13);
    }
  }
  auto store = [&](V& acc, float* out, int64_t w) {
    if (alpha != 1.f) acc *= alpha;
    if (keep != 0.f) {
      V old;
      simd::load_first(out, w, old);
      acc = simd::fma(V(keep), old, acc);
    }
    if (FULL) acc.store(out);
    else simd::store_first(out, w, acc);
  };
  store(c00, c, width[0]);
  store(c01, c + W, width[1]);
  store(c02, c + 2 * W, width[2]);
  store(c03, c + 3 * W, width[3]);
  if constexpr (MR > 1) {
    store(c10, c + ldc, width[0]);
    store(c11, c + ldc + W, width[1]);
    store(c12, c + ldc + 2 * W, width[2]);
    store(c13, c + ldc + 3 * W, width[3]);
  }
}

// panel[q][jj] = B[q][jj] for q < depth, jj < cols (<= 32) of a row-major B, or of B given
// transposed (b[jj * ldb + q]): then in 16x16 register tiles, the edges element by element.
inline void pack_panel(const float* b, int64_t ldb, bool trans_b, int64_t depth, int64_t cols, float* panel) {
  if (!trans_b) {
    for (int64_t q = 0; q < depth; ++q) {
      if (cols == 32) std::memcpy(panel + q * 32, b + q * ldb, 32 * sizeof(float));
      else std::copy(b + q * ldb, b + q * ldb + cols, panel + q * 32);
    }
    return;
  }
  const int64_t depth16 = depth / 16 * 16, cols16 = cols / 16 * 16;
  for (int64_t jj = 0; jj < cols16; jj += 16)
    for (int64_t q = 0; q < depth16; q += 16)
      transpose_tile16(b + jj * ldb + q, ldb, panel + q * 32 + jj, 32, std::make_index_sequence<16>{});
  for (int64_t q = 0; q < depth; ++q)
    for (int64_t jj = q < depth16 ? cols16 : 0; jj < cols; ++jj) panel[q * 32 + jj] = b[jj * ldb + q];
}

constexpr int64_t kGemmDepth = 256, kGemmPanel = 32;

// Asks for `rows` rows of `length` floats, `stride` apart, to be brought into L2 ahead of their
// use. For the first panel of B, a block's rows of A come from memory when A is a layer's
// weights at batch 1 (resnet18's 58 MB stay in no cache between calls), and 6 streams of 1 KiB
// are too short for the hardware prefetcher: each block asks for the next two blocks' rows
// while it multiplies (one block ahead, or 6 rows, gains less), as in Winograd's 256-filter
// layers at 14x14 with cold filters.
inline void prefetch_rows(const float* p, int64_t rows, int64_t stride, int64_t length) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < length; q += 16) __builtin_prefetch(p + r * stride + q, 0, 2);
}

// C[M,N] = alpha * A[M,K] * B[K,N] + beta * C, A read as a[i * ars + p * acs], B given a panel
// at a time by `panel_of(j, cols, p, depth, scratch, stride)`: the rows p..p+depth of columns
// j..j+cols (<= 32), either in place (returning a pointer with its row stride) or written into
// `scratch` (kGemmDepth x kGemmPanel floats, stride kGemmPanel). Columns go in panels of 32 and
// depth in slices of kGemmDepth, so that a slice of a panel stays in L1 while every block of
// 6 rows passes over it; a convolution packs its panels straight from the image.
// panels_stream: the panels lie in place one after another in the order they are asked for
// (weights packed at generation time): each block then asks for its share of the next panel,
// which would otherwise come from memory all at once, in the first block that reads it.
template <class PanelOf>
inline void gemm_panels(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t ars, int64_t acs,
                        float beta, float* c, int64_t ldc, PanelOf&& panel_of, bool panels_stream = false) {
  const int64_t blocks = (m + 5) / 6;
  alignas(64) float scratch[kGemmDepth * kGemmPanel];
  // Not for an A of a few KiB (MNIST's Winograd products, 32 x 16): it is in L1 already, and
  // the prefetches of its 1-line rows cost more than its products.
  const bool prefetch_a = acs == 1 && m * k >= 4096;
  for (int64_t j = 0; j < n; j += kGemmPanel) {
    const int64_t cols = std::min(kGemmPanel, n - j);
    for (int64_t p = 0; p < k; p += kGemmDepth) {
      const int64_t depth = std::min(kGemmDepth, k - p);
      int64_t bstride = 0;
      const float* bp = panel_of(j, cols, p, depth, scratch, bstride);
      const float keep = p > 0 ? 1.f : beta;
      const int64_t share = (depth * kGemmPanel + blocks - 1) / blocks;
      for (int64_t blk = 0, i = 0; blk < blocks; ++blk) {
        const int64_t rows = m / blocks + (blk < m % blocks ? 1 : 0);
        const float* ap = a + i * ars + p * acs;
        if (prefetch_a && j == 0)
          prefetch_rows(a + (i + rows) * ars + p, std::min<int64_t>(12, m - i - rows), ars, depth);
        // Past the last panel this asks for memory that is not read: a prefetch never faults.
        if (panels_stream) prefetch_rows(bp + depth * kGemmPanel + blk * share, 1, 0, share);
        gemm_rows_tiled(rows, depth, ap, ars, acs, bp, bstride, c + i * ldc + j, ldc, cols, alpha, keep);
        i += rows;
      }
    }
  }
}

// The steps that add the lanes of 16 vectors at once: each adds two vectors' lanes pairwise, step 0 their 256-bit
// halves, step 1 their 128-bit quarters, steps 2 and 3 pairs and single lanes within each quarter, so that each result
// lane sums twice as many of the inputs' lanes. dot_fold_lane(step, l) is the lane (of x, or 16 + of y) that the first
// shuffle puts in lane l; the second takes the lanes dot_fold_offset further.
constexpr int dot_fold_lane(int step, int l) {
  const int q = l / 4, r = l % 4;
  return step == 0   ? (l < 8 ? l : 8 + l)
         : step == 1 ? (l < 8 ? l + l / 4 * 4 : 16 + (l - 8) + (l - 8) / 4 * 4)
         : step == 2 ? 4 * q + r / 2 + (r % 2 ? 16 : 0)
                     : 4 * q + r % 2 + (r / 2 ? 16 : 0);
}
template <int Step, int... L>
SOFIEC_ALWAYS_INLINE void dot_fold_lanes(const simd::f32x16& x, const simd::f32x16& y, simd::f32x16& out,
                                         std::integer_sequence<int, L...>) {
  constexpr int dot_fold_offset = Step == 0 ? 8 : Step == 1 ? 4 : 2;
  out = simd::shuffle<dot_fold_lane(Step, L)...>(x, y) +
        simd::shuffle<(dot_fold_lane(Step, L) + dot_fold_offset)...>(x, y);
}
template <int Step>
SOFIEC_ALWAYS_INLINE void dot_fold(const simd::f32x16& x, const simd::f32x16& y, simd::f32x16& out) {
  dot_fold_lanes<Step>(x, y, out, std::make_integer_sequence<int, 16>());
}

typedef simd::vec<float, 4> dot_f32x4;

// Products with at most kDotColumns columns take gemm_dot_rows when they have two rows or more.
constexpr int64_t kDotColumns = 4;

// C[M,N] = alpha * A[M,K] W[N,K]^T + beta * C for few columns (N <= kDotColumns): a classifier's
// last layer over a batch (100 -> 4 at 64 rows). With C's columns along the
// vector lanes, as in the blocked kernel, 4 columns fill a quarter of each vector; here the
// lanes run along K instead, as dot products of A's rows with W's rows: 4 rows by 4 columns
// in 16 accumulators, 8 loads per 16 FMAs, all lanes busy but in K's last vector, then the
// 16 sums reduced together. Rows and columns past the last are read again in the last block
// (the same row's pointer) and not stored: one code path for every shape.
inline void gemm_dot_rows(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* w,
                          int64_t ldw, float beta, float* c, int64_t ldc) {
  using simd::f32x16;
  using simd::fma;
  const int64_t k16 = k / 16 * 16, tail = k - k16;
  for (int64_t i = 0; i < m; i += 4) {
    const float* a0 = a + i * lda;
    const float* a1 = a + std::min(i + 1, m - 1) * lda;
    const float* a2 = a + std::min(i + 2, m - 1) * lda;
    const float* a3 = a + std::min(i + 3, m - 1) * lda;
    for (int64_t j = 0; j < n; j += 4) {
      const float* w0 = w + j * ldw;
      const float* w1 = w + std::min(j + 1, n - 1) * ldw;
      const float* w2 = w + std::min(j + 2, n - 1) * ldw;
      const float* w3 = w + std::min(j + 3, n - 1) * ldw;
      f32x16 s00 = {}, s01 = {}, s02 = {}, s03 = {}, s10 = {}, s11 = {}, s12 = {}, s13 = {}, s20 = {}, s21 = {},
             s22 = {}, s23 = {}, s30 = {}, s31 = {}, s32 = {}, s33 = {}, x0, x1, x2, x3, y0, y1, y2, y3;
#define SOFIEC_DOT_TERMS  \
  s00 = fma(x0, y0, s00); \
  s01 = fma(x0, y1, s01); \
  s02 = fma(x0, y2, s02); \
  s03 = fma(x0, y3, s03); \
  s10 = fma(x1, y0, s10); \
  s11 = fma(x1, y1, s11); \
  s12 = fma(x1, y2, s12); \
  s13 = fma(x1, y3, s13); \
  s20 = fma(x2, y0, s20); \
  s21 = fma(x2, y1, s21); \
  s22 = fma(x2, y2, s22); \
  s23 = fma(x2, y3, s23); \
  s30 = fma(x3, y0, s30); \
  s31 = fma(x3, y1, s31); \
  s32 = fma(x3, y2, s32); \
  s33 = fma(x3, y3, s33);
      for (int64_t p = 0; p < k16; p += 16) {
        simd::load(x0, a0 + p);
        simd::load(x1, a1 + p);
        simd::load(x2, a2 + p);
        simd::load(x3, a3 + p);
        simd::load(y0, w0 + p);
        simd::load(y1, w1 + p);
        simd::load(y2, w2 + p);
        simd::load(y3, w3 + p);
        SOFIEC_DOT_TERMS
      }
      if (tail) {
        simd::load_first(a0 + k16, tail, x0);
        simd::load_first(a1 + k16, tail, x1);
        simd::load_first(a2 + k16, tail, x2);
        simd::load_first(a3 + k16, tail, x3);
        simd::load_first(w0 + k16, tail, y0);
        simd::load_first(w1 + k16, tail, y1);
        simd::load_first(w2 + k16, tail, y2);
        simd::load_first(w3 + k16, tail, y3);
        SOFIEC_DOT_TERMS
      }
#undef SOFIEC_DOT_TERMS
      // Lane 4q + j of sums: the dot product of row q with column j (the steps pair s(q, j) so).
      f32x16 h0, h1, h2, h3, h4, h5, h6, h7, q0, q1, q2, q3, p0, p1, sums;
      dot_fold<0>(s00, s10, h0);
      dot_fold<0>(s20, s30, h1);
      dot_fold<0>(s01, s11, h2);
      dot_fold<0>(s21, s31, h3);
      dot_fold<0>(s02, s12, h4);
      dot_fold<0>(s22, s32, h5);
      dot_fold<0>(s03, s13, h6);
      dot_fold<0>(s23, s33, h7);
      dot_fold<1>(h0, h1, q0);
      dot_fold<1>(h2, h3, q1);
      dot_fold<1>(h4, h5, q2);
      dot_fold<1>(h6, h7, q3);
      dot_fold<2>(q0, q1, p0);
      dot_fold<2>(q2, q3, p1);
      dot_fold<3>(p0, p1, sums);
      const int64_t rows = std::min<int64_t>(4, m - i), cols = std::min<int64_t>(4, n - j);
      // Row q's sums are lanes 4q..4q+3: stored as one 16-byte vector where the block is whole.
#define SOFIEC_DOT_ROW(q)                                                                             \
  if (q < rows) {                                                                                     \
    dot_f32x4 r = simd::shuffle<4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3>(sums, sums) * alpha;          \
    float* out = c + (i + q) * ldc + j;                                                               \
    if (cols == 4) {                                                                                  \
      if (beta != 0.f) r = simd::fma(dot_f32x4(beta), dot_f32x4::load(out), r);                       \
      r.store(out);                                                                                   \
    } else {                                                                                          \
      for (int64_t t = 0; t < cols; ++t) out[t] = beta == 0.f ? r[t] : simd::fma(beta, out[t], r[t]); \
    }                                                                                                 \
  }
      SOFIEC_DOT_ROW(0) SOFIEC_DOT_ROW(1) SOFIEC_DOT_ROW(2) SOFIEC_DOT_ROW(3)
#undef SOFIEC_DOT_ROW
    }
  }
}

// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C without the BLAS, in the
// panels of gemm_panels (one or two rows: 64 columns a block). B is copied into a panel when it is
// transposed (its columns are then rows of the input) or when its rows are far apart in a
// product of many rows (the stem of resnet18: 147 rows of B 49 KiB apart, one page each,
// cost TLB misses in every block).
inline void gemm_kernel(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                        int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int64_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
  if (trans_b && !trans_a && n <= kDotColumns && m >= 2) {
    gemm_dot_rows(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (m <= 2 && !trans_b) {
    for (int64_t j = 0; j < n; j += kWideColumns) {
      const int64_t cols = std::min<int64_t>(kWideColumns, n - j);
      for (int64_t p = 0; p < k; p += kGemmDepth) {
        const int64_t depth = std::min(kGemmDepth, k - p);
        const float keep = p > 0 ? 1.f : beta;
        const float* ap = a + p * acs;
        const float* bp = b + p * ldb + j;
        if (m == 2) {
          if (cols == kWideColumns)
            gemm_wide_block<2, true>(depth, ap, ars, acs, bp, ldb, c + j, ldc, cols, alpha, keep);
          else gemm_wide_block<2, false>(depth, ap, ars, acs, bp, ldb, c + j, ldc, cols, alpha, keep);
        } else {
          if (cols == kWideColumns)
            gemm_wide_block<1, true>(depth, ap, ars, acs, bp, ldb, c + j, ldc, cols, alpha, keep);
          else gemm_wide_block<1, false>(depth, ap, ars, acs, bp, ldb, c + j, ldc, cols, alpha, keep);
        }
      }
    }
    return;
  }
  const bool pack = trans_b || (m > 12 && ldb >= 1024);
  gemm_panels(m, n, k, alpha, a, ars, acs, beta, c, ldc,
              [&](int64_t j, int64_t cols, int64_t p, int64_t depth, float* panel, int64_t& stride) -> const float* {
                const float* bp = trans_b ? b + j * ldb + p : b + p * ldb + j;
                if (!pack) {
                  stride = ldb;
                  return bp;
                }
                pack_panel(bp, ldb, trans_b, depth, cols, panel);
                stride = kGemmPanel;
                return panel;
              });
}

// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C through the BLAS, always:
// a column-major BLAS computes the transpose, C^T = op(B)^T op(A)^T.
inline void gemm_blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
  const int im = int(m), in = int(n), ik = int(k), ilda = int(lda), ildb = int(ldb), ildc = int(ldc);
  sgemm_(&tb, &ta, &in, &im, &ik, &alpha, b, &ildb, a, &ilda, &beta, c, &ildc);
}

// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, with leading dimensions.
inline void gemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
#ifdef SOFIEC_USE_BLAS
  // The includer's choice: a (threaded) BLAS takes the large products, for throughput; the
  // small ones stay here, where a call costs less than the BLAS's dispatch.
  constexpr int64_t kBlasMinProduct = int64_t(1) << 21;
  if (m * n * k >= kBlasMinProduct) {
    gemm_blas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#endif
  if (m == 1 && trans_b && !trans_a) {
    gemv_rows(n, k, alpha, b, ldb, a, beta, c);
    return;
  }
  gemm_kernel(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <class T>
inline void gemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T acc = T(0);
      for (int64_t p = 0; p < k; ++p)
        acc += (trans_a ? a[p * lda + i] : a[i * lda + p]) * (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * ldc + j] = alpha * acc + (beta == T(0) ? T(0) : beta * c[i * ldc + j]);
    }
}

// The BLAS-only entry for other types: there is no BLAS, the plain loop.
template <class T>
inline void gemm_blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                      const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  gemm_rowmajor(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Batched row-major matmul over the output's batch dims; each operand steps through them by
// its strides (in elements, 0 along a dim it is broadcast over), so broadcasting costs nothing
// and the batch count may be a run-time value.
template <class T>
inline void matmul_batched(const T* a, const T* b, T* c, int64_t rank, const int64_t* batch, const int64_t* a_strides,
                           const int64_t* b_strides, int64_t m, int64_t n, int64_t k) {
  int64_t batches = 1;
  for (int64_t d = 0; d < rank; ++d) batches *= batch[d];
  for (int64_t i = 0; i < batches; ++i) {
    int64_t oa = 0, ob = 0;
    for (int64_t d = rank - 1, rest = i; d >= 0; --d) {
      const int64_t idx = rest % batch[d];
      rest /= batch[d];
      oa += idx * a_strides[d];
      ob += idx * b_strides[d];
    }
    gemm_rowmajor(false, false, m, n, k, T(1), a + oa, k, b + ob, n, T(0), c + i * m * n, n);
  }
}

// Adds a bias broadcast as [rows, cols] with strides (0 where repeated), scaled by beta.
template <class T>
inline void add_bias_2d(T* c, const T* bias, int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                        T beta) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) c[i * cols + j] += beta * bias[i * row_stride + j * col_stride];
}
