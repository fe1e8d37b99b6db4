// Signal processing: window functions.
#pragma once
#include "prelude.hpp"

enum class WindowKind { Hann, Hamming, Blackman };

// Periodic windows have period n; symmetric ones n - 1. Computed in double, stored as Y.
template <class Y> inline void window_function(Y* y, int64_t n, WindowKind kind, bool periodic) {
  const double pi = 3.14159265358979323846;
  const double period = double(periodic ? n : n - 1);
  for (int64_t i = 0; i < n; ++i) {
    const double t = double(i);
    double v = 0;
    switch (kind) {
      case WindowKind::Hann: {
        const double s = std::sin(t * pi / period);
        v = s * s;
        break;
      }
      case WindowKind::Hamming: v = 25.0 / 46.0 - std::cos(t * pi * 2 / period) * (1 - 25.0 / 46.0); break;
      case WindowKind::Blackman:
        v = std::cos(t * pi * 2 / period) * -0.5 + std::cos(t * pi * 4 / period) * 0.08 + 0.42;
        break;
    }
    y[i] = static_cast<Y>(v);
  }
}

// Discrete Fourier transform along the middle dimension of x [outer, n_in, inner, c_in]
// (c_in = 1 real, 2 complex) with transform length `length` (the input is cut or zero-padded
// to it), into y [outer, n_out, inner, c_out]. Forward: complex output, n_out = length or
// length / 2 + 1 (onesided). Inverse: divided by length; with real_output, the input is a
// one-sided spectrum and y the real signal (numpy's irfft). Accumulates in double.
template <class T>
inline void dft(const T* x, T* y, int64_t outer, int64_t n_in, int64_t inner, int c_in, int64_t length, int64_t n_out,
                bool inverse, bool real_output) {
  const double two_pi = 6.283185307179586476925286766559;
  const double sign = inverse ? 1.0 : -1.0;
  const int c_out = real_output ? 1 : 2;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto re = [&](int64_t j) { return j < n_in ? double(x[((o * n_in + j) * inner + i) * c_in]) : 0.0; };
      auto im = [&](int64_t j) {
        return j < n_in && c_in == 2 ? double(x[((o * n_in + j) * inner + i) * c_in + 1]) : 0.0;
      };
      for (int64_t k = 0; k < n_out; ++k) {
        double sum_re = 0, sum_im = 0;
        if (real_output) {
          // Hermitian extension of the one-sided spectrum.
          for (int64_t j = 0; j < length; ++j) {
            const int64_t half = j <= length / 2 ? j : length - j;
            const double a = re(half), b = (j <= length / 2 ? 1.0 : -1.0) * im(half);
            const bool self_conjugate = j == 0 || (length % 2 == 0 && j == length / 2);
            const double angle = two_pi * double((j * k) % length) / double(length);
            sum_re += a * std::cos(angle) - (self_conjugate ? 0.0 : b) * std::sin(angle);
          }
        } else {
          for (int64_t j = 0; j < std::min(n_in, length); ++j) {
            const double angle = sign * two_pi * double((j * k) % length) / double(length);
            const double c = std::cos(angle), s = std::sin(angle);
            sum_re += re(j) * c - im(j) * s;
            sum_im += re(j) * s + im(j) * c;
          }
        }
        if (inverse) {
          sum_re /= double(length);
          sum_im /= double(length);
        }
        T* out = y + ((o * n_out + k) * inner + i) * c_out;
        out[0] = T(sum_re);
        if (!real_output) out[1] = T(sum_im);
      }
    }
}

// Short-time Fourier transform of signal [batch, length, c_in]: frames of `window_length`
// samples every `step`, weighted by window (optional), zero-padded to fft_length, into
// y [batch, frames, n_out, 2]. scratch holds fft_length * 2 elements.
template <class T>
inline void stft(const T* x, const T* window, T* y, int64_t batch, int64_t length, int c_in, int64_t step,
                 int64_t frames, int64_t window_length, int64_t fft_length, int64_t n_out, T* scratch) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < frames; ++f) {
      for (int64_t j = 0; j < fft_length; ++j) {
        const int64_t at = f * step + j;
        const bool inside = j < window_length && at < length;
        const T w = window ? (j < window_length ? window[j] : T(0)) : T(1);
        scratch[2 * j] = inside ? x[(b * length + at) * c_in] * w : T(0);
        scratch[2 * j + 1] = inside && c_in == 2 ? x[(b * length + at) * c_in + 1] * w : T(0);
      }
      dft(scratch, y + (b * frames + f) * n_out * 2, 1, fft_length, 1, 2, fft_length, n_out, false, false);
    }
}
