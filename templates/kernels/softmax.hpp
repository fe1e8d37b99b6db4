// Softmax over the middle dimension of [outer, length, inner].
#pragma once
#include "prelude.hpp"

template <class T>
inline void softmax(const T* x, T* y, int64_t outer, int64_t length, int64_t inner, bool log_output) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xs = x + o * length * inner + i;
      T* ys = y + o * length * inner + i;
      T peak = xs[0];
      for (int64_t l = 1; l < length; ++l) peak = std::max(peak, xs[l * inner]);
      T sum = T(0);
      for (int64_t l = 0; l < length; ++l) {
        const T e = std::exp(xs[l * inner] - peak);
        ys[l * inner] = e;
        sum += e;
      }
      if (log_output) {
        const T log_sum = std::log(sum);
        for (int64_t l = 0; l < length; ++l) ys[l * inner] = xs[l * inner] - peak - log_sum;
      } else {
        const T scale = T(1) / sum;
        for (int64_t l = 0; l < length; ++l) ys[l * inner] *= scale;
      }
    }
}
