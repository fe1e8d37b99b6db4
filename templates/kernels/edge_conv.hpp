// The first linear layer of an EdgeConv (DGCNN, ParticleNet), factorized by the
// EdgeConvFactorization pass. A 1x1 convolution over the features of edge (i, j) built from
// the centre x_i and the neighbour x_j ([x_i, x_j - x_i] as a rule) is C x_i + N x_j: C and N
// are applied once per point (a product to `pc` [batch, points, 2 * filters], per point the
// values of C, then those of N), and each of the k edges of a point adds two of those rows:
//   y[b, o, i, j] = e(pc[b, i, o] + bias[o] + pc[b', p', filters + o])
// where r = indices[(b * points + i) * k + j] is a point of the flattened batch (negative r
// counts from the end), b' = r / points and p' = r % points. An index outside the batch's
// points adds zero, as a Gather of a row outside reads zeros here.
#pragma once
#include "prelude.hpp"
#include "functors.hpp"

// Tiles of 16 edges by 16 channels: each edge's sums are row reads of pc (16 channels in
// lanes), and a register transpose turns them into 16 edges per channel, y's layout. (Gathers
// along pc's channel rows would be slow: AMD's Zen 4 gathers 16 floats in about 20 cycles.)
template <class I, class E = functor_chain<>>
inline void edge_conv_gather(const float* pc, const I* indices, const float* bias, float* y, int64_t batch,
                             int64_t filters, int64_t points, int64_t k, E epilogue = E()) {
  using simd::f32x16;
  const int64_t edges = points * k, rows = batch * points, width = 2 * filters;
  alignas(64) float sums[16 * 16], channels[16 * 16];
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t e0 = 0; e0 < edges; e0 += 16) {
      const int64_t n = std::min<int64_t>(16, edges - e0);
      const float* centre[16];
      const float* neighbour[16];
      for (int64_t l = 0; l < 16; ++l) {
        const int64_t e = std::min(e0 + l, edges - 1);  // lanes past the end repeat the last edge
        int64_t r = int64_t(indices[b * edges + e]);
        if (r < 0) r += rows;
        centre[l] = pc + (b * points + e / k) * width;
        neighbour[l] = r >= 0 && r < rows ? pc + r * width + filters : nullptr;
      }
      for (int64_t c0 = 0; c0 < filters; c0 += 16) {
        const int64_t w = std::min<int64_t>(16, filters - c0);
        f32x16 bias_v = {}, v, u;
        if (bias) simd::load_first(bias + c0, w, bias_v);
        for (int64_t l = 0; l < 16; ++l) {
          simd::load_first(centre[l] + c0, w, v);
          v += bias_v;
          u = f32x16{};
          if (neighbour[l]) simd::load_first(neighbour[l] + c0, w, u);
          v += u;
          simd::store(sums + 16 * l, v);
        }
        transpose_tile16(sums, 16, channels, 16, std::make_index_sequence<16>{});
        for (int64_t c = 0; c < w; ++c) {
          simd::load(v, channels + 16 * c);
          apply_lanes(v, epilogue);
          simd::store_first(y + (b * filters + c0 + c) * edges + e0, n, v);
        }
      }
    }
}
