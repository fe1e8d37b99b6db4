// Selection and gathers on the device: TopK (a warp per row: k rounds, each taking the row's
// best element after the last one taken) and the EdgeConv gather of particle-cloud models
// (ParticleNet), whose neighbour indices TopK finds.
#pragma once

#include <cstdint>
#include <type_traits>

#include "functors.cuh"
#include "runtime.cuh"

// TopK's order as one unsigned key per element: the larger key comes first. The high word is
// the value's bits made to order as unsigned (negated for the smallest first), so that
// equal values compare equal (-0 counted as +0) and NaN counts as the largest value (as on the
// CPU): first when largest, last when smallest; the low word is 2^31 - 1 - index, so that equal
// values keep the lower index first. No key is 0 (the index is below 2^31 - 1): 0 is "none".
__device__ inline unsigned long long top_k_key(float v, int j, bool largest) {
  unsigned u = v != v ? 0xffffffffu : __float_as_uint(v == 0.f ? 0.f : v);
  if (v == v) u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  if (!largest) u = ~u;
  return (static_cast<unsigned long long>(u) << 32) | static_cast<unsigned>(0x7fffffff - j);
}

__device__ inline float top_k_value(unsigned long long key, bool largest) {
  unsigned u = static_cast<unsigned>(key >> 32);
  if (!largest) u = ~u;
  if (u == 0xffffffffu) return __uint_as_float(0x7fc00000u);  // NaN
  return __uint_as_float((u & 0x80000000u) ? (u & 0x7fffffffu) : ~u);
}

// Rows of `length` elements `inner` apart (outer x length x inner): the k first of each in
// top_k_key's order, with their indices; values or indices may be null. A warp per row;
// round t takes the largest key below round t-1's, each lane over its share of the row, then a
// butterfly over the lanes (every lane ends with the same winner: keys are distinct). Nothing
// is marked, so k is not bounded by registers; the rounds wait on each other, k of them, which
// is what a row of a few hundred elements costs anyway. PerLane > 0 keeps the row's keys in
// registers (length <= 32 * PerLane); 0 reads the row again each round (from L1).
template <int PerLane>
__global__ void top_k_kernel(const float* __restrict__ x, float* __restrict__ values, int64_t* __restrict__ indices,
                             long long outer, int length, long long inner, int k, bool largest) {
  const int lane = threadIdx.x & 31;
  const long long rows = outer * inner, warps = gridDim.x * 8ll;
  for (long long r = blockIdx.x * 8ll + threadIdx.x / 32; r < rows; r += warps) {
    const long long o = r / inner, i = r % inner;
    const float* row = x + o * length * inner + i;
    unsigned long long held[PerLane > 0 ? PerLane : 1];
    if constexpr (PerLane > 0) {
#pragma unroll
      for (int q = 0; q < PerLane; ++q) {
        const int j = q * 32 + lane;
        held[q] = j < length ? top_k_key(row[j * inner], j, largest) : 0ull;
      }
    }
    unsigned long long last = ~0ull;
    for (int t = 0; t < k; ++t) {
      unsigned long long best = 0;
      if constexpr (PerLane > 0) {
#pragma unroll
        for (int q = 0; q < PerLane; ++q)
          if (held[q] < last && held[q] > best) best = held[q];
      } else {
        for (int j = lane; j < length; j += 32) {
          const unsigned long long key = top_k_key(row[j * inner], j, largest);
          if (key < last && key > best) best = key;
        }
      }
#pragma unroll
      for (int s = 16; s > 0; s >>= 1) {
        const unsigned long long other = __shfl_xor_sync(0xffffffffu, best, s);
        best = other > best ? other : best;
      }
      last = best;
      if (lane == 0) {
        const long long out = (o * k + t) * inner + i;
        if (values) values[out] = top_k_value(best, largest);
        if (indices) indices[out] = 0x7fffffff - static_cast<int>(best & 0xffffffffu);
      }
    }
  }
}

// A row of length < 2^31 - 1 (the emitter refuses longer ones).
inline void top_k(const float* x, float* values, int64_t* indices, long long outer, long long length, long long inner,
                  int k, bool largest, cudaStream_t stream) {
  const long long rows = outer * inner;
  if (rows <= 0 || k <= 0) return;
  auto launch = [&](auto per_lane) {
    top_k_kernel<decltype(per_lane)::value><<<blocks_for(rows * 32), 256, 0, stream>>>(
        x, values, indices, outer, static_cast<int>(length), inner, k, largest);
  };
  if (length <= 32) launch(std::integral_constant<int, 1>{});
  else if (length <= 64) launch(std::integral_constant<int, 2>{});
  else if (length <= 128) launch(std::integral_constant<int, 4>{});
  else if (length <= 256) launch(std::integral_constant<int, 8>{});
  else launch(std::integral_constant<int, 0>{});
}

// EdgeConv's first layer, factored (EdgeConvFactorization): pc holds per point the centre's
// `filters` products, then the neighbour's; edge (p, j) of image b joins point p with row
// indices[b][p][j] of the flattened batch (negative: from the end; out of range: no
// neighbour). y[b][f][p][j] = e(centre[f] + bias[f] + neighbour[f]). A thread per output.
template <class I, class E>
__global__ void edge_conv_gather_kernel(const float* __restrict__ pc, const I* __restrict__ indices,
                                        const float* __restrict__ bias, float* __restrict__ y, long long batch,
                                        long long filters, long long points, long long k, E e) {
  const long long edges = points * k, rows = batch * points, total = batch * filters * edges;
  for (long long n = blockIdx.x * 256ll + threadIdx.x; n < total; n += 256ll * gridDim.x) {
    const long long edge = n % edges, f = (n / edges) % filters, b = n / (edges * filters);
    long long r = static_cast<long long>(indices[b * edges + edge]);
    if (r < 0) r += rows;
    float v = pc[(b * points + edge / k) * 2 * filters + f] + (bias ? bias[f] : 0.f);
    if (r >= 0 && r < rows) v += pc[r * 2 * filters + filters + f];
    y[n] = e(v);
  }
}

template <class I, class E>
void edge_conv_gather(const float* pc, const I* indices, const float* bias, float* y, long long batch,
                      long long filters, long long points, long long k, E e, cudaStream_t stream) {
  const long long total = batch * filters * points * k;
  if (total > 0)
    edge_conv_gather_kernel<<<blocks_for(total), 256, 0, stream>>>(pc, indices, bias, y, batch, filters, points, k, e);
}
