// Max and average pooling of any spatial rank over [N*C, spatial...] planes.
#pragma once
#include "prelude.hpp"
#include "conv.hpp"

enum class PoolKind { Max, Average, AverageCountPad };

// For AverageCountPad, pad_end gives the padded extent the divisor counts (ONNX counts
// padding cells but never cells added only by ceil_mode).
template <class T>
inline void pool_nd(const T* x, T* y, int64_t planes, const ConvGeometry& g, const int64_t* pad_end, PoolKind kind) {
  int64_t ksize = 1, osize = 1, isize = 1;
  for (int d = 0; d < g.rank; ++d) {
    ksize *= g.kernel[d];
    osize *= g.out[d];
    isize *= g.in[d];
  }
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * isize;
    T* yp = y + p * osize;
    int64_t opos[8] = {0};
    for (int64_t o = 0; o < osize; ++o) {
      T acc = kind == PoolKind::Max ? std::numeric_limits<T>::lowest() : T(0);
      int64_t count = 0, padded_count = 1;
      if (kind == PoolKind::AverageCountPad)
        for (int d = 0; d < g.rank; ++d) {
          const int64_t start = opos[d] * g.stride[d] - g.pad_begin[d];
          const int64_t limit = g.in[d] + pad_end[d];
          const int64_t end = std::min(start + (g.kernel[d] - 1) * g.dilation[d] + 1, limit);
          padded_count *= (end - start + g.dilation[d] - 1) / g.dilation[d];
        }
      int64_t kpos[8] = {0};
      for (int64_t k = 0; k < ksize; ++k) {
        int64_t src = 0;
        bool inside = true;
        for (int d = 0; d < g.rank; ++d) {
          const int64_t q = opos[d] * g.stride[d] - g.pad_begin[d] + kpos[d] * g.dilation[d];
          inside = inside && q >= 0 && q < g.in[d];
          src = src * g.in[d] + q;
        }
        if (inside) {
          const T v = xp[src];
          if (kind == PoolKind::Max) acc = (v > acc || v != v) ? v : acc;
          else acc += v;
          ++count;
        }
        for (int d = g.rank - 1; d >= 0; --d) {
          if (++kpos[d] < g.kernel[d]) break;
          kpos[d] = 0;
        }
      }
      if (kind == PoolKind::Average) acc = count ? acc / T(count) : T(0);
      else if (kind == PoolKind::AverageCountPad) acc = acc / T(padded_count);
      yp[o] = acc;
      for (int d = g.rank - 1; d >= 0; --d) {
        if (++opos[d] < g.out[d]) break;
        opos[d] = 0;
      }
    }
  }
}

// Mean over each plane of [planes, size].
template <class T>
inline void global_average(const T* x, T* y, int64_t planes, int64_t size) {
  for (int64_t p = 0; p < planes; ++p) {
    T acc = T(0);
    for (int64_t i = 0; i < size; ++i) acc += x[p * size + i];
    y[p] = acc / T(size);
  }
}
