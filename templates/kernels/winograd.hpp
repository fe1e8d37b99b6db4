// 3x3 stride-1 convolution by Winograd's minimal filtering F(m x m, 3x3), m = 2 or 4: each
// m x m block of outputs from a t x t input tile (t = m + 2) with t^2 products per (filter,
// channel) instead of 9 m^2 (16 for 36, or 36 for 144). The filters come transformed at
// generation time, U = G g G^T, stored [t^2][filters][channels], or as written and transformed
// here (runtime_filters); per block of tile rows (of one image or of several) and slice of
// channels the input tiles are transformed (V = B^T d B, [channels][t^2][tiles]), the t^2
// positions are t^2 products U_k V_k summed over the slices, and the output transform
// (A^T m A) writes each block.
// Position k is the middle index of V and of the products so that a tile's values lie `tiles`
// apart: with k outermost they lie channels * tiles apart, often a multiple of 4 KiB (64
// channels x 784 tiles), and all of them fall in one set of the L1 cache.
// F(2x2) uses the points 0, 1, -1 and F(4x4) 0, 1, -1, 2, -2 (Lavin and Gray's matrices); the
// larger tile needs 2.25 times fewer products but its stored filters are 4 times the size of
// the 3x3 ones, and its rounding error is about 10 times F(2x2)'s.
#pragma once
#include "prelude.hpp"
#include "elementwise.hpp"
#include "functors.hpp"
#include "gemm.hpp"

struct WinogradGeometry {
  int64_t channels, filters, in_h, in_w, out_h, out_w, pad_top, pad_left;
  int64_t tile = 2;       // m: outputs per tile side, 2 or 4
  bool max_pool = false;  // a fused 2x2 stride-2 MaxPool: y holds the pooled planes
  int64_t batch = 1;
  // The products' orientation: tiles in the lanes (U [t^2][filters][channels]) or, where a
  // block's tiles leave a panel of 32 part-filled and the filters fill theirs, filters in the
  // lanes (U packed [t^2][filters / 32][channels][32]): resnet18's 49-tile planes fill 49 of 64
  // lanes but 49 of 54 rows of 6 (ConvWinograd chooses).
  bool filter_lanes = false;
  // The filters as written, their 3x3 taps, and U computed from them a row of positions at a
  // time for each block and slice of channels (winograd_filters_row): F(4x4) in the 3x3
  // weights' size, 4 times smaller than its stored U, for about 2 operations per value of U.
  bool runtime_filters = false;
  constexpr int64_t span() const { return tile + 2; }
  constexpr int64_t positions() const { return span() * span(); }
  constexpr int64_t tiles_h() const { return (out_h + tile - 1) / tile; }
  constexpr int64_t tiles_w() const { return (out_w + tile - 1) / tile; }
  constexpr int64_t tiles() const { return tiles_h() * tiles_w(); }
  // The planes written: the convolution's, or with max_pool the pooled ones.
  constexpr int64_t y_h() const { return max_pool ? out_h / 2 : out_h; }
  constexpr int64_t y_w() const { return max_pool ? out_w / 2 : out_w; }
  constexpr int64_t y_plane() const { return y_h() * y_w(); }
  // Tile rows transformed, multiplied and written back together: about 64 tiles, enough
  // columns for the products, while the transformed block stays small (UNet's 64-channel
  // 32x32 convolution: 256 KiB of transformed tiles instead of 1 MiB for the whole image).
  // Up to 128 tiles when that makes a multiple of 16, whose products fill every lane
  // (resnet18's 28 tiles a row: 112 tiles, not 84 in 96 lanes). The tile rows of a batch are
  // counted one image after another, and a block may take rows of several images: resnet18's
  // 14x14 planes have 49 tiles, which alone would fill 49 of 64 lanes in products whose
  // filters are read again for every image; at batch 8 a block holds 112.
  constexpr int64_t block_rows() const {
    const int64_t least = std::max<int64_t>(1, (64 + tiles_w() - 1) / tiles_w());
    int64_t rows = least;
    while (rows * tiles_w() % 16 != 0 && (rows + 1) * tiles_w() <= 128) ++rows;
    return std::min(batch * tiles_h(), rows * tiles_w() % 16 == 0 ? rows : least);
  }
  constexpr int64_t block_tiles() const { return block_rows() * tiles_w(); }
  // Floats of one row buffer of a block (winograd_conv3x3_tiles): the block's tile rows side
  // by side, m floats a tile, whole groups of 16 tiles.
  constexpr int64_t row_length() const { return 16 * tile * ((block_tiles() + 15) / 16) + 16; }
  // The zero-padded input rows of a block (the rows its tiles read), whole vectors wide with
  // room to read 2 floats further.
  constexpr int64_t plane_pitch() const { return 16 * ((tile * tiles_w() + 15) / 16) + 16; }
  constexpr int64_t plane_rows() const { return tile * block_rows() + 2; }
  // Input channels transformed and multiplied together, the products summed over the slices.
  // Where the channels outnumber the filters, slices of about the filters' count (a multiple of
  // 16) keep the transformed tiles (positions x slice x tiles floats) within the products' size
  // and the cache: the UNet's 128 -> 32 channels at 16x16 in F(2x2) hold 128 KiB of them, not
  // 512; its 64 -> 32 at 32x32 in F(4x4) 288 KiB, not 576.
  constexpr int64_t channel_slice() const {
    return channels <= filters ? channels : std::max<int64_t>(16, filters / 16 * 16);
  }
};

// Scratch of winograd_conv3x3: a block's transformed tiles and products, then room for 2 t row
// buffers and the block's padded input rows (the input transform), or for the output's m row
// buffers (16 filters' of them and a 16 x 16 value tile per output of a tile with filter_lanes).
constexpr int64_t winograd_scratch_floats(const WinogradGeometry& g) {
  const int64_t input_rows = 2 * g.span() * g.row_length() + g.plane_rows() * g.plane_pitch();
  const int64_t side = g.max_pool ? g.tile / 2 : g.tile;  // output values a tile side
  const int64_t output_rows = g.filter_lanes ? 16 * side * g.row_length() + side * side * 256 : 0;
  const int64_t filters_at = g.runtime_filters ? g.span() * g.filters * g.channel_slice() : 0;
  return g.positions() * (g.channel_slice() + g.filters) * g.block_tiles() + filters_at +
         std::max(input_rows, output_rows) + 16;
}

// B^T applied to d[0], d[s], ..., written to r[0], r[rs], ... (vectors or floats).
template <int M, class V> SOFIEC_ALWAYS_INLINE void winograd_bt(const V* d, int s, V* r, int rs) {
  if constexpr (M == 2) {
    r[0] = d[0] - d[2 * s];
    r[rs] = d[s] + d[2 * s];
    r[2 * rs] = d[2 * s] - d[s];
    r[3 * rs] = d[s] - d[3 * s];
  } else {
    const V d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
    r[0] = 4.f * d0 - 5.f * d2 + d4;
    r[rs] = d4 + d3 - 4.f * (d1 + d2);
    r[2 * rs] = d4 - d3 + 4.f * (d1 - d2);
    r[3 * rs] = d4 - d2 + 2.f * (d3 - d1);
    r[4 * rs] = d4 - d2 - 2.f * (d3 - d1);
    r[5 * rs] = 4.f * d1 - 5.f * d3 + d5;
  }
}

// A^T applied to m[0], m[s], ..., written to r[0], r[rs], ... (m of them).
template <int M, class V> SOFIEC_ALWAYS_INLINE void winograd_at(const V* m, int s, V* r, int rs) {
  if constexpr (M == 2) {
    r[0] = m[0] + m[s] + m[2 * s];
    r[rs] = m[s] - m[2 * s] - m[3 * s];
  } else {
    const V a = m[s] + m[2 * s], b = m[s] - m[2 * s], c = m[3 * s] + m[4 * s], d = m[3 * s] - m[4 * s];
    r[0] = m[0] + a + c;
    r[rs] = b + 2.f * d;
    r[2 * rs] = a + 4.f * c;
    r[3 * rs] = b + 8.f * d + m[5 * s];
  }
}

// col[j][l] = p[m * l + j] for the m columns j < m of 16 tiles l (m = 2 or 4): 16 m floats.
template <int M> SOFIEC_ALWAYS_INLINE void winograd_tile_columns(const float* p, simd::f32x16* col) {
  if constexpr (M == 2) {
    deinterleave(p, col[0], col[1]);
  } else {
    // Stride 4 as stride 2 twice: the even and odd columns of 64, then their own halves.
    simd::f32x16 e0, o0, e1, o1;
    deinterleave(p, e0, o0);
    deinterleave(p + 32, e1, o1);
    col[0] = simd::shuffle<0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30>(e0, e1);
    col[1] = simd::shuffle<0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30>(o0, o1);
    col[2] = simd::shuffle<1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31>(e0, e1);
    col[3] = simd::shuffle<1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31>(o0, o1);
  }
}

// v's lanes moved up by k (0, 1 or 2) lanes, zeros coming in: a row with k columns of padding.
SOFIEC_ALWAYS_INLINE void shift_lanes_up(simd::f32x16& v, int64_t k) {
  const simd::f32x16 zero = simd::f32x16{} + 0.f;
  if (k == 1) v = simd::shuffle<15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30>(zero, v);
  else if (k == 2) v = simd::shuffle<14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29>(zero, v);
}

// v[c][k][t] = (B^T d B)_k for the tiles t of tile rows th0..th1 (`tiles` of them, a tile row
// after another), d the t x t input patch at (m th - pad_top, m tw - pad_left) with zeros
// outside the plane. 16 consecutive tiles in the lanes, across tile rows, so that narrow
// planes fill them too (MNIST's 14x14 has 4 tiles a row in F(4x4)). The block's input rows are
// first zero-padded into `plane` (one pass of bounds checks); row buffer a[i] then holds its rows
// m th + i side by side, m tiles_w columns each, and b[i] the same from column 2. A tile's first
// m columns are in a[i], its last two in b[i], at m floats a tile in both: the columns of 16
// tiles are a stride-m read whatever their rows.
template <int M>
inline void winograd_input_transform(const float* x, float* v, int64_t ld, const WinogradGeometry& g, int64_t th0,
                                     int64_t th1, int64_t c0, int64_t c1, float* rows) {
  using simd::f32x16;
  constexpr int T = M + 2;
  const int64_t tiles_w = g.tiles_w(), tiles = (th1 - th0) * tiles_w, row_len = g.row_length(), seg = M * tiles_w;
  const int64_t pitch = g.plane_pitch(), plane_rows = M * (th1 - th0) + 2, vectors = (seg + 15) / 16;
  float* a = rows;
  float* b = rows + T * row_len;
  float* plane = rows + 2 * T * row_len;
  for (int i = 0; i < 2 * T; ++i) {  // the lanes past the block's tiles read these: no NaNs
    float* r = rows + i * row_len;
    std::fill(r + M * tiles, r + row_len, 0.f);
  }
  // Planes whose padded rows fit one vector (MNIST's 14x14 in F(4x4)): the rows are built in
  // registers from x, shifted by pad_left lanes, without the padded plane and its copies.
  const bool narrow = seg <= 16 && g.in_w + g.pad_left <= 16;
  for (int64_t c = c0; c < c1; ++c) {
    const float* xc = x + c * g.in_h * g.in_w;
    if (narrow) {
      for (int i = 0; i < T; ++i)
        for (int64_t th = 0; th < th1 - th0; ++th) {
          const int64_t iy = M * (th0 + th) + i - g.pad_top;
          f32x16 row = f32x16{} + 0.f;
          if (iy >= 0 && iy < g.in_h) {
            // Whole vectors where the plane has 16 floats from the row on, else masked.
            if ((g.in_h - iy) * g.in_w >= 16) {
              simd::load(row, xc + iy * g.in_w);
              keep_first_lanes(row, g.in_w);
            } else {
              simd::load_first(xc + iy * g.in_w, g.in_w, row);
            }
            shift_lanes_up(row, g.pad_left);
          }
          // Whole vectors: the ends spill into the next segment, written after, or the slack.
          const f32x16 from2 =
              simd::shuffle<2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17>(row, f32x16{} + 0.f);
          simd::store(a + i * row_len + th * seg, row);
          simd::store(b + i * row_len + th * seg, from2);
        }
    } else {
      pad_plane_rows(xc, g.in_h, g.in_w, M * th0 - g.pad_top, plane_rows, g.pad_left, plane, pitch);
      for (int i = 0; i < T; ++i)
        for (int64_t th = 0; th < th1 - th0; ++th) {
          // Whole vectors: the ends spill into the next segment, written after, or the slack.
          const float* pr = plane + (M * th + i) * pitch;
          float* as = a + i * row_len + th * seg;
          float* bs = b + i * row_len + th * seg;
          for (int64_t q = 0; q < vectors; ++q) {
            std::memcpy(as + 16 * q, pr + 16 * q, 16 * sizeof(float));
            std::memcpy(bs + 16 * q, pr + 2 + 16 * q, 16 * sizeof(float));
          }
        }
    }
    float* vc = v + (c - c0) * T * T * ld;
    for (int64_t t = 0; t < tiles; t += 16) {
      f32x16 d[T][T], e[T][T];
      for (int i = 0; i < T; ++i) {
        f32x16 last[M];
        winograd_tile_columns<M>(a + i * row_len + M * t, d[i]);
        winograd_tile_columns<M>(b + i * row_len + M * t, last);
        d[i][M] = last[M - 2];
        d[i][M + 1] = last[M - 1];
      }
      for (int j = 0; j < T; ++j) winograd_bt<M>(&d[0][j], T, &e[0][j], T);  // on the rows
      const int64_t count = std::min<int64_t>(16, tiles - t);
      for (int i = 0; i < T; ++i) {
        f32x16 k[T];
        winograd_bt<M>(e[i], 1, k, 1);  // on the columns
        if (count == 16)
          for (int j = 0; j < T; ++j) simd::store(vc + (T * i + j) * ld + t, k[j]);
        else
          for (int j = 0; j < T; ++j) simd::store_first(vc + (T * i + j) * ld + t, count, k[j]);
      }
    }
  }
}

// p[0..32) = the lanes of even and odd interleaved (even[0], odd[0], even[1], ...).
SOFIEC_ALWAYS_INLINE void interleave(const simd::f32x16& even, const simd::f32x16& odd, float* p) {
  const simd::f32x16 lo = simd::shuffle<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(even, odd);
  const simd::f32x16 hi = simd::shuffle<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(even, odd);
  simd::store(p, lo);
  simd::store(p + 16, hi);
}

// p[m * l + j] = y[j][l] for the 16 m values (m = 1, 2 or 4).
template <int M> SOFIEC_ALWAYS_INLINE void winograd_store_row(const simd::f32x16* y, float* p) {
  if constexpr (M == 1) {
    y->store(p);
  } else if constexpr (M == 2) {
    interleave(y[0], y[1], p);
  } else {
    // Interleave 0 with 2 and 1 with 3, then those two.
    const simd::f32x16 a_lo = simd::shuffle<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(y[0], y[2]);
    const simd::f32x16 a_hi = simd::shuffle<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(y[0], y[2]);
    const simd::f32x16 b_lo = simd::shuffle<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(y[1], y[3]);
    const simd::f32x16 b_hi = simd::shuffle<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(y[1], y[3]);
    interleave(a_lo, b_lo, p);
    interleave(a_hi, b_hi, p + 32);
  }
}

// r = epilogue(A^T a A + b) for 16 lanes, a the t x t products of a tile given by load(i, j, a_ij);
// with POOL, its 2x2 stride-2 max pool (floor): s = m / 2 values a side instead of m. b is the
// bias, one float (tiles in the lanes) or a vector of them (filters in the lanes); without a
// bias and an epilogue nothing is added (+ 0 would turn -0 into +0).
// The first stage of a tile's output transform, A^T on its columns: s[i] = A^T m[i][.] for the
// T rows of the products. Unrolled (the arrays are then registers: at -O2 GCC kept the loops
// and the arrays on the stack); it holds no epilogue, so the code stays small.
template <int M, class Load>
SOFIEC_ALWAYS_INLINE void winograd_tile_columns(const Load& load, simd::f32x16 (&s)[M + 2][M]) {
  constexpr int T = M + 2;
#pragma GCC unroll 6
  for (int i = 0; i < T; ++i) {
    simd::f32x16 a[T];
#pragma GCC unroll 6
    for (int j = 0; j < T; ++j) load(i, j, a[j]);
    winograd_at<M>(a, 1, s[i], 1);
  }
}

template <int M, bool POOL, class Load, class Bias, class E>
SOFIEC_ALWAYS_INLINE void winograd_tile_values(const Load& load, const Bias& b, bool add, const E& epilogue,
                                               simd::f32x16 (&r)[POOL ? M / 2 : M][POOL ? M / 2 : M]) {
  using simd::f32x16;
  constexpr int T = M + 2;
  if constexpr (POOL) {
    // With a pool (its epilogue is then cheap: a ReLU), the rows' stage unrolled too, which
    // measured faster (MNIST's F(4x4) output transform with its pool, 32 filters x 16 tiles).
    f32x16 s[T][M];
    winograd_tile_columns<M>(load, s);
    // On the rows, a column of outputs at a time, finished as it comes (fewer live registers).
#pragma GCC unroll 4
    for (int j = 0; j < M; ++j) {
      f32x16 out[M];
      winograd_at<M>(&s[0][j], M, out, 1);
      if (add)
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) {
          out[i] += b;
          apply_lanes(out[i], epilogue);
        }
        // The window's four values in the order (2i, 2j), (2i + 1, 2j), (2i, 2j + 1), (2i + 1, 2j + 1).
#pragma GCC unroll 2
      for (int i = 0; i < M / 2; ++i) {
        if (j % 2 == 0) {
          r[i][j / 2] = out[2 * i];
        } else {
          max_nan_lanes(r[i][j / 2], out[2 * i]);
        }
        max_nan_lanes(r[i][j / 2], out[2 * i + 1]);
      }
    }
  } else {
    // Without a pool, the rows' stage rolled: unrolled, each output's epilogue would be inlined
    // 16 times (a SiLU's exp: 155 KiB more code in the UNet, 140 KiB more RSS, for no speed).
    f32x16 s[T][M], out[M][M];
    winograd_tile_columns<M>(load, s);
    for (int j = 0; j < M; ++j) winograd_at<M>(&s[0][j], M, &out[0][j], M);  // on the rows
    if (add)
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < M; ++j) {
          out[i][j] += b;
          apply_lanes(out[i][j], epilogue);
        }
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < M; ++j) r[i][j] = out[i][j];
  }
}

// Copies a filter's output rows of tile rows th0..th1 out of its s row buffers (s values a
// tile side, the block's tile rows side by side as the input's).
template <int S>
inline void winograd_write_rows(const float* rows, float* yf, const WinogradGeometry& g, int64_t th0, int64_t th1) {
  const int64_t yh = g.y_h(), yw = g.y_w();
  const int64_t row_len = g.row_length(), seg = S * g.tiles_w();
  for (int64_t th = th0; th < th1; ++th)
    for (int i = 0; i < S && S * th + i < yh; ++i) {
      // The row buffers have room to read whole vectors; the output row does to write
      // them when the next row, written after it, follows.
      const int64_t r = S * th + i;
      const float* src = rows + i * row_len + (th - th0) * seg;
      float* dst = yf + r * yw;
      int64_t x = 0;
      for (; x + 16 <= yw; x += 16) std::memcpy(dst + x, src + x, 16 * sizeof(float));
      if (x < yw) {
        simd::f32x16 v;
        simd::load(v, src + x);
        if (r + 1 < yh) simd::store(dst + x, v);
        else simd::store_first(dst + x, yw - x, v);
      }
    }
}

// y[f] = epilogue(A^T m A + bias[f]) for the tiles of tile rows th0..th1 of one image, m[f][k][t]
// their t^2 products (`ld` tiles apart). 16 consecutive tiles at a time in the lanes, their
// values interleaved into the row buffers, then copied out row by row.
template <int M, bool POOL, class E>
inline void winograd_output_transform(const float* m, int64_t ld, const float* bias, float* y,
                                      const WinogradGeometry& g, int64_t th0, int64_t th1, float* rows,
                                      const E& epilogue) {
  using simd::f32x16;
  constexpr int T = M + 2, S = POOL ? M / 2 : M;
  const bool add = bias || !std::is_same<E, functor_chain<>>::value;
  const int64_t tiles = (th1 - th0) * g.tiles_w(), row_len = g.row_length();
  const int64_t ysize = g.y_plane();
  for (int64_t f = 0; f < g.filters; ++f) {
    const float* mf = m + f * T * T * ld;
    const float b = bias ? bias[f] : 0.f;
    for (int64_t t = 0; t < tiles; t += 16) {
      const int64_t count = std::min<int64_t>(16, tiles - t);
      const auto load = [&](int i, int j, f32x16& a) {  // by reference: no vector return without AVX-512
        if (count == 16) simd::load(a, mf + (T * i + j) * ld + t);
        else simd::load_first(mf + (T * i + j) * ld + t, count, a);
      };
      f32x16 r[S][S];
      winograd_tile_values<M, POOL>(load, b, add, epilogue, r);
      for (int i = 0; i < S; ++i) winograd_store_row<S>(r[i], rows + i * row_len + S * t);
    }
    winograd_write_rows<S>(rows, y + f * ysize, g, th0, th1);
  }
}

// The same with the filters in the lanes (geometry filter_lanes), m[t][k][f] the products of
// tile t: 16 filters of one tile at a time, the values of 16 tiles transposed 16x16 (filters
// to rows) into 16 filters' row buffers.
template <int M, bool POOL, class E>
inline void winograd_output_transform_filter_lanes(const float* m, const float* bias, float* y,
                                                   const WinogradGeometry& g, int64_t th0, int64_t th1, float* rows,
                                                   const E& epilogue) {
  using simd::f32x16;
  constexpr int T = M + 2, S = POOL ? M / 2 : M;
  const bool add = bias || !std::is_same<E, functor_chain<>>::value;
  const int64_t tiles = (th1 - th0) * g.tiles_w(), row_len = g.row_length(), tile_stride = g.positions() * g.filters;
  const int64_t ysize = g.y_plane();
  float* values = rows + 16 * S * row_len;  // [s * s][16 tiles][16 filters], then transposed
  for (int64_t f0 = 0; f0 < g.filters; f0 += 16) {
    f32x16 b = f32x16{} + 0.f;
    if (bias) simd::load(b, bias + f0);
    for (int64_t t = 0; t < tiles; t += 16) {
      const int64_t count = std::min<int64_t>(16, tiles - t);
      for (int64_t l = 0; l < 16; ++l) {
        f32x16 r[S][S];
        if (l < count) {
          const float* ml = m + (t + l) * tile_stride + f0;
          const auto load = [&](int i, int j, f32x16& a) { simd::load(a, ml + (T * i + j) * g.filters); };
          winograd_tile_values<M, POOL>(load, b, add, epilogue, r);
        } else {
          for (int i = 0; i < S; ++i)
            for (int j = 0; j < S; ++j) r[i][j] = f32x16{} + 0.f;
        }
        for (int i = 0; i < S; ++i)
          for (int j = 0; j < S; ++j) simd::store(values + ((S * i + j) * 16 + l) * 16, r[i][j]);
      }
      for (int q = 0; q < S * S; ++q)
        transpose_tile16(values + q * 256, 16, values + q * 256, 16, std::make_index_sequence<16>{});
      for (int f = 0; f < 16; ++f)
        for (int i = 0; i < S; ++i) {
          f32x16 col[S];
          for (int j = 0; j < S; ++j) simd::load(col[j], values + (S * i + j) * 256 + f * 16);
          winograd_store_row<S>(col, rows + (f * S + i) * row_len + S * t);
        }
    }
    for (int f = 0; f < 16; ++f) winograd_write_rows<S>(rows + f * S * row_len, y + (f0 + f) * ysize, g, th0, th1);
  }
}

// r = row `row` of G times (a, b, c), G the filter transform's matrix: F(2x2) rows (1, 0, 0),
// (1/2, 1/2, 1/2), (1/2, -1/2, 1/2), (0, 0, 1); F(4x4) rows (1/4, 0, 0), (-1/6, -1/6, -1/6),
// (-1/6, 1/6, -1/6), (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1). S is the arithmetic's
// type (float here, double for U stored at generation time); `row` a constant where it is called.
template <int M, class S, class V>
SOFIEC_ALWAYS_INLINE void winograd_g_row(int row, const V& a, const V& b, const V& c, V& r) {
  const S one = 1;
  if constexpr (M == 2) {
    if (row == 0) r = a;
    else if (row == 1) r = one / 2 * (a + b + c);
    else if (row == 2) r = one / 2 * (a - b + c);
    else r = c;
  } else {
    if (row == 0) r = one / 4 * a;
    else if (row == 1) r = -one / 6 * (a + b + c);
    else if (row == 2) r = -one / 6 * (a - b + c);
    else if (row == 3) r = one / 24 * a + one / 12 * b + one / 6 * c;
    else if (row == 4) r = one / 24 * a - one / 12 * b + one / 6 * c;
    else r = c;
  }
}

// U_(I, j) = (G g G^T)_(I, j) for j < t, row I of the transformed filters, from the 3x3 taps
// (runtime_filters) for the channels c0..c1, in U's layout (one position every `stride` floats
// of u): [filters][c1 - c0], or panels of 32 filters [filters / 32][c1 - c0][32] with the filters
// in the lanes. The taps are stored by vectors of U: for each 16 floats of U in a row, their 9
// taps, [U's vectors][9][16] (channels a multiple of 16), so that one vector's taps are 9 lines
// side by side. Row I of G g once (3 values), then the t positions of the row from it: about 2
// operations a value, where a position at a time read 5 taps a value.
template <int M, int I, int... J>
inline void winograd_filters_row(const float* taps, int64_t c0, int64_t c1, const WinogradGeometry& g, float* u,
                                 int64_t stride, std::integer_sequence<int, J...>) {
  using simd::f32x16;
  const int64_t lanes = g.filter_lanes ? 32 : 1;  // floats of a channel in a row
  const int64_t width = lanes * (c1 - c0) / 16, pitch = lanes * g.channels / 16, first = lanes * c0 / 16;
  const int64_t count = g.filters / lanes * width;  // U_k's vectors, `width` a row
  const auto load = [](const float* p, f32x16& t) { simd::load(t, p); };
  for (int64_t v = 0, r = 0, q = 0; v < count; ++v) {
    const float* vt = taps + (r * pitch + first + q) * 144;  // stepped, not divided
    if (++q == width) q = 0, ++r;
    f32x16 h[3], a = f32x16{} + 0.f, b = a, c = a;
    for (int col = 0; col < 3; ++col) {
      if constexpr (I != M + 1) load(vt + 16 * col, a);  // the last row of G reads only g's last row
      if constexpr (I != 0 && I != M + 1) load(vt + 16 * (3 + col), b);
      if constexpr (I != 0) load(vt + 16 * (6 + col), c);
      winograd_g_row<M, float>(I, a, b, c, h[col]);
    }
    f32x16 out;
    ((winograd_g_row<M, float>(J, h[0], h[1], h[2], out), out.store(u + J * stride + 16 * v)), ...);
  }
}

// Row i of the transformed filters (runtime_filters), written t positions `stride` floats apart.
template <int M>
inline void winograd_filters_row(const float* taps, int64_t i, int64_t c0, int64_t c1, const WinogradGeometry& g,
                                 float* u, int64_t stride) {
  constexpr auto row = std::make_integer_sequence<int, M + 2>{};
  switch (i) {
    case 0: winograd_filters_row<M, 0>(taps, c0, c1, g, u, stride, row); break;
    case 1: winograd_filters_row<M, 1>(taps, c0, c1, g, u, stride, row); break;
    case 2: winograd_filters_row<M, 2>(taps, c0, c1, g, u, stride, row); break;
    case 3: winograd_filters_row<M, 3>(taps, c0, c1, g, u, stride, row); break;
    default:
      if constexpr (M == 4) {
        if (i == 4) winograd_filters_row<M, 4>(taps, c0, c1, g, u, stride, row);
        else winograd_filters_row<M, 5>(taps, c0, c1, g, u, stride, row);
      }
  }
}

template <int M, bool POOL, class E>
inline void winograd_conv3x3_tiles(const float* x, const float* u, const float* bias, float* y, float* scratch,
                                   const WinogradGeometry& g, const E& epilogue) {
  const int64_t positions = g.positions(), tiles_h = g.tiles_h(), tiles_w = g.tiles_w();
  const int64_t xsize = g.channels * g.in_h * g.in_w;
  const int64_t ysize = g.filters * g.y_plane();
  const int64_t slice = g.channel_slice();
  float* v = scratch;
  float* m = v + positions * slice * g.block_tiles();
  float* uk_runtime = m + positions * g.filters * g.block_tiles();
  float* rows = uk_runtime + (g.runtime_filters ? g.span() * g.filters * slice : 0);
  // Tile row r of the batch is row r % tiles_h of image r / tiles_h; `each` visits the images'
  // parts of rows r0..r1 with their rows th0..th1 and where their tiles start in the block.
  const auto each = [&](int64_t r0, int64_t r1, const auto& part) {
    for (int64_t r = r0; r < r1;) {
      const int64_t n = r / tiles_h, th0 = r % tiles_h, th1 = std::min(tiles_h, th0 + r1 - r);
      part(n, th0, th1, (r - r0) * tiles_w);
      r += th1 - th0;
    }
  };
  for (int64_t r0 = 0; r0 < g.batch * tiles_h; r0 += g.block_rows()) {
    const int64_t r1 = std::min(g.batch * tiles_h, r0 + g.block_rows()), tiles = (r1 - r0) * tiles_w;
    for (int64_t c0 = 0; c0 < g.channels; c0 += slice) {
      const int64_t c1 = std::min(g.channels, c0 + slice), depth = c1 - c0;
      const float beta = c0 > 0 ? 1.f : 0.f;
      each(r0, r1, [&](int64_t n, int64_t th0, int64_t th1, int64_t first) {
        winograd_input_transform<M>(x + n * xsize, v + first, tiles, g, th0, th1, c0, c1, rows);
      });
      for (int64_t k = 0; k < positions; ++k) {
        // U_k's rows for these channels: in place (`channels` apart, or 32 x channels with the
        // filters in the lanes) or computed from the taps (`depth` apart).
        const float* uk = u + k * g.filters * g.channels + (g.filter_lanes ? 32 : 1) * c0;
        int64_t uk_pitch = g.channels;
        if (g.runtime_filters) {
          if (k % (M + 2) == 0) winograd_filters_row<M>(u, k / (M + 2), c0, c1, g, uk_runtime, g.filters * depth);
          uk = uk_runtime + k % (M + 2) * g.filters * depth;
          uk_pitch = depth;
        }
        if (g.filter_lanes) {
          // m[t][k][f] = (V_k^T U_k^T)[t][f], U_k's panels of 32 filters read in place one after
          // another (the next one asked for while the last is multiplied) where the slice is
          // all of a panel.
          gemm_panels(
              tiles, g.filters, depth, 1.f, v + k * tiles, 1, positions * tiles, beta, m + k * g.filters,
              positions * g.filters,
              [&](int64_t j, int64_t, int64_t p, int64_t, float*, int64_t& stride) -> const float* {
                stride = kGemmPanel;
                return uk + j * uk_pitch + p * kGemmPanel;
              },
              depth == g.channels || g.runtime_filters);
        } else {
          gemm_rowmajor(false, false, g.filters, tiles, depth, 1.f, uk, uk_pitch, v + k * tiles, positions * tiles,
                        beta, m + k * tiles, positions * tiles);
        }
      }
    }
    if (g.filter_lanes) {
      each(r0, r1, [&](int64_t n, int64_t th0, int64_t th1, int64_t first) {
        winograd_output_transform_filter_lanes<M, POOL>(m + first * positions * g.filters, bias, y + n * ysize, g, th0,
                                                        th1, rows, epilogue);
      });
    } else {
      each(r0, r1, [&](int64_t n, int64_t th0, int64_t th1, int64_t first) {
        winograd_output_transform<M, POOL>(m + first, tiles, bias, y + n * ysize, g, th0, th1, rows, epilogue);
      });
    }
  }
}

// scratch: winograd_scratch_floats(g).
template <class E = functor_chain<>>
inline void winograd_conv3x3(const float* x, const float* u, const float* bias, float* y, float* scratch,
                             const WinogradGeometry& g, E epilogue = E()) {
  if (g.tile == 4) {
    if (g.max_pool) winograd_conv3x3_tiles<4, true>(x, u, bias, y, scratch, g, epilogue);
    else winograd_conv3x3_tiles<4, false>(x, u, bias, y, scratch, g, epilogue);
  } else {
    if (g.max_pool) winograd_conv3x3_tiles<2, true>(x, u, bias, y, scratch, g, epilogue);
    else winograd_conv3x3_tiles<2, false>(x, u, bias, y, scratch, g, epilogue);
  }
}
