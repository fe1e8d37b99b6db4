// Max, average and Lp pooling of any spatial rank over [N*C, spatial...] planes.
#pragma once
#include "prelude.hpp"
#include "conv.hpp"

enum class PoolKind { Max, Average, AverageCountPad, Lp };

// Max pooling of one output row in two passes: the maxima down the window's rows h0..h1 of
// each column go to buf, between -inf paddings (pw before, past the row after), then the
// windows' maxima along buf, 16 outputs at a time in the lanes (column stride sw of 1 or 2).
// Every output, borders included, takes the lanes: a scalar window loop for the borders alone
// (8 of the 56 outputs a row of resnet18's 3x3 stride-2 pool of 112-wide rows) would take
// most of the pool's time. buf: max_pool_row_buffer(...) floats.
constexpr int64_t kMaxPoolRow = 4096;
inline int64_t max_pool_row_buffer(int64_t in_w, int64_t out_w, int64_t sw, int64_t kw, int64_t pw) {
  return std::max((out_w - 1) * sw + kw + 32, pw + in_w);
}
inline void max_pool_row_lanes(const float* plane, float* y, int64_t in_w, int64_t h0, int64_t h1, int64_t out_w,
                               int64_t sw, int64_t kw, int64_t pw, float* buf) {
  using simd::f32x16;
  constexpr float ninf = -std::numeric_limits<float>::infinity();
  // The rows after the window, which the next output rows read: a plane's rows are a few cache
  // lines each, too short a stream for the hardware prefetcher (resnet18's pool at batch 8
  // reads 26 MB of input from memory).
  for (int64_t q = 0; q < 4 * in_w; q += 16) __builtin_prefetch(plane + h1 * in_w + q, 0, 3);
  std::fill(buf, buf + pw, ninf);
  float* column_max = buf + pw;
  int64_t w = 0;
  for (; w + 16 <= in_w; w += 16) {
    f32x16 acc, v;
    simd::load(acc, plane + h0 * in_w + w);
    for (int64_t h = h0 + 1; h < h1; ++h) {
      simd::load(v, plane + h * in_w + w);
      max_nan_lanes(acc, v);
    }
    simd::store(column_max + w, acc);
  }
  for (; w < in_w; ++w) {
    float acc = plane[h0 * in_w + w];
    for (int64_t h = h0 + 1; h < h1; ++h) {
      const float v = plane[h * in_w + w];
      acc = simd::select(v > acc || v != v, v, acc);
    }
    column_max[w] = acc;
  }
  std::fill(column_max + in_w, buf + max_pool_row_buffer(in_w, out_w, sw, kw, pw), ninf);
  for (int64_t oj = 0; oj < out_w; oj += 16) {
    f32x16 acc = f32x16{} + ninf, v, odd;
    for (int64_t k = 0; k < kw; ++k) {
      const float* src = buf + oj * sw + k;
      if (sw == 1) simd::load(v, src);
      else deinterleave(src, v, odd);
      max_nan_lanes(acc, v);
    }
    if (oj + 16 <= out_w) simd::store(y + oj, acc);
    else simd::store_first(y + oj, out_w - oj, acc);
  }
}

// The larger of two floats, NaN if either is, also in 16 lanes (a map_lanes2 functor).
struct max_nan_pair {
  float operator()(float a, float b) const { return (b > a || b != b) ? b : a; }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& a, const simd::f32x16& b) const {
    a = simd::select(b > a || b != b, b, a);
  }
};

// The sum of two floats, and of 16 pairs in the lanes.
struct add_pair {
  float operator()(float a, float b) const { return a + b; }
  SOFIEC_ALWAYS_INLINE void lanes(simd::f32x16& a, const simd::f32x16& b) const { a += b; }
};

// 2x2 max or average pooling of stride 2 with every window inside. The vertical maxima (sums)
// of a run of output rows go to a buffer laid out [row][2 * out_w]: then the horizontal pairs
// of all those rows form one flat sequence, 16 outputs per deinterleave, however short the
// rows (MNIST's are 14 and 7 outputs, too short for lanes along a row).
inline void pool_2x2_lanes(const float* x, float* y, int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h,
                           int64_t out_w, bool max) {
  constexpr int64_t kBuffer = 2048;
  const int64_t width = 2 * out_w, total_rows = planes * out_h;
  float pairs[kBuffer + 32];
  std::fill(pairs + kBuffer, pairs + kBuffer + 32, 0.f);  // what a partial last block reads past
  const int64_t chunk_rows = width <= kBuffer ? kBuffer / width : 1;
  const int64_t segment = std::min(width, kBuffer);  // columns per pass over one long row
  for (int64_t col = 0; col < width; col += segment) {
    const int64_t cols = std::min(segment, width - col);
    for (int64_t q0 = 0; q0 < total_rows; q0 += chunk_rows) {
      const int64_t q1 = std::min(total_rows, q0 + chunk_rows);
      for (int64_t q = q0; q < q1; ++q) {
        const float* r0 = x + ((q / out_h) * in_h + 2 * (q % out_h)) * in_w + col;
        if (max) map_lanes2(r0, 1, r0 + in_w, 1, pairs + (q - q0) * cols, cols, max_nan_pair{});
        else map_lanes2(r0, 1, r0 + in_w, 1, pairs + (q - q0) * cols, cols, add_pair{});
      }
      const int64_t outputs = (q1 - q0) * cols / 2;
      float* yq = y + q0 * out_w + col / 2;  // rows of cols/2 outputs, out_w apart
      const int64_t row_outputs = cols / 2;
      int64_t t = 0;
      for (; t < outputs; t += 16) {
        simd::f32x16 even, odd;
        deinterleave(pairs + 2 * t, even, odd);
        if (max) {
          max_nan_pair{}.lanes(even, odd);
        } else {
          even += odd;
          even *= 0.25f;
        }
        if (row_outputs == out_w) {
          simd::store_first(yq + t, std::min<int64_t>(16, outputs - t), even);
        } else {
          for (int64_t l = 0; l < 16 && t + l < outputs; ++l)
            yq[(t + l) / row_outputs * out_w + (t + l) % row_outputs] = even[l];
        }
      }
    }
  }
}

// The common case of CNNs: 2-D max or average (padding not counted) pooling without
// dilation or indices. Each window is clipped to the input once; no per-tap index arithmetic.
template <class T> inline void pool_2d(const T* x, T* y, int64_t planes, const ConvGeometry& g, bool max) {
  const int64_t in_h = g.in[0], in_w = g.in[1], out_h = g.out[0], out_w = g.out[1];
  // The larger of a and b, NaN if either is: a select, no branch to mispredict.
  auto max_nan = [](T a, T b) { return (b > a || b != b) ? b : a; };
  if constexpr (std::is_same<T, float>::value) {
    if (g.kernel[0] == 2 && g.kernel[1] == 2 && g.stride[0] == 2 && g.stride[1] == 2 && g.pad_begin[0] == 0 &&
        g.pad_begin[1] == 0 && 2 * out_h <= in_h && 2 * out_w <= in_w) {
      pool_2x2_lanes(x, y, planes, in_h, in_w, out_h, out_w, max);
      return;
    }
  }
  if (max && g.kernel[0] == 2 && g.kernel[1] == 2 && g.stride[0] == 2 && g.stride[1] == 2 && g.pad_begin[0] == 0 &&
      g.pad_begin[1] == 0 && 2 * out_h <= in_h && 2 * out_w <= in_w) {
    // 2x2 windows of stride 2, all inside: four loads per output.
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t oi = 0; oi < out_h; ++oi) {
        const T* r0 = x + (p * in_h + 2 * oi) * in_w;
        const T* r1 = r0 + in_w;
        T* yr = y + (p * out_h + oi) * out_w;
        for (int64_t oj = 0; oj < out_w; ++oj)
          yr[oj] = max_nan(max_nan(r0[2 * oj], r0[2 * oj + 1]), max_nan(r1[2 * oj], r1[2 * oj + 1]));
      }
    return;
  }
  const int64_t sw = g.stride[1], kw = g.kernel[1], pw = g.pad_begin[1];
  // Every window starts before the row's end and ends after its start: none is padding only.
  const bool row_lanes = std::is_same<T, float>::value && max && (sw == 1 || sw == 2) && pw < kw &&
                         (out_w - 1) * sw - pw < in_w && max_pool_row_buffer(in_w, out_w, sw, kw, pw) <= kMaxPoolRow;
  float row_buffer[kMaxPoolRow];
  (void)row_buffer;
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * in_h * in_w;
    T* yp = y + p * out_h * out_w;
    for (int64_t oi = 0; oi < out_h; ++oi) {
      const int64_t h0 = std::max<int64_t>(oi * g.stride[0] - g.pad_begin[0], 0);
      const int64_t h1 = std::min<int64_t>(oi * g.stride[0] - g.pad_begin[0] + g.kernel[0], in_h);
      auto window = [&](int64_t oj) {
        const int64_t w0 = std::max<int64_t>(oj * sw - pw, 0);
        const int64_t w1 = std::min<int64_t>(oj * sw - pw + kw, in_w);
        T acc = max ? (h0 < h1 && w0 < w1 ? xp[h0 * in_w + w0] : std::numeric_limits<T>::lowest()) : T(0);
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const T v = xp[h * in_w + w];
            acc = max ? max_nan(acc, v) : acc + v;
          }
        const int64_t count = (h1 > h0 ? h1 - h0 : 0) * (w1 > w0 ? w1 - w0 : 0);
        yp[oi * out_w + oj] = max ? acc : (count ? acc / T(count) : T(0));
      };
      if constexpr (std::is_same<T, float>::value)
        if (row_lanes && h0 < h1) {
          max_pool_row_lanes(xp, yp + oi * out_w, in_w, h0, h1, out_w, sw, kw, pw, row_buffer);
          continue;
        }
      for (int64_t oj = 0; oj < out_w; ++oj) window(oj);
    }
  }
}

// For AverageCountPad, pad_end gives the padded extent the divisor counts (ONNX counts
// padding cells but never cells added only by ceil_mode). Max pooling can also report where
// each maximum came from (indices, optional: flat offsets into x, with the spatial dims in
// column-major order when column_major is set). Lp pooling uses exponent p.
template <class T>
inline void pool_nd(const T* x, T* y, int64_t planes, const ConvGeometry& g, const int64_t* pad_end, PoolKind kind,
                    int64_t* indices = nullptr, bool column_major = false, float p_norm = 2.f) {
  if (g.rank == 2 && !indices && g.dilation[0] == 1 && g.dilation[1] == 1 &&
      (kind == PoolKind::Max || kind == PoolKind::Average)) {
    pool_2d(x, y, planes, g, kind == PoolKind::Max);
    return;
  }
  const int64_t ksize = g.kernel_size(), osize = g.out_size(), isize = g.in_size();
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * isize;
    T* yp = y + p * osize;
    int64_t opos[8] = {0};
    for (int64_t o = 0; o < osize; ++o) {
      T acc = kind == PoolKind::Max ? std::numeric_limits<T>::lowest() : T(0);
      int64_t best = -1;
      int64_t count = 0, padded_count = 1;
      if (kind == PoolKind::AverageCountPad)
        for (int d = 0; d < g.rank; ++d) {
          const int64_t start = opos[d] * g.stride[d] - g.pad_begin[d];
          const int64_t limit = g.in[d] + pad_end[d];
          const int64_t end = std::min(start + (g.kernel[d] - 1) * g.dilation[d] + 1, limit);
          padded_count *= (end - start + g.dilation[d] - 1) / g.dilation[d];
        }
      int64_t kpos[8] = {0};
      for (int64_t k = 0; k < ksize; ++k) {
        int64_t src = 0, column_src = 0;
        bool inside = true;
        for (int d = 0; d < g.rank; ++d) {
          const int64_t q = opos[d] * g.stride[d] - g.pad_begin[d] + kpos[d] * g.dilation[d];
          inside = inside && q >= 0 && q < g.in[d];
          src = src * g.in[d] + q;
        }
        if (indices && column_major && inside)
          for (int d = g.rank - 1; d >= 0; --d)
            column_src = column_src * g.in[d] + (opos[d] * g.stride[d] - g.pad_begin[d] + kpos[d] * g.dilation[d]);
        if (inside) {
          const T v = xp[src];
          if (kind == PoolKind::Max) {
            if (best < 0 || v > acc || (v != v && acc == acc)) {
              acc = v;
              best = column_major ? column_src : src;
            }
          } else if (kind == PoolKind::Lp) {
            acc += T(std::pow(std::fabs(double(v)), double(p_norm)));
          } else {
            acc += v;
          }
          ++count;
        }
        for (int d = g.rank - 1; d >= 0; --d) {
          if (++kpos[d] < g.kernel[d]) break;
          kpos[d] = 0;
        }
      }
      if (kind == PoolKind::Average) acc = count ? acc / T(count) : T(0);
      else if (kind == PoolKind::AverageCountPad) acc = acc / T(padded_count);
      else if (kind == PoolKind::Lp) acc = T(std::pow(double(acc), 1.0 / double(p_norm)));
      yp[o] = acc;
      if (indices) indices[p * osize + o] = p * isize + (best < 0 ? 0 : best);
      for (int d = g.rank - 1; d >= 0; --d) {
        if (++opos[d] < g.out[d]) break;
        opos[d] = 0;
      }
    }
  }
}

// Mean, maximum or Lp norm over each plane of [planes, size].
template <class T>
inline void global_pool(const T* x, T* y, int64_t planes, int64_t size, PoolKind kind, float p_norm = 2.f) {
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * size;
    if (kind == PoolKind::Max) {
      T acc = size ? xp[0] : T(0);
      for (int64_t i = 1; i < size; ++i) acc = (xp[i] > acc || xp[i] != xp[i]) ? xp[i] : acc;
      y[p] = acc;
    } else if (kind == PoolKind::Lp) {
      double acc = 0;
      for (int64_t i = 0; i < size; ++i) acc += std::pow(std::fabs(double(xp[i])), double(p_norm));
      y[p] = T(std::pow(acc, 1.0 / double(p_norm)));
    } else {
      T acc = T(0);
      for (int64_t i = 0; i < size; ++i) acc += xp[i];
      y[p] = acc / T(size);
    }
  }
}

// MaxPool's inverse: y (zeroed) receives x[i] at the flat offset indices[i] of a tensor of dims
// `inferred`, placed at the origin of y's dims `out` (equal, or larger when output_shape asks).
template <class T, class I>
inline void max_unpool(const T* x, const I* indices, T* y, int64_t count, int rank, const int64_t* inferred,
                       const int64_t* out) {
  int64_t out_size = 1, inferred_size = 1;
  for (int d = 0; d < rank; ++d) {
    out_size *= out[d];
    inferred_size *= inferred[d];
  }
  for (int64_t i = 0; i < out_size; ++i) y[i] = T(0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t at = int64_t(indices[i]);
    if (at < 0 || at >= inferred_size) continue;
    int64_t dst = 0, stride = 1;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t c = at % inferred[d];
      at /= inferred[d];
      inside = inside && c < out[d];
      dst += c * stride;
      stride *= out[d];
    }
    if (inside) y[dst] = x[i];
  }
}
