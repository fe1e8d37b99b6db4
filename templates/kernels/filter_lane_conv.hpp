// Convolution with the filters along the vector lanes (FilterPanelConv): an implicit GEMM whose
// rows are output positions and whose columns are filters, y^T[o][f] = sum_p x_tap(o, p) w[f][p].
#pragma once
#include "conv.hpp"
#include "pool.hpp"
#include "functors.hpp"

// The weights come packed at generation time in panels of 32 filters, wp[f / 32][p][f % 32]
// (zeros past the last filter); with AVX-512 a block reads two panels, 64 filters in 4
// vectors, for up to 6 output positions: 24 accumulators, and per tap 4 loads of weights, 6
// broadcasts of inputs and 24 FMAs (narrower targets: 16 filters, kFilterLaneVectors). The inputs are broadcast
// straight from the zero-padded stride phases of the image (split_phases), tap p of position o at phases[base(o) +
// offset(p)], so nothing is copied per tap: no im2col (resnet18's 512-filter layer at 7x7 would write 900 KB of columns
// per image), no panels packed per 32 positions (much of its stem's implicit GEMM goes to packing). Against the GEMMs
// they replace, resnet18's stem (7x7/2, 3 -> 64 at 112x112), its 3x3/2 convolutions and its 512-filter 3x3 at 7x7 with
// cold weights all measure faster so.
//
// The sums of a pass over up to 64 positions go through a tile in registers' order, are
// transposed 16 x 16 at a time into rows of positions, and get the bias and the epilogue on
// the way to y.

// tile[i][0..16 NV) = (keep ? tile[i][...] : 0) + the sums of position i of the block (R of
// them, at in + base[i]) over the k taps at offsets offs, for NV vectors of 16 filters: NV = 4,
// two panels of 32 (w0, and w0 + panel_floats); 2, one panel; 1, the 16 filters at w0 of a
// panel (its rows 32 floats apart).
template <int R, int NV>
inline void filter_lane_sums(const float* in, const int64_t* base, const int32_t* offs, int64_t k, const float* w0,
                             int64_t panel_floats, float* tile, bool keep) {
  using simd::f32x16;
  // Named accumulators (see gemm_block): an array of them went to the stack.
  f32x16 c00 = {}, c01 = {}, c02 = {}, c03 = {}, c10 = {}, c11 = {}, c12 = {}, c13 = {}, c20 = {}, c21 = {}, c22 = {},
         c23 = {}, c30 = {}, c31 = {}, c32 = {}, c33 = {}, c40 = {}, c41 = {}, c42 = {}, c43 = {}, c50 = {}, c51 = {},
         c52 = {}, c53 = {}, b0, b1 = {}, b2 = {}, b3 = {};
  const float* r0 = in + base[0];
  const float* r1 = in + base[R > 1 ? 1 : 0];
  const float* r2 = in + base[R > 2 ? 2 : 0];
  const float* r3 = in + base[R > 3 ? 3 : 0];
  const float* r4 = in + base[R > 4 ? 4 : 0];
  const float* r5 = in + base[R > 5 ? 5 : 0];
  const float* w1 = w0 + panel_floats;
  for (int64_t p = 0; p < k; ++p) {
    const int64_t off = offs[p];
    b0 = f32x16::load(w0 + p * 32);
    if constexpr (NV > 1) b1 = f32x16::load(w0 + p * 32 + 16);
    if constexpr (NV > 2) {
      b2 = f32x16::load(w1 + p * 32);
      b3 = f32x16::load(w1 + p * 32 + 16);
    }
#define SOFIEC_LANE_ROW(i)                                      \
  if constexpr (R > i) {                                        \
    const f32x16 ai(r##i[off]);                                 \
    c##i##0 = simd::fma(ai, b0, c##i##0);                       \
    if constexpr (NV > 1) c##i##1 = simd::fma(ai, b1, c##i##1); \
    if constexpr (NV > 2) {                                     \
      c##i##2 = simd::fma(ai, b2, c##i##2);                     \
      c##i##3 = simd::fma(ai, b3, c##i##3);                     \
    }                                                           \
  }
    SOFIEC_LANE_ROW(0) SOFIEC_LANE_ROW(1) SOFIEC_LANE_ROW(2) SOFIEC_LANE_ROW(3) SOFIEC_LANE_ROW(4) SOFIEC_LANE_ROW(5)
#undef SOFIEC_LANE_ROW
  }
  auto store = [keep](float* out, f32x16& acc) {
    if (keep) acc += f32x16::load(out);
    acc.store(out);
  };
#define SOFIEC_LANE_STORE(i)                                  \
  if constexpr (R > i) {                                      \
    store(tile + i * 64, c##i##0);                            \
    if constexpr (NV > 1) store(tile + i * 64 + 16, c##i##1); \
    if constexpr (NV > 2) {                                   \
      store(tile + i * 64 + 32, c##i##2);                     \
      store(tile + i * 64 + 48, c##i##3);                     \
    }                                                         \
  }
  SOFIEC_LANE_STORE(0)
  SOFIEC_LANE_STORE(1) SOFIEC_LANE_STORE(2) SOFIEC_LANE_STORE(3) SOFIEC_LANE_STORE(4) SOFIEC_LANE_STORE(5)
#undef SOFIEC_LANE_STORE
}

template <int NV>
inline void filter_lane_block(int64_t rows, const float* in, const int64_t* base, const int32_t* offs, int64_t k,
                              const float* w0, int64_t panel_floats, float* tile, bool keep) {
  switch (rows) {
    case 6: filter_lane_sums<6, NV>(in, base, offs, k, w0, panel_floats, tile, keep); break;
    case 5: filter_lane_sums<5, NV>(in, base, offs, k, w0, panel_floats, tile, keep); break;
    case 4: filter_lane_sums<4, NV>(in, base, offs, k, w0, panel_floats, tile, keep); break;
    case 3: filter_lane_sums<3, NV>(in, base, offs, k, w0, panel_floats, tile, keep); break;
    case 2: filter_lane_sums<2, NV>(in, base, offs, k, w0, panel_floats, tile, keep); break;
    default: filter_lane_sums<1, NV>(in, base, offs, k, w0, panel_floats, tile, keep); break;
  }
}

// Vectors of 16 filters a block sums, from the registers: 6 positions by 4 vectors (24
// accumulators) with AVX-512; 6 by 1 elsewhere (12 of AVX2's 16 registers, 24 of NEON's 32).
constexpr int kFilterLaneVectors = simd::kFloatLanes >= 16 ? 4 : 1;

// The block of `rows` positions for the np panels at w0 (kdim floats of taps apart), in blocks
// of kFilterLaneVectors vectors.
inline void filter_lane_panels(int np, int64_t rows, const float* in, const int64_t* base, const int32_t* offs,
                               int64_t k, const float* w0, int64_t panel_floats, float* tile, bool keep) {
  if constexpr (kFilterLaneVectors == 4) {
    if (np == 2) filter_lane_block<4>(rows, in, base, offs, k, w0, panel_floats, tile, keep);
    else filter_lane_block<2>(rows, in, base, offs, k, w0, panel_floats, tile, keep);
  } else {
    for (int v = 0; v < 2 * np; ++v)
      filter_lane_block<1>(rows, in, base, offs, k, w0 + (v / 2) * panel_floats + (v % 2) * 16, panel_floats,
                           tile + 16 * v, keep);
  }
}

// Scratch of conv2d_filter_panels: the image's stride phases, then one offset per tap.
constexpr int64_t filter_panel_conv_scratch(const ConvGeometry& g, int64_t channels) {
  return implicit_conv_scratch(g, channels) + channels * g.kernel_size();
}

// offs[p] = where tap p = (c, ty, tx) reads the phases relative to its position's own place:
// phase ((ty d_h) % s_h, (tx d_w) % s_w) of channel c, shifted by ((ty d_h) / s_h, (tx d_w) / s_w)
// (see conv2d_implicit). Returns offs, which lies in scratch after the phases.
inline const int32_t* filter_panel_offsets(float* scratch, int64_t channels, const ConvGeometry& g) {
  const int64_t sh = g.stride[0], sw = g.stride[1], kw = g.kernel[1];
  const int64_t pw = phase_extent(g.out[1], g.kernel[1], sw, g.dilation[1]), plane = phase_plane_floats(g);
  int32_t* offs = reinterpret_cast<int32_t*>(scratch + implicit_conv_scratch(g, channels));
  for (int64_t c = 0, p = 0; c < channels; ++c)
    for (int64_t ty = 0; ty < g.kernel[0]; ++ty)
      for (int64_t tx = 0; tx < kw; ++tx, ++p) {
        const int64_t dy = ty * g.dilation[0], dx = tx * g.dilation[1];
        offs[p] = int32_t(((c * sh + dy % sh) * sw + dx % sw) * plane + dy / sh * pw + dx / sw);
      }
  return offs;
}

// dst[f * dst_plane + o - begin] = epilogue(conv + bias[f]) for the output positions
// begin <= o < end of one image whose phases are split, all filters. A pass takes up to 64
// positions (blocks of 6 rows or fewer) through all filters, 64 at a time, so that its inputs
// stay in L1; the taps go in slices of at most kFilterLaneDepth, whose 256 KiB of weights stay
// in L2 while every block of the pass reads them (resnet18's 4608 taps at 7x7: 1.2 MB of
// weights per 64 filters, read from L3 by every block, would be bound by L3's bandwidth).
constexpr int64_t kFilterLaneRows = 64, kFilterLaneDepth = 1024;
template <class E>
inline void filter_panel_positions(const float* phases, const int32_t* offs, const float* wp, const float* bias,
                                   int64_t channels, int64_t filters, const ConvGeometry& g, int64_t begin, int64_t end,
                                   float* dst, int64_t dst_plane, const E& epilogue) {
  using simd::f32x16;
  const int64_t kdim = channels * g.kernel_size(), out_w = g.out[1], panels = (filters + 31) / 32;
  const int64_t pw = phase_extent(g.out[1], g.kernel[1], g.stride[1], g.dilation[1]);
  const int64_t slices = (kdim + kFilterLaneDepth - 1) / kFilterLaneDepth;
  // With all positions in one pass, each slice of weights is read once: from memory at batch 1
  // (resnet18's 58 MB stay in no cache), so each block asks for its share of the next slice.
  const bool stream = end - begin <= kFilterLaneRows;
  // With one slice over many positions, passes of 16: the tile (4 KiB, not 16) leaves L1 to the
  // weights (the stem's 37 KiB).
  const int64_t pass = slices > 1 || stream ? kFilterLaneRows : 16;
  alignas(64) float tile[kFilterLaneRows * 64] = {};
  alignas(64) float rows_of_filters[16 * 16];
  int64_t base[kFilterLaneRows];
  for (int64_t o0 = begin; o0 < end; o0 += pass) {
    const int64_t count = std::min(pass, end - o0);
    for (int64_t i = 0; i < count; ++i) base[i] = (o0 + i) / out_w * pw + (o0 + i) % out_w;
    const int64_t blocks = (count + 5) / 6;
    for (int64_t pg = 0; pg < panels; pg += 2) {
      const int np = panels - pg >= 2 ? 2 : 1;
      for (int64_t sl = 0; sl < slices; ++sl) {
        const int64_t p0 = kdim * sl / slices, p1 = kdim * (sl + 1) / slices;
        const float* w0 = wp + (pg * kdim + p0) * 32;
        // The next slice: of these panels, or the first of the next ones.
        const bool last = sl + 1 == slices;
        const int64_t next_p0 = last ? 0 : p1, next_p1 = last ? kdim / slices : kdim * (sl + 2) / slices;
        const int64_t next_panels = last ? std::max<int64_t>(0, std::min<int64_t>(2, panels - pg - 2)) : np;
        const float* next = next_panels > 0 ? wp + ((last ? pg + 2 : pg) * kdim + next_p0) * 32 : wp;
        const int64_t share = ((next_p1 - next_p0) * 32 + blocks - 1) / blocks;
        for (int64_t blk = 0, i = 0; blk < blocks; ++blk) {
          const int64_t rows = count / blocks + (blk < count % blocks ? 1 : 0);
          if (stream)
            for (int64_t q = 0; q < next_panels; ++q) prefetch_rows(next + q * kdim * 32 + blk * share, 1, 0, share);
          filter_lane_panels(np, rows, phases, base + i, offs + p0, p1 - p0, w0, kdim * 32, tile + i * 64, sl > 0);
          i += rows;
        }
      }
      for (int64_t c0 = 0; c0 < count; c0 += 16) {
        const int64_t n = std::min<int64_t>(16, count - c0);
        for (int v = 0; v < 2 * np; ++v) {
          const int64_t f0 = pg * 32 + v * 16, nf = std::min<int64_t>(16, filters - f0);
          if (nf <= 0) break;
          transpose_tile16(tile + c0 * 64 + v * 16, 64, rows_of_filters, 16, std::make_index_sequence<16>{});
          for (int64_t f = 0; f < nf; ++f) {
            f32x16 r;
            simd::load(r, rows_of_filters + f * 16);
            // No bias: no + 0, which would turn -0 into +0.
            if (bias) add_bias_then(r, bias[f0 + f], epilogue);
            else apply_lanes(r, epilogue);
            float* out = dst + (f0 + f) * dst_plane + (o0 + c0 - begin);
            if (n == 16) simd::store(out, r);
            else simd::store_first(out, n, r);
          }
        }
      }
    }
  }
}

// y[N, M, out...] = epilogue(conv(x[N, C, in...], w) + bias[M]) for a 2-D convolution of one
// group, w packed as wp[M / 32][C * kh * kw][32].
template <class E = functor_chain<>>
inline void conv2d_filter_panels(const float* x, const float* wp, const float* bias, float* y, float* scratch,
                                 int64_t batch, int64_t channels, int64_t filters, const ConvGeometry& g,
                                 E epilogue = E()) {
  const int64_t osize = g.out_size(), isize = g.in_size();
  const int32_t* offs = filter_panel_offsets(scratch, channels, g);
  for (int64_t n = 0; n < batch; ++n) {
    split_phases(x + n * channels * isize, scratch, channels, g);
    filter_panel_positions(scratch, offs, wp, bias, channels, filters, g, 0, osize, y + n * filters * osize, osize,
                           epilogue);
  }
}

// The same followed by a max pool (pool: its window over the convolution's output, g.out, and
// its output dims), without the convolution's output: bands of the convolution's rows go
// through a buffer of at most kFilterPanelBand floats, the rows shared by two bands' windows
// moved up rather than computed again, and each band's pooled rows are written from it.
// resnet18's stem and its 3x3 / 2 pool: the 3.2 MB of activations per image never go to
// memory and back.
constexpr int64_t kFilterPanelBand = 64 * 1024;
constexpr int64_t filter_panel_pool_band_rows(const ConvGeometry& g, int64_t filters, const ConvGeometry& pool) {
  // Pooled rows per band: as many as fit, at least one.
  const int64_t row = filters * g.out[1];
  int64_t pooled = 1;
  while (pooled < pool.out[0] && (pooled * pool.stride[0] + pool.kernel[0]) * row <= kFilterPanelBand) ++pooled;
  return pooled;
}
constexpr int64_t filter_panel_pool_scratch(const ConvGeometry& g, int64_t channels, int64_t filters,
                                            const ConvGeometry& pool) {
  const int64_t pooled = filter_panel_pool_band_rows(g, filters, pool);
  return filter_panel_conv_scratch(g, channels) + ((pooled - 1) * pool.stride[0] + pool.kernel[0]) * filters * g.out[1];
}
template <class E = functor_chain<>>
inline void conv2d_filter_panels_max_pool(const float* x, const float* wp, const float* bias, float* y, float* scratch,
                                          int64_t batch, int64_t channels, int64_t filters, const ConvGeometry& g,
                                          const ConvGeometry& pool, E epilogue = E()) {
  const int64_t isize = g.in_size(), out_h = g.out[0], out_w = g.out[1];
  const int64_t pooled_rows = filter_panel_pool_band_rows(g, filters, pool);
  const int64_t band_capacity = (pooled_rows - 1) * pool.stride[0] + pool.kernel[0];
  const int64_t ysize = pool.out_size();
  const int32_t* offs = filter_panel_offsets(scratch, channels, g);
  float* band = scratch + filter_panel_conv_scratch(g, channels);
  const int64_t band_plane = band_capacity * out_w;
  for (int64_t n = 0; n < batch; ++n) {
    split_phases(x + n * channels * isize, scratch, channels, g);
    // The band holds the convolution's rows [held_begin, held_end).
    int64_t held_begin = 0, held_end = 0;
    for (int64_t r0 = 0; r0 < pool.out[0]; r0 += pooled_rows) {
      const int64_t r1 = std::min(pool.out[0], r0 + pooled_rows);
      // The rows the windows of pooled rows r0..r1 read, inside the convolution's output.
      const int64_t first = r0 * pool.stride[0] - pool.pad_begin[0];
      const int64_t need_begin = std::max<int64_t>(0, first);
      const int64_t need_end = std::min(out_h, (r1 - 1) * pool.stride[0] - pool.pad_begin[0] + pool.kernel[0]);
      const int64_t keep_begin = std::max(need_begin, held_begin), keep_end = std::max(keep_begin, held_end);
      if (keep_end > keep_begin && keep_begin > held_begin)
        for (int64_t f = 0; f < filters; ++f)
          std::memmove(band + f * band_plane, band + f * band_plane + (keep_begin - held_begin) * out_w,
                       std::size_t((keep_end - keep_begin) * out_w) * sizeof(float));
      const int64_t computed_from = std::max(keep_end, need_begin);
      filter_panel_positions(scratch, offs, wp, bias, channels, filters, g, computed_from * out_w, need_end * out_w,
                             band + (computed_from - need_begin) * out_w, band_plane, epilogue);
      held_begin = need_begin;
      held_end = need_end;
      // The band's pooled rows: the pool's window over the held rows, its padding where the
      // window passes the first or last row of the convolution.
      ConvGeometry window = pool;
      window.in[0] = need_end - need_begin;
      window.out[0] = r1 - r0;
      window.pad_begin[0] = need_begin - first;
      for (int64_t f = 0; f < filters; ++f)
        pool_nd(band + f * band_plane, y + (n * filters + f) * ysize + r0 * pool.out[1], 1, window,
                static_cast<const int64_t*>(nullptr), PoolKind::Max);
    }
  }
}
