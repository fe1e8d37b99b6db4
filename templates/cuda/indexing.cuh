// Element-wise indexing on the device: GatherElements and GatherND (a thread per output
// element), ScatterElements and ScatterND.
//
// The scatters give the CPU's bits. ScatterElements writes each element of its
// output from the updates whose index names it, in the updates' order: the last one wins
// without a reduction, and a sum is added up in that order (the CPU's), so atomics, whose
// order changes from run to run, are not used. A thread owns a column of the updates (all
// coordinates but the axis) and a range of the output's axis: it walks the column in order
// and applies the updates that land in its range, so no two threads write one element.
#pragma once

#include "../shared/index_rules.hpp"
#include "runtime.cuh"

// GatherElements' and ScatterElements' positions (rank <= 16): the dims of the indices (and
// updates), and the strides of the data they index.
struct ElementsShape {
  int rank;
  int axis;
  long long dims[16];
  long long strides[16];
};

// Position i of the indices: its offset in the data along every axis but s.axis.
__device__ inline long long offset_off_axis(const ElementsShape& s, long long i) {
  long long offset = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    if (d != s.axis) offset += (i % s.dims[d]) * s.strides[d];
    i /= s.dims[d];
  }
  return offset;
}

// y[p] = x[p with its axis coordinate replaced by indices[p]]; zeros for an index outside the
// axis, as on the CPU.
template <class T, class I>
__global__ void gather_elements_kernel(const T* __restrict__ x, const I* __restrict__ indices, T* __restrict__ y,
                                       long long n, ElementsShape s, long long axis_len) {
  for (long long p = blockIdx.x * 256ll + threadIdx.x; p < n; p += 256ll * gridDim.x) {
    long long at = static_cast<long long>(indices[p]);
    if (at < 0) at += axis_len;
    y[p] = at >= 0 && at < axis_len ? x[offset_off_axis(s, p) + at * s.strides[s.axis]] : T(0);
  }
}

template <class T, class I>
void gather_elements(const T* x, const I* indices, T* y, const ElementsShape& s, long long axis_len,
                     cudaStream_t stream) {
  long long n = 1;
  for (int d = 0; d < s.rank; ++d) n *= s.dims[d];
  if (n > 0) gather_elements_kernel<<<blocks_for(n), 256, 0, stream>>>(x, indices, y, n, s, axis_len);
}

// GatherND's index tuples (k <= 16 of them address the first k dims of a batch's data).
struct TupleShape {
  int k;
  long long dims[16];
  long long strides[16];
};

// y[(b * tuples + t) * slice + e] = the slice of batch b's data that tuple t names (zeros if an
// index is outside its dim).
template <class T, class I>
__global__ void gather_nd_kernel(const T* __restrict__ x, const I* __restrict__ indices, T* __restrict__ y,
                                 long long n, long long batch_stride, long long tuples, TupleShape s,
                                 long long slice) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    const long long e = i % slice, bt = i / slice, b = bt / tuples;
    const I* tuple = indices + bt * s.k;
    long long offset = b * batch_stride;
    bool inside = true;
    for (int j = 0; j < s.k; ++j) {
      long long at = static_cast<long long>(tuple[j]);
      if (at < 0) at += s.dims[j];
      inside = inside && at >= 0 && at < s.dims[j];
      offset += at * s.strides[j];
    }
    y[i] = inside ? x[offset + e] : T(0);
  }
}

template <class T, class I>
void gather_nd(const T* x, const I* indices, T* y, long long batches, long long batch_stride, long long tuples,
               const TupleShape& s, long long slice, cudaStream_t stream) {
  const long long n = batches * tuples * slice;
  if (n > 0) gather_nd_kernel<<<blocks_for(n), 256, 0, stream>>>(x, indices, y, n, batch_stride, tuples, s, slice);
}

// Thread t: column t % columns, the output's axis positions of range t / columns.
template <class T, class I>
__global__ void scatter_elements_kernel(const T* __restrict__ updates, const I* __restrict__ indices, T* __restrict__ y,
                                        ElementsShape s, long long columns, long long ranges, long long axis_len,
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
        base += c * s.strides[d];
      }
      stride *= s.dims[d];
    }
    // The walk is a chain of loads: the indices of kAhead updates are read before any is
    // applied (y's writes would otherwise order every next read after them), so kAhead loads
    // are in flight instead of one.
    constexpr int kAhead = 16;
    for (long long k0 = 0; k0 < length; k0 += kAhead) {
      long long at[kAhead];
#pragma unroll
      for (int q = 0; q < kAhead; ++q)
        at[q] = k0 + q < length ? static_cast<long long>(indices[first + (k0 + q) * step]) : 0;
#pragma unroll
      for (int q = 0; q < kAhead; ++q) {
        if (k0 + q >= length) break;
        long long a = at[q];
        if (a < 0) a += axis_len;
        if (a >= lo && a < hi) scatter_combine(y[base + a * s.strides[s.axis]], updates[first + (k0 + q) * step], r);
      }
    }
  }
}

// y = data, then the updates (positions of shape s.dims) scattered into it along s.axis.
template <class T, class I>
void scatter_elements(const T* data, const T* updates, const I* indices, T* y, long long data_count,
                      const ElementsShape& s, long long axis_len, ScatterReduction r, cudaStream_t stream) {
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

// ScatterND: y = data, then tuple t's slice of updates (op)= into the slice it names, tuples in
// order (the CPU's). A slice starts at a multiple of its length (the tuple addresses the first k
// dims, the slice is the rest), so the output is `slots` slices: thread (e, range) owns element
// e of the slices of one range of slots and walks every tuple in order, applying those that
// land in its range. Cost: every thread reads every tuple (fine for the few tuples of a KV
// update or a mask; a scatter of 10^5 single elements rereads them ~10^4 times).
template <class T, class I>
__global__ void scatter_nd_kernel(const T* __restrict__ updates, const I* __restrict__ indices, T* y,
                                  long long tuples, TupleShape s, long long slice, long long slots, long long ranges,
                                  ScatterReduction r) {
  const long long threads = slice * ranges;
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < threads; i += 256ll * gridDim.x) {
    const long long e = i % slice, range = i / slice;
    const long long lo = range * slots / ranges, hi = (range + 1) * slots / ranges;
    for (long long t = 0; t < tuples; ++t) {
      long long offset = 0;
      bool inside = true;
      for (int j = 0; j < s.k; ++j) {
        long long at = static_cast<long long>(indices[t * s.k + j]);
        if (at < 0) at += s.dims[j];
        inside = inside && at >= 0 && at < s.dims[j];
        offset += at * s.strides[j];
      }
      const long long slot = offset / slice;
      if (inside && slot >= lo && slot < hi) scatter_combine(y[offset + e], updates[t * slice + e], r);
    }
  }
}

template <class T, class I>
void scatter_nd(const T* data, const T* updates, const I* indices, T* y, long long data_count, long long tuples,
                const TupleShape& s, long long slice, ScatterReduction r, cudaStream_t stream) {
  if (data != y && data_count > 0)
    check_cuda(cudaMemcpyAsync(y, data, static_cast<std::size_t>(data_count) * sizeof(T), cudaMemcpyDeviceToDevice,
                               stream),
               "cudaMemcpyAsync");
  if (tuples == 0 || slice == 0 || data_count == 0) return;
  const long long slots = data_count / slice;
  long long ranges = (32768 + slice - 1) / slice;
  if (ranges > slots) ranges = slots;
  scatter_nd_kernel<<<blocks_for(slice * ranges), 256, 0, stream>>>(updates, indices, y, tuples, s, slice, slots,
                                                                    ranges, r);
}
