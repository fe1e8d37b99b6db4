// Data movement on the device: strided views (Transpose, Slice, Expand, Tile, DepthToSpace,
// SpaceToDepth: one thread per output element, its input offset from the view's strides) and
// Concat's and Split's blocks (one 2-D copy per input or output, which the copy engines do
// without a kernel).
#pragma once

#include "../shared/index_rules.hpp"
#include "runtime.cuh"

// A view of up to 16 dims over its input (row-major over the output), as views.cpp plans it.
struct StridedView {
  int rank;
  long long dims[16];
  long long strides[16];
};

// (T: float, or the integers of index tensors.)
template <class T>
__global__ void copy_strided_kernel(const T* __restrict__ x, T* __restrict__ y, long long n, StridedView v) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    long long rest = i, offset = 0;
    for (int d = v.rank - 1; d >= 0; --d) {
      offset += (rest % v.dims[d]) * v.strides[d];
      rest /= v.dims[d];
    }
    y[i] = x[offset];
  }
}

template <class T> void copy_strided(const T* x, T* y, long long n, const StridedView& v, cudaStream_t stream) {
  if (n > 0) copy_strided_kernel<<<blocks_for(n), 256, 0, stream>>>(x, y, n, v);
}

// rows x width elements from src (contiguous rows) into dst, whose rows are `pitch` elements apart.
template <class T>
void copy_rows(const T* src, T* dst, long long rows, long long width, long long pitch, cudaStream_t stream) {
  if (rows * width == 0) return;
  check_cuda(cudaMemcpy2DAsync(dst, static_cast<std::size_t>(pitch) * sizeof(T), src,
                               static_cast<std::size_t>(width) * sizeof(T), static_cast<std::size_t>(width) * sizeof(T),
                               static_cast<std::size_t>(rows), cudaMemcpyDeviceToDevice, stream),
             "cudaMemcpy2DAsync");
}

// Split's blocks: rows x width elements from src + offset, whose rows are `pitch` elements
// apart, into dst (contiguous rows).
template <class T>
void copy_columns(const T* src, T* dst, long long rows, long long pitch, long long width, long long offset,
                  cudaStream_t stream) {
  if (rows * width == 0) return;
  check_cuda(cudaMemcpy2DAsync(dst, static_cast<std::size_t>(width) * sizeof(T), src + offset,
                               static_cast<std::size_t>(pitch) * sizeof(T), static_cast<std::size_t>(width) * sizeof(T),
                               static_cast<std::size_t>(rows), cudaMemcpyDeviceToDevice, stream),
             "cudaMemcpy2DAsync");
}

// Gather along one axis (outer x axis_len x inner, `count` indices): a thread per output
// element. An index below zero counts from the end; one still outside the axis gives zeros,
// as on the CPU.
template <class T, class I>
__global__ void gather_kernel(const T* __restrict__ x, const I* __restrict__ indices, T* __restrict__ y, long long n,
                              long long axis_len, long long inner, long long count) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    const long long within = i % inner, row = i / inner, j = row % count, o = row / count;
    long long at = static_cast<long long>(indices[j]);
    if (at < 0) at += axis_len;
    y[i] = at >= 0 && at < axis_len ? x[(o * axis_len + at) * inner + within] : T(0);
  }
}

template <class T, class I>
void gather(const T* x, const I* indices, T* y, long long outer, long long axis_len, long long inner, long long count,
            cudaStream_t stream) {
  const long long n = outer * count * inner;
  if (n > 0) gather_kernel<<<blocks_for(n), 256, 0, stream>>>(x, indices, y, n, axis_len, inner, count);
}

// Pad's and CenterCropPad's dims (rank <= 16); pad_begin may be negative (a crop).
struct PadShape {
  int rank;
  long long in_dims[16];
  long long out_dims[16];
  long long pad_begin[16];
};

// A thread per output element: its source along each axis, or the fill value (read from the
// device when the model gives it as a tensor: value_at).
template <class T>
__global__ void pad_kernel(const T* __restrict__ x, T* __restrict__ y, long long total, PadShape s, PadMode mode,
                           T value, const T* __restrict__ value_at) {
  const T fill = value_at ? *value_at : value;
  for (long long o = blockIdx.x * 256ll + threadIdx.x; o < total; o += 256ll * gridDim.x) {
    long long rest = o, src = 0, stride = 1;
    bool inside = true;
    for (int d = s.rank - 1; d >= 0; --d) {
      const long long i = pad_source(rest % s.out_dims[d] - s.pad_begin[d], s.in_dims[d], mode);
      rest /= s.out_dims[d];
      inside = inside && i >= 0;
      src += i * stride;
      stride *= s.in_dims[d];
    }
    y[o] = inside ? x[src] : fill;
  }
}

template <class T>
void pad(const T* x, T* y, const PadShape& s, PadMode mode, T value, const T* value_at, cudaStream_t stream) {
  long long total = 1;
  for (int d = 0; d < s.rank; ++d) total *= s.out_dims[d];
  if (total > 0) pad_kernel<<<blocks_for(total), 256, 0, stream>>>(x, y, total, s, mode, value, value_at);
}
