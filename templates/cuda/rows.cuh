// Kernels over rows: softmax and its log along an axis, layer normalization over the last
// axes, batch normalization (inference) per channel, group normalization (a block per group). One warp per row of the reduced axis when
// it is the innermost (the common case: softmax over classes, layer norm over features), else
// one thread per (outer, inner) position.
#pragma once

#include "runtime.cuh"

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// outer x len x inner; log: log-softmax. (The kernels here are templates, as all others: a
// header included by several .cu files of one program must not define a kernel twice.)
template <int = 0>
__global__ void softmax_kernel(const float* __restrict__ x, float* y, long long outer, long long len, long long inner,
                               bool log) {
  if (inner == 1) {
    const long long row = blockIdx.x * 8ll + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= outer) return;
    const float* xr = x + row * len;
    float* yr = y + row * len;
    float m = -INFINITY;
    for (long long i = lane; i < len; i += 32) m = fmaxf(m, xr[i]);
    m = warp_max(m);
    float s = 0.f;
    for (long long i = lane; i < len; i += 32) s += expf(xr[i] - m);
    s = warp_sum(s);
    const float ls = logf(s);
    for (long long i = lane; i < len; i += 32) yr[i] = log ? xr[i] - m - ls : expf(xr[i] - m) / s;
    return;
  }
  const long long col = blockIdx.x * 256ll + threadIdx.x;
  if (col >= outer * inner) return;
  const float* xc = x + (col / inner) * len * inner + col % inner;
  float* yc = y + (col / inner) * len * inner + col % inner;
  float m = -INFINITY;
  for (long long i = 0; i < len; ++i) m = fmaxf(m, xc[i * inner]);
  float s = 0.f;
  for (long long i = 0; i < len; ++i) s += expf(xc[i * inner] - m);
  const float ls = logf(s);
  for (long long i = 0; i < len; ++i) yc[i * inner] = log ? xc[i * inner] - m - ls : expf(xc[i * inner] - m) / s;
}

inline void softmax(const float* x, float* y, long long outer, long long len, long long inner, bool log,
                    cudaStream_t stream) {
  if (outer * len * inner == 0) return;
  const long long threads = inner == 1 ? outer * 32 : outer * inner;
  softmax_kernel<><<<static_cast<unsigned>((threads + 255) / 256), 256, 0, stream>>>(x, y, outer, len, inner, log);
}

// Each of `rows` rows of `len`: (x - mean) / sqrt(var + eps) * scale + bias (scale, bias: len
// values, bias may be null), mean and variance in float over the row.
template <int = 0>
__global__ void layer_norm_kernel(const float* __restrict__ x, const float* __restrict__ scale,
                                  const float* __restrict__ bias, float* y, long long rows, long long len, float eps) {
  const long long row = blockIdx.x * 8ll + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* xr = x + row * len;
  float* yr = y + row * len;
  float s = 0.f;
  for (long long i = lane; i < len; i += 32) s += xr[i];
  const float mean = warp_sum(s) / static_cast<float>(len);
  float v = 0.f;
  for (long long i = lane; i < len; i += 32) v += (xr[i] - mean) * (xr[i] - mean);
  const float inv = rsqrtf(warp_sum(v) / static_cast<float>(len) + eps);
  for (long long i = lane; i < len; i += 32) yr[i] = (xr[i] - mean) * inv * scale[i] + (bias ? bias[i] : 0.f);
}

inline void layer_norm(const float* x, const float* scale, const float* bias, float* y, long long rows, long long len,
                       float eps, cudaStream_t stream) {
  if (rows * len == 0) return;
  layer_norm_kernel<><<<static_cast<unsigned>((rows * 32 + 255) / 256), 256, 0, stream>>>(x, scale, bias, y, rows, len,
                                                                                          eps);
}

// N x C x spatial: y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c], then e.
template <class E>
__global__ void batch_norm_kernel(const float* __restrict__ x, const float* __restrict__ scale,
                                  const float* __restrict__ bias, const float* __restrict__ mean,
                                  const float* __restrict__ var, float* y, long long n, long long channels,
                                  long long spatial, float eps, E e) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    const long long c = (i / spatial) % channels;
    y[i] = e((x[i] - mean[c]) * rsqrtf(var[c] + eps) * scale[c] + bias[c]);
  }
}

template <class E>
void batch_norm(const float* x, const float* scale, const float* bias, const float* mean, const float* var, float* y,
                long long n, long long channels, long long spatial, float eps, E e, cudaStream_t stream) {
  if (n > 0)
    batch_norm_kernel<<<blocks_for(n), 256, 0, stream>>>(x, scale, bias, mean, var, y, n, channels, spatial, eps, e);
}

// The sum of v over a block of Threads threads (every thread gets it). partial: Threads / 32
// floats of shared memory, free again when this returns.
template <int Threads> __device__ __forceinline__ float block_sum(float v, float* partial) {
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < Threads / 32; ++w) total += partial[w];
  __syncthreads();
  return total;
}

// Group (and instance) normalization of N x C x spatial: a block of 1024 threads per (image,
// group), whose channels * spatial elements are contiguous (a diffusion UNet at batch 1 has
// only 8 groups: the block is what parallelism there is):
// y = e((x - mean) / sqrt(var + eps) * scale + bias), scale and bias per channel, or per group
// (per_group). Each thread reads its elements before writing them, so y may be x.
constexpr int kGroupNormThreads = 1024;

template <class E>
__global__ void __launch_bounds__(kGroupNormThreads) group_norm_kernel(const float* x, const float* __restrict__ scale, const float* __restrict__ bias,
                                  float* y, long long channels, long long spatial, long long groups, bool per_group,
                                  float eps, E e) {
  constexpr int T = kGroupNormThreads;
  __shared__ float partial[T / 32];
  const long long group = blockIdx.x % groups, group_channels = channels / groups, len = group_channels * spatial;
  const float* xr = x + blockIdx.x * len;
  float* yr = y + blockIdx.x * len;
  float s = 0.f;
  for (long long i = threadIdx.x; i < len; i += T) s += xr[i];
  const float mean = block_sum<T>(s, partial) / static_cast<float>(len);
  float v = 0.f;
  for (long long i = threadIdx.x; i < len; i += T) v += (xr[i] - mean) * (xr[i] - mean);
  const float inv = rsqrtf(block_sum<T>(v, partial) / static_cast<float>(len) + eps);
  for (long long i = threadIdx.x; i < len; i += T) {
    const long long p = per_group ? group : group * group_channels + i / spatial;
    yr[i] = e((xr[i] - mean) * inv * scale[p] + bias[p]);
  }
}

template <class E>
void group_norm(const float* x, const float* scale, const float* bias, float* y, long long batch, long long channels,
                long long spatial, long long groups, float eps, bool per_group, E e, cudaStream_t stream) {
  if (batch * channels * spatial == 0) return;
  group_norm_kernel<<<static_cast<unsigned>(batch * groups), kGroupNormThreads, 0, stream>>>(
      x, scale, bias, y, channels, spatial, groups, per_group, eps, e);
}
