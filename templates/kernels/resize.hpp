// Resize along one axis: x viewed as [outer, in_len, inner] becomes y [outer, out_len, inner],
// each output position the weighted sum of `taps` input positions (tables computed at
// generation time). Positions flagged in `outside` (tf_crop_and_resize) take `extrapolation`.
// Multi-axis resizes chain these passes through float scratch buffers.
#pragma once
#include "prelude.hpp"

template <class Y>
inline Y resize_store(double v) {
  if constexpr (std::is_integral<Y>::value) {
    v = std::nearbyint(v);  // round half to even, then saturate
    if (v < double(std::numeric_limits<Y>::lowest())) return std::numeric_limits<Y>::lowest();
    if (v > double(std::numeric_limits<Y>::max())) return std::numeric_limits<Y>::max();
    return Y(v);
  } else {
    return Y(v);
  }
}

template <class X, class Y>
inline void resize_axis(const X* x, Y* y, int64_t outer, int64_t in_len, int64_t inner, int64_t out_len, int taps,
                        const int64_t* index, const double* weight, const bool* outside, double extrapolation) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t p = 0; p < out_len; ++p) {
      Y* dst = y + (o * out_len + p) * inner;
      if (outside && outside[p]) {
        for (int64_t i = 0; i < inner; ++i) dst[i] = resize_store<Y>(extrapolation);
        continue;
      }
      const int64_t* idx = index + p * taps;
      const double* w = weight + p * taps;
      for (int64_t i = 0; i < inner; ++i) {
        double acc = 0;
        for (int t = 0; t < taps; ++t) acc += w[t] * double(x[(o * in_len + idx[t]) * inner + i]);
        dst[i] = resize_store<Y>(acc);
      }
    }
}
