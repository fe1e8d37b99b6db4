// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3): each 2x2 block of
// outputs from a 4x4 input tile with 16 products per (filter, channel) instead of 36. The
// filters come transformed at generation time, U = G g G^T, stored [16][filters][channels];
// per block of tile rows of a batch entry the input tiles are transformed (V = B^T d B,
// [channels][16][tiles]), the 16 positions are 16 products U_k V_k, and the output transform
// (A^T m A) writes each 2x2 block. Position k is the middle index of V and of the products
// so that a tile's 16 values lie `tiles` apart: with k outermost they lie channels * tiles
// apart, often a multiple of 4 KiB (64 channels x 784 tiles), and all 16 fall in one set of
// the L1 cache.
#pragma once
#include "prelude.hpp"
#include "elementwise.hpp"
#include "functors.hpp"
#include "gemm.hpp"

struct WinogradGeometry {
  int64_t channels, filters, in_h, in_w, out_h, out_w, pad_top, pad_left;
  constexpr int64_t tiles_h() const { return (out_h + 1) / 2; }
  constexpr int64_t tiles_w() const { return (out_w + 1) / 2; }
  constexpr int64_t tiles() const { return tiles_h() * tiles_w(); }
  // Tile rows transformed, multiplied and written back together: about 64 tiles, enough
  // columns for the products, while the transformed block stays small (UNet's 64-channel
  // 32x32 convolution: 256 KiB of transformed tiles instead of 1 MiB for the whole image).
  // Up to 128 tiles when that makes a multiple of 16, whose products fill every lane
  // (resnet18's 28 tiles a row: 112 tiles, not 84 in 96 lanes).
  constexpr int64_t block_rows() const {
    const int64_t least = std::max<int64_t>(1, (64 + tiles_w() - 1) / tiles_w());
    int64_t rows = least;
    while (rows * tiles_w() % 16 != 0 && (rows + 1) * tiles_w() <= 128) ++rows;
    return std::min(tiles_h(), rows * tiles_w() % 16 == 0 ? rows : least);
  }
  constexpr int64_t block_tiles() const { return block_rows() * tiles_w(); }
};

// Floats of one zero-padded input row: whole blocks of 16 tiles read 32 columns and 2 more.
constexpr int64_t winograd_row_length(int64_t tiles_w) { return 32 * ((tiles_w + 15) / 16) + 2; }

// Scratch of winograd_conv3x3: a block's transformed tiles and 16 products, 4 padded input rows.
constexpr int64_t winograd_scratch_floats(const WinogradGeometry& g) {
  return 16 * (g.channels + g.filters) * g.block_tiles() + 4 * winograd_row_length(g.tiles_w());
}

// v[c][k][t] = (B^T d B)_k for tile t of channel c among tile rows th0..th1 (`tiles` of them),
// d the 4x4 input patch at (2 th - pad_top, 2 tw - pad_left) with zeros outside the plane. 16
// tiles of a tile row at a time in the lanes, read from 4 zero-padded copies of the input rows
// (rows: 4 row lengths).
inline void winograd_input_transform(const float* x, float* v, const WinogradGeometry& g, int64_t th0, int64_t th1,
                                     float* rows) {
  using ::sofiec::f32x16;
  const int64_t tiles_w = g.tiles_w(), tiles = (th1 - th0) * tiles_w, row_len = winograd_row_length(tiles_w);
  for (int64_t c = 0; c < g.channels; ++c) {
    const float* xc = x + c * g.in_h * g.in_w;
    for (int64_t th = th0; th < th1; ++th) {
      for (int i = 0; i < 4; ++i) {
        float* row = rows + i * row_len;
        std::memset(row, 0, sizeof(float) * std::size_t(row_len));
        const int64_t r = 2 * th - g.pad_top + i;
        if (r >= 0 && r < g.in_h) std::memcpy(row + g.pad_left, xc + r * g.in_w, sizeof(float) * std::size_t(g.in_w));
      }
      for (int64_t tw = 0; tw < tiles_w; tw += 16) {
        f32x16 d[4][4];
        for (int i = 0; i < 4; ++i) {
          const float* row = rows + i * row_len + 2 * tw;
          deinterleave(row, d[i][0], d[i][1]);
          deinterleave(row + 2, d[i][2], d[i][3]);
        }
        // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3; then the same on columns
        f32x16 e[4][4];
        for (int j = 0; j < 4; ++j) {
          e[0][j] = d[0][j] - d[2][j];
          e[1][j] = d[1][j] + d[2][j];
          e[2][j] = d[2][j] - d[1][j];
          e[3][j] = d[1][j] - d[3][j];
        }
        const int64_t count = std::min<int64_t>(16, tiles_w - tw);
        float* out = v + c * 16 * tiles + (th - th0) * tiles_w + tw;
        for (int i = 0; i < 4; ++i) {
          const f32x16 k0 = e[i][0] - e[i][2], k1 = e[i][1] + e[i][2], k2 = e[i][2] - e[i][1], k3 = e[i][1] - e[i][3];
          ::sofiec::store_first(out + (4 * i + 0) * tiles, count, k0);
          ::sofiec::store_first(out + (4 * i + 1) * tiles, count, k1);
          ::sofiec::store_first(out + (4 * i + 2) * tiles, count, k2);
          ::sofiec::store_first(out + (4 * i + 3) * tiles, count, k3);
        }
      }
    }
  }
}

// p[0..n) = the lanes of even and odd interleaved (even[0], odd[0], even[1], ...), n <= 32.
inline void interleave_first(const ::sofiec::f32x16& even, const ::sofiec::f32x16& odd, float* p, int64_t n) {
  const ::sofiec::f32x16 lo =
      __builtin_shufflevector(even, odd, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const ::sofiec::f32x16 hi =
      __builtin_shufflevector(even, odd, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  ::sofiec::store_first(p, std::min<int64_t>(16, n), lo);
  if (n > 16) ::sofiec::store_first(p + 16, n - 16, hi);
}

// y[f] = epilogue(A^T m A + bias[f]) for the tiles of tile rows th0..th1, m[f][k][t] their 16
// products; A^T has rows (1, 1, 1, 0) and (0, 1, -1, -1). 16 tiles of a tile row at a time in
// the lanes, their 2x2 outputs interleaved back into two output rows, with the bias and the
// epilogue applied in the lanes when it has a lane form (else in a pass over the block's rows).
// The sums run in the scalar order, so the bits do not depend on the lane count.
template <class E>
inline void winograd_output_transform(const float* m, const float* bias, float* y, const WinogradGeometry& g,
                                      int64_t th0, int64_t th1, const E& epilogue) {
  using ::sofiec::f32x16;
  constexpr bool in_lanes = has_lanes<E>::value;
  const bool add = bias || !std::is_same<E, functor_chain<>>::value;
  const int64_t tiles_w = g.tiles_w(), tiles = (th1 - th0) * tiles_w, osize = g.out_h * g.out_w;
  const int64_t r0 = 2 * th0, r1 = std::min(2 * th1, g.out_h);
  for (int64_t f = 0; f < g.filters; ++f) {
    float* yf = y + f * osize;
    const float* mf = m + f * 16 * tiles;
    const float b = bias ? bias[f] : 0.f;
    const f32x16 bv = f32x16{} + b;
    for (int64_t th = th0; th < th1; ++th)
      for (int64_t tw = 0; tw < tiles_w; tw += 16) {
        const int64_t count = std::min<int64_t>(16, tiles_w - tw), t = (th - th0) * tiles_w + tw;
        f32x16 s0[4], s1[4];
        for (int i = 0; i < 4; ++i) {
          f32x16 a0, a1, a2, a3;
          ::sofiec::load_first(mf + (4 * i + 0) * tiles + t, count, a0);
          ::sofiec::load_first(mf + (4 * i + 1) * tiles + t, count, a1);
          ::sofiec::load_first(mf + (4 * i + 2) * tiles + t, count, a2);
          ::sofiec::load_first(mf + (4 * i + 3) * tiles + t, count, a3);
          s0[i] = a0 + a1 + a2;
          s1[i] = a1 - a2 - a3;
        }
        f32x16 y00 = s0[0] + s0[1] + s0[2], y01 = s1[0] + s1[1] + s1[2];
        f32x16 y10 = s0[1] - s0[2] - s0[3], y11 = s1[1] - s1[2] - s1[3];
        if constexpr (in_lanes)
          if (add) {
            for (f32x16* v : {&y00, &y01, &y10, &y11}) {
              *v += bv;
              epilogue.lanes(*v);
            }
          }
        const int64_t row = 2 * th, col = 2 * tw, n = std::min(2 * count, g.out_w - col);
        interleave_first(y00, y01, yf + row * g.out_w + col, n);
        if (row + 1 < g.out_h) interleave_first(y10, y11, yf + (row + 1) * g.out_w + col, n);
      }
    if (!in_lanes && add) {
      float* rows = yf + r0 * g.out_w;
      map_binary_scalar_b(rows, &b, rows, (r1 - r0) * g.out_w, then(op_add{}, epilogue));
    }
  }
}

// scratch: winograd_scratch_floats(g).
template <class E = functor_chain<>>
inline void winograd_conv3x3(const float* x, const float* u, const float* bias, float* y, float* scratch,
                             int64_t batch, const WinogradGeometry& g, E epilogue = E()) {
  float* v = scratch;
  float* m = v + 16 * g.channels * g.block_tiles();
  float* rows = m + 16 * g.filters * g.block_tiles();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t th0 = 0; th0 < g.tiles_h(); th0 += g.block_rows()) {
      const int64_t th1 = std::min(g.tiles_h(), th0 + g.block_rows()), tiles = (th1 - th0) * g.tiles_w();
      winograd_input_transform(x + n * g.channels * g.in_h * g.in_w, v, g, th0, th1, rows);
      for (int k = 0; k < 16; ++k)
        gemm_rowmajor(false, false, g.filters, tiles, g.channels, 1.f, u + k * g.filters * g.channels, g.channels,
                      v + k * tiles, 16 * tiles, 0.f, m + k * tiles, 16 * tiles);
      winograd_output_transform(m, bias, y + n * g.filters * g.out_h * g.out_w, g, th0, th1, epilogue);
    }
}
