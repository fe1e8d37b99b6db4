// Data movement on the device: strided views (Transpose, Slice, Expand, Tile, DepthToSpace,
// SpaceToDepth: one thread per output element, its input offset from the view's strides) and
// Concat's and Split's blocks (one 2-D copy per input or output, which the copy engines do
// without a kernel).
#pragma once

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
