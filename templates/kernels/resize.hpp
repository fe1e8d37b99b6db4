// Resize along one axis: x viewed as [outer, in_len, inner] becomes y [outer, out_len, inner],
// each output position the weighted sum of `taps` input positions (tables computed at
// generation time). Positions flagged in `outside` (tf_crop_and_resize) take `extrapolation`.
// Multi-axis resizes chain these passes through float scratch buffers.
#pragma once
#include "prelude.hpp"

template <class Y> inline Y resize_store(double v) {
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
      if constexpr (std::is_same<X, Y>::value)
        if (taps == 1 && w[0] == 1.0) {  // nearest: a copy (the UNet's upsamplings)
          const X* src = x + (o * in_len + idx[0]) * inner;
          if (inner == 1) dst[0] = src[0];
          else std::copy(src, src + inner, dst);
          continue;
        }
      for (int64_t i = 0; i < inner; ++i) {
        double acc = 0;
        for (int t = 0; t < taps; ++t) acc += w[t] * double(x[(o * in_len + idx[t]) * inner + i]);
        dst[i] = resize_store<Y>(acc);
      }
    }
}

enum class GridMode { Nearest, Linear, Cubic };
enum class GridPadding { Zeros, Border, Reflection };

// Reflects x into [lo, hi] (as many times as needed).
template <class T> inline T grid_reflect(T x, T lo, T hi) {
  const T range = hi - lo;
  if (x < lo) {
    const T dx = lo - x;
    const int64_t n = int64_t(dx / range);
    const T r = dx - T(n) * range;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const T dx = x - hi;
    const int64_t n = int64_t(dx / range);
    const T r = dx - T(n) * range;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

// GridSample over rank spatial dims (1 to 3): x [N, C, dims...], grid [N, out..., rank] of
// normalized coordinates (last spatial dim first), y [N, C, out...].
template <class T>
inline void grid_sample(const T* x, const T* grid, T* y, int64_t batch, int64_t channels, int rank, const int64_t* dims,
                        int64_t out_count, GridMode mode, GridPadding padding, bool align_corners) {
  int64_t in_count = 1;
  for (int d = 0; d < rank; ++d) in_count *= dims[d];
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < out_count; ++o) {
      const T* g = grid + (n * out_count + o) * rank;
      int64_t index[3][4];
      T weight[3][4];
      int taps = mode == GridMode::Nearest ? 1 : mode == GridMode::Linear ? 2 : 4;
      for (int d = 0; d < rank; ++d) {
        const T length = T(dims[d]);
        const T lo = align_corners ? T(0) : T(-0.5), hi = align_corners ? length - T(1) : length - T(0.5);
        const T v = g[rank - 1 - d];
        T c = align_corners ? (v + T(1)) / T(2) * (length - T(1)) : ((v + T(1)) * length - T(1)) / T(2);
        if (mode == GridMode::Nearest) c = std::nearbyint(c);
        if (c < lo || c > hi) {
          if (padding == GridPadding::Border) c = std::max(T(0), std::min(length - T(1), c));
          else if (padding == GridPadding::Reflection) c = grid_reflect(c, lo, hi);
        }
        auto resolve = [&](int64_t i) -> int64_t {
          if (padding == GridPadding::Zeros) return i >= 0 && i < dims[d] ? i : -1;
          if (padding == GridPadding::Border) return std::max<int64_t>(0, std::min<int64_t>(dims[d] - 1, i));
          return int64_t(grid_reflect(T(i), lo, hi));
        };
        if (mode == GridMode::Nearest) {
          index[d][0] = resolve(int64_t(c));
          weight[d][0] = T(1);
          continue;
        }
        const int64_t base = int64_t(std::floor(c));
        const T t = c - T(base);
        if (mode == GridMode::Linear) {
          index[d][0] = resolve(base);
          index[d][1] = resolve(base + 1);
          weight[d][0] = T(1) - t;
          weight[d][1] = t;
        } else {
          const T a = T(-0.75);
          weight[d][0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
          weight[d][1] = ((a + 2) * t - (a + 3)) * t * t + 1;
          weight[d][2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
          weight[d][3] = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a;
          for (int k = 0; k < 4; ++k) index[d][k] = resolve(base - 1 + k);
        }
      }
      int combos = 1;
      for (int d = 0; d < rank; ++d) combos *= taps;
      for (int64_t ch = 0; ch < channels; ++ch) {
        const T* xc = x + (n * channels + ch) * in_count;
        T acc = T(0);
        for (int k = 0; k < combos; ++k) {
          int64_t offset = 0;
          T w = T(1);
          bool inside = true;
          for (int d = 0, rest = k; d < rank; ++d) {
            const int tap = rest % taps;
            rest /= taps;
            const int64_t i = index[d][tap];
            inside = inside && i >= 0;
            offset = offset * dims[d] + i;
            w *= weight[d][tap];
          }
          if (inside) acc += w * xc[offset];
        }
        y[(n * channels + ch) * out_count + o] = acc;
      }
    }
}

// AffineGrid: for each of `batch` matrices theta [rank, rank + 1], the sampling grid
// [dims..., rank] of theta applied to the normalized coordinates (x, y[, z], 1) of every
// output position (x along the last dim).
template <class T>
inline void affine_grid(const T* theta, T* y, int64_t batch, int rank, const int64_t* dims, bool align_corners) {
  int64_t count = 1;
  for (int d = 0; d < rank; ++d) count *= dims[d];
  for (int64_t n = 0; n < batch; ++n) {
    const T* th = theta + n * rank * (rank + 1);
    for (int64_t p = 0; p < count; ++p) {
      T homo[4];
      for (int64_t d = rank - 1, rest = p; d >= 0; --d) {
        const int64_t i = rest % dims[d];
        rest /= dims[d];
        const double c = align_corners ? (dims[d] > 1 ? -1.0 + double(i) * 2.0 / double(dims[d] - 1) : 0.0)
                                       : -1.0 + (2.0 * double(i) + 1.0) / double(dims[d]);
        homo[rank - 1 - d] = T(c);
      }
      homo[rank] = T(1);
      T* out = y + (n * count + p) * rank;
      for (int k = 0; k < rank; ++k) {
        T acc = T(0);
        for (int j = 0; j <= rank; ++j) acc += th[k * (rank + 1) + j] * homo[j];
        out[k] = acc;
      }
    }
  }
}

// RoiAlign over x [N, C, H, W]: for every box (x1, y1, x2, y2 in rois, scaled by
// spatial_scale) and channel, an out_h x out_w grid of bins, each the average (or maximum) of
// bilinear samples on a sampling grid (sampling_ratio per side, or adaptive when 0).
template <class T, class I>
inline void roi_align(const T* x, const T* rois, const I* batch_indices, T* y, int64_t num_rois, int64_t channels,
                      int64_t height, int64_t width, int64_t out_h, int64_t out_w, int64_t sampling_ratio,
                      float spatial_scale, bool half_pixel, bool max_mode) {
  for (int64_t n = 0; n < num_rois; ++n) {
    const T* box = rois + n * 4;
    const double offset = half_pixel ? 0.5 : 0.0;
    const double start_w = double(box[0]) * spatial_scale - offset, start_h = double(box[1]) * spatial_scale - offset;
    double roi_w = double(box[2]) * spatial_scale - offset - start_w,
           roi_h = double(box[3]) * spatial_scale - offset - start_h;
    if (!half_pixel) {
      roi_w = std::max(roi_w, 1.0);
      roi_h = std::max(roi_h, 1.0);
    }
    const double bin_h = roi_h / double(out_h), bin_w = roi_w / double(out_w);
    const int64_t grid_h = sampling_ratio > 0 ? sampling_ratio : int64_t(std::ceil(roi_h / double(out_h)));
    const int64_t grid_w = sampling_ratio > 0 ? sampling_ratio : int64_t(std::ceil(roi_w / double(out_w)));
    const double count = double(std::max<int64_t>(grid_h * grid_w, 1));
    const int64_t b = int64_t(batch_indices[n]);
    for (int64_t c = 0; c < channels; ++c) {
      const T* plane = x + (b * channels + c) * height * width;
      for (int64_t ph = 0; ph < out_h; ++ph)
        for (int64_t pw = 0; pw < out_w; ++pw) {
          double acc = 0;
          bool first = true;
          for (int64_t iy = 0; iy < grid_h; ++iy)
            for (int64_t ix = 0; ix < grid_w; ++ix) {
              double yy = start_h + double(ph) * bin_h + (double(iy) + 0.5) * bin_h / double(grid_h);
              double xx = start_w + double(pw) * bin_w + (double(ix) + 0.5) * bin_w / double(grid_w);
              double w[4] = {0, 0, 0, 0};
              int64_t at[4] = {0, 0, 0, 0};
              if (!(yy < -1.0 || yy > double(height) || xx < -1.0 || xx > double(width))) {
                yy = std::max(yy, 0.0);
                xx = std::max(xx, 0.0);
                int64_t y0 = int64_t(yy), x0 = int64_t(xx), y1, x1;
                if (y0 >= height - 1) {
                  y1 = y0 = height - 1;
                  yy = double(y0);
                } else {
                  y1 = y0 + 1;
                }
                if (x0 >= width - 1) {
                  x1 = x0 = width - 1;
                  xx = double(x0);
                } else {
                  x1 = x0 + 1;
                }
                const double ly = yy - double(y0), lx = xx - double(x0);
                w[0] = (1 - ly) * (1 - lx);
                w[1] = (1 - ly) * lx;
                w[2] = ly * (1 - lx);
                w[3] = ly * lx;
                at[0] = y0 * width + x0;
                at[1] = y0 * width + x1;
                at[2] = y1 * width + x0;
                at[3] = y1 * width + x1;
              }
              if (max_mode) {
                double v = w[0] * double(plane[at[0]]);
                for (int k = 1; k < 4; ++k) v = std::max(v, w[k] * double(plane[at[k]]));
                acc = first ? v : std::max(acc, v);
                first = false;
              } else {
                for (int k = 0; k < 4; ++k) acc += w[k] * double(plane[at[k]]);
              }
            }
          y[((n * channels + c) * out_h + ph) * out_w + pw] = T(max_mode ? acc : acc / count);
        }
    }
  }
}
