// Resize (and Upsample), one resized axis at a time as resize.cpp plans it: each output
// position along the axis is a weighted sum of `taps` input positions (one, weight 1, for
// nearest). The plan's tables travel in the kernel's parameters (at most kResizeTable entries),
// where every thread reads them from the constant bank; no device memory holds them.
#pragma once

#include "runtime.cuh"

constexpr int kResizeTable = 1024;

struct ResizeTable {
  int index[kResizeTable];
  float weight[kResizeTable];
};

// y[o][p][i] = sum_t weight[p * taps + t] * x[o][index[p * taps + t]][i].
template <int = 0>
__global__ void resize_axis_kernel(const float* __restrict__ x, float* __restrict__ y, long long outer,
                                   long long in_len, long long inner, long long out_len, int taps, ResizeTable table) {
  const long long total = outer * out_len * inner;
  for (long long n = blockIdx.x * 256ll + threadIdx.x; n < total; n += 256ll * gridDim.x) {
    const long long i = n % inner, p = (n / inner) % out_len, o = n / (inner * out_len);
    const float* xs = x + o * in_len * inner + i;
    float acc = 0.f;
    if (taps == 1 && table.weight[p] == 1.f) {
      acc = xs[table.index[p] * inner];  // nearest: a copy, as on the CPU (an infinity stays one)
    } else {
      for (int t = 0; t < taps; ++t) acc = fmaf(table.weight[p * taps + t], xs[table.index[p * taps + t] * inner], acc);
    }
    y[n] = acc;
  }
}

inline void resize_axis(const float* x, float* y, long long outer, long long in_len, long long inner, long long out_len,
                        int taps, const ResizeTable& table, cudaStream_t stream) {
  const long long total = outer * out_len * inner;
  if (total > 0)
    resize_axis_kernel<><<<blocks_for(total), 256, 0, stream>>>(x, y, outer, in_len, inner, out_len, taps, table);
}
