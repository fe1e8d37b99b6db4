// Selection and gathers on the device: TopK (a thread per row, its best k kept sorted in
// registers and local memory as it scans) and the EdgeConv gather of particle-cloud models
// (ParticleNet), whose neighbour indices TopK finds.
#pragma once

#include <cstdint>

#include "functors.cuh"
#include "runtime.cuh"

// The most elements TopK keeps per row on the device.
constexpr int kTopKMax = 64;

// Rows of `length` elements `inner` apart (outer x length x inner): the k largest (or smallest)
// of each, sorted, with their indices; equal values keep the lower index first, and NaN counts
// as the largest value (as on the CPU): first when largest, last when smallest. values or
// indices may be null.
template <int = 0>
__global__ void top_k_kernel(const float* __restrict__ x, float* __restrict__ values, int64_t* __restrict__ indices,
                             long long outer, long long length, long long inner, int k, bool largest) {
  const long long rows = outer * inner;
  for (long long r = blockIdx.x * 256ll + threadIdx.x; r < rows; r += 256ll * gridDim.x) {
    const long long o = r / inner, i = r % inner;
    const float* row = x + o * length * inner + i;
    float best[kTopKMax];
    long long at[kTopKMax];
    int kept = 0;
    auto take_nans = [&] {  // in index order
      for (long long j = 0; j < length && kept < k; ++j)
        if (row[j * inner] != row[j * inner]) {
          best[kept] = row[j * inner];
          at[kept++] = j;
        }
    };
    if (largest) take_nans();
    const int first = kept;  // the numbers go after the NaNs taken first
    for (long long j = 0; j < length && first < k; ++j) {
      const float v = row[j * inner];
      if (v != v) continue;
      // Strictly better than the last kept one (a later equal value has a higher index).
      if (kept == k && !(largest ? v > best[k - 1] : v < best[k - 1])) continue;
      int p = kept < k ? kept++ : k - 1;
      while (p > first && (largest ? v > best[p - 1] : v < best[p - 1])) {
        best[p] = best[p - 1];
        at[p] = at[p - 1];
        --p;
      }
      best[p] = v;
      at[p] = j;
    }
    if (!largest) take_nans();
    for (int t = 0; t < k; ++t) {
      const long long out = (o * k + t) * inner + i;
      if (values) values[out] = best[t];
      if (indices) indices[out] = at[t];
    }
  }
}

inline void top_k(const float* x, float* values, int64_t* indices, long long outer, long long length, long long inner,
                  int k, bool largest, cudaStream_t stream) {
  const long long rows = outer * inner;
  if (rows > 0 && k > 0)
    top_k_kernel<><<<blocks_for(rows), 256, 0, stream>>>(x, values, indices, outer, length, inner, k, largest);
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
