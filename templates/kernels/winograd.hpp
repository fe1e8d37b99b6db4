// 3x3 stride-1 convolution by Winograd's minimal filtering F(m x m, 3x3), m = 2 or 4: each
// m x m block of outputs from a t x t input tile (t = m + 2) with t^2 products per (filter,
// channel) instead of 9 m^2 (16 for 36, or 36 for 144). The filters come transformed at
// generation time, U = G g G^T, stored [t^2][filters][channels]; per block of tile rows (of one
// image or of several) the input tiles are transformed (V = B^T d B, [channels][t^2][tiles]), the t^2
// positions are t^2 products U_k V_k, and the output transform (A^T m A) writes each block.
// Position k is the middle index of V and of the products so that a tile's values lie `tiles`
// apart: with k outermost they lie channels * tiles apart, often a multiple of 4 KiB (64
// channels x 784 tiles), and all of them fall in one set of the L1 cache.
// F(2x2) uses the points 0, 1, -1 and F(4x4) 0, 1, -1, 2, -2 (Lavin and Gray's matrices); the
// larger tile needs 2.25 times fewer products but its filters are 4 times the size of the 3x3
// ones, and its rounding error is about 10 times F(2x2)'s.
#pragma once
#include "prelude.hpp"
#include "elementwise.hpp"
#include "functors.hpp"
#include "gemm.hpp"

struct WinogradGeometry {
  int64_t channels, filters, in_h, in_w, out_h, out_w, pad_top, pad_left;
  int64_t tile = 2;  // m: outputs per tile side, 2 or 4
  bool max_pool = false;  // a fused 2x2 stride-2 MaxPool: y holds the pooled planes
  int64_t batch = 1;
  constexpr int64_t span() const { return tile + 2; }
  constexpr int64_t positions() const { return span() * span(); }
  constexpr int64_t tiles_h() const { return (out_h + tile - 1) / tile; }
  constexpr int64_t tiles_w() const { return (out_w + tile - 1) / tile; }
  constexpr int64_t tiles() const { return tiles_h() * tiles_w(); }
  // Tile rows transformed, multiplied and written back together: about 64 tiles, enough
  // columns for the products, while the transformed block stays small (UNet's 64-channel
  // 32x32 convolution: 256 KiB of transformed tiles instead of 1 MiB for the whole image).
  // Up to 128 tiles when that makes a multiple of 16, whose products fill every lane
  // (resnet18's 28 tiles a row: 112 tiles, not 84 in 96 lanes). The tile rows of a batch are
  // counted one image after another, and a block may take rows of several images: resnet18's
  // 14x14 planes have 49 tiles, which filled 49 of 64 lanes in products whose filters were
  // read again for every image; at batch 8 a block holds 112.
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
};

// Scratch of winograd_conv3x3: a block's transformed tiles and products, 2 t row buffers (the
// input's, then the output's m) and the block's padded input rows.
constexpr int64_t winograd_scratch_floats(const WinogradGeometry& g) {
  return g.positions() * (g.channels + g.filters) * g.block_tiles() + 2 * g.span() * g.row_length() +
         g.plane_rows() * g.plane_pitch() + 16;
}

// B^T applied to d[0], d[s], ..., written to r[0], r[rs], ... (vectors or floats).
template <int M, class V>
inline void winograd_bt(const V* d, int s, V* r, int rs) {
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
template <int M, class V>
inline void winograd_at(const V* m, int s, V* r, int rs) {
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
template <int M>
inline void winograd_tile_columns(const float* p, ::sofiec::f32x16* col) {
  if constexpr (M == 2) {
    deinterleave(p, col[0], col[1]);
  } else {
    // Stride 4 as stride 2 twice: the even and odd columns of 64, then their own halves.
    ::sofiec::f32x16 e0, o0, e1, o1;
    deinterleave(p, e0, o0);
    deinterleave(p + 32, e1, o1);
    col[0] = __builtin_shufflevector(e0, e1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    col[1] = __builtin_shufflevector(o0, o1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    col[2] = __builtin_shufflevector(e0, e1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    col[3] = __builtin_shufflevector(o0, o1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  }
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
                                     int64_t th1, float* rows) {
  using ::sofiec::f32x16;
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
  for (int64_t c = 0; c < g.channels; ++c) {
    const float* xc = x + c * g.in_h * g.in_w;
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
    float* vc = v + c * T * T * ld;
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
          for (int j = 0; j < T; ++j) std::memcpy(vc + (T * i + j) * ld + t, &k[j], sizeof k[j]);
        else
          for (int j = 0; j < T; ++j) ::sofiec::store_first(vc + (T * i + j) * ld + t, count, k[j]);
      }
    }
  }
}

// p[0..32) = the lanes of even and odd interleaved (even[0], odd[0], even[1], ...).
inline void interleave(const ::sofiec::f32x16& even, const ::sofiec::f32x16& odd, float* p) {
  const ::sofiec::f32x16 lo =
      __builtin_shufflevector(even, odd, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const ::sofiec::f32x16 hi =
      __builtin_shufflevector(even, odd, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  std::memcpy(p, &lo, sizeof lo);
  std::memcpy(p + 16, &hi, sizeof hi);
}

// p[m * l + j] = y[j][l] for the 16 m values (m = 1, 2 or 4).
template <int M>
inline void winograd_store_row(const ::sofiec::f32x16* y, float* p) {
  if constexpr (M == 1) {
    std::memcpy(p, y, sizeof *y);
  } else if constexpr (M == 2) {
    interleave(y[0], y[1], p);
  } else {
    // Interleave 0 with 2 and 1 with 3, then those two.
    const ::sofiec::f32x16 a_lo =
        __builtin_shufflevector(y[0], y[2], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const ::sofiec::f32x16 a_hi =
        __builtin_shufflevector(y[0], y[2], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const ::sofiec::f32x16 b_lo =
        __builtin_shufflevector(y[1], y[3], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const ::sofiec::f32x16 b_hi =
        __builtin_shufflevector(y[1], y[3], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    interleave(a_lo, b_lo, p);
    interleave(a_hi, b_hi, p + 32);
  }
}

// y[f] = epilogue(A^T m A + bias[f]) for the tiles of tile rows th0..th1, m[f][k][t] their t^2
// products; with POOL, its 2x2 stride-2 max pool (floor), s = m / 2 values a tile side instead of
// m. 16 consecutive tiles at a time in the lanes, their s x s values interleaved into s row
// buffers (the block's rows side by side, as the input's), then copied out row by row.
template <int M, bool POOL, class E>
inline void winograd_output_transform(const float* m, int64_t ld, const float* bias, float* y,
                                      const WinogradGeometry& g, int64_t th0, int64_t th1, float* rows,
                                      const E& epilogue) {
  using ::sofiec::f32x16;
  constexpr int T = M + 2, S = POOL ? M / 2 : M;
  const bool add = bias || !std::is_same<E, functor_chain<>>::value;
  const int64_t tiles_w = g.tiles_w(), tiles = (th1 - th0) * tiles_w;
  const int64_t yh = POOL ? g.out_h / 2 : g.out_h, yw = POOL ? g.out_w / 2 : g.out_w, ysize = yh * yw;
  const int64_t row_len = g.row_length(), seg = S * tiles_w;
  for (int64_t f = 0; f < g.filters; ++f) {
    float* yf = y + f * ysize;
    const float* mf = m + f * T * T * ld;
    const float b = bias ? bias[f] : 0.f;
    for (int64_t t = 0; t < tiles; t += 16) {
      const int64_t count = std::min<int64_t>(16, tiles - t);
      f32x16 s[T][M], out[M][M];
      for (int i = 0; i < T; ++i) {
        f32x16 a[T];
        if (count == 16)
          for (int j = 0; j < T; ++j) std::memcpy(&a[j], mf + (T * i + j) * ld + t, sizeof a[j]);
        else
          for (int j = 0; j < T; ++j) ::sofiec::load_first(mf + (T * i + j) * ld + t, count, a[j]);
        winograd_at<M>(a, 1, s[i], 1);  // on the columns
      }
      for (int j = 0; j < M; ++j) winograd_at<M>(&s[0][j], M, &out[0][j], M);  // on the rows
      if (add)
        for (int i = 0; i < M; ++i)
          for (int j = 0; j < M; ++j) add_bias_then(out[i][j], b, epilogue);
      if constexpr (POOL) {
        f32x16 pooled[S][S];
        for (int i = 0; i < S; ++i)
          for (int j = 0; j < S; ++j) {
            pooled[i][j] = out[2 * i][2 * j];
            max_nan_lanes(pooled[i][j], out[2 * i][2 * j + 1]);
            max_nan_lanes(pooled[i][j], out[2 * i + 1][2 * j]);
            max_nan_lanes(pooled[i][j], out[2 * i + 1][2 * j + 1]);
          }
        for (int i = 0; i < S; ++i) winograd_store_row<S>(pooled[i], rows + i * row_len + S * t);
      } else {
        for (int i = 0; i < M; ++i) winograd_store_row<M>(out[i], rows + i * row_len + M * t);
      }
    }
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
          ::sofiec::f32x16 v;
          std::memcpy(&v, src + x, sizeof v);
          if (r + 1 < yh) std::memcpy(dst + x, &v, sizeof v);
          else ::sofiec::store_first(dst + x, yw - x, v);
        }
      }
  }
}

template <int M, bool POOL, class E>
inline void winograd_conv3x3_tiles(const float* x, const float* u, const float* bias, float* y, float* scratch,
                                   const WinogradGeometry& g, const E& epilogue) {
  const int64_t positions = g.positions(), tiles_h = g.tiles_h(), tiles_w = g.tiles_w();
  const int64_t xsize = g.channels * g.in_h * g.in_w;
  const int64_t ysize = g.filters * (POOL ? (g.out_h / 2) * (g.out_w / 2) : g.out_h * g.out_w);
  float* v = scratch;
  float* m = v + positions * g.channels * g.block_tiles();
  float* rows = m + positions * g.filters * g.block_tiles();
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
    each(r0, r1, [&](int64_t n, int64_t th0, int64_t th1, int64_t first) {
      winograd_input_transform<M>(x + n * xsize, v + first, tiles, g, th0, th1, rows);
    });
    for (int64_t k = 0; k < positions; ++k)
      gemm_rowmajor(false, false, g.filters, tiles, g.channels, 1.f, u + k * g.filters * g.channels, g.channels,
                    v + k * tiles, positions * tiles, 0.f, m + k * tiles, positions * tiles);
    each(r0, r1, [&](int64_t n, int64_t th0, int64_t th1, int64_t first) {
      winograd_output_transform<M, POOL>(m + first, tiles, bias, y + n * ysize, g, th0, th1, rows, epilogue);
    });
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
