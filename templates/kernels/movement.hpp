// Data movement: strided views, concatenation, gather, pad.
#pragma once
#include "functors.hpp"
#include "../shared/index_rules.hpp"
#include "prelude.hpp"

// y[a, b] = x[a + b * ldx] for a < rows, b < cols (a 2-D transpose): whole 16x16 tiles in
// registers, the edges element by element.
inline void transpose_2d(const float* x, int64_t ldx, float* y, int64_t rows, int64_t cols) {
  const int64_t rows16 = rows / 16 * 16, cols16 = cols / 16 * 16;
  for (int64_t a = 0; a < rows16; a += 16) {
    for (int64_t b = 0; b < cols16; b += 16)
      transpose_tile16(x + a + b * ldx, ldx, y + a * cols + b, cols, std::make_index_sequence<16>{});
    for (int64_t i = 0; i < 16; ++i)
      for (int64_t b = cols16; b < cols; ++b) y[(a + i) * cols + b] = x[a + i + b * ldx];
  }
  for (int64_t a = rows16; a < rows; ++a)
    for (int64_t b = 0; b < cols; ++b) y[a * cols + b] = x[a + b * ldx];
}

// y = a strided view of x (Transpose, Slice, Expand, Tile, DepthToSpace...): out_dims are the
// view's dims in y's order, in_strides[d] is x's step along view axis d (0 repeats, negative
// walks backwards).
template <class T>
inline void copy_strided(const T* x, T* y, int rank, const int64_t* out_dims, const int64_t* in_strides) {
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= out_dims[d];
  if (total == 0) return;
  // Dims of 1 dropped and neighbours that x also steps through as one merged, so the inner
  // run is as long as it can be (an Expand of [N, 1, C] to [N, k, C] copies runs of C).
  int64_t dims[16], strides[16];
  const int r = simd::merge_dims(rank, out_dims, in_strides, dims, strides);
  if (r == 0) {
    y[0] = x[0];
    return;
  }
  const int64_t inner = dims[r - 1], inner_stride = strides[r - 1];
  if constexpr (std::is_same<T, float>::value) {
    // A transpose of the two innermost dims (x steps 1 along y's second-to-last): in tiles.
    if (r >= 2 && strides[r - 2] == 1 && inner_stride != 0 && dims[r - 2] >= 16 && inner >= 16) {
      const int64_t plane = dims[r - 2] * inner;
      int64_t index[16] = {0};
      int64_t src = 0;
      for (int64_t o = 0; o < total; o += plane) {
        transpose_2d(x + src, inner_stride, y + o, dims[r - 2], inner);
        simd::advance_index(r - 2, dims, strides, index, src);
      }
      return;
    }
  }
  int64_t index[16] = {0};
  int64_t src = 0;
  for (int64_t o = 0; o < total; o += inner) {
    if (inner_stride == 1) std::copy(x + src, x + src + inner, y + o);
    else if (inner_stride == 0) std::fill(y + o, y + o + inner, x[src]);
    else
      for (int64_t i = 0; i < inner; ++i) y[o + i] = x[src + i * inner_stride];
    simd::advance_index(r - 1, dims, strides, index, src);
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

// y = pad(x): pad_begin[d] may be negative (cropping). rank <= 16.
template <class T>
inline void pad(const T* x, T* y, int rank, const int64_t* in_dims, const int64_t* out_dims, const int64_t* pad_begin,
                PadMode mode, T value) {
  int64_t total = 1, in_strides[16], stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    in_strides[d] = stride;
    stride *= in_dims[d];
  }
  for (int d = 0; d < rank; ++d) total *= out_dims[d];
  int64_t index[16] = {0};
  for (int64_t o = 0; o < total; ++o) {
    int64_t src = 0;
    bool inside = true;
    for (int d = 0; d < rank && inside; ++d) {
      const int64_t i = pad_source(index[d] - pad_begin[d], in_dims[d], mode);
      inside = i >= 0;
      src += i * in_strides[d];
    }
    y[o] = inside ? x[src] : value;
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < out_dims[d]) break;
      index[d] = 0;
    }
  }
}

// Copies columns [offset, offset + y_chunk) of x viewed as [outer, x_chunk] into y viewed as [outer, y_chunk].
template <class T>
inline void copy_columns(const T* x, T* y, int64_t outer, int64_t x_chunk, int64_t y_chunk, int64_t offset) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < y_chunk; ++i) y[o * y_chunk + i] = x[o * x_chunk + offset + i];
}
