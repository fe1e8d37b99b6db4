// Convolution and pooling over 1 to 3 spatial dims of [N, C, spatial...] tensors. A
// convolution without groups is one matrix product, Y[f][n] = W[f][k] X[k][n] over the filters
// f, the columns n (every output position of every image) and the inner dim k (every channel
// and tap), run as an implicit GEMM: each block gathers its tile of X from the input as it
// goes (no im2col columns written and read again) and ends in the bias and the fused
// epilogue, one kernel for the node. Grouped and depthwise convolutions, whose products are too
// small to tile, and pooling run directly: a thread per output element.
#pragma once

#include "../shared/conv_tiles.hpp"
#include "functors.cuh"
#include "runtime.cuh"

// The window of one node, its unused trailing spatial dims of extent 1.
struct WindowShape {
  long long in[3], out[3];
  int kernel[3], stride[3], dilation[3], pad[3];
  __host__ __device__ long long in_size() const { return in[0] * in[1] * in[2]; }
  __host__ __device__ long long out_size() const { return out[0] * out[1] * out[2]; }
  __host__ __device__ int taps() const { return kernel[0] * kernel[1] * kernel[2]; }
};

// The input offset (within one channel) that output position p reads at tap t, or -1 where
// that falls in the padding.
__device__ inline long long window_at(const WindowShape& s, long long p, int t) {
  const long long o2 = p % s.out[2], o1 = (p / s.out[2]) % s.out[1], o0 = p / (s.out[2] * s.out[1]);
  const int k2 = t % s.kernel[2], k1 = (t / s.kernel[2]) % s.kernel[1], k0 = t / (s.kernel[2] * s.kernel[1]);
  const long long i0 = o0 * s.stride[0] - s.pad[0] + k0 * s.dilation[0];
  const long long i1 = o1 * s.stride[1] - s.pad[1] + k1 * s.dilation[1];
  const long long i2 = o2 * s.stride[2] - s.pad[2] + k2 * s.dilation[2];
  if (i0 < 0 || i0 >= s.in[0] || i1 < 0 || i1 >= s.in[1] || i2 < 0 || i2 >= s.in[2]) return -1;
  return (i0 * s.in[1] + i1) * s.in[2] + i2;
}

// The implicit GEMM's sizes, in ints (the emitter refuses a node whose image or product
// exceeds them).
struct ConvGemmShape {
  int in[3];              // input extents
  int out[3];             // output extents
  int stride[3], pad[3];  // of the window
  int kernel[3], dilation[3];
  int taps, inner;        // taps per channel; channels * taps
  int filters, positions;  // output positions per image
  int columns;            // images * positions
  int in_size;            // input floats per channel
  int in_image;           // input floats per image
};

// Tap t's offsets along the three dims (dilation applied).
__device__ inline int4 conv_tap(const ConvGemmShape& g, int t) {
  const int k2 = t % g.kernel[2], k1 = (t / g.kernel[2]) % g.kernel[1], k0 = t / (g.kernel[2] * g.kernel[1]);
  return make_int4(k0 * g.dilation[0], k1 * g.dilation[1], k2 * g.dilation[2], 0);
}

constexpr int kConvTapTable = 256;  // taps decoded once per block into shared memory; more by division

// One block: a tile of 16*TM filters by 16*TN columns, over inner-dim rows [k_begin, k_end)
// of slice blockIdx.z, 8 rows at a time through two shared-memory stages (the next stage's
// loads are in flight while this one's products run). Each thread owns 4-wide groups of rows
// and columns 64 apart, so that a warp's float4 reads of a stage row hit distinct banks. The
// weights' tile is stored transposed, its rows padded by 4 floats (the stores of 8 threads that
// share a filter land on distinct banks). partial null: y = e(acc + bias); else the raw sums go
// to partial[slice][filter][column], added up by conv_split_sum_kernel.
template <int TM, int TN, class E>
__global__ void __launch_bounds__(256, 2) conv_gemm_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                                        const float* __restrict__ bias, float* __restrict__ y,
                                                        float* __restrict__ partial, ConvGemmShape g,
                                                        int inner_per_split, E e) {
  constexpr int BM = 16 * TM, BN = 16 * TN, BK = 8;
  constexpr int kALoads = BM * BK / 256, kBLoads = BN * BK / 256, kBRowStep = 256 / BN;
  __shared__ __align__(16) float as[2][BK][BM + 4];
  __shared__ __align__(16) float bs[2][BK][BN];
  __shared__ int4 tap_table[kConvTapTable];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_begin = blockIdx.z * inner_per_split;
  const int k_end = min(g.inner, k_begin + inner_per_split);
  for (int t = tid; t < g.taps && t < kConvTapTable; t += 256) tap_table[t] = conv_tap(g, t);

  // This thread's column of the X tile: its image and the window's corner there.
  const int b_col = tid % BN, n = n0 + b_col;
  const bool column_ok = n < g.columns;
  const int image = column_ok ? n / g.positions : 0, p = column_ok ? n - image * g.positions : 0;
  const float* __restrict__ xi = x + static_cast<long long>(image) * g.in_image;
  const int corner0 = p / (g.out[1] * g.out[2]) * g.stride[0] - g.pad[0];
  const int corner1 = p / g.out[2] % g.out[1] * g.stride[1] - g.pad[1];
  const int corner2 = p % g.out[2] * g.stride[2] - g.pad[2];
  // Its rows of the X tile, tid / BN + j * kBRowStep of each stage, as (channel, tap), stepped
  // by 8 rows a stage without dividing.
  int row_channel[kBLoads], row_tap[kBLoads];
#pragma unroll
  for (int j = 0; j < kBLoads; ++j) {
    const int k = k_begin + tid / BN + j * kBRowStep;
    row_channel[j] = k / g.taps;
    row_tap[j] = k - row_channel[j] * g.taps;
  }
  const int channel_step = BK / g.taps, tap_step = BK % g.taps;
  __syncthreads();

  float a_next[kALoads], b_next[kBLoads];
  const auto load = [&](int k0) {
#pragma unroll
    for (int i = 0; i < kALoads; ++i) {
      const int idx = tid + i * 256, m = m0 + idx / BK, k = k0 + idx % BK;
      a_next[i] = m < g.filters && k < k_end ? w[static_cast<long long>(m) * g.inner + k] : 0.f;
    }
#pragma unroll
    for (int j = 0; j < kBLoads; ++j) {
      const int k = k0 + tid / BN + j * kBRowStep;
      float v = 0.f;
      if (column_ok && k < k_end) {
        const int t = row_tap[j];
        const int4 d = t < kConvTapTable ? tap_table[t] : conv_tap(g, t);
        const int i0 = corner0 + d.x, i1 = corner1 + d.y, i2 = corner2 + d.z;
        if (unsigned(i0) < unsigned(g.in[0]) && unsigned(i1) < unsigned(g.in[1]) && unsigned(i2) < unsigned(g.in[2]))
          v = xi[row_channel[j] * g.in_size + (i0 * g.in[1] + i1) * g.in[2] + i2];
      }
      b_next[j] = v;
      row_tap[j] += tap_step;
      row_channel[j] += channel_step;
      if (row_tap[j] >= g.taps) {
        row_tap[j] -= g.taps;
        ++row_channel[j];
      }
    }
  };
  const auto store = [&](int stage) {
#pragma unroll
    for (int i = 0; i < kALoads; ++i) {
      const int idx = tid + i * 256;
      as[stage][idx % BK][idx / BK] = a_next[i];
    }
#pragma unroll
    for (int j = 0; j < kBLoads; ++j) bs[stage][tid / BN + j * kBRowStep][b_col] = b_next[j];
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;
  load(k_begin);
  store(0);
  __syncthreads();
  int stage = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool more = k0 + BK < k_end;
    if (more) load(k0 + BK);
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a[TM], b[TN];
#pragma unroll
      for (int q = 0; q < TM / 4; ++q) {
        const float4 v = *reinterpret_cast<const float4*>(&as[stage][kk][q * 64 + ty * 4]);
        a[4 * q] = v.x, a[4 * q + 1] = v.y, a[4 * q + 2] = v.z, a[4 * q + 3] = v.w;
      }
#pragma unroll
      for (int q = 0; q < TN / 4; ++q) {
        const float4 v = *reinterpret_cast<const float4*>(&bs[stage][kk][q * 64 + tx * 4]);
        b[4 * q] = v.x, b[4 * q + 1] = v.y, b[4 * q + 2] = v.z, b[4 * q + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (more) {
      store(stage ^ 1);
      __syncthreads();
      stage ^= 1;
    }
  }

  // Where each of this thread's columns lands in y ([image][filter][position]), or -1.
  long long column_at[TN];
#pragma unroll
  for (int j = 0; j < TN; ++j) {
    const int c = n0 + j / 4 * 64 + tx * 4 + j % 4;
    const int im = c / g.positions;
    column_at[j] = c < g.columns ? static_cast<long long>(im) * g.filters * g.positions + (c - im * g.positions) : -1;
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int f = m0 + i / 4 * 64 + ty * 4 + i % 4;
    if (f >= g.filters) continue;
    const float b = bias ? bias[f] : 0.f;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      if (column_at[j] < 0) continue;
      if (partial)
        partial[(static_cast<long long>(blockIdx.z) * g.filters + f) * g.columns + n0 + j / 4 * 64 + tx * 4 + j % 4] =
            acc[i][j];
      else
        y[column_at[j] + static_cast<long long>(f) * g.positions] = e(acc[i][j] + b);
    }
  }
}

// y = e(sum over the slices of partial + bias), a thread per output element.
template <class E>
__global__ void conv_split_sum_kernel(const float* __restrict__ partial, const float* __restrict__ bias,
                                      float* __restrict__ y, ConvGemmShape g, int splits, E e) {
  const long long total = static_cast<long long>(g.columns) * g.filters, slice = total;
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < total; i += 256ll * gridDim.x) {
    const long long p = i % g.positions, f = i / g.positions % g.filters, image = i / (static_cast<long long>(g.positions) * g.filters);
    const long long at = f * g.columns + image * g.positions + p;
    float v = bias ? bias[f] : 0.f;
    for (int s = 0; s < splits; ++s) v += partial[s * slice + at];
    y[i] = e(v);
  }
}

// A thread per output element of a grouped convolution: its group's channels times the taps.
template <class E>
__global__ void conv_direct_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                   const float* __restrict__ bias, float* __restrict__ y, long long batch,
                                   long long channels, long long filters, long long groups, WindowShape s, E e) {
  const long long positions = s.out_size(), total = batch * filters * positions;
  const long long group_channels = channels / groups, group_filters = filters / groups;
  const int taps = s.taps();
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < total; i += 256ll * gridDim.x) {
    const long long p = i % positions, f = (i / positions) % filters, n = i / (positions * filters);
    const float* xs = x + (n * channels + f / group_filters * group_channels) * s.in_size();
    const float* ws = w + f * group_channels * taps;
    float acc = bias ? bias[f] : 0.f;
    for (int t = 0; t < taps; ++t) {
      const long long at = window_at(s, p, t);
      if (at < 0) continue;
      for (long long c = 0; c < group_channels; ++c) acc = fmaf(ws[c * taps + t], xs[c * s.in_size() + at], acc);
    }
    y[i] = e(acc);
  }
}

// Y = e(conv(X, W) + bias). partial: scratch of partial_floats floats for the slices of the
// inner dim (conv_tiling; null and 0 where the compiler planned none).
template <class E>
void conv(const float* x, const float* w, const float* bias, float* y, float* partial, long long partial_floats,
          long long batch, long long channels, long long filters, long long groups, const WindowShape& s, E e,
          cudaStream_t stream) {
  const long long positions = s.out_size(), total = batch * filters * positions;
  if (total == 0) return;
  if (groups > 1) {
    conv_direct_kernel<<<blocks_for(total), 256, 0, stream>>>(x, w, bias, y, batch, channels, filters, groups, s, e);
    return;
  }
  ConvGemmShape g;
  for (int d = 0; d < 3; ++d) {
    g.in[d] = int(s.in[d]), g.out[d] = int(s.out[d]), g.stride[d] = s.stride[d], g.pad[d] = s.pad[d];
    g.kernel[d] = s.kernel[d], g.dilation[d] = s.dilation[d];
  }
  g.taps = s.taps();
  g.inner = int(channels * g.taps);
  g.filters = int(filters);
  g.positions = int(positions);
  g.columns = int(batch * positions);
  g.in_size = int(s.in_size());
  g.in_image = int(channels * s.in_size());
  const ConvTiling t = conv_tiling(filters, g.columns, g.inner, partial ? partial_floats : 0);
  float* sums = t.splits > 1 ? partial : nullptr;
  const int bm = 16 * t.rows_per_thread, bn = 16 * t.columns_per_thread;
  const dim3 grid(unsigned((g.columns + bn - 1) / bn), unsigned((filters + bm - 1) / bm), unsigned(t.splits));
  const int per = int(t.inner_per_split);
  if (t.rows_per_thread == 8)
    conv_gemm_kernel<8, 8><<<grid, 256, 0, stream>>>(x, w, bias, y, sums, g, per, e);
  else if (t.columns_per_thread == 8)
    conv_gemm_kernel<4, 8><<<grid, 256, 0, stream>>>(x, w, bias, y, sums, g, per, e);
  else
    conv_gemm_kernel<4, 4><<<grid, 256, 0, stream>>>(x, w, bias, y, sums, g, per, e);
  if (sums) conv_split_sum_kernel<<<blocks_for(total), 256, 0, stream>>>(sums, bias, y, g, t.splits, e);
}

enum class PoolKind { Max, Average, AverageCountPad, Lp };

// A thread per output element of [planes][positions]. Max and Average skip the padding;
// AverageCountPad divides by the taps inside the explicit pads (pad_end: the end pads, beyond
// which ceil_mode's extra windows reach); Lp is (sum |x|^p)^(1/p).
template <int = 0>
__global__ void pool_kernel(const float* __restrict__ x, float* __restrict__ y, long long planes, WindowShape s,
                            int pad_end0, int pad_end1, int pad_end2, PoolKind kind, float p_norm) {
  const long long positions = s.out_size(), total = planes * positions;
  const int taps = s.taps();
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < total; i += 256ll * gridDim.x) {
    const long long p = i % positions;
    const float* xs = x + (i / positions) * s.in_size();
    float acc = kind == PoolKind::Max ? -INFINITY : 0.f;
    bool nan = false;
    int count = 0;
    for (int t = 0; t < taps; ++t) {
      const long long at = window_at(s, p, t);
      if (at < 0) continue;
      const float v = xs[at];
      ++count;
      if (kind == PoolKind::Max) {
        nan = nan || v != v;
        acc = v > acc ? v : acc;
      } else if (kind == PoolKind::Lp) {
        acc += powf(fabsf(v), p_norm);
      } else {
        acc += v;
      }
    }
    if (kind == PoolKind::AverageCountPad) {
      // Taps inside [-pad_begin, in + pad_end) along every dim, padding included.
      const int ends[3] = {pad_end0, pad_end1, pad_end2};
      long long rest = p;
      int inside = 1;
      for (int d = 2; d >= 0; --d) {
        const long long o = rest % s.out[d];
        rest /= s.out[d];
        int n = 0;
        for (int k = 0; k < s.kernel[d]; ++k) {
          const long long at = o * s.stride[d] - s.pad[d] + k * s.dilation[d];
          n += at >= -s.pad[d] && at < s.in[d] + ends[d];
        }
        inside *= n;
      }
      count = inside;
    }
    float v = acc;
    if (kind == PoolKind::Max) v = nan ? NAN : acc;
    else if (kind == PoolKind::Lp) v = powf(acc, 1.f / p_norm);
    else v = count > 0 ? acc / float(count) : 0.f;
    y[i] = v;
  }
}

inline void pool(const float* x, float* y, long long planes, const WindowShape& s, int pad_end0, int pad_end1,
                 int pad_end2, PoolKind kind, float p_norm, cudaStream_t stream) {
  const long long total = planes * s.out_size();
  if (total > 0)
    pool_kernel<<<blocks_for(total), 256, 0, stream>>>(x, y, planes, s, pad_end0, pad_end1, pad_end2, kind, p_norm);
}
