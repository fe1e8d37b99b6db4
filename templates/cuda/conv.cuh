// Convolution and pooling over 1 to 3 spatial dims of [N, C, spatial...] tensors. A
// convolution without groups is one matrix product, Y[f][n] = W[f][k] X[k][n] over the filters
// f, the columns n (every output position of every image) and the inner dim k (every channel
// and tap), run as an implicit GEMM: each block gathers its tile of X from the input as it
// goes (no im2col columns written and read again) and ends in the bias and the fused
// epilogue, one kernel for the node. Pointwise convolutions, already a product on the input as it
// is, go to cuBLAS (see conv()). Grouped and depthwise convolutions, whose products are too small
// to tile, and pooling run directly: a thread per output element.
#pragma once

#include <mma.h>

#include "../shared/conv_tiles.hpp"
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

// Tap t's offsets along the three dims (dilation applied) and, in w, within a channel.
__device__ inline int4 conv_tap(const ConvGemmShape& g, int t) {
  const int k2 = t % g.kernel[2], k1 = (t / g.kernel[2]) % g.kernel[1], k0 = t / (g.kernel[2] * g.kernel[1]);
  const int d0 = k0 * g.dilation[0], d1 = k1 * g.dilation[1], d2 = k2 * g.dilation[2];
  return make_int4(d0, d1, d2, (d0 * g.in[1] + d1) * g.in[2] + d2);
}

constexpr int kConvTapTable = 256;  // taps decoded once per block into shared memory; more by division

// The tiles of one block of either kernel below: BM filters by BN columns, over inner-dim rows
// [k_begin, k_end) of slice blockIdx.z, 8 rows a stage, `Stages` stages in shared memory. A
// stage is copied asynchronously (cp.async, zero-filled in the padding and past the edges), so
// that the copies of the next Stages - 1 stages are in flight while one stage's products run
// (no register staging; the gathers' instructions, not the memory latency, bound the kernel:
// benchmarks/cuda_conv_rates.cu). The weights' tile is stored transposed, as[k][filter], its
// rows padded by 4 floats (the stores of the 8 threads that share a filter land on distinct
// banks), the input's as bs[k][column]. Each thread gathers one column of the input's tile: its
// image and window corner are fixed, its rows' (channel, tap) step by 8 a stage without
// dividing, and a tap's offset comes from a table. Which taps of its window fall inside the input
// is tested once, into a bit mask (up to 32 taps), since the kernel is bound by issued
// instructions, more than half of them not the products' (Nsight Compute, resnet18's 56 x 56 layer).
template <int BM, int BN>
struct ConvTileLoader {
  static constexpr int BK = 8, kALoads = BM * BK / 256, kBLoads = BN * BK / 256, kBRowStep = 256 / BN;
  // As many stages as fit 48 KiB of static shared memory with the tap table: 4 for 128 x 128
  // tiles, 5 for 64 x 128, 8 for 64 x 64.
  static constexpr int Stages = BM == 128 ? 4 : BN == 128 ? 5 : 8;
  int tid, m0, k_end, column, corner0, corner1, corner2, window, channel_step, tap_step;
  unsigned inside;  // bit t: tap t of this column's window falls inside the input (taps <= 32)
  bool column_ok;
  const float* __restrict__ xi;
  int row_channel[kBLoads], row_tap[kBLoads];
  int a_row[kALoads];  // the weights' row (filter) of each of this thread's copies, -1 past the filters

  // tap_table: decoded (conv_tap_table) and visible to the block.
  __device__ ConvTileLoader(const ConvGemmShape& g, const float* __restrict__ x, const int4* tap_table, int m0_,
                            int n0, int k_begin, int k_end_)
      : tid(threadIdx.x), m0(m0_), k_end(k_end_), column(threadIdx.x % BN) {
    const int n = n0 + column;
    column_ok = n < g.columns;
    const int image = column_ok ? n / g.positions : 0, p = column_ok ? n - image * g.positions : 0;
    xi = x + static_cast<long long>(image) * g.in_image;
    corner0 = p / (g.out[1] * g.out[2]) * g.stride[0] - g.pad[0];
    corner1 = p / g.out[2] % g.out[1] * g.stride[1] - g.pad[1];
    corner2 = p % g.out[2] * g.stride[2] - g.pad[2];
    window = (corner0 * g.in[1] + corner1) * g.in[2] + corner2;
    // Which taps fall inside, tested once here rather than at every copy.
    inside = 0;
    if (g.taps <= 32)
      for (int t = 0; t < g.taps; ++t) inside |= unsigned(covers(g, tap_table[t])) << t;
#pragma unroll
    for (int j = 0; j < kBLoads; ++j) {
      const int k = k_begin + tid / BN + j * kBRowStep;
      row_channel[j] = k / g.taps;
      row_tap[j] = k - row_channel[j] * g.taps;
    }
    channel_step = BK / g.taps;
    tap_step = BK % g.taps;
#pragma unroll
    for (int i = 0; i < kALoads; ++i) {
      const int m = m0 + (tid + i * 256) / BK;
      a_row[i] = m < g.filters ? m : -1;
    }
  }

  // Whether this column's window, moved by tap offsets d, falls inside the input.
  __device__ bool covers(const ConvGemmShape& g, int4 d) const {
    return unsigned(corner0 + d.x) < unsigned(g.in[0]) && unsigned(corner1 + d.y) < unsigned(g.in[1]) &&
           unsigned(corner2 + d.z) < unsigned(g.in[2]);
  }

  // Starts the copies of rows [k0, k0 + 8) into one stage (called for consecutive stages).
  __device__ void copy(const ConvGemmShape& g, const float* __restrict__ w, const int4* tap_table,
                       float (*as)[BM + 4], float (*bs)[BN], int k0) {
#pragma unroll
    for (int i = 0; i < kALoads; ++i) {
      const int idx = tid + i * 256, k = k0 + idx % BK;
      const bool ok = a_row[i] >= 0 && k < k_end;
      __pipeline_memcpy_async(&as[idx % BK][idx / BK], ok ? w + static_cast<long long>(a_row[i]) * g.inner + k : w, 4,
                              ok ? 0 : 4);
    }
#pragma unroll
    for (int j = 0; j < kBLoads; ++j) {
      const int k = k0 + tid / BN + j * kBRowStep;
      const float* src = nullptr;
      if (column_ok && k < k_end) {
        // The window's offset plus the tap's, where the tap falls inside: the mask and the
        // table's offset (the path every copy of a window of up to 32 taps takes), else tested
        // here (past the table, the tap decoded here).
        const int t = row_tap[j];
        const int at = row_channel[j] * g.in_size + window;  // (negative in the padding)
        if (g.taps <= 32) {
          if (inside >> t & 1u) src = xi + (at + tap_table[t].w);
        } else {
          const int4 d = t < kConvTapTable ? tap_table[t] : conv_tap(g, t);
          if (covers(g, d)) src = xi + (at + d.w);
        }
      }
      __pipeline_memcpy_async(&bs[tid / BN + j * kBRowStep][column], src ? src : xi, 4, src ? 0 : 4);
      row_tap[j] += tap_step;
      row_channel[j] += channel_step;
      if (row_tap[j] >= g.taps) {
        row_tap[j] -= g.taps;
        ++row_channel[j];
      }
    }
  }

  // Runs the pipeline over the block's rows: compute(stage) once per stage, in order, after
  // that stage has landed in shared memory (as[stage], bs[stage]).
  template <class Compute>
  __device__ void run(const ConvGemmShape& g, const float* __restrict__ w, const int4* tap_table,
                      float (*as)[BK][BM + 4], float (*bs)[BK][BN], int k_begin, Compute&& compute) {
#pragma unroll
    for (int s = 0; s < Stages - 1; ++s) {
      if (k_begin + s * BK < k_end) copy(g, w, tap_table, as[s], bs[s], k_begin + s * BK);
      __pipeline_commit();
    }
    int stage = 0, refill = Stages - 1;
    for (int k0 = k_begin; k0 < k_end; k0 += BK) {
      __pipeline_wait_prior(Stages - 2);  // this stage's copies (of this thread) have landed
      __syncthreads();                    // everyone's have, and the stage refilled next is done with
      const int next = k0 + (Stages - 1) * BK;
      if (next < k_end) copy(g, w, tap_table, as[refill], bs[refill], next);
      __pipeline_commit();
      compute(stage);
      stage = stage + 1 == Stages ? 0 : stage + 1;
      refill = refill + 1 == Stages ? 0 : refill + 1;
    }
  }
};

// Decodes the first kConvTapTable taps into the block's table.
__device__ inline void conv_tap_table(const ConvGemmShape& g, int4* table) {
  for (int t = threadIdx.x; t < g.taps && t < kConvTapTable; t += blockDim.x) table[t] = conv_tap(g, t);
}

// Output (filter f, column n) of the product, at its place in y ([image][filter][position]):
// y = e(v + bias), or v to slice blockIdx.z of the partial sums (each slice laid out as y),
// which conv_finish_kernel adds up.
template <class E>
__device__ inline void conv_gemm_put(const ConvGemmShape& g, float* __restrict__ y, float* __restrict__ partial,
                                     const float* __restrict__ bias, int f, int n, float v, E& e) {
  if (f >= g.filters || n >= g.columns) return;
  const int image = n / g.positions;
  const long long at = (static_cast<long long>(image) * g.filters + f) * g.positions + (n - image * g.positions);
  if (partial)
    partial[static_cast<long long>(blockIdx.z) * g.columns * g.filters + at] = v;
  else
    y[at] = e(bias ? v + bias[f] : v);
}

// Float32 on the FMA units: a tile of 16*TM filters by 16*TN columns, a thread 4-wide groups of
// rows and of columns 64 apart, so that a warp's float4 reads of a stage row hit distinct banks.
template <int TM, int TN, class E>
__global__ void __launch_bounds__(256, 2) conv_gemm_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                                        const float* __restrict__ bias, float* __restrict__ y,
                                                        float* __restrict__ partial, ConvGemmShape g,
                                                        int inner_per_split, E e) {
  constexpr int BM = 16 * TM, BN = 16 * TN, BK = 8, S = ConvTileLoader<BM, BN>::Stages;
  __shared__ __align__(16) float as[S][BK][BM + 4];
  __shared__ __align__(16) float bs[S][BK][BN];
  __shared__ int4 tap_table[kConvTapTable];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, k_begin = blockIdx.z * inner_per_split;
  conv_tap_table(g, tap_table);
  __syncthreads();
  ConvTileLoader<BM, BN> tiles(g, x, tap_table, m0, n0, k_begin, min(g.inner, k_begin + inner_per_split));

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;
  tiles.run(g, w, tap_table, as, bs, k_begin, [&](int stage) {
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
  });
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j)
      conv_gemm_put(g, y, partial, bias, m0 + i / 4 * 64 + ty * 4 + i % 4, n0 + j / 4 * 64 + tx * 4 + j % 4, acc[i][j],
                    e);
}

// TF32 on the tensor cores (sofiec --tf32; compute capability 8.0 or later): the same tiles,
// the 8 warps 2 x 4 over the block's tile, each 16 x 16 x 8 products (wmma) of inputs rounded
// to TF32 into float32 sums; each warp's results pass through shared memory (the stages', free
// by then) to the epilogue (a fragment's element order is the hardware's).
template <int TM, int TN, class E>
__global__ void __launch_bounds__(256, 2) conv_gemm_tf32_kernel(const float* __restrict__ x,
                                                             const float* __restrict__ w,
                                                             const float* __restrict__ bias, float* __restrict__ y,
                                                             float* __restrict__ partial, ConvGemmShape g,
                                                             int inner_per_split, E e) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  using namespace ::nvcuda;
  constexpr int BM = 16 * TM, BN = 16 * TN, BK = 8, S = ConvTileLoader<BM, BN>::Stages;
  constexpr int WM = BM / 2, WN = BN / 4, FM = WM / 16, FN = WN / 16;
  // (wmma loads want 32-byte aligned rows: a stage's rows are multiples of 4 floats apart and
  // each fragment starts at row 0 of its stage.)
  __shared__ __align__(32) float as[S][BK][BM + 4];
  __shared__ __align__(32) float bs[S][BK][BN];
  __shared__ int4 tap_table[kConvTapTable];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, wm = warp / 4, wn = warp % 4;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, k_begin = blockIdx.z * inner_per_split;
  conv_tap_table(g, tap_table);
  __syncthreads();
  ConvTileLoader<BM, BN> tiles(g, x, tap_table, m0, n0, k_begin, min(g.inner, k_begin + inner_per_split));

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);
  tiles.run(g, w, tap_table, as, bs, k_begin, [&](int stage) {
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> a[FM];
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b[FN];
#pragma unroll
    for (int i = 0; i < FM; ++i) {
      wmma::load_matrix_sync(a[i], &as[stage][0][wm * WM + i * 16], BM + 4);
#pragma unroll
      for (int t = 0; t < a[i].num_elements; ++t) a[i].x[t] = wmma::__float_to_tf32(a[i].x[t]);
    }
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::load_matrix_sync(b[j], &bs[stage][0][wn * WN + j * 16], BN);
#pragma unroll
      for (int t = 0; t < b[j].num_elements; ++t) b[j].x[t] = wmma::__float_to_tf32(b[j].x[t]);
    }
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
  });
  __syncthreads();  // the stages are free: they stage the results
  float (*staging)[256] = reinterpret_cast<float (*)[256]>(&as[0][0][0]);
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(staging[warp], acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int at = lane; at < 256; at += 32)
        conv_gemm_put(g, y, partial, bias, m0 + wm * WM + i * 16 + at / 16, n0 + wn * WN + j * 16 + at % 16,
                      staging[warp][at], e);
      __syncwarp();
    }
#endif
}

// y = e(bias[f] + the sum of `slices` tensors laid out as y ([images][filters][positions]),
// `total` floats apart), a thread per output element: the partial sums of a sliced inner dim, or
// (slices = 1, in = y) a pointwise convolution's cuBLAS product.
template <class E>
__global__ void conv_finish_kernel(const float* in, int slices, float* y, long long total, long long filters,
                                   long long positions, const float* __restrict__ bias, E e) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < total; i += 256ll * gridDim.x) {
    float v = bias ? bias[i / positions % filters] : 0.f;
    for (int s = 0; s < slices; ++s) v += in[s * total + i];
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
// inner dim (conv_tiling; null and 0 where the compiler planned none); tf32: the products on the
// tensor cores; finish: whether a bias or an epilogue follows the product. A pointwise
// convolution (1 x 1, unit strides, no padding) is a plain product per image,
// Y_n[F][P] = W[F][C] X_n[C][P], on its input as it is: cuBLAS's strided-batched SGEMM runs it
// at twice the implicit GEMM's rate (whose scalar gathers bound it), then one pass adds the bias
// and the epilogue.
template <class E>
void conv(cublasHandle_t blas, const float* x, const float* w, const float* bias, float* y, float* partial,
          long long partial_floats, long long batch, long long channels, long long filters, long long groups,
          bool pointwise, const WindowShape& s, bool finish, E e, bool tf32, cudaStream_t stream) {
  const long long positions = s.out_size(), total = batch * filters * positions;
  if (total == 0) return;
  if (groups > 1) {
    conv_direct_kernel<<<blocks_for(total), 256, 0, stream>>>(x, w, bias, y, batch, channels, filters, groups, s, e);
    return;
  }
  if (pointwise) {
    gemm_batched(blas, int(batch), int(filters), int(positions), int(channels), w, 0, x, channels * positions, y);
    if (finish) conv_finish_kernel<<<blocks_for(total), 256, 0, stream>>>(y, 1, y, total, filters, positions, bias, e);
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
  using Kernel = void (*)(const float*, const float*, const float*, float*, float*, ConvGemmShape, int, E);
  const Kernel kernel = t.rows_per_thread == 8      ? (tf32 ? conv_gemm_tf32_kernel<8, 8, E> : conv_gemm_kernel<8, 8, E>)
                        : t.columns_per_thread == 8 ? (tf32 ? conv_gemm_tf32_kernel<4, 8, E> : conv_gemm_kernel<4, 8, E>)
                                                    : (tf32 ? conv_gemm_tf32_kernel<4, 4, E> : conv_gemm_kernel<4, 4, E>);
  const int bm = 16 * t.rows_per_thread, bn = 16 * t.columns_per_thread;
  const dim3 grid(unsigned((g.columns + bn - 1) / bn), unsigned((filters + bm - 1) / bm), unsigned(t.splits));
  kernel<<<grid, 256, 0, stream>>>(x, w, bias, y, sums, g, int(t.inner_per_split), e);
  if (sums) conv_finish_kernel<<<blocks_for(total), 256, 0, stream>>>(sums, t.splits, y, total, filters, positions, bias, e);
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
