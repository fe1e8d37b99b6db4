// Convolution and pooling over 1 to 3 spatial dims of [N, C, spatial...] tensors. A
// convolution without groups is a matrix product per image, Y_n[F][P] = W[F][C*T] col_n[C*T][P]
// (T taps, P output positions): cuBLAS does the product, at its full rate, on columns that one
// kernel gathers (im2col) for as many images as the scratch holds; a pointwise convolution needs
// no columns, the input is already col. Grouped and depthwise convolutions, whose products are
// too small for cuBLAS to pay, and pooling run directly: a thread per output element.
#pragma once

#include "functors.cuh"
#include "gemm.cuh"
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

// col[image][c * T + t][p] for `images` images of `channels` channels; consecutive threads take
// consecutive output positions, so that the writes coalesce.
template <int = 0>
__global__ void im2col_kernel(const float* __restrict__ x, float* __restrict__ col, long long images,
                              long long channels, WindowShape s) {
  const long long positions = s.out_size(), taps = s.taps(), total = images * channels * taps * positions;
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < total; i += 256ll * gridDim.x) {
    const long long p = i % positions, row = i / positions;
    const int t = int(row % taps);
    const long long image_channel = row / taps;
    const long long at = window_at(s, p, t);
    col[i] = at < 0 ? 0.f : x[image_channel * s.in_size() + at];
  }
}

// y = e(y + bias[f]) over [images][filters][positions] (bias null: none).
template <class E>
__global__ void channel_bias_kernel(float* y, long long total, long long filters, long long positions,
                                    const float* __restrict__ bias, E e) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < total; i += 256ll * gridDim.x)
    y[i] = e(bias ? y[i] + bias[(i / positions) % filters] : y[i]);
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

// Y = e(conv(X, W) + bias). col: scratch of chunk * (channels * taps) * positions floats (unused
// when pointwise or grouped); finish: whether a bias or an epilogue follows the products.
template <class E>
void conv(cublasHandle_t blas, const float* x, const float* w, const float* bias, float* y, float* col,
          long long batch, long long channels, long long filters, long long groups, long long chunk, bool pointwise,
          const WindowShape& s, bool finish, E e, cudaStream_t stream) {
  const long long positions = s.out_size(), total = batch * filters * positions;
  if (total == 0) return;
  if (groups > 1) {
    conv_direct_kernel<<<blocks_for(total), 256, 0, stream>>>(x, w, bias, y, batch, channels, filters, groups, s, e);
    return;
  }
  const long long inner = channels * s.taps();
  if (pointwise) {
    gemm_batched(blas, int(batch), int(filters), int(positions), int(inner), w, 0, x, channels * s.in_size(), y);
  } else {
    for (long long first = 0; first < batch; first += chunk) {
      const long long images = batch - first < chunk ? batch - first : chunk;
      im2col_kernel<<<blocks_for(images * inner * positions), 256, 0, stream>>>(x + first * channels * s.in_size(),
                                                                                 col, images, channels, s);
      gemm_batched(blas, int(images), int(filters), int(positions), int(inner), w, 0, col, inner * positions,
                   y + first * filters * positions);
    }
  }
  if (finish) channel_bias_kernel<<<blocks_for(total), 256, 0, stream>>>(y, total, filters, positions, bias, e);
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
