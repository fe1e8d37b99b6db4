// Indexed reads and writes: GatherElements, ScatterElements, GatherND, ScatterND, TopK,
// OneHot, Trilu. Indices may be negative (counted from the end of their axis); an index
// outside its axis reads zero and writes nothing, so the generated code never leaves its buffers.
#pragma once
#include "prelude.hpp"
#include "../shared/index_rules.hpp"

inline bool normalize_index(int64_t& i, int64_t n) {
  if (i < 0) i += n;
  return i >= 0 && i < n;
}

// Visits every position of `dims` (rank <= 16) with the offset it has in a tensor of strides
// `strides` along all axes but `axis`, and the position's index along `axis`. The last dim runs
// in a loop of its own: the carry through the other dims comes once per row, not per element.
template <class F> inline void for_each_position(int rank, const int64_t* dims, const int64_t* strides, int axis, F f) {
  if (rank == 0) {
    f(int64_t(0), int64_t(0), int64_t(0));
    return;
  }
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= dims[d];
  if (total == 0) return;
  const int last = rank - 1;
  const int64_t row = dims[last], step = last == axis ? 0 : strides[last];
  int64_t index[16] = {0};
  int64_t offset = 0;
  for (int64_t p = 0; p < total; p += row) {
    if (last == axis)
      for (int64_t j = 0; j < row; ++j) f(p + j, offset, j);
    else
      for (int64_t j = 0; j < row; ++j) f(p + j, offset + j * step, index[axis]);
    for (int d = last - 1; d >= 0; --d) {
      if (d != axis) offset += strides[d];
      if (++index[d] < dims[d]) break;
      if (d != axis) offset -= strides[d] * dims[d];
      index[d] = 0;
    }
  }
}

// y[p] = x[p with its `axis` coordinate replaced by indices[p]]; y has the indices' dims.
template <class T, class I>
inline void gather_elements(const T* x, const I* indices, T* y, int rank, const int64_t* idx_dims,
                            const int64_t* x_strides, int axis, int64_t axis_len) {
  for_each_position(rank, idx_dims, x_strides, axis, [&](int64_t p, int64_t offset, int64_t) {
    int64_t i = int64_t(indices[p]);
    y[p] = normalize_index(i, axis_len) ? x[offset + i * x_strides[axis]] : T(0);
  });
}

// y = data, then y[p with its `axis` coordinate replaced by indices[p]] (op)= updates[p].
template <class T, class I>
inline void scatter_elements(const T* updates, const I* indices, T* y, int rank, const int64_t* idx_dims,
                             const int64_t* y_strides, int axis, int64_t axis_len, ScatterReduction r) {
  for_each_position(rank, idx_dims, y_strides, axis, [&](int64_t p, int64_t offset, int64_t) {
    int64_t i = int64_t(indices[p]);
    if (normalize_index(i, axis_len)) scatter_combine(y[offset + i * y_strides[axis]], updates[p], r);
  });
}

// GatherND over [batch, ...]: each batch has `tuples` index tuples of length k addressing the
// first k dims (extents dims, strides strides) of that batch's data; each copies `slice` elements.
template <class T, class I>
inline void gather_nd(const T* x, const I* indices, T* y, int64_t batches, int64_t batch_stride, int64_t tuples, int k,
                      const int64_t* dims, const int64_t* strides, int64_t slice) {
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t t = 0; t < tuples; ++t) {
      const I* tuple = indices + (b * tuples + t) * k;
      int64_t offset = b * batch_stride;
      bool inside = true;
      for (int j = 0; j < k; ++j) {
        int64_t i = int64_t(tuple[j]);
        inside = inside && normalize_index(i, dims[j]);
        offset += i * strides[j];
      }
      T* dst = y + (b * tuples + t) * slice;
      for (int64_t s = 0; s < slice; ++s) dst[s] = inside ? x[offset + s] : T(0);
    }
}

template <class T, class I>
inline void scatter_nd(const T* updates, const I* indices, T* y, int64_t tuples, int k, const int64_t* dims,
                       const int64_t* strides, int64_t slice, ScatterReduction r) {
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t offset = 0;
    bool inside = true;
    for (int j = 0; j < k; ++j) {
      int64_t i = int64_t(indices[t * k + j]);
      inside = inside && normalize_index(i, dims[j]);
      offset += i * strides[j];
    }
    if (!inside) continue;
    for (int64_t s = 0; s < slice; ++s) scatter_combine(y[offset + s], updates[t * slice + s], r);
  }
}

// Keeps the upper (or lower) triangle of each [rows, cols] matrix, relative to diagonal k.
template <class T>
inline void trilu(const T* x, T* y, int64_t matrices, int64_t rows, int64_t cols, int64_t k, bool upper) {
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t at = (m * rows + i) * cols + j;
        const bool keep = upper ? j - i >= k : j - i <= k;
        y[at] = keep ? x[at] : T(0);
      }
}

// y[outer, depth, inner] = on where the index of (outer, inner) equals the depth position.
template <class T, class I>
inline void one_hot(const I* indices, T* y, int64_t outer, int64_t depth, int64_t inner, T off, T on) {
  for (int64_t i = 0; i < outer * depth * inner; ++i) y[i] = off;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t idx = int64_t(indices[o * inner + i]);
      if (normalize_index(idx, depth)) y[(o * depth + idx) * inner + i] = on;
    }
}

// The k largest (or smallest) along the middle dimension of [outer, length, inner], equal
// values in index order; order holds `length` int64 of scratch.
template <class T>
inline void top_k(const T* x, T* values, int64_t* indices, int64_t* order, int64_t outer, int64_t length, int64_t inner,
                  int64_t k, bool largest, bool sorted) {
  (void)sorted;  // the selection is always returned sorted, which every caller accepts
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xs = x + o * length * inner + i;
      auto before = [&](int64_t a, int64_t b) {
        const T va = xs[a * inner], vb = xs[b * inner];
        const bool nan_a = va != va, nan_b = vb != vb;
        if (nan_a != nan_b) return nan_a == largest;  // NaN counts as the largest value
        if (!nan_a && va != vb) return largest ? va > vb : va < vb;
        return a < b;  // equal values, or two NaNs: the lower index first
      };
      if (k <= 32) {
        // Few to select (kNN): a sorted list of the best so far; most elements cost one
        // comparison with its last entry. The order is total (ties by index), so the result
        // is partial_sort's.
        int64_t count = 0;
        T best[32];  // the values of order[0..count)
        bool nan_inside = false;
        auto offer = [&](int64_t l) {
          const T v = xs[l * inner];
          if (v == v && !nan_inside) {
            // No NaN on either side: the order is the values' (an equal value comes later, so
            // it stays behind), compared without the index indirection.
            auto ahead = [&](T w) { return largest ? v > w : v < w; };
            if (count == k && !ahead(best[k - 1])) return;
            int64_t pos = count < k ? count++ : k - 1;
            for (; pos > 0 && ahead(best[pos - 1]); --pos) {
              order[pos] = order[pos - 1];
              best[pos] = best[pos - 1];
            }
            order[pos] = l;
            best[pos] = v;
            return;
          }
          if (count == k && !before(l, order[k - 1])) return;
          int64_t pos = count < k ? count++ : k - 1;
          for (; pos > 0 && before(l, order[pos - 1]); --pos) {
            order[pos] = order[pos - 1];
            best[pos] = best[pos - 1];
          }
          order[pos] = l;
          best[pos] = v;
          nan_inside = nan_inside || v != v;
        };
        if (k == 0) continue;
        int64_t l = 0;
        if constexpr (std::is_same<T, float>::value) {
          // Contiguous floats: once the list is full, 16 elements are tested against its last
          // entry in the lanes and only those that may enter are offered. The test lets through
          // every element that could (NaN either side passes), so the result is the same.
          if (inner == 1) {
            using simd::f32x16;
            for (; l < length && count < k; ++l) offer(l);
            for (; l < length; l += 16) {
              f32x16 v;
              simd::load_first(xs + l, std::min<int64_t>(16, length - l), v);
              const f32x16 t = f32x16{} + best[k - 1];
              const auto pass = (largest ? v > t : v < t) | (v != v) | (t != t);
              uint32_t bits = simd::lane_bits(pass);
              if (length - l < 16) bits &= (1u << (length - l)) - 1u;
              for (; bits; bits &= bits - 1) offer(l + __builtin_ctz(bits));
            }
          }
        }
        for (; l < length; ++l) offer(l);
      } else {
        for (int64_t l = 0; l < length; ++l) order[l] = l;
        std::partial_sort(order, order + k, order + length, before);
      }
      for (int64_t j = 0; j < k; ++j) {
        const int64_t at = (o * k + j) * inner + i;
        values[at] = xs[order[j] * inner];
        indices[at] = order[j];
      }
    }
}

// Ones on diagonal k of a [rows, cols] matrix, zeros elsewhere.
template <class T> inline void eye(T* y, int64_t rows, int64_t cols, int64_t k) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) y[i * cols + j] = j - i == k ? T(1) : T(0);
}

// y[i] = start + i * delta.
template <class T> inline void range(T start, T delta, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = T(start + T(i) * delta);
}

// Reverses the first lens[b] steps of every batch entry b; x and y are [.., batch, .., time, ..]
// with the given strides, each step a run of `inner` elements.
template <class T, class I>
inline void reverse_sequence(const T* x, const I* lens, T* y, int64_t batches, int64_t steps, int64_t batch_stride,
                             int64_t time_stride, int64_t inner) {
  for (int64_t b = 0; b < batches; ++b) {
    int64_t len = int64_t(lens[b]);
    len = len < 0 ? 0 : (len > steps ? steps : len);
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t from = t < len ? len - 1 - t : t;
      for (int64_t i = 0; i < inner; ++i)
        y[b * batch_stride + t * time_stride + i] = x[b * batch_stride + from * time_stride + i];
    }
  }
}

// TensorScatter: y = past with update's `len` steps written at write_indices[b] (per batch
// entry, 0 without indices) along the cache axis, wrapping around in circular mode. past is
// viewed as [prefix, max_len, inner], batch b covering `per_batch` consecutive prefix rows.
template <class T>
inline void tensor_scatter(const T* past, const T* update, const int64_t* write_indices, T* y, int64_t prefix,
                           int64_t per_batch, int64_t max_len, int64_t len, int64_t inner, bool circular) {
  for (int64_t i = 0; i < prefix * max_len * inner; ++i) y[i] = past[i];
  for (int64_t p = 0; p < prefix; ++p) {
    const int64_t start = write_indices ? write_indices[p / per_batch] : 0;
    for (int64_t s = 0; s < len; ++s) {
      int64_t at = start + s;
      if (circular) at = ((at % max_len) + max_len) % max_len;
      if (at < 0 || at >= max_len) continue;
      for (int64_t i = 0; i < inner; ++i) y[(p * max_len + at) * inner + i] = update[(p * len + s) * inner + i];
    }
  }
}
