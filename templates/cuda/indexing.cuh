// Scatters on the device, with the CPU's bits. ScatterElements writes each element of its
// output from the updates whose index names it, in the updates' order: the last one wins
// without a reduction, and a sum is added up in that order (the CPU's), so atomics, whose
// order changes from run to run, are not used. A thread owns a column of the updates (all
// coordinates but the axis) and a range of the output's axis: it walks the column in order
// and applies the updates that land in its range, so no two threads write one element.
#pragma once

#include "runtime.cuh"

enum class ScatterReduction { None, Add, Mul, Max, Min };

// The positions of the updates (rank <= 16): their dims, and the output's strides.
struct ScatterShape {
  int rank;
  int axis;
  long long dims[16];
  long long y_strides[16];
};

template <class T> __device__ inline void scatter_combine(T& dst, T value, ScatterReduction r) {
  switch (r) {
    case ScatterReduction::None: dst = value; break;
    case ScatterReduction::Add: dst = T(dst + value); break;
    case ScatterReduction::Mul: dst = T(dst * value); break;
    case ScatterReduction::Max: dst = value > dst ? value : dst; break;
    case ScatterReduction::Min: dst = value < dst ? value : dst; break;
  }
}

// Thread t: column t % columns, the output's axis positions of range t / columns.
template <class T, class I>
__global__ void scatter_elements_kernel(const T* __restrict__ updates, const I* __restrict__ indices, T* y,
                                        ScatterShape s, long long columns, long long ranges, long long axis_len,
                                        ScatterReduction r) {
  const long long threads = columns * ranges;
  const long long length = s.dims[s.axis];
  for (long long t = blockIdx.x * 256ll + threadIdx.x; t < threads; t += 256ll * gridDim.x) {
    const long long column = t % columns, range = t / columns;
    const long long lo = range * axis_len / ranges, hi = (range + 1) * axis_len / ranges;
    // The column's first update (axis coordinate 0) and its place in the output, from its
    // coordinates; the updates are contiguous, so one step along the axis is `step` elements.
    long long rest = column, first = 0, base = 0, stride = 1, step = 1;
    for (int d = s.rank - 1; d >= 0; --d) {
      if (d == s.axis) {
        step = stride;
      } else {
        const long long c = rest % s.dims[d];
        rest /= s.dims[d];
        first += c * stride;
        base += c * s.y_strides[d];
      }
      stride *= s.dims[d];
    }
    for (long long k = 0; k < length; ++k) {
      long long at = static_cast<long long>(indices[first + k * step]);
      if (at < 0) at += axis_len;
      if (at >= lo && at < hi) scatter_combine(y[base + at * s.y_strides[s.axis]], updates[first + k * step], r);
    }
  }
}

// y = data, then the updates (positions of shape s.dims) scattered into it along s.axis.
template <class T, class I>
void scatter_elements(const T* data, const T* updates, const I* indices, T* y, long long data_count,
                      const ScatterShape& s, long long axis_len, ScatterReduction r, cudaStream_t stream) {
  if (data != y && data_count > 0)
    check_cuda(cudaMemcpyAsync(y, data, static_cast<std::size_t>(data_count) * sizeof(T), cudaMemcpyDeviceToDevice,
                               stream),
               "cudaMemcpyAsync");
  long long positions = 1;
  for (int d = 0; d < s.rank; ++d) positions *= s.dims[d];
  if (positions == 0 || axis_len == 0) return;
  const long long columns = positions / s.dims[s.axis];
  // Enough threads to fill the card (each range rereads its column's indices), no more ranges
  // than the axis has positions.
  long long ranges = (32768 + columns - 1) / columns;
  if (ranges > axis_len) ranges = axis_len;
  scatter_elements_kernel<<<blocks_for(columns * ranges), 256, 0, stream>>>(updates, indices, y, s, columns, ranges,
                                                                            axis_len, r);
}
