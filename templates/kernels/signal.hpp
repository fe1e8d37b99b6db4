// Signal processing: window functions.
#pragma once
#include "prelude.hpp"

enum class WindowKind { Hann, Hamming, Blackman };

// Periodic windows have period n; symmetric ones n - 1. Computed in double, stored as Y.
template <class Y>
inline void window_function(Y* y, int64_t n, WindowKind kind, bool periodic) {
  const double pi = 3.14159265358979323846;
  const double period = double(periodic ? n : n - 1);
  for (int64_t i = 0; i < n; ++i) {
    const double t = double(i);
    double v = 0;
    switch (kind) {
      case WindowKind::Hann: { const double s = std::sin(t * pi / period); v = s * s; break; }
      case WindowKind::Hamming: v = 25.0 / 46.0 - std::cos(t * pi * 2 / period) * (1 - 25.0 / 46.0); break;
      case WindowKind::Blackman: v = std::cos(t * pi * 2 / period) * -0.5 + std::cos(t * pi * 4 / period) * 0.08 + 0.42; break;
    }
    y[i] = static_cast<Y>(v);
  }
}
