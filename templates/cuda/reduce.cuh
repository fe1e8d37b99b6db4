// Reductions over any set of axes (ReduceSum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum,
// LogSumExp): one thread per output element walks its reduced elements; the kept and reduced
// dims come merged and with their input strides, as reduction.cpp plans them.
#pragma once

#include "runtime.cuh"

enum class ReduceOp { Sum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp };

struct ReduceLayout {
  int kept_rank, red_rank;
  long long kept_dims[8], kept_strides[8], red_dims[8], red_strides[8];
  long long red_count;
};

template <int = 0>
__global__ void reduce_kernel(const float* __restrict__ x, float* __restrict__ y, long long n, ReduceLayout l,
                              ReduceOp op) {
  for (long long o = blockIdx.x * 256ll + threadIdx.x; o < n; o += 256ll * gridDim.x) {
    long long rest = o, base = 0;
    for (int d = l.kept_rank - 1; d >= 0; --d) {
      base += (rest % l.kept_dims[d]) * l.kept_strides[d];
      rest /= l.kept_dims[d];
    }
    auto at = [&](long long k) {
      long long offset = base;
      for (int d = l.red_rank - 1; d >= 0; --d) {
        offset += (k % l.red_dims[d]) * l.red_strides[d];
        k /= l.red_dims[d];
      }
      return x[offset];
    };
    float acc = op == ReduceOp::Max ? -INFINITY : op == ReduceOp::Min ? INFINITY : op == ReduceOp::Prod ? 1.f : 0.f;
    float top = -INFINITY;
    if (op == ReduceOp::LogSumExp)
      for (long long k = 0; k < l.red_count; ++k) top = fmaxf(top, at(k));
    for (long long k = 0; k < l.red_count; ++k) {
      const float v = at(k);
      switch (op) {
        // NaN propagates, as in the CPU kernels (fmaxf and fminf would drop it).
        case ReduceOp::Max: acc = (v > acc || v != v) ? v : acc; break;
        case ReduceOp::Min: acc = (v < acc || v != v) ? v : acc; break;
        case ReduceOp::Prod: acc *= v; break;
        case ReduceOp::L1: acc += fabsf(v); break;
        case ReduceOp::L2:
        case ReduceOp::SumSquare: acc += v * v; break;
        case ReduceOp::LogSumExp: acc += expf(v - top); break;
        default: acc += v;
      }
    }
    if (op == ReduceOp::Mean && l.red_count > 0) acc /= static_cast<float>(l.red_count);
    if (op == ReduceOp::L2) acc = sqrtf(acc);
    if (op == ReduceOp::LogSum) acc = logf(acc);
    if (op == ReduceOp::LogSumExp) acc = top + logf(acc);
    y[o] = acc;
  }
}

inline void reduce(const float* x, float* y, long long n, const ReduceLayout& l, ReduceOp op, cudaStream_t stream) {
  if (n > 0) reduce_kernel<><<<blocks_for(n), 256, 0, stream>>>(x, y, n, l, op);
}
