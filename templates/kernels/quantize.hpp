// Linear quantization. Scales and zero points are per tensor, per axis or per block: the
// parameter of element (outer o, axis position a, inner i) of x viewed as [outer, len, inner]
// sits at o * outer_stride + (a / block) * axis_stride + i * inner_stride.
#pragma once
#include "prelude.hpp"
#include "conv.hpp"

struct QuantLayout {
  int64_t outer, len, inner;
  int64_t outer_stride, axis_stride, inner_stride, block;
};

// Rounds half to even and saturates to Y's range.
template <class Y> inline Y saturate_round(double v) {
  v = std::nearbyint(v);
  if (v != v) return Y(0);
  if (v < double(std::numeric_limits<Y>::lowest())) return std::numeric_limits<Y>::lowest();
  if (v > double(std::numeric_limits<Y>::max())) return std::numeric_limits<Y>::max();
  return Y(v);
}

// y = saturate(round(x / scale) + zero_point); zero_point may be null (0).
template <class X, class Z, class Y>
inline void quantize_linear(const X* x, const X* scale, const Z* zero_point, Y* y, const QuantLayout& l) {
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t a = 0; a < l.len; ++a)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t at = (o * l.len + a) * l.inner + i;
        const int64_t p = o * l.outer_stride + (a / l.block) * l.axis_stride + i * l.inner_stride;
        const double q = std::nearbyint(double(x[at] / scale[p]));
        y[at] = saturate_round<Y>(q + (zero_point ? double(zero_point[p]) : 0.0));
      }
}

// y = (x - zero_point) * scale.
template <class X, class S>
inline void dequantize_linear(const X* x, const S* scale, const X* zero_point, S* y, const QuantLayout& l) {
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t a = 0; a < l.len; ++a)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t at = (o * l.len + a) * l.inner + i;
        const int64_t p = o * l.outer_stride + (a / l.block) * l.axis_stride + i * l.inner_stride;
        const S shifted = S(int64_t(x[at]) - (zero_point ? int64_t(zero_point[p]) : 0));
        y[at] = shifted * scale[p];
      }
}

// uint8 quantization with a scale and zero point chosen to cover [min(x, 0), max(x, 0)].
inline void dynamic_quantize_linear(const float* x, uint8_t* y, float* scale_out, uint8_t* zero_point_out, int64_t n) {
  float hi = 0.f, lo = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    hi = std::max(hi, x[i]);
    lo = std::min(lo, x[i]);
  }
  const float scale = (hi == lo ? 1.f : hi - lo) / 255.f;
  const float zp = std::nearbyint(std::max(0.f, std::min(255.f, 0.f - lo / scale)));
  for (int64_t i = 0; i < n; ++i) y[i] = saturate_round<uint8_t>(double(std::nearbyint(x[i] / scale)) + double(zp));
  *scale_out = scale;
  *zero_point_out = uint8_t(zp);
}

// Integer matrix products over batches: acc = (a - a_zero) (b - b_zero) in int32. Without
// requantization y receives acc (MatMulInteger); with it, y = saturate(round(acc * multiplier)
// + y_zero) (QLinearMatMul).
template <class A, class B, class Y>
inline void matmul_integer(const A* a, const B* b, int32_t a_zero, int32_t b_zero, Y* y, int64_t batches,
                           const int64_t* a_offsets, const int64_t* b_offsets, int64_t m, int64_t n, int64_t k,
                           bool requantize, double multiplier, int32_t y_zero) {
  for (int64_t t = 0; t < batches; ++t) {
    const A* at = a + a_offsets[t];
    const B* bt = b + b_offsets[t];
    Y* yt = y + t * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int32_t acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += (int32_t(at[i * k + p]) - a_zero) * (int32_t(bt[p * n + j]) - b_zero);
        if (requantize) yt[i * n + j] = saturate_round<Y>(double(acc) * multiplier + double(y_zero));
        else yt[i * n + j] = Y(acc);
      }
  }
}

// Integer convolution (ConvInteger, QLinearConv): (x - x_zero) * (w - w_zero[m]) accumulated
// in int32 through conv_nd, plus bias; with requantization, y = saturate(round(acc * x_scale *
// w_scale[m] / y_scale) + y_zero). Zero points and scales of w are per filter when their count
// is the number of filters, else one value. scratch: x, w, columns and accumulators as int32.
template <class X, class W, class Y>
inline void conv_integer(const X* x, const X* x_zero, const W* w, const W* w_zero, int64_t w_zero_count,
                         const int32_t* bias, Y* y, int64_t batch, int64_t channels, int64_t filters, int64_t groups,
                         const ConvGeometry& g, const float* x_scale, const float* w_scale, int64_t w_scale_count,
                         const float* y_scale, const Y* y_zero, int32_t* scratch) {
  const int64_t ksize = g.kernel_size(), osize = g.out_size(), isize = g.in_size();
  const int64_t per_filter = channels / groups * ksize;
  int32_t* xi = scratch;
  int32_t* wi = xi + batch * channels * isize;
  int32_t* acc = wi + filters * per_filter;
  int32_t* col = acc + batch * filters * osize;
  const int32_t xz = x_zero ? int32_t(x_zero[0]) : 0;
  for (int64_t i = 0; i < batch * channels * isize; ++i) xi[i] = int32_t(x[i]) - xz;
  for (int64_t m = 0; m < filters; ++m) {
    const int32_t wz = w_zero ? int32_t(w_zero[w_zero_count == filters ? m : 0]) : 0;
    for (int64_t i = 0; i < per_filter; ++i) wi[m * per_filter + i] = int32_t(w[m * per_filter + i]) - wz;
  }
  conv_nd(static_cast<const int32_t*>(xi), static_cast<const int32_t*>(wi), bias, acc, col, batch, channels, filters,
          groups, g);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t m = 0; m < filters; ++m)
      for (int64_t o = 0; o < osize; ++o) {
        const int64_t at = (n * filters + m) * osize + o;
        if (!y_scale) {
          y[at] = Y(acc[at]);
          continue;
        }
        const float multiplier = x_scale[0] * w_scale[w_scale_count == filters ? m : 0] / y_scale[0];
        y[at] = saturate_round<Y>(double(acc[at]) * double(multiplier) + (y_zero ? double(y_zero[0]) : 0.0));
      }
}
