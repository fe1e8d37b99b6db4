// Elementwise maps: unary, and binary with numpy broadcasting. Broadcast strides are computed
// at generation time; a stride of 0 repeats an operand along that dimension.
#pragma once
#include "functors.hpp"
#include "prelude.hpp"

// Zeros in the lanes l >= n of v.
SOFIEC_ALWAYS_INLINE void keep_first_lanes(simd::f32x16& v, int64_t n) {
  const simd::i32x16 lane = simd::lane_indices<int32_t, 16>();
  v = simd::select(lane < int32_t(n), v, simd::f32x16{});
}

// dst[x] = src[x + shift] for 0 <= x < n where 0 <= x + shift < len, else 0 (all 0 when src is
// null): an input row, zero-padded and shifted, into a row buffer, which has 16 floats of room
// past n (zeros may be written there). src may be read up to `readable` floats from its start.
// Whole vectors only: the buffer is read right after, and a masked store cannot forward to
// those loads, which then wait for it to reach the cache (Winograd's input transform reads
// every row it copies).
inline void copy_padded_row(float* dst, int64_t n, const float* src, int64_t len, int64_t shift, int64_t readable) {
  const int64_t lo = src ? std::min(n, std::max<int64_t>(0, -shift)) : n;
  const int64_t hi = src ? std::max(lo, std::min(n, len - shift)) : n;
  for (int64_t x = 0; x < lo; ++x) dst[x] = 0.f;
  int64_t x = lo;
  for (; x + 16 <= hi; x += 16) std::memcpy(dst + x, src + x + shift, 16 * sizeof(float));
  int64_t zeroed = x;
  if (x < hi) {
    simd::f32x16 v;
    if (x + shift + 16 <= readable) {
      simd::load(v, src + x + shift);
      keep_first_lanes(v, hi - x);
    } else {
      simd::load_first(src + x + shift, hi - x, v);
    }
    simd::store(dst + x, v);
    zeroed = x + 16;
  }
  for (x = std::max(hi, zeroed); x < n; ++x) dst[x] = 0.f;
}

// dst[r][x] = plane[first_row + r][x - pad_left] for r < rows, x < pitch, 0 outside the
// in_h x in_w plane: rows of a zero-padded plane, each `pitch` floats apart, for kernels that
// read shifted whole vectors (the direct convolution, Winograd's input transform). dst has 16
// floats of room after its last row.
inline void pad_plane_rows(const float* plane, int64_t in_h, int64_t in_w, int64_t first_row, int64_t rows,
                           int64_t pad_left, float* dst, int64_t pitch) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t iy = first_row + r;
    const float* src = iy >= 0 && iy < in_h ? plane + iy * in_w : nullptr;
    copy_padded_row(dst + r * pitch, pitch, src, in_w, -pad_left, (in_h - iy) * in_w);
  }
}

// f over n floats, 16 lanes at a time; the tail runs through the same lanes (zero-padded).
template <class F> inline void map_lanes(const float* x, float* y, int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    simd::f32x16 v;
    simd::load(v, x + i);
    f.lanes(v);
    simd::store(y + i, v);
  }
  if (i < n) {
    simd::f32x16 v;
    simd::load_first(x + i, n - i, v);
    f.lanes(v);
    simd::store_first(y + i, n - i, v);
  }
}

template <class X, class Y, class F> inline void map_unary(const X* x, Y* y, int64_t n, F f) {
  if constexpr (std::is_same<X, float>::value && std::is_same<Y, float>::value && has_lanes<F>::value) {
    map_lanes(x, y, n, f);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
  }
}

// f over n float pairs, 16 lanes at a time; operand a (b) is read in order if A_RUNS (B_RUNS),
// else its first element repeats. The tail runs through the same lanes (zero-padded).
template <bool A_RUNS, bool B_RUNS, class F>
inline void map_lanes2_runs(const float* a, const float* b, float* y, int64_t n, const F& f) {
  using simd::f32x16;
  const f32x16 a0 = f32x16{} + a[0], b0 = f32x16{} + b[0];
  int64_t i = 0;
  f32x16 va, vb;
  for (; i + 16 <= n; i += 16) {
    if (A_RUNS) simd::load(va, a + i);
    else va = a0;
    if (B_RUNS) simd::load(vb, b + i);
    else vb = b0;
    f.lanes(va, vb);
    simd::store(y + i, va);
  }
  if (i < n) {
    if (A_RUNS) simd::load_first(a + i, n - i, va);
    else va = a0;
    if (B_RUNS) simd::load_first(b + i, n - i, vb);
    else vb = b0;
    f.lanes(va, vb);
    simd::store_first(y + i, n - i, va);
  }
}

// The same with the steps (1: in order, 0: repeated) known only at run time: one loop per
// combination, so that no step is tested per element.
template <class F>
inline void map_lanes2(const float* a, int64_t a_step, const float* b, int64_t b_step, float* y, int64_t n,
                       const F& f) {
  if (n <= 0) return;  // an empty tensor may have no storage at all
  if (a_step && b_step) map_lanes2_runs<true, true>(a, b, y, n, f);
  else if (a_step) map_lanes2_runs<true, false>(a, b, y, n, f);
  else if (b_step) map_lanes2_runs<false, true>(a, b, y, n, f);
  else map_lanes2_runs<false, false>(a, b, y, n, f);
}

// Whether a map of operands X... into Y by f runs through map_lanes2: two float operands, a
// float result and a binary functor with a 16-lane form.
template <class Y, class F, class... X> struct float_lanes2 : std::false_type {};
template <class Y, class F, class A, class B>
struct float_lanes2<Y, F, A, B>
    : std::integral_constant<bool, std::is_same<A, float>::value && std::is_same<B, float>::value &&
                                       std::is_same<Y, float>::value && has_binary_lanes<F>::value> {};

template <class A, class B, class Y, class F>
inline void map_binary_same(const A* a, const B* b, Y* y, int64_t n, F f) {
  if constexpr (float_lanes2<Y, F, A, B>::value) {
    map_lanes2(a, 1, b, 1, y, n, f);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  }
}

template <class A, class B, class Y, class F>
inline void map_binary_scalar_b(const A* a, const B* b, Y* y, int64_t n, F f) {
  if constexpr (float_lanes2<Y, F, A, B>::value) {
    map_lanes2(a, 1, b, 0, y, n, f);
  } else {
    const B s = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], s);
  }
}

template <class A, class B, class Y, class F>
inline void map_binary_scalar_a(const A* a, const B* b, Y* y, int64_t n, F f) {
  if constexpr (float_lanes2<Y, F, A, B>::value) {
    map_lanes2(a, 0, b, 1, y, n, f);
  } else {
    const A s = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(s, b[i]);
  }
}

// c[i, j] = f(c[i, j] + bias[j]): a row-vector bias and the epilogue fused into a product,
// one pass over it while it is still in cache.
template <class T, class F> inline void add_bias_rows(T* c, const T* bias, int64_t rows, int64_t cols, F f) {
  for (int64_t i = 0; i < rows; ++i) map_binary_same(c + i * cols, bias, c + i * cols, cols, then(op_add{}, f));
}

// General case: any number of operands broadcast to rank >= 1 output dims. strides holds
// rank strides per operand, operand after operand (0 where that operand is repeated). The
// innermost dimension runs as a tight loop; the outer ones advance an index odometer.
template <std::size_t... K, class Y, class F, class... X>
inline void map_strided_impl(std::index_sequence<K...>, Y* y, int rank, const int64_t* dims, const int64_t* strides,
                             F f, const X*... x) {
  constexpr std::size_t n = sizeof...(X);
  int64_t outer = 1;
  for (int d = 0; d + 1 < rank; ++d) outer *= dims[d];
  const int64_t inner = dims[rank - 1];
  const int64_t step[n] = {strides[K * std::size_t(rank) + std::size_t(rank) - 1]...};
  int64_t offset[n] = {};
  int64_t index[16] = {0};
  for (int64_t o = 0; o < outer; ++o) {
    // The inner run through lanes where its operands are contiguous or repeated.
    bool done = false;
    if constexpr (float_lanes2<Y, F, X...>::value) {
      const float* ops[2] = {(x + offset[K])...};
      if ((step[0] == 0 || step[0] == 1) && (step[1] == 0 || step[1] == 1)) {
        map_lanes2(ops[0], step[0], ops[1], step[1], y, inner, f);
        done = true;
      }
    } else if constexpr (n == 1 && std::is_same<Y, float>::value && (std::is_same<X, float>::value && ...) &&
                         has_lanes<F>::value) {
      const float* ops[1] = {(x + offset[K])...};
      if (step[0] == 1) {
        map_lanes(ops[0], y, inner, f);
        done = true;
      }
    }
    if (!done)
      for (int64_t i = 0; i < inner; ++i) y[i] = f(x[offset[K] + i * step[K]]...);
    y += inner;
    for (int d = rank - 2; d >= 0; --d) {
      ((offset[K] += strides[K * std::size_t(rank) + std::size_t(d)]), ...);
      if (++index[d] < dims[d]) break;
      ((offset[K] -= strides[K * std::size_t(rank) + std::size_t(d)] * dims[d]), ...);
      index[d] = 0;
    }
  }
}

template <class Y, class F, class... X>
inline void map_strided(Y* y, int rank, const int64_t* dims, const int64_t* strides, F f, const X*... x) {
  map_strided_impl(std::index_sequence_for<X...>{}, y, rank, dims, strides, f, x...);
}

template <class T> inline void copy_elements(const T* x, T* y, int64_t n) {
  if (x != y && n > 0) std::memcpy(static_cast<void*>(y), static_cast<const void*>(x), sizeof(T) * size_t(n));
}

template <class T> inline void fill(T* y, int64_t n, T value) {
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}
