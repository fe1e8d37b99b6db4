// Data movement: transpose, concatenation, gather.
#pragma once
#include "prelude.hpp"

// y = transpose(x): out_dims are y's dims, in_strides[d] is x's stride along y's axis d.
template <class T>
inline void transpose(const T* x, T* y, int rank, const int64_t* out_dims, const int64_t* in_strides) {
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= out_dims[d];
  if (total == 0) return;
  if (rank == 0) {
    y[0] = x[0];
    return;
  }
  const int64_t inner = out_dims[rank - 1], inner_stride = in_strides[rank - 1];
  int64_t index[16] = {0};
  int64_t src = 0;
  for (int64_t o = 0; o < total; o += inner) {
    for (int64_t i = 0; i < inner; ++i) y[o + i] = x[src + i * inner_stride];
    for (int d = rank - 2; d >= 0; --d) {
      src += in_strides[d];
      if (++index[d] < out_dims[d]) break;
      src -= in_strides[d] * out_dims[d];
      index[d] = 0;
    }
  }
}

// Copies x viewed as [outer, chunk] into y viewed as [outer, y_chunk] at column offset.
template <class T>
inline void copy_blocks(const T* x, T* y, int64_t outer, int64_t chunk, int64_t y_chunk, int64_t offset) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < chunk; ++i) y[o * y_chunk + offset + i] = x[o * chunk + i];
}

// y[outer, n, inner] = x[outer, indices[n], inner] with x's axis of length axis_len.
// Indices may be negative (counted from the end); out-of-range ones yield zeros.
template <class T, class I>
inline void gather(const T* x, const I* indices, T* y, int64_t outer, int64_t axis_len, int64_t inner, int64_t n) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j) {
      int64_t idx = int64_t(indices[j]);
      if (idx < 0) idx += axis_len;
      T* dst = y + (o * n + j) * inner;
      if (idx < 0 || idx >= axis_len) {
        for (int64_t i = 0; i < inner; ++i) dst[i] = T(0);
        continue;
      }
      const T* src = x + (o * axis_len + idx) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = src[i];
    }
}
