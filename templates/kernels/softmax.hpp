// Softmax over the middle dimension of [outer, length, inner].
#pragma once
#include "functors.hpp"
#include "prelude.hpp"

// Softmax of one contiguous row of floats, 16 lanes at a time, the tail through the same
// lanes (bit-identical from run to run; the sum's order differs from a sequential loop by
// rounding only). y may be x.
inline void softmax_row(const float* x, float* y, int64_t length) {
  using simd::f32x16;
  const int64_t l16 = length / 16 * 16;
  const f32x16 lowest = f32x16{} - std::numeric_limits<float>::infinity();
  f32x16 peaks = lowest, v;
  for (int64_t l = 0; l < l16; l += 16) {
    simd::load(v, x + l);
    peaks = simd::select(v > peaks, v, peaks);
  }
  const simd::i32x16 lane = simd::lane_indices<int32_t, 16>();
  const auto in_tail = lane < int32_t(length - l16);
  if (l16 < length) {
    simd::load_first(x + l16, length - l16, v);
    v = simd::select(in_tail, v, lowest);
    peaks = simd::select(v > peaks, v, peaks);
  }
  const float peak = max_lanes(peaks);
  f32x16 sums = {};
  for (int64_t l = 0; l < l16; l += 16) {
    simd::load(v, x + l);
    v -= peak;
    exp_poly(v);
    sums += v;
    simd::store(y + l, v);
  }
  f32x16 tail = {};
  if (l16 < length) {
    simd::load_first(x + l16, length - l16, tail);
    tail -= peak;
    exp_poly(tail);
    tail = simd::select(in_tail, tail, f32x16{});
    sums += tail;
  }
  const float scale = 1.f / sum_lanes(sums);
  for (int64_t l = 0; l < l16; l += 16) {
    simd::load(v, y + l);
    v *= scale;
    simd::store(y + l, v);
  }
  if (l16 < length) {
    tail *= scale;
    simd::store_first(y + l16, length - l16, tail);
  }
}

template <class T>
inline void softmax(const T* x, T* y, int64_t outer, int64_t length, int64_t inner, bool log_output) {
  if constexpr (std::is_same<T, float>::value) {
    // Rows of 16 or more (attention scores): the lanes pay. Short rows (a classifier's few
    // classes) keep libm's expf.
    if (inner == 1 && !log_output && length >= 16) {
      for (int64_t o = 0; o < outer; ++o) softmax_row(x + o * length, y + o * length, length);
      return;
    }
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xs = x + o * length * inner + i;
      T* ys = y + o * length * inner + i;
      T peak = xs[0];
      for (int64_t l = 1; l < length; ++l) peak = std::max(peak, xs[l * inner]);
      // Every element is read before it is written: y may be x (the output written in place).
      T sum = T(0);
      if (log_output) {
        for (int64_t l = 0; l < length; ++l) sum += std::exp(xs[l * inner] - peak);
        const T log_sum = std::log(sum);
        for (int64_t l = 0; l < length; ++l) ys[l * inner] = xs[l * inner] - peak - log_sum;
      } else {
        for (int64_t l = 0; l < length; ++l) {
          const T e = std::exp(xs[l * inner] - peak);
          ys[l * inner] = e;
          sum += e;
        }
        const T scale = T(1) / sum;
        for (int64_t l = 0; l < length; ++l) ys[l * inner] *= scale;
      }
    }
}

// One-hot of the first maximum along the middle dimension of [outer, length, inner].
template <class T> inline void hardmax(const T* x, T* y, int64_t outer, int64_t length, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xs = x + o * length * inner + i;
      T* ys = y + o * length * inner + i;
      int64_t best = 0;
      for (int64_t l = 0; l < length; ++l) {
        if (xs[l * inner] > xs[best * inner]) best = l;
        ys[l * inner] = T(0);
      }
      if (length > 0) ys[best * inner] = T(1);
    }
}

// x divided by its L1 (p = 1) or L2 (p = 2) norm along the middle dimension.
template <class T> inline void lp_normalize(const T* x, T* y, int64_t outer, int64_t length, int64_t inner, int p) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xs = x + o * length * inner + i;
      T* ys = y + o * length * inner + i;
      T norm = T(0);
      for (int64_t l = 0; l < length; ++l) norm += p == 1 ? std::fabs(xs[l * inner]) : xs[l * inner] * xs[l * inner];
      if (p != 1) norm = std::sqrt(norm);
      for (int64_t l = 0; l < length; ++l) ys[l * inner] = norm == T(0) ? T(0) : xs[l * inner] / norm;
    }
}

enum class LossReduction { None, Sum, Mean };

// Negative log likelihood of log-probabilities logp [batch, classes, inner] at target
// [batch, inner], weighted by weight[class] (optional); targets equal to ignore_index (when
// has_ignore) count with weight 0. Mean divides by the total weight.
template <class T, class I>
inline void nll_loss(const T* logp, const I* target, const T* weight, T* out, int64_t batch, int64_t classes,
                     int64_t inner, bool has_ignore, int64_t ignore_index, LossReduction reduction) {
  double total = 0, total_weight = 0;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t t = int64_t(target[n * inner + i]);
      double loss = 0, w = 0;
      if (!(has_ignore && t == ignore_index) && t >= 0 && t < classes) {
        w = weight ? double(weight[t]) : 1.0;
        loss = -double(logp[(n * classes + t) * inner + i]) * w;
      }
      if (reduction == LossReduction::None) out[n * inner + i] = T(loss);
      total += loss;
      total_weight += w;
    }
  if (reduction == LossReduction::Sum) out[0] = T(total);
  if (reduction == LossReduction::Mean) out[0] = T(total / total_weight);
}
