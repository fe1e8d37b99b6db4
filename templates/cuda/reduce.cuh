// Reductions over any set of axes (ReduceSum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum,
// LogSumExp); the kept and reduced dims come merged and with their input strides, as
// reduction.cpp plans them. Outputs of 16 reduced elements or more get a warp each: the lanes
// take every 32nd element and combine in a fixed butterfly (the same bits every run), so that a
// mean over a graph's nodes or a jet's points is 32 short chains instead of one long one. Fewer
// reduced elements: a thread per output walks them all.
#pragma once

#include "runtime.cuh"

enum class ReduceOp { Sum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp };

struct ReduceLayout {
  int kept_rank, red_rank;
  long long kept_dims[8], kept_strides[8], red_dims[8], red_strides[8];
  long long red_count;
};

// The offset of output o's first element.
__device__ inline long long reduce_base(const ReduceLayout& l, long long o) {
  long long base = 0;
  for (int d = l.kept_rank - 1; d >= 0; --d) {
    base += (o % l.kept_dims[d]) * l.kept_strides[d];
    o /= l.kept_dims[d];
  }
  return base;
}

// The offset of reduced element k from its output's first (one reduced dim, the usual case
// after merging: no division).
__device__ inline long long reduce_offset(const ReduceLayout& l, long long k) {
  if (l.red_rank == 1) return k * l.red_strides[0];
  long long offset = 0;
  for (int d = l.red_rank - 1; d >= 0; --d) {
    offset += (k % l.red_dims[d]) * l.red_strides[d];
    k /= l.red_dims[d];
  }
  return offset;
}

__device__ inline float reduce_identity(ReduceOp op) {
  return op == ReduceOp::Max ? -INFINITY : op == ReduceOp::Min ? INFINITY : op == ReduceOp::Prod ? 1.f : 0.f;
}

// acc with element v (top: LogSumExp's maximum).
__device__ inline float reduce_step(ReduceOp op, float acc, float v, float top) {
  switch (op) {
    // NaN propagates, as in the CPU kernels (fmaxf and fminf would drop it).
    case ReduceOp::Max: return (v > acc || v != v) ? v : acc;
    case ReduceOp::Min: return (v < acc || v != v) ? v : acc;
    case ReduceOp::Prod: return acc * v;
    case ReduceOp::L1: return acc + fabsf(v);
    case ReduceOp::L2:
    case ReduceOp::SumSquare: return acc + v * v;
    case ReduceOp::LogSumExp: return acc + expf(v - top);
    default: return acc + v;
  }
}

// Two partial results of the same op.
__device__ inline float reduce_combine(ReduceOp op, float a, float b) {
  switch (op) {
    case ReduceOp::Max: return (b > a || b != b) ? b : a;
    case ReduceOp::Min: return (b < a || b != b) ? b : a;
    case ReduceOp::Prod: return a * b;
    default: return a + b;  // the sums, LogSumExp's sum of exponentials among them
  }
}

__device__ inline float reduce_finish(ReduceOp op, float acc, float top, long long count) {
  if (op == ReduceOp::Mean && count > 0) acc /= static_cast<float>(count);
  if (op == ReduceOp::L2) acc = sqrtf(acc);
  if (op == ReduceOp::LogSum) acc = logf(acc);
  if (op == ReduceOp::LogSumExp) acc = top + logf(acc);
  return acc;
}

template <int = 0>
__global__ void reduce_kernel(const float* __restrict__ x, float* __restrict__ y, long long n, ReduceLayout l,
                              ReduceOp op) {
  for (long long o = blockIdx.x * 256ll + threadIdx.x; o < n; o += 256ll * gridDim.x) {
    const float* xo = x + reduce_base(l, o);
    float top = -INFINITY;
    if (op == ReduceOp::LogSumExp)
      for (long long k = 0; k < l.red_count; ++k) top = fmaxf(top, xo[reduce_offset(l, k)]);
    float acc = reduce_identity(op);
    for (long long k = 0; k < l.red_count; ++k) acc = reduce_step(op, acc, xo[reduce_offset(l, k)], top);
    y[o] = reduce_finish(op, acc, top, l.red_count);
  }
}

// A warp per output (8 a block of 256).
template <int = 0>
__global__ void reduce_warp_kernel(const float* __restrict__ x, float* __restrict__ y, long long n, ReduceLayout l,
                                   ReduceOp op) {
  const int lane = threadIdx.x % 32;
  for (long long o = blockIdx.x * 8ll + threadIdx.x / 32; o < n; o += 8ll * gridDim.x) {
    const float* xo = x + reduce_base(l, o);
    float top = -INFINITY;
    if (op == ReduceOp::LogSumExp) {
      for (long long k = lane; k < l.red_count; k += 32) top = fmaxf(top, xo[reduce_offset(l, k)]);
      for (int m = 16; m > 0; m /= 2) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, m));
    }
    float acc = reduce_identity(op);
    for (long long k = lane; k < l.red_count; k += 32) acc = reduce_step(op, acc, xo[reduce_offset(l, k)], top);
    for (int m = 16; m > 0; m /= 2) acc = reduce_combine(op, acc, __shfl_xor_sync(0xffffffffu, acc, m));
    if (lane == 0) y[o] = reduce_finish(op, acc, top, l.red_count);
  }
}

inline void reduce(const float* x, float* y, long long n, const ReduceLayout& l, ReduceOp op, cudaStream_t stream) {
  if (n <= 0) return;
  if (l.red_count >= 16)
    reduce_warp_kernel<><<<blocks_for(n * 32), 256, 0, stream>>>(x, y, n, l, op);
  else
    reduce_kernel<><<<blocks_for(n), 256, 0, stream>>>(x, y, n, l, op);
}
