// A chain of small dense layers in one kernel (DenseChainFusion): y = f_L(...f_1(x W_1 + b_1)...
// W_L + b_L) for the few rows of a trigger's MLP, where each layer through cuBLAS would cost a
// launch (a few microseconds in a replayed graph) for a product of some thousand multiply-adds.
//
// A block takes RB rows through every layer. Its first act is to start copying all the chain's
// weights into shared memory (asynchronous copies, one group per layer, so that layer 1
// computes while the later layers' weights are still on their way); the activations stay in
// shared memory between layers and only the last layer's rows are written out. Sums run in a
// fixed order: the same bits every run.
#pragma once

#include <cuda_pipeline.h>

#include <cstdint>

#include "functors.cuh"
#include "runtime.cuh"

constexpr int kDenseChainMaxLayers = 8;
constexpr int kDenseChainThreads = 256;

// widths[0] inputs, widths[l + 1] outputs of layer l. The weights blob holds per layer W as
// [in][padded out] (out padded to a multiple of 4 with zeros, so that each layer starts on 16
// bytes), then the bias [padded out] (zeros where the layer has none): the image the block
// copies into shared memory as it is.
struct DenseChainShape {
  int layers;
  int widths[kDenseChainMaxLayers + 1];
};

__host__ __device__ inline int dense_chain_padded(int n) { return (n + 3) / 4 * 4; }

// Floats of layer l's part of the blob, and of the blob.
__host__ __device__ inline long long dense_chain_layer_floats(const DenseChainShape& s, int l) {
  const long long p = dense_chain_padded(s.widths[l + 1]);
  return (s.widths[l] + 1ll) * p;
}
__host__ __device__ inline long long dense_chain_blob_floats(const DenseChainShape& s) {
  long long total = 0;
  for (int l = 0; l < s.layers; ++l) total += dense_chain_layer_floats(s, l);
  return total;
}
__host__ __device__ inline int dense_chain_max_width(const DenseChainShape& s) {
  int m = 0;
  for (int l = 0; l <= s.layers; ++l) m = s.widths[l] > m ? s.widths[l] : m;
  return m;
}
// Shared memory of a block of RB rows: the weights and two activation buffers.
inline std::size_t dense_chain_shared_bytes(const DenseChainShape& s, int rb) {
  return static_cast<std::size_t>(dense_chain_blob_floats(s) + 2ll * rb * dense_chain_max_width(s)) * sizeof(float);
}

// One layer of RB rows: in [RB][stride] -> out (shared memory, or the output rows in global
// memory when last). S lanes of a warp share a column (S a power of two, up to 32, so that a
// narrow layer still uses the block's threads, each lane over at least 4 of the K inputs):
// lane s sums inputs s, s + S, ... (adjacent lanes, adjacent words of `in`), then a butterfly
// adds the S partial sums (a fixed tree: the same bits every run, in every lane).
template <int RB, class F>
__device__ void dense_chain_layer(const float* __restrict__ w, const float* in, int stride, int K, int N, float* out,
                                  long long out_stride, int valid_rows, F f) {
  const int P = dense_chain_padded(N);
  const float* bias = w + static_cast<long long>(K) * P;
  int S = 1;
  while (S < 32 && 2 * S * N <= kDenseChainThreads && 8 * S <= K) S *= 2;
  const int s = static_cast<int>(threadIdx.x) % S, columns = kDenseChainThreads / S;
  // Every lane of a warp runs every pass (the butterfly needs them all).
  for (int n0 = 0; n0 < N; n0 += columns) {
    const int n = n0 + static_cast<int>(threadIdx.x) / S;
    const bool inside = n < N;
    float acc[RB] = {};
    if (inside) {
#pragma unroll 4
      for (int k = s; k < K; k += S) {
        const float wv = w[k * P + n];
#pragma unroll
        for (int r = 0; r < RB; ++r) acc[r] = fmaf(in[r * stride + k], wv, acc[r]);
      }
    }
    for (int o = S / 2; o > 0; o /= 2)
#pragma unroll
      for (int r = 0; r < RB; ++r) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], o);
    if (inside && s == 0) {
#pragma unroll
      for (int r = 0; r < RB; ++r)
        if (r < valid_rows) out[r * out_stride + n] = f(acc[r] + bias[n]);
    }
  }
}

template <int RB, class... F>
__global__ void __launch_bounds__(kDenseChainThreads)
    dense_chain_kernel(const float* __restrict__ x, const float* __restrict__ blob, float* __restrict__ y,
                       long long rows, DenseChainShape s, F... f) {
  extern __shared__ float4 dense_chain_shared[];
  float* w = reinterpret_cast<float*>(dense_chain_shared);
  const long long blob_floats = dense_chain_blob_floats(s);
  const int width = dense_chain_max_width(s);
  float* buffers[2] = {w + blob_floats, w + blob_floats + RB * width};
  // The weights, a commit group per layer (16-byte copies; every part is a multiple of 4 floats).
  long long offset = 0;
  for (int l = 0; l < s.layers; ++l) {
    const long long n4 = dense_chain_layer_floats(s, l) / 4;
    for (long long i = threadIdx.x; i < n4; i += kDenseChainThreads)
      __pipeline_memcpy_async(w + offset + 4 * i, blob + offset + 4 * i, 16);
    __pipeline_commit();
    offset += 4 * n4;
  }
  // The block's rows of x (zeros past the last row).
  const long long r0 = blockIdx.x * static_cast<long long>(RB);
  const int valid = rows - r0 < RB ? static_cast<int>(rows - r0) : RB;
  const int K0 = s.widths[0];
  for (int i = threadIdx.x; i < RB * K0; i += kDenseChainThreads) {
    const int r = i / K0, k = i % K0;
    buffers[0][r * width + k] = r < valid ? x[(r0 + r) * K0 + k] : 0.f;
  }
  int l = 0;
  long long layer_offset = 0;
  auto layer = [&](auto fl) {
    __pipeline_wait_prior(s.layers - 1 - l);  // this layer's weights have arrived (this thread's copies)
    __syncthreads();                          // ... and every thread's, and the input rows
    const int K = s.widths[l], N = s.widths[l + 1];
    const bool last = l == s.layers - 1;
    dense_chain_layer<RB>(w + layer_offset, buffers[l & 1], width, K, N, last ? y + r0 * N : buffers[(l + 1) & 1],
                          last ? N : width, last ? valid : RB, fl);
    layer_offset += dense_chain_layer_floats(s, l);
    ++l;
  };
  (layer(f), ...);
}

// rows x widths[0] -> rows x widths[layers], one functor per layer (their count is s.layers).
// shared_limit: the shared memory a block may ask for (Runtime::shared_memory_optin()).
template <class... F>
void dense_chain(const float* x, const float* blob, float* y, long long rows, const DenseChainShape& s,
                 int shared_limit, cudaStream_t stream, F... f) {
  static_assert(sizeof...(F) >= 1 && sizeof...(F) <= kDenseChainMaxLayers, "one functor per layer");
  if (rows <= 0) return;
  auto launch = [&](auto rb) {
    constexpr int RB = decltype(rb)::value;
    const std::size_t bytes = dense_chain_shared_bytes(s, RB);
    if (bytes > static_cast<std::size_t>(shared_limit))
      throw std::runtime_error("dense_chain: " + std::to_string(bytes) + " bytes of shared memory per block; the card has " +
                               std::to_string(shared_limit));
    const auto kernel = dense_chain_kernel<RB, F...>;
    allow_shared_memory(kernel, bytes, shared_limit, "cudaFuncSetAttribute(dense_chain_kernel)");
    const long long blocks = (rows + RB - 1) / RB;
    kernel<<<static_cast<unsigned>(blocks), kDenseChainThreads, bytes, stream>>>(x, blob, y, rows, s, f...);
  };
  // More rows per block share the block's copy of the weights; fewer keep more blocks busy.
  if (rows <= 1) launch(std::integral_constant<int, 1>{});
  else if (rows <= 2) launch(std::integral_constant<int, 2>{});
  else if (rows <= 64) launch(std::integral_constant<int, 4>{});
  else launch(std::integral_constant<int, 8>{});
}
