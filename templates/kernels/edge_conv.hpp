// The first linear layer of an EdgeConv (DGCNN, ParticleNet), factorized by the
// EdgeConvFactorization pass. A 1x1 convolution over the features of edge (i, j) built from
// the centre x_i and the neighbour x_j ([x_i, x_j - x_i] as a rule) is C x_i + N x_j: C and N
// are applied once per point (a Conv1d to `pc` [batch, 2 * filters, points], the rows of C
// first, then those of N), and each of the k edges of a point adds two of those values:
//   y[b, o, i, j] = e(pc[b, o, i] + bias[o] + pc[b', filters + o, p'])
// where r = indices[(b * points + i) * k + j] is a point of the flattened batch (negative r
// counts from the end), b' = r / points and p' = r % points. An index outside the batch's
// points adds zero, as a Gather of a row outside reads zeros here.
#pragma once
#include "prelude.hpp"
#include "functors.hpp"

// Scratch edge_conv_gather needs, in int32 values: two offsets per edge.
constexpr int64_t edge_conv_scratch(int64_t batch, int64_t points, int64_t k) { return 2 * batch * points * k; }

#if defined(__AVX512F__)
// One channel's edges, 16 at a time (the last ones masked): the same sums as the scalar loop.
template <class E>
inline void edge_conv_lanes(const float* channel, const int32_t* centre, const int32_t* neighbour, float bias,
                            float* out, int64_t edges, const E& epilogue) {
  const __m512 bias_v = _mm512_set1_ps(bias);
  for (int64_t e = 0; e < edges; e += 16) {
    const int64_t n = std::min<int64_t>(16, edges - e);
    const __mmask16 lanes = __mmask16((1u << n) - 1u);
    const __m512i c = _mm512_maskz_loadu_epi32(lanes, centre + e), nb = _mm512_maskz_loadu_epi32(lanes, neighbour + e);
    const __mmask16 inside = _mm512_mask_cmpge_epi32_mask(lanes, nb, _mm512_setzero_si512());
    const __m512 sum = _mm512_add_ps(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, c, channel, 4), bias_v);
    ::sofiec::f32x16 v =
        (::sofiec::f32x16)_mm512_add_ps(sum, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, nb, channel, 4));
    epilogue.lanes(v);
    ::sofiec::store_first(out + e, n, v);
  }
}
#endif

template <class I, class E = functor_chain<>>
inline void edge_conv_gather(const float* pc, const I* indices, const float* bias, float* y, int64_t batch,
                             int64_t filters, int64_t points, int64_t k, int32_t* scratch, E epilogue = E()) {
  const int64_t edges = points * k, rows = batch * points;
  // Per edge, once: where its centre's and its neighbour's values sit in a channel's row of
  // pc (the neighbour's -1 when its index is outside), so each channel is two gathers.
  int32_t* centre_at = scratch;
  int32_t* neighbour_at = scratch + batch * edges;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t e = 0; e < edges; ++e) {
      int64_t r = int64_t(indices[b * edges + e]);
      if (r < 0) r += rows;
      centre_at[b * edges + e] = int32_t(b * 2 * filters * points + e / k);
      neighbour_at[b * edges + e] =
          r >= 0 && r < rows ? int32_t(((r / points) * 2 + 1) * filters * points + r % points) : int32_t(-1);
    }
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t o = 0; o < filters; ++o) {
      const float* channel = pc + o * points;
      const int32_t* centre = centre_at + b * edges;
      const int32_t* neighbour = neighbour_at + b * edges;
      const float bias_o = bias ? bias[o] : 0.f;
      float* out = y + (b * filters + o) * edges;
#if defined(__AVX512F__)
      if constexpr (has_lanes<E>::value) {
        edge_conv_lanes(channel, centre, neighbour, bias_o, out, edges, epilogue);
        continue;
      }
#endif
      for (int64_t e = 0; e < edges; ++e) {
        const float sum = channel[centre[e]] + bias_o;
        out[e] = epilogue(sum + (neighbour[e] >= 0 ? channel[neighbour[e]] : 0.f));
      }
    }
}
