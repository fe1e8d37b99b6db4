// Reductions over any set of axes (ReduceSum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum,
// LogSumExp); the kept and reduced dims come merged and with their input strides, as
// reduction.cpp plans them. Outputs of 8 reduced elements or more, fewer than 131072 of them, get
// a group of 8, 16 or 32 lanes each (no wider than the reduction): the lanes take every G-th
// element and combine in a fixed butterfly (the same bits every run), so that a mean over a
// graph's nodes or a jet's points is G short chains instead of one long one. Otherwise a
// thread per output walks them all.
#pragma once

#include <type_traits>

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

// G lanes per output (G = 8, 16 or 32: 32 / G outputs a warp, 256 / G a block): lane g takes
// elements g, g + G, ..., then the group's butterfly. A group no wider than the reduction keeps
// every lane busy: a mean over 16 neighbours reads 16 adjacent words per group, two groups a
// warp, where a warp per output would leave half its lanes idle.
template <int G>
__global__ void reduce_group_kernel(const float* __restrict__ x, float* __restrict__ y, long long n, ReduceLayout l,
                                    ReduceOp op) {
  constexpr int per_warp = 32 / G;
  const int g = threadIdx.x % G;
  const long long warps = (n + per_warp - 1) / per_warp, stride = 8ll * gridDim.x;
  // Every lane of a warp runs every round (the butterfly needs them all).
  for (long long w = blockIdx.x * 8ll + threadIdx.x / 32; w < warps; w += stride) {
    const long long o = w * per_warp + (threadIdx.x % 32) / G;
    const bool active = o < n;
    const float* xo = x + (active ? reduce_base(l, o) : 0);
    float top = -INFINITY;
    if (op == ReduceOp::LogSumExp) {
      if (active)
        for (long long k = g; k < l.red_count; k += G) top = fmaxf(top, xo[reduce_offset(l, k)]);
      for (int m = G / 2; m > 0; m /= 2) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, m, G));
    }
    float acc = reduce_identity(op);
    if (active)
      for (long long k = g; k < l.red_count; k += G) acc = reduce_step(op, acc, xo[reduce_offset(l, k)], top);
    for (int m = G / 2; m > 0; m /= 2) acc = reduce_combine(op, acc, __shfl_xor_sync(0xffffffffu, acc, m, G));
    if (active && g == 0) y[o] = reduce_finish(op, acc, top, l.red_count);
  }
}

inline void reduce(const float* x, float* y, long long n, const ReduceLayout& l, ReduceOp op, cudaStream_t stream) {
  if (n <= 0) return;
  auto groups = [&](auto gc) {
    constexpr int G = decltype(gc)::value;
    const long long warps = (n + 32 / G - 1) / (32 / G);
    reduce_group_kernel<G><<<blocks_for(warps * 32), 256, 0, stream>>>(x, y, n, l, op);
  };
  // Groups where outputs are too few to fill the card a thread each (a mean over a graph's
  // nodes: latency); with more, a thread per output, whose index arithmetic (64-bit divisions)
  // serves one output per lane rather than one per group (a mean over 16 neighbours for 13 M
  // outputs: 4.4 ms in groups of 16 on an H200).
  if (n >= 131072 || l.red_count < 8) reduce_kernel<><<<blocks_for(n), 256, 0, stream>>>(x, y, n, l, op);
  else if (l.red_count >= 32) groups(std::integral_constant<int, 32>{});
  else if (l.red_count >= 16) groups(std::integral_constant<int, 16>{});
  else groups(std::integral_constant<int, 8>{});
}
