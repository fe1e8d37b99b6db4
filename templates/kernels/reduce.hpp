// Reductions over any set of axes. At generation time the input's dims are split into kept
// dims and reduced dims (each with its input strides); every output element folds the
// elements at its kept position through a reducer: init(), step(acc, x, position), finish(acc, count).
#pragma once
#include "prelude.hpp"
#include "functors.hpp"

// Whether reducer R also folds 16 outputs at a time in the lanes (lanes(acc, x)), each lane
// in the scalar order, so the results are the scalar ones bit for bit.
template <class R, class = void> struct has_reduce_lanes : std::false_type {};
template <class R>
struct has_reduce_lanes<R, std::void_t<decltype(std::declval<const R&>().lanes(
                               std::declval<simd::f32x16&>(), std::declval<const simd::f32x16&>()))>> : std::true_type {
};

// One reduced axis and a kept innermost axis that runs contiguously (a mean over points of
// [features, points], or over the neighbours of [features, points, k] after a transpose):
// 16 neighbouring outputs fold together, one vector load per reduced position.
template <class R>
inline void reduce_axis_lanes(const float* x, float* y, int kept_rank, const int64_t* kept_dims,
                              const int64_t* kept_strides, int64_t length, int64_t stride, R reducer) {
  using simd::f32x16;
  const int64_t row = kept_dims[kept_rank - 1];
  int64_t rows = 1;
  for (int d = 0; d + 1 < kept_rank; ++d) rows *= kept_dims[d];
  int64_t index[16] = {0};
  int64_t base = 0;
  for (int64_t r = 0; r < rows; ++r, y += row) {
    for (int64_t j = 0; j < row; j += 16) {
      const int64_t width = std::min<int64_t>(16, row - j);
      f32x16 acc = f32x16{} + reducer.init(), v;
      for (int64_t i = 0; i < length; ++i) {
        simd::load_first(x + base + j + i * stride, width, v);
        reducer.lanes(acc, v);
      }
      for (int64_t l = 0; l < width; ++l) y[j + l] = reducer.finish(acc[l], length);
    }
    simd::advance_index(kept_rank - 1, kept_dims, kept_strides, index, base);
  }
}

template <class T, class Y, class R>
inline void reduce_axes(const T* x, Y* y, int kept_rank, const int64_t* kept_dims_in, const int64_t* kept_strides_in,
                        int red_rank, const int64_t* red_dims, const int64_t* red_strides, R reducer) {
  int64_t outputs = 1, count = 1;
  for (int d = 0; d < kept_rank; ++d) outputs *= kept_dims_in[d];
  for (int d = 0; d < red_rank; ++d) count *= red_dims[d];
  if (outputs == 0) return;
  // The kept dims merged where they run on from each other: fewer index steps per output.
  int64_t kept_dims[16], kept_strides[16];
  kept_rank = simd::merge_dims(kept_rank, kept_dims_in, kept_strides_in, kept_dims, kept_strides);
  if constexpr (std::is_same<T, float>::value && std::is_same<Y, float>::value && has_reduce_lanes<R>::value) {
    if (red_rank == 1 && kept_rank >= 1 && kept_rank <= 16 && kept_strides[kept_rank - 1] == 1 &&
        kept_dims[kept_rank - 1] >= 8) {
      reduce_axis_lanes(x, y, kept_rank, kept_dims, kept_strides, red_dims[0], red_strides[0], reducer);
      return;
    }
  }
  int64_t kept_index[16] = {0};
  int64_t base = 0;
  const int64_t inner = red_rank > 0 ? red_dims[red_rank - 1] : 1;
  const int64_t inner_stride = red_rank > 0 ? red_strides[red_rank - 1] : 0;
  if (red_rank <= 1 && kept_rank <= 1) {
    // Outputs one stride apart (ParticleNet's mean over the 7 neighbours of each point and
    // feature): a plain loop, the folds of neighbouring outputs overlapping.
    const int64_t step = kept_rank ? kept_strides[0] : 0;
    int64_t o = 0;
    if constexpr (std::is_same<T, float>::value && std::is_same<Y, float>::value && has_reduce_lanes<R>::value) {
      // Along contiguous rows (the mean over the 16 neighbours of each point and feature):
      // 16 rows at a time, 16 columns of them transposed into the lanes, each lane folding
      // its row in order. Rows of 7 gain little over the loop below; rows of 16 gain much.
      if (inner_stride == 1 && inner >= 12) {
        using simd::f32x16;
        alignas(64) float rows_tile[256], columns[256];
        // Whole vectors of each row: loaded and transposed in registers (ParticleNet's 25600
        // means over 16 neighbours).
        for (; inner % 16 == 0 && o + 16 <= outputs; o += 16) {
          f32x16 acc = f32x16{} + reducer.init();
          for (int64_t c = 0; c < inner; c += 16) {
            f32x16 r[16];
#pragma GCC unroll 16
            for (int64_t l = 0; l < 16; ++l) simd::load(r[l], x + (o + l) * step + c);
            transpose_stage<8>(r, std::make_index_sequence<8>{});
            transpose_stage<4>(r, std::make_index_sequence<8>{});
            transpose_stage<2>(r, std::make_index_sequence<8>{});
            transpose_stage<1>(r, std::make_index_sequence<8>{});
#pragma GCC unroll 16
            for (int j = 0; j < 16; ++j) reducer.lanes(acc, r[j]);
          }
          for (int l = 0; l < 16; ++l) y[o + l] = reducer.finish(acc[l], count);
        }
        for (; o + 16 <= outputs; o += 16) {
          f32x16 acc = f32x16{} + reducer.init(), v;
          for (int64_t c = 0; c < inner; c += 16) {
            const int64_t w = std::min<int64_t>(16, inner - c);
            for (int64_t l = 0; l < 16; ++l) {
              simd::load_first(x + (o + l) * step + c, w, v);
              simd::store(rows_tile + 16 * l, v);
            }
            transpose_tile16(rows_tile, 16, columns, 16, std::make_index_sequence<16>{});
            for (int64_t j = 0; j < w; ++j) {
              simd::load(v, columns + 16 * j);
              reducer.lanes(acc, v);
            }
          }
          for (int l = 0; l < 16; ++l) y[o + l] = reducer.finish(acc[l], count);
        }
      }
      // Short contiguous rows one after another (ParticleNet-Lite's mean over 7 neighbours):
      // the 16 rows of a block are `inner` whole vectors. Lane p of window sum v folds
      // x[16 v + p + i] over i in the scalar loop's order, so the sum at a row's first element
      // is that row's fold. Blocks whose last shifted load
      // would pass the end of x are left to the loop below.
      if (inner_stride == 1 && step == inner && inner >= 2 && inner < 12) {
        using simd::f32x16;
        alignas(64) float sums[16 * 12];
        for (; (o + 16) * inner + inner + 16 <= outputs * inner; o += 16) {
          const T* xo = x + o * inner;
          for (int64_t v = 0; v < inner; ++v) {
            f32x16 acc = f32x16{} + reducer.init(), shifted;
            for (int64_t i = 0; i < inner; ++i) {
              simd::load(shifted, xo + 16 * v + i);
              reducer.lanes(acc, shifted);
            }
            simd::store(sums + 16 * v, acc);
          }
          for (int64_t l = 0; l < 16; ++l) y[o + l] = reducer.finish(sums[inner * l], count);
        }
      }
    }
    for (; o < outputs; ++o) {
      auto acc = reducer.init();
      const T* xo = x + o * step;
      for (int64_t i = 0; i < inner; ++i) acc = reducer.step(acc, xo[i * inner_stride], i);
      y[o] = reducer.finish(acc, count);
    }
    return;
  }
  if (red_rank <= 1) {
    // One reduced axis (or none): no index bookkeeping inside an output's fold.
    for (int64_t o = 0; o < outputs; ++o) {
      auto acc = reducer.init();
      for (int64_t i = 0; i < inner; ++i) acc = reducer.step(acc, x[base + i * inner_stride], i);
      y[o] = reducer.finish(acc, count);
      simd::advance_index(kept_rank, kept_dims, kept_strides, kept_index, base);
    }
    return;
  }
  int64_t red_index[16];
  for (int64_t o = 0; o < outputs; ++o) {
    auto acc = reducer.init();
    for (int d = 0; d < red_rank; ++d) red_index[d] = 0;
    int64_t offset = base;
    for (int64_t p = 0; p < count; p += inner) {
      for (int64_t i = 0; i < inner; ++i) acc = reducer.step(acc, x[offset + i * inner_stride], p + i);
      simd::advance_index(red_rank - 1, red_dims, red_strides, red_index, offset);
    }
    y[o] = reducer.finish(acc, count);
    simd::advance_index(kept_rank, kept_dims, kept_strides, kept_index, base);
  }
}

template <class T> struct reduce_sum {
  T init() const { return T(0); }
  T step(T a, T x, int64_t) const { return T(a + x); }
  template <class V> SOFIEC_ALWAYS_INLINE void lanes(V& a, const V& x) const { a += x; }
  T finish(T a, int64_t) const { return a; }
};
template <class T> struct reduce_mean {
  T init() const { return T(0); }
  T step(T a, T x, int64_t) const { return T(a + x); }
  template <class V> SOFIEC_ALWAYS_INLINE void lanes(V& a, const V& x) const { a += x; }
  T finish(T a, int64_t n) const { return n ? T(a / T(n)) : a; }
};
template <class T> struct reduce_prod {
  T init() const { return T(1); }
  T step(T a, T x, int64_t) const { return T(a * x); }
  T finish(T a, int64_t) const { return a; }
};
// Max and Min propagate NaN; an empty reduction gives the identity (lowest or highest value).
template <class T> struct reduce_max {
  T init() const {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
  }
  T step(T a, T x, int64_t) const { return (x > a || x != x) ? x : a; }
  template <class V> SOFIEC_ALWAYS_INLINE void lanes(V& a, const V& x) const {
    a = simd::select(x > a || x != x, x, a);
  }
  T finish(T a, int64_t) const { return a; }
};
template <class T> struct reduce_min {
  T init() const {
    return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  }
  T step(T a, T x, int64_t) const { return (x < a || x != x) ? x : a; }
  template <class V> SOFIEC_ALWAYS_INLINE void lanes(V& a, const V& x) const {
    a = simd::select(x < a || x != x, x, a);
  }
  T finish(T a, int64_t) const { return a; }
};
template <class T> struct reduce_l1 {
  T init() const { return T(0); }
  T step(T a, T x, int64_t) const { return T(a + (x < T(0) ? T(-x) : x)); }
  T finish(T a, int64_t) const { return a; }
};
template <class T> struct reduce_sum_square {
  T init() const { return T(0); }
  T step(T a, T x, int64_t) const { return T(a + x * x); }
  T finish(T a, int64_t) const { return a; }
};
template <class T> struct reduce_l2 {
  T init() const { return T(0); }
  T step(T a, T x, int64_t) const { return T(a + x * x); }
  T finish(T a, int64_t) const { return T(std::sqrt(a)); }
};
template <class T> struct reduce_log_sum {
  T init() const { return T(0); }
  T step(T a, T x, int64_t) const { return T(a + x); }
  T finish(T a, int64_t) const { return T(std::log(a)); }
};
// log(sum(exp(x))) with a running maximum, so that exp never overflows.
template <class T> struct reduce_log_sum_exp {
  struct state {
    T peak, sum;
  };
  state init() const { return {-std::numeric_limits<T>::infinity(), T(0)}; }
  state step(state s, T x, int64_t) const {
    if (x <= s.peak) return {s.peak, s.sum + std::exp(x - s.peak)};
    return {x, s.sum * std::exp(s.peak - x) + T(1)};
  }
  T finish(state s, int64_t) const { return s.peak + std::log(s.sum); }
};
// Index of the first (or, with select_last, the last) extreme value along one axis.
template <class T, bool max, bool select_last> struct reduce_arg {
  struct state {
    T best;
    int64_t index;
  };
  state init() const { return {T(0), -1}; }
  state step(state s, T x, int64_t p) const {
    const bool better =
        s.index < 0 || (max ? (select_last ? x >= s.best : x > s.best) : (select_last ? x <= s.best : x < s.best));
    return better ? state{x, p} : s;
  }
  int64_t finish(state s, int64_t) const { return s.index < 0 ? 0 : s.index; }
};

// Running sum or product along the middle dimension of [outer, length, inner].
template <class T, bool product>
inline void cumulate(const T* x, T* y, int64_t outer, int64_t length, int64_t inner, bool exclusive, bool reverse) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      T acc = product ? T(1) : T(0);
      for (int64_t step = 0; step < length; ++step) {
        const int64_t l = reverse ? length - 1 - step : step;
        const int64_t at = (o * length + l) * inner + i;
        if (exclusive) {
          y[at] = acc;
          acc = product ? T(acc * x[at]) : T(acc + x[at]);
        } else {
          acc = product ? T(acc * x[at]) : T(acc + x[at]);
          y[at] = acc;
        }
      }
    }
}

// Mean and standard deviation of the reduced elements, for MeanVarianceNormalization: the
// first pass reduces to these, the second maps x to (x - mean) / (std + 1e-9) through
// map_strided with the statistics broadcast.
template <class T> struct moments { T mean, std; };
template <class T> struct reduce_moments {
  struct state {
    double sum, sum_squares;
  };
  state init() const { return {0, 0}; }
  state step(state s, T x, int64_t) const { return {s.sum + double(x), s.sum_squares + double(x) * double(x)}; }
  moments<T> finish(state s, int64_t n) const {
    const double mean = n ? s.sum / double(n) : 0.0;
    const double var = n ? s.sum_squares / double(n) - mean * mean : 0.0;
    return {T(mean), T(std::sqrt(var > 0 ? var : 0.0))};
  }
};
struct op_standardize {
  template <class T> T operator()(T x, moments<T> m) const { return (x - m.mean) / (m.std + T(1e-9)); }
};
