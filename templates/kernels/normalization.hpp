// Normalizations with per-channel parameters over [batch, channels, spatial].
#pragma once
#include "prelude.hpp"

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
