// Normalizations with per-channel parameters over [batch, channels, spatial].
#pragma once
#include "functors.hpp"
#include "prelude.hpp"

// Sum over n values of x[i] - center, or of its square, in double: 4 x 8 independent lanes for
// float (a chain of dependent adds waits on each one: one chain of 8 lanes would sum 8 values
// per add's latency, 4 cycles), then summed pairwise.
template <class T> inline double centered_sum(const T* x, int64_t n, double center, bool square) {
  if constexpr (std::is_same<T, float>::value) {
    typedef simd::vec<float, 8> f32x8;
    typedef simd::f64x8 f64x8;
    using simd::convert_lanes;
    f64x8 acc = {}, acc1 = {}, acc2 = {}, acc3 = {};
    const f64x8 c = center;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      const f64x8 d0 = convert_lanes<double>(f32x8::load(x + i)) - c;
      const f64x8 d1 = convert_lanes<double>(f32x8::load(x + i + 8)) - c;
      const f64x8 d2 = convert_lanes<double>(f32x8::load(x + i + 16)) - c;
      const f64x8 d3 = convert_lanes<double>(f32x8::load(x + i + 24)) - c;
      acc += square ? d0 * d0 : d0;
      acc1 += square ? d1 * d1 : d1;
      acc2 += square ? d2 * d2 : d2;
      acc3 += square ? d3 * d3 : d3;
    }
    acc += acc1;
    acc2 += acc3;
    acc += acc2;
    for (; i + 8 <= n; i += 8) {
      const f64x8 d = convert_lanes<double>(f32x8::load(x + i)) - c;
      acc += square ? d * d : d;
    }
    if (i < n) {  // the tail: padding lanes masked to 0
      typedef simd::vec<int64_t, 8> i64x8;
      const i64x8 lane = simd::lane_indices<int64_t, 8>();
      f32x8 v = {};
      std::memcpy(&v, x + i, sizeof(float) * std::size_t(n - i));
      f64x8 d = convert_lanes<double>(v) - c;
      d = simd::select(lane < i64x8(n - i), d, f64x8{});
      acc += square ? d * d : d;
    }
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  } else {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = double(x[i]) - center;
      total += square ? d * d : d;
    }
    return total;
  }
}

// Inference-mode batch normalization: y = (x - mean) / sqrt(var + eps) * scale + bias.
template <class T>
inline void batch_norm(const T* x, const T* scale, const T* bias, const T* mean, const T* var, T* y, int64_t batch,
                       int64_t channels, int64_t spatial, float epsilon) {
  for (int64_t c = 0; c < channels; ++c) {
    const T k = scale[c] / std::sqrt(var[c] + T(epsilon));
    const T shift = bias[c] - mean[c] * k;
    for (int64_t n = 0; n < batch; ++n) {
      const T* xs = x + (n * channels + c) * spatial;
      T* ys = y + (n * channels + c) * spatial;
      for (int64_t i = 0; i < spatial; ++i) ys[i] = xs[i] * k + shift;
    }
  }
}

// Batch normalization in training mode: each channel is normalized by the mean and the
// (biased) variance of its values over the batch and spatial positions, computed in double;
// the updated running statistics, when wanted, blend the given ones with the batch's:
// running = given * momentum + batch * (1 - momentum).
template <class T>
inline void batch_norm_training(const T* x, const T* scale, const T* bias, const T* mean, const T* var, T* y,
                                T* running_mean, T* running_var, int64_t batch, int64_t channels, int64_t spatial,
                                float epsilon, float momentum) {
  const double count = double(batch * spatial);
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0, squares = 0;
    for (int64_t n = 0; n < batch; ++n) sum += centered_sum(x + (n * channels + c) * spatial, spatial, 0.0, false);
    const double batch_mean = count > 0 ? sum / count : 0.0;
    for (int64_t n = 0; n < batch; ++n)
      squares += centered_sum(x + (n * channels + c) * spatial, spatial, batch_mean, true);
    const double batch_var = count > 0 ? squares / count : 0.0;
    const double k = double(scale[c]) / std::sqrt(batch_var + double(epsilon));
    for (int64_t n = 0; n < batch; ++n) {
      const T* xs = x + (n * channels + c) * spatial;
      T* ys = y + (n * channels + c) * spatial;
      for (int64_t i = 0; i < spatial; ++i) ys[i] = T((double(xs[i]) - batch_mean) * k + double(bias[c]));
    }
    if (running_mean) running_mean[c] = T(double(mean[c]) * momentum + batch_mean * (1.0 - momentum));
    if (running_var) running_var[c] = T(double(var[c]) * momentum + batch_var * (1.0 - momentum));
  }
}

// Sum over the first n values of x of (x - pilot) - offset, or of its square, in the lanes of
// two independent chains; the lanes past n take no part. x - pilot is exact for values within
// a factor 2 of the pilot; the offset then stays small and exact to a few ulp of the spread.
inline float centered_sum_lanes(const float* x, int64_t n, float pilot, float offset, bool square) {
  using simd::f32x16;
  using simd::i32x16;
  const i32x16 lane = simd::lane_indices<int32_t, 16>();
  f32x16 acc0 = {}, acc1 = {}, v0, v1;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    simd::load(v0, x + i);
    simd::load(v1, x + i + 16);
    v0 = (v0 - pilot) - offset, v1 = (v1 - pilot) - offset;
    acc0 += square ? v0 * v0 : v0;
    acc1 += square ? v1 * v1 : v1;
  }
  for (; i < n; i += 16) {
    const int64_t count = std::min<int64_t>(16, n - i);
    simd::load_first(x + i, count, v0);
    v0 = (v0 - pilot) - offset;
    v0 = simd::select(lane < int32_t(count), v0, f32x16{});
    acc0 += square ? v0 * v0 : v0;
  }
  return sum_lanes(acc0 + acc1);
}

// Layer normalization (or, with rms, RMS normalization) of each row of x viewed as
// [outer, inner]; scale and bias advance by their step along the row (0 for one shared
// value); mean and inv_std_dev (optional, one per row) receive the statistics. Float rows with
// scale and bias along them are normalized in the lanes, in float, around the row's first
// value: the mean is that pilot plus a small offset, and values are centered as (x - pilot) -
// offset, so that the float arithmetic errs by a few ulp of the spread, not of the values (a
// spread of 1 around 1e4: 2e-4 when centered on the mean rounded to float). Float, not double:
// a vector holds twice as many floats. Other rows: statistics and normalization in double.
template <class T, class S>
inline void layer_norm(const T* x, const S* scale, int64_t scale_step, const S* bias, int64_t bias_step, T* y,
                       T* mean_out, T* inv_std_out, int64_t outer, int64_t inner, float epsilon, bool rms) {
  if constexpr (std::is_same<T, float>::value && std::is_same<S, float>::value)
    if (scale_step == 1 && (!bias || bias_step == 1) && inner > 0) {
      using simd::f32x16;
      for (int64_t o = 0; o < outer; ++o) {
        const float* xs = x + o * inner;
        float* ys = y + o * inner;
        const float pilot = rms ? 0.f : xs[0];
        const float offset = rms ? 0.f : centered_sum_lanes(xs, inner, pilot, 0.f, false) / float(inner);
        const float var = centered_sum_lanes(xs, inner, pilot, offset, true) / float(inner);
        const float inv_std = 1.f / std::sqrt(var + epsilon);
        f32x16 v, k, b = {};
        for (int64_t i = 0; i < inner; i += 16) {
          const int64_t count = std::min<int64_t>(16, inner - i);
          if (count == 16) {
            simd::load(v, xs + i);
            simd::load(k, scale + i);
            if (bias) simd::load(b, bias + i);
          } else {
            simd::load_first(xs + i, count, v);
            simd::load_first(scale + i, count, k);
            if (bias) simd::load_first(bias + i, count, b);
          }
          v = ((v - pilot) - offset) * inv_std * k + b;
          if (count == 16) simd::store(ys + i, v);
          else simd::store_first(ys + i, count, v);
        }
        if (mean_out) mean_out[o] = pilot + offset;
        if (inv_std_out) inv_std_out[o] = inv_std;
      }
      return;
    }
  for (int64_t o = 0; o < outer; ++o) {
    const T* xs = x + o * inner;
    T* ys = y + o * inner;
    const double mean = rms ? 0.0 : centered_sum(xs, inner, 0.0, false) / double(inner);
    const double var = centered_sum(xs, inner, mean, true) / double(inner);
    const double inv_std = 1.0 / std::sqrt(var + double(epsilon));
    for (int64_t i = 0; i < inner; ++i) {
      const double v = (double(xs[i]) - mean) * inv_std * double(scale[i * scale_step]);
      ys[i] = T(bias ? v + double(bias[i * bias_step]) : v);
    }
    if (mean_out) mean_out[o] = T(mean);
    if (inv_std_out) inv_std_out[o] = T(inv_std);
  }
}

// Group normalization over [batch, channels, spatial] with `groups` groups of channels; scale
// and bias hold one value per channel, or per group when per_group is set. Instance
// normalization is the case groups == channels. Float groups are summed in the lanes around
// their first value, as layer_norm's rows (the UNet's groups of 4 x 1024), other types in
// double; floats are then normalized in the lanes as ((x - pilot) - offset) * (inv_std *
// scale) + bias. The epilogue (a SiLU that followed a GroupNorm written out by torch) is
// applied in the same pass.
template <class T, class E = functor_chain<>>
inline void group_norm(const T* x, const T* scale, const T* bias, T* y, int64_t batch, int64_t channels,
                       int64_t spatial, int64_t groups, float epsilon, bool per_group, E epilogue = E()) {
  const int64_t per = channels / groups, span = per * spatial;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      const T* xs = x + (n * channels + g * per) * spatial;
      T* ys = y + (n * channels + g * per) * spatial;
      // The mean is pilot + offset (pilot 0 in double).
      T pilot = T(0);
      double offset = 0.0, inv_std = 0.0;
      if constexpr (std::is_same<T, float>::value) {
        if (span > 0) {
          pilot = xs[0];
          const float shift = centered_sum_lanes(xs, span, pilot, 0.f, false) / float(span);
          const float var = centered_sum_lanes(xs, span, pilot, shift, true) / float(span);
          offset = shift;
          inv_std = 1.f / std::sqrt(var + epsilon);
        }
      } else {
        offset = centered_sum(xs, span, 0.0, false) / double(span);
        inv_std = 1.0 / std::sqrt(centered_sum(xs, span, offset, true) / double(span) + double(epsilon));
      }
      for (int64_t c = 0; c < per; ++c) {
        const int64_t p = per_group ? g : g * per + c;
        const T* xc = xs + c * spatial;
        T* yc = ys + c * spatial;
        if constexpr (std::is_same<T, float>::value && has_lanes<E>::value) {
          using simd::f32x16;
          const f32x16 o = f32x16{} + float(offset), a = f32x16{} + float(inv_std * double(scale[p])),
                       b = f32x16{} + bias[p];
          int64_t i = 0;
          f32x16 v;
          for (; i + 16 <= spatial; i += 16) {
            simd::load(v, xc + i);
            v = ((v - pilot) - o) * a + b;
            epilogue.lanes(v);
            simd::store(yc + i, v);
          }
          if (i < spatial) {
            simd::load_first(xc + i, spatial - i, v);
            v = ((v - pilot) - o) * a + b;
            epilogue.lanes(v);
            simd::store_first(yc + i, spatial - i, v);
          }
        } else {
          for (int64_t i = 0; i < spatial; ++i)
            yc[i] =
                epilogue(T(((double(xc[i]) - double(pilot)) - offset) * inv_std * double(scale[p]) + double(bias[p])));
        }
      }
    }
}

// Local response normalization across channels of [batch, channels, spatial].
template <class T>
inline void lrn(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial, int64_t size, float alpha,
                float beta, float bias) {
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < spatial; ++i) {
        double sum = 0;
        for (int64_t k = std::max<int64_t>(0, c - before); k <= std::min(channels - 1, c + after); ++k) {
          const double v = double(x[(n * channels + k) * spatial + i]);
          sum += v * v;
        }
        const int64_t at = (n * channels + c) * spatial + i;
        y[at] = T(double(x[at]) / std::pow(double(bias) + double(alpha) / double(size) * sum, double(beta)));
      }
}
