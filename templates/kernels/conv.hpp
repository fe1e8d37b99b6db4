// Convolution of any spatial rank as im2col + GEMM per (batch, group); 2-D float ones by
// stride phases and a GEMM that packs its panels from them (implicit GEMM).
#pragma once
#include "prelude.hpp"
#include "elementwise.hpp"
#include "functors.hpp"
#include "gemm.hpp"

struct ConvGeometry {
  int rank;        // spatial rank
  int64_t in[8];   // input spatial dims
  int64_t out[8];  // output spatial dims
  int64_t kernel[8];
  int64_t stride[8];
  int64_t dilation[8];
  int64_t pad_begin[8];

  static constexpr int64_t product(const int64_t* dims, int rank) {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= dims[d];
    return n;
  }
  constexpr int64_t in_size() const { return product(in, rank); }
  constexpr int64_t out_size() const { return product(out, rank); }
  constexpr int64_t kernel_size() const { return product(kernel, rank); }
};

// Visits every (channel c, kernel position kp, output position o) of a convolution window
// walk: f(c, row = c * K + kp, o, index), index being the input offset within channel c's
// plane that the tap reads (-1 in the padding). im2col and its adjoint col2im share it.
template <class F> inline void for_each_window_tap(int64_t channels, const ConvGeometry& g, F f) {
  const int64_t ksize = g.kernel_size(), osize = g.out_size();
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t kp = 0; kp < ksize; ++kp) {
      int64_t koff[8];
      for (int64_t d = g.rank - 1, r = kp; d >= 0; --d) {
        koff[d] = (r % g.kernel[d]) * g.dilation[d] - g.pad_begin[d];
        r /= g.kernel[d];
      }
      int64_t opos[8] = {0};
      for (int64_t o = 0; o < osize; ++o) {
        int64_t index = 0;
        bool inside = true;
        for (int d = 0; d < g.rank; ++d) {
          const int64_t p = opos[d] * g.stride[d] + koff[d];
          inside = inside && p >= 0 && p < g.in[d];
          index = index * g.in[d] + p;
        }
        f(c, c * ksize + kp, o, inside ? index : int64_t(-1));
        for (int d = g.rank - 1; d >= 0; --d) {
          if (++opos[d] < g.out[d]) break;
          opos[d] = 0;
        }
      }
    }
}

// col[(c * K + kpos), opos] = x[c, opos * stride - pad + kpos * dilation], 0 outside.
// Works a row of the last spatial dim at a time: the taps of a row that fall inside the input
// are one contiguous copy (unit stride) or one strided loop, the rest zeros; no per-element
// index arithmetic.
template <class T> inline void im2col_nd(const T* x, T* col, int64_t channels, const ConvGeometry& g) {
  const int last = g.rank - 1;
  const int64_t osize = g.out_size(), isize = g.in_size(), ksize = g.kernel_size();
  const int64_t out_last = g.out[last], in_last = g.in[last], stride = g.stride[last];
  const int64_t rows = out_last > 0 ? osize / out_last : 0;
  // Unit strides in 2-D with rows as long as the input's: tap kp's whole plane is the input
  // shifted by a constant offset, so one copy per plane, then the border columns and rows
  // that fall in the padding are zeroed (small images paid a copy call per row otherwise).
  const bool plane_shift = g.rank == 2 && g.stride[0] == 1 && stride == 1 && out_last == in_last;
  for (int64_t c = 0; c < channels; ++c) {
    const T* plane = x + c * isize;
    for (int64_t kp = 0; kp < ksize; ++kp) {
      int64_t koff[8];
      for (int64_t d = last, r = kp; d >= 0; --d) {
        koff[d] = (r % g.kernel[d]) * g.dilation[d] - g.pad_begin[d];
        r /= g.kernel[d];
      }
      // Output columns whose tap lies inside the row: lo <= o < hi.
      const int64_t k0 = koff[last];
      int64_t lo = k0 >= 0 ? 0 : (-k0 + stride - 1) / stride;
      int64_t hi = in_last - k0 > 0 ? (in_last - k0 + stride - 1) / stride : 0;
      lo = std::min(lo, out_last);
      hi = std::max(std::min(hi, out_last), lo);
      T* dst = col + (c * ksize + kp) * osize;
      if (plane_shift) {
        // Output rows r0..r1 read input rows inside the plane.
        const int64_t r0 = std::min(rows, std::max<int64_t>(0, -koff[0]));
        const int64_t r1 = std::max(r0, std::min(rows, g.in[0] - koff[0]));
        std::fill(dst, dst + r0 * out_last, T(0));
        if (r1 > r0 && hi > lo) {
          // From row r0's first inside tap to row r1-1's last: every read lies in the plane.
          const int64_t first = r0 * out_last + lo, last = (r1 - 1) * out_last + hi;
          std::copy(plane + first + koff[0] * in_last + k0, plane + last + koff[0] * in_last + k0, dst + first);
        }
        for (int64_t row = r0; row < r1; ++row) {
          T* line = dst + row * out_last;
          for (int64_t o = 0; o < lo; ++o) line[o] = T(0);
          for (int64_t o = hi; o < out_last; ++o) line[o] = T(0);
        }
        std::fill(dst + r1 * out_last, dst + osize, T(0));
        continue;
      }
      int64_t opos[8] = {0};
      for (int64_t row = 0; row < rows; ++row, dst += out_last) {
        bool inside = true;
        int64_t base = 0;
        for (int d = 0; d < last; ++d) {
          const int64_t p = opos[d] * g.stride[d] + koff[d];
          inside = inside && p >= 0 && p < g.in[d];
          base = base * g.in[d] + p;
        }
        for (int d = last - 1; d >= 0; --d) {
          if (++opos[d] < g.out[d]) break;
          opos[d] = 0;
        }
        if (!inside) {
          std::fill(dst, dst + out_last, T(0));
          continue;
        }
        const T* src = plane + base * in_last;  // the input row; tap o reads src[o * stride + k0]
        std::fill(dst, dst + lo, T(0));
        if (stride == 1) std::copy(src + (lo + k0), src + (hi + k0), dst + lo);
        else
          for (int64_t o = lo; o < hi; ++o) dst[o] = src[o * stride + k0];
        std::fill(dst + hi, dst + out_last, T(0));
      }
    }
  }
}

// Implicit GEMM for 2-D float convolutions: no column matrix. The zero-padded image is split
// into stride phases, phase (a, b) holding rows a, a + s_h, ... and columns b, b + s_w, ... of
// the padded image; tap (kh, kw) of output (oh, ow) then reads phase ((kh d_h) % s_h,
// (kw d_w) % s_w) at row oh + (kh d_h) / s_h, column ow + (kw d_w) / s_w, so a run of outputs
// along a row reads a contiguous run of a phase at every tap, stride 2 included. The GEMM
// packs each panel of 32 outputs by tap straight from the phases (L2-resident) instead of
// reading a column matrix written to memory before (resnet18's stem: 7.4 MB of columns, read
// as 147 streams 49 KiB apart).
constexpr int64_t phase_extent(int64_t out, int64_t kernel, int64_t stride, int64_t dilation) {
  return out + (kernel - 1) * dilation / stride;
}
constexpr int64_t phase_plane_floats(const ConvGeometry& g) {
  return phase_extent(g.out[0], g.kernel[0], g.stride[0], g.dilation[0]) *
         phase_extent(g.out[1], g.kernel[1], g.stride[1], g.dilation[1]);
}
// Scratch of conv2d_implicit per group: its channels' phases.
constexpr int64_t implicit_conv_scratch(const ConvGeometry& g, int64_t group_channels) {
  return group_channels * g.stride[0] * g.stride[1] * phase_plane_floats(g);
}

// phases[c][a][b] = the (a, b) phase of channel c's zero-padded plane; phases no tap reads
// (1x1 kernels with stride 2 read one of 4) are skipped.
inline void split_phases(const float* x, float* phases, int64_t channels, const ConvGeometry& g) {
  const int64_t sh = g.stride[0], sw = g.stride[1];
  const int64_t ph = phase_extent(g.out[0], g.kernel[0], sh, g.dilation[0]);
  const int64_t pw = phase_extent(g.out[1], g.kernel[1], sw, g.dilation[1]);
  const int64_t in_h = g.in[0], in_w = g.in[1];
  auto read = [](int64_t k, int64_t d, int64_t s, int64_t phase) {
    for (int64_t t = 0; t < k; ++t)
      if (t * d % s == phase) return true;
    return false;
  };
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t a = 0; a < sh; ++a) {
      if (!read(g.kernel[0], g.dilation[0], sh, a)) continue;
      for (int64_t b = 0; b < sw; ++b) {
        if (!read(g.kernel[1], g.dilation[1], sw, b)) continue;
        float* plane = phases + ((c * sh + a) * sw + b) * ph * pw;
        // Columns j of the phase read input column j * sw + b - pad_left: inside for lo <= j < hi.
        const int64_t first = b - g.pad_begin[1];
        const int64_t lo = std::min(pw, first >= 0 ? 0 : (-first + sw - 1) / sw);
        const int64_t hi = std::max(lo, std::min(pw, in_w - first > 0 ? (in_w - first + sw - 1) / sw : 0));
        for (int64_t i = 0; i < ph; ++i) {
          float* row = plane + i * pw;
          const int64_t r = i * sh + a - g.pad_begin[0];
          if (r < 0 || r >= in_h) {
            std::fill(row, row + pw, 0.f);
            continue;
          }
          const float* src = x + (c * in_h + r) * in_w + first;
          std::fill(row, row + lo, 0.f);
          if (sw == 1) {
            std::copy(src + lo, src + hi, row + lo);
          } else {
            int64_t j = lo;
#if SOFIEC_ISA_AVX512
            // Stride 2: every other float of 32 into 16 lanes, while the 32 lie in the row (the
            // loop below moves a float at a time, slow on rows as wide as resnet18's stem's 224).
            if (sw == 2) {
              const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
              for (; j + 16 <= hi && first + 2 * j + 32 <= in_w; j += 16) {
                const __m512 a = _mm512_loadu_ps(src + 2 * j), b = _mm512_loadu_ps(src + 2 * j + 16);
                _mm512_storeu_ps(row + j, _mm512_permutex2var_ps(a, evens, b));
              }
            }
#endif
            for (; j < hi; ++j) row[j] = src[j * sw];
          }
          std::fill(row + hi, row + pw, 0.f);
        }
      }
    }
}

// y[M, out] = w[M, C * K] * columns, the columns packed per panel from the phases.
inline void conv2d_implicit(const float* phases, const float* w, float* y, int64_t channels, int64_t filters,
                            const ConvGeometry& g) {
  const int64_t sh = g.stride[0], sw = g.stride[1], kw = g.kernel[1], ksize = g.kernel_size();
  const int64_t pw = phase_extent(g.out[1], g.kernel[1], sw, g.dilation[1]), plane = phase_plane_floats(g);
  const int64_t out_w = g.out[1], osize = g.out_size(), kdim = channels * ksize;
  struct Run {
    int64_t dst, src, len;
  };
  Run runs[kGemmPanel];
  gemm_panels(filters, osize, kdim, 1.f, w, kdim, 1, 0.f, y, osize,
              [&](int64_t j, int64_t cols, int64_t p, int64_t depth, float* panel, int64_t& stride) -> const float* {
                int count = 0;
                for (int64_t o = j; o < j + cols;) {
                  const int64_t oh = o / out_w, ow = o % out_w, len = std::min(out_w - ow, j + cols - o);
                  runs[count++] = Run{o - j, oh * pw + ow, len};
                  o += len;
                }
                // Row p + q of the columns is tap (ty, tx) of channel c, stepped without divisions.
                int64_t c = p / ksize, ty = p % ksize / kw, tx = p % kw;
                for (int64_t q = 0; q < depth; ++q) {
                  const int64_t dy = ty * g.dilation[0], dx = tx * g.dilation[1];
                  const float* base = phases + ((c * sh + dy % sh) * sw + dx % sw) * plane + dy / sh * pw + dx / sw;
                  if (++tx == kw) {
                    tx = 0;
                    if (++ty == g.kernel[0]) {
                      ty = 0;
                      ++c;
                    }
                  }
                  float* dst = panel + q * kGemmPanel;
                  for (int r = 0; r < count; ++r) {
                    const Run& run = runs[r];
                    if (run.len == kGemmPanel) {
                      std::memcpy(dst, base + run.src, kGemmPanel * sizeof(float));
                      continue;
                    }
                    for (int64_t e = 0; e < run.len; e += 16) {
                      simd::f32x16 v;
                      const int64_t n = std::min<int64_t>(16, run.len - e);
                      simd::load_first(base + run.src + e, n, v);
                      simd::store_first(dst + run.dst + e, n, v);
                    }
                  }
                }
                stride = kGemmPanel;
                return panel;
              });
}

// Whether a 2-D float convolution (not pointwise) of `group_channels` per group runs by
// phases. With unit strides and a column matrix that stays in L2, im2col copies a whole
// shifted plane per tap and the GEMM reads it in place, which beats packing short rows per
// panel (MNIST's 16 -> 32 channels at 14x14).
constexpr bool conv2d_by_phases_pays(const ConvGeometry& g, int64_t group_channels) {
  const bool unit_stride = g.stride[0] == 1 && g.stride[1] == 1;
  return g.rank == 2 && !(unit_stride && group_channels * g.kernel_size() * g.out_size() * 4 <= 256 * 1024);
}

// planes[m][0..size) = epilogue(planes[m][...] + bias[m]) (no bias: + 0), nothing when neither
// is given.
template <class T, class E>
inline void add_channel_bias(T* rows, const T* bias, int64_t count, int64_t size, const E& epilogue) {
  if (!bias && std::is_same<E, functor_chain<>>::value) return;
  for (int64_t m = 0; m < count; ++m) {
    const T b = bias ? bias[m] : T(0);
    map_binary_scalar_b(rows + m * size, &b, rows + m * size, size, then(op_add{}, epilogue));
  }
}

// Direct 2-D convolution for few products per output: unit strides and at most
// kDirectConvTaps taps (channels per group x kernel positions), as in a first layer on one
// channel (MNIST's: 1 -> 16 channels, 3x3) or a depthwise one. A GEMM over 9 taps spends more
// on loading and storing its blocks of C than on the products.
// Output rows go in the lanes, 32 outputs of up to 4 filters at a time, read from zero-padded
// copies of the group's planes (rows of direct_conv_pitch floats).
constexpr int64_t kDirectConvTaps = 32;
constexpr bool conv2d_direct_pays(const ConvGeometry& g, int64_t group_channels) {
  return g.rank == 2 && g.stride[0] == 1 && g.stride[1] == 1 && group_channels * g.kernel_size() <= kDirectConvTaps;
}
constexpr int64_t direct_conv_pitch(const ConvGeometry& g) {
  return 32 * ((g.out[1] + 31) / 32) + (g.kernel[1] - 1) * g.dilation[1];
}
constexpr int64_t direct_conv_rows(const ConvGeometry& g) { return g.out[0] + (g.kernel[0] - 1) * g.dilation[0]; }
// Scratch of conv2d_direct: the padded planes (and 16 floats that their copies may overrun).
constexpr int64_t direct_conv_scratch(const ConvGeometry& g, int64_t group_channels) {
  return group_channels * direct_conv_rows(g) * direct_conv_pitch(g) + 16;
}
// Also direct, whatever its taps: a unit-stride convolution to one or two filters per group
// whose padded planes stay in L2. Its GEMM would have 1-2 rows, and pack a panel of columns
// for every 32-64 outputs (the UNet's last 3x3 layer, 32 channels to 1 at 32x32).
constexpr bool conv2d_direct_few_filters_pays(const ConvGeometry& g, int64_t group_channels, int64_t group_filters) {
  return g.rank == 2 && g.stride[0] == 1 && g.stride[1] == 1 && group_filters <= 2 &&
         direct_conv_scratch(g, group_channels) * 4 <= 256 * 1024;
}

// f(0), ..., f(FB - 1) with each index a compile-time constant.
template <int FB, class F> SOFIEC_ALWAYS_INLINE void for_filters(F&& f) {
  simd::for_each_index(f, std::make_integer_sequence<int, FB>{});
}

// acc[f] += the taps of output row oy, columns x0..x0+32, for FB filters (w: their [FB][taps]
// weights) over the padded planes.
template <int FB>
SOFIEC_ALWAYS_INLINE void direct_conv_sums(const float* planes, const float* w, int64_t channels, const ConvGeometry& g,
                                           int64_t oy, int64_t x0, simd::f32x16 (&acc)[FB][2]) {
  using simd::f32x16;
  const int64_t kh = g.kernel[0], kw = g.kernel[1], taps = channels * kh * kw, pitch = direct_conv_pitch(g);
  const int64_t plane = direct_conv_rows(g) * pitch;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t ky = 0; ky < kh; ++ky) {
      const float* row = planes + c * plane + (oy + ky * g.dilation[0]) * pitch + x0;
      const float* wk = w + (c * kh + ky) * kw;
      for (int64_t kx = 0; kx < kw; ++kx) {
        f32x16 lo, hi;
        simd::load(lo, row + kx * g.dilation[1]);
        simd::load(hi, row + kx * g.dilation[1] + 16);
        // In registers: GCC otherwise reloads them for every filter, each load split over two
        // cache lines.
        simd::keep_in_registers(lo);
        simd::keep_in_registers(hi);
        for_filters<FB>([&](auto f) SOFIEC_INLINE_LAMBDA {
          const f32x16 wf(wk[f * taps + kx]);
          acc[f][0] = simd::fma(wf, lo, acc[f][0]);
          acc[f][1] = simd::fma(wf, hi, acc[f][1]);
        });
      }
    }
}

// FB filters (w: their weights, y: their output planes) over the padded planes, with the bias
// and the epilogue; with POOL, a 2x2 stride-2 max pool of the result (floor: an odd last row
// or column is dropped), two output rows at a time.
template <int FB, bool POOL, class E>
inline void direct_conv_filters(const float* planes, const float* w, const float* bias, float* y, int64_t channels,
                                const ConvGeometry& g, const E& epilogue) {
  using simd::f32x16;
  const int64_t out_w = g.out[1], rows = POOL ? g.out[0] / 2 : g.out[0], cols = POOL ? out_w / 2 : out_w;
  const int64_t ysize = rows * cols;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t x0 = 0; x0 < out_w; x0 += 32) {
      // Every index into the accumulators a constant (for_filters, no run-time loop): GCC
      // keeps an array in registers only if its indices are constants before its loops are
      // unrolled, and the whole array zeroed at once overlaps the per-register accesses.
      f32x16 acc[FB][2];
      for_filters<FB>([&](auto f) SOFIEC_INLINE_LAMBDA { acc[f][0] = acc[f][1] = f32x16(0.f); });
      direct_conv_sums<FB>(planes, w, channels, g, POOL ? 2 * r : r, x0, acc);
      for_filters<FB>([&](auto f) SOFIEC_INLINE_LAMBDA {
        add_bias_then(acc[f][0], bias ? bias[f] : 0.f, epilogue);
        add_bias_then(acc[f][1], bias ? bias[f] : 0.f, epilogue);
      });
      if constexpr (POOL) {
        // Each row's pairs pooled first: FB vectors stay live while the row below is summed.
        f32x16 top[FB];
        for_filters<FB>([&](auto f) SOFIEC_INLINE_LAMBDA { max_of_pairs(acc[f][0], acc[f][1], top[f]); });
        f32x16 below[FB][2];
        for_filters<FB>([&](auto f) SOFIEC_INLINE_LAMBDA { below[f][0] = below[f][1] = f32x16(0.f); });
        direct_conv_sums<FB>(planes, w, channels, g, 2 * r + 1, x0, below);
        const int64_t n = std::min<int64_t>(16, cols - x0 / 2);
        for_filters<FB>([&](auto f) SOFIEC_INLINE_LAMBDA {
          add_bias_then(below[f][0], bias ? bias[f] : 0.f, epilogue);
          add_bias_then(below[f][1], bias ? bias[f] : 0.f, epilogue);
          f32x16 pooled;
          max_of_pairs(below[f][0], below[f][1], pooled);
          max_nan_lanes(top[f], pooled);
          if (n > 0) simd::store_first(y + f * ysize + r * cols + x0 / 2, n, top[f]);
        });
      } else {
        const int64_t n = std::min<int64_t>(32, out_w - x0);
        for_filters<FB>([&](auto f) SOFIEC_INLINE_LAMBDA {
          float* out = y + f * ysize + r * cols + x0;
          if (n == 32) {
            simd::store(out, acc[f][0]);
            simd::store(out + 16, acc[f][1]);
          } else {
            simd::store_first(out, std::min<int64_t>(16, n), acc[f][0]);
            if (n > 16) simd::store_first(out + 16, n - 16, acc[f][1]);
          }
        });
      }
    }
}

// Filters summed at a time when there are that many: as many as keep their 2 vectors of
// accumulators, the two input vectors and a broadcast in the target's registers (16 chains of
// FMAs in flight with AVX-512's 32 registers; 2 filters, 8 chains, with AVX2's 16 of half the
// width and with NEON's 32 of a quarter).
constexpr int kDirectVectorRegisters = 16 / simd::kFloatLanes;  // registers per f32x16
constexpr int kDirectFit = (simd::kVectorRegisters - 2 * kDirectVectorRegisters - 1) / (2 * kDirectVectorRegisters);
constexpr int kDirectWideFilters = kDirectFit >= 8 ? 8 : kDirectFit >= 4 ? 4 : kDirectFit >= 2 ? 2 : 1;

// One group: its planes padded into scratch (direct_conv_scratch), then 8, 4, 2 or 1 filters at
// a time (POOL: y holds the pooled planes).
template <bool POOL = false, class E>
inline void conv2d_direct(const float* x, const float* w, const float* bias, float* y, float* scratch, int64_t channels,
                          int64_t filters, const ConvGeometry& g, const E& epilogue) {
  const int64_t pitch = direct_conv_pitch(g), rows = direct_conv_rows(g), in_h = g.in[0], in_w = g.in[1];
  for (int64_t c = 0; c < channels; ++c)
    pad_plane_rows(x + c * in_h * in_w, in_h, in_w, -g.pad_begin[0], rows, g.pad_begin[1], scratch + c * rows * pitch,
                   pitch);
  const int64_t taps = channels * g.kernel_size();
  const int64_t ysize = POOL ? (g.out[0] / 2) * (g.out[1] / 2) : g.out_size();
  for (int64_t f = 0; f < filters;) {
    const float* b = bias ? bias + f : nullptr;
    if (kDirectWideFilters >= 8 && filters - f >= 8) {
      direct_conv_filters<8, POOL>(scratch, w + f * taps, b, y + f * ysize, channels, g, epilogue);
      f += 8;
    } else if (kDirectWideFilters >= 4 && filters - f >= 4) {
      direct_conv_filters<4, POOL>(scratch, w + f * taps, b, y + f * ysize, channels, g, epilogue);
      f += 4;
    } else if (kDirectWideFilters >= 2 && filters - f >= 2) {
      direct_conv_filters<2, POOL>(scratch, w + f * taps, b, y + f * ysize, channels, g, epilogue);
      f += 2;
    } else {
      direct_conv_filters<1, POOL>(scratch, w + f * taps, b, y + f * ysize, channels, g, epilogue);
      f += 1;
    }
  }
}

// ConvMaxPool: y[N, M, out_h / 2, out_w / 2] = MaxPool 2x2 / 2 of epilogue(conv(x) + bias) for
// the direct convolutions (conv2d_direct_pays), without writing the convolution's output.
template <class E = functor_chain<>>
inline void conv2d_direct_max_pool(const float* x, const float* w, const float* bias, float* y, float* scratch,
                                   int64_t batch, int64_t channels, int64_t filters, int64_t groups,
                                   const ConvGeometry& g, E epilogue = E()) {
  const int64_t cg = channels / groups, mg = filters / groups, taps = cg * g.kernel_size();
  const int64_t ysize = (g.out[0] / 2) * (g.out[1] / 2);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t grp = 0; grp < groups; ++grp)
      conv2d_direct<true>(x + (n * channels + grp * cg) * g.in_size(), w + grp * mg * taps,
                          bias ? bias + grp * mg : nullptr, y + (n * filters + grp * mg) * ysize, scratch, cg, mg, g,
                          epilogue);
}

// One group of a convolution by phases where that pays (scratch: implicit_conv_scratch);
// false (nothing done) otherwise, for im2col.
inline bool conv2d_by_phases(const float* x, const float* w, float* y, float* scratch, int64_t channels,
                             int64_t filters, const ConvGeometry& g, bool pointwise) {
  if (pointwise || !conv2d_by_phases_pays(g, channels)) return false;
  split_phases(x, scratch, channels, g);
  conv2d_implicit(scratch, w, y, channels, filters, g);
  return true;
}
template <class T>
inline bool conv2d_by_phases(const T*, const T*, T*, T*, int64_t, int64_t, const ConvGeometry&, bool) {
  return false;
}

// y[N, M, out...] = epilogue(conv(x[N, C, in...], w[M, C/G, kernel...]) + bias[M]), the
// epilogue (a fused activation) applied to each group's block while it is in cache.
// col is scratch of (C/G) * prod(kernel) * prod(out) elements (unused for 1x1 unit-stride), or
// implicit_conv_scratch for 2-D float convolutions.
template <class T, class E = functor_chain<>>
inline void conv_nd(const T* x, const T* w, const T* bias, T* y, T* col, int64_t batch, int64_t channels,
                    int64_t filters, int64_t groups, const ConvGeometry& g, E epilogue = E()) {
  const int64_t ksize = g.kernel_size(), osize = g.out_size(), isize = g.in_size();
  bool pointwise = true;
  for (int d = 0; d < g.rank; ++d)
    pointwise = pointwise && g.kernel[d] == 1 && g.stride[d] == 1 && g.pad_begin[d] == 0 && g.in[d] == g.out[d];
  const int64_t cg = channels / groups, mg = filters / groups, kdim = cg * ksize;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t grp = 0; grp < groups; ++grp) {
      const T* xg = x + (n * channels + grp * cg) * isize;
      T* yg = y + (n * filters + grp * mg) * osize;
      const T* bg = bias ? bias + grp * mg : nullptr;
      if constexpr (std::is_same<T, float>::value)
        if (!pointwise && (conv2d_direct_pays(g, cg) || conv2d_direct_few_filters_pays(g, cg, mg))) {
          conv2d_direct(xg, w + grp * mg * kdim, bg, yg, col, cg, mg, g, epilogue);
          continue;
        }
      if (!conv2d_by_phases(xg, w + grp * mg * kdim, yg, col, cg, mg, g, pointwise)) {
        const T* src = xg;
        if (!pointwise) {
          im2col_nd(xg, col, cg, g);
          src = col;
        }
        gemm_rowmajor(false, false, mg, osize, kdim, T(1), w + grp * mg * kdim, kdim, src, osize, T(0), yg, osize);
      }
      add_channel_bias(yg, bg, mg, osize, epilogue);
    }
}

// x[h, w] at a fractional position by bilinear interpolation; taps outside the plane read 0.
template <class T> inline T bilinear_tap(const T* plane, int64_t height, int64_t width, T h, T w) {
  const T hf = std::floor(h), wf = std::floor(w);
  const int64_t h0 = int64_t(hf), w0 = int64_t(wf);
  const T dh = h - hf, dw = w - wf;
  T sum = T(0);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 2; ++j) {
      const int64_t hh = h0 + i, ww = w0 + j;
      if (hh < 0 || hh >= height || ww < 0 || ww >= width) continue;
      sum += (i ? dh : T(1) - dh) * (j ? dw : T(1) - dw) * plane[hh * width + ww];
    }
  return sum;
}

// Deformable 2-D convolution: tap kp of the window at output position o reads x at its
// regular position plus (offset_h, offset_w) by bilinear interpolation, scaled by the mask
// when there is one. offset is [N, offset_groups * K * 2, out...] (h then w per tap), mask
// [N, offset_groups * K, out...]. col is scratch of (C/G) * K * prod(out) elements.
template <class T>
inline void deform_conv2d(const T* x, const T* w, const T* offset, const T* bias, const T* mask, T* y, T* col,
                          int64_t batch, int64_t channels, int64_t filters, int64_t groups, int64_t offset_groups,
                          const ConvGeometry& g) {
  const int64_t ksize = g.kernel_size(), osize = g.out_size(), isize = g.in_size();
  const int64_t cg = channels / groups, mg = filters / groups, kdim = cg * ksize;
  const int64_t channels_per_offset_group = channels / offset_groups;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t grp = 0; grp < groups; ++grp) {
      for (int64_t c = 0; c < cg; ++c) {
        const int64_t channel = grp * cg + c, og = channel / channels_per_offset_group;
        const T* plane = x + (n * channels + channel) * isize;
        for (int64_t kp = 0; kp < ksize; ++kp) {
          const int64_t ki = kp / g.kernel[1], kj = kp % g.kernel[1];
          const T* off_h = offset + ((n * offset_groups + og) * ksize + kp) * 2 * osize;
          const T* off_w = off_h + osize;
          const T* m = mask ? mask + ((n * offset_groups + og) * ksize + kp) * osize : nullptr;
          T* row = col + (c * ksize + kp) * osize;
          for (int64_t oi = 0, o = 0; oi < g.out[0]; ++oi)
            for (int64_t oj = 0; oj < g.out[1]; ++oj, ++o) {
              const T h = T(oi * g.stride[0] - g.pad_begin[0] + ki * g.dilation[0]) + off_h[o];
              const T wpos = T(oj * g.stride[1] - g.pad_begin[1] + kj * g.dilation[1]) + off_w[o];
              const T v = bilinear_tap(plane, g.in[0], g.in[1], h, wpos);
              row[o] = m ? v * m[o] : v;
            }
        }
      }
      T* yg = y + (n * filters + grp * mg) * osize;
      gemm_rowmajor(false, false, mg, osize, kdim, T(1), w + grp * mg * kdim, kdim, col, osize, T(0), yg, osize);
      if (bias)
        for (int64_t mi = 0; mi < mg; ++mi)
          for (int64_t o = 0; o < osize; ++o) yg[mi * osize + o] += bias[grp * mg + mi];
    }
}

// The adjoint of im2col_nd: y[c, p] += col[(c * K + kpos), opos] where p = opos * stride - pad +
// kpos * dilation; g.in are y's spatial dims, g.out the positions of col's columns.
template <class T> inline void col2im_nd(const T* col, T* y, int64_t channels, const ConvGeometry& g) {
  const int64_t osize = g.out_size(), isize = g.in_size();
  for_each_window_tap(channels, g, [&](int64_t c, int64_t row, int64_t o, int64_t index) {
    if (index >= 0) y[c * isize + index] += col[row * osize + o];
  });
}

// y[N, M, out...] = conv_transpose(x[N, C, in...], w[C, M/G, kernel...]) + bias[M]: per (batch,
// group) col = w^T x (GEMM), then col2im. g.in are y's spatial dims and g.out x's; col is
// scratch of (M/G) * prod(kernel) * prod(x spatial) elements.
template <class T>
inline void conv_transpose_nd(const T* x, const T* w, const T* bias, T* y, T* col, int64_t batch, int64_t channels,
                              int64_t filters, int64_t groups, const ConvGeometry& g) {
  const int64_t ksize = g.kernel_size(), xsize = g.out_size(), ysize = g.in_size();
  const int64_t cg = channels / groups, mg = filters / groups, rows = mg * ksize;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t grp = 0; grp < groups; ++grp) {
      gemm_rowmajor(true, false, rows, xsize, cg, T(1), w + grp * cg * rows, rows,
                    x + (n * channels + grp * cg) * xsize, xsize, T(0), col, xsize);
      T* yg = y + (n * filters + grp * mg) * ysize;
      for (int64_t i = 0; i < mg * ysize; ++i) yg[i] = T(0);
      col2im_nd(col, yg, mg, g);
      if (bias)
        for (int64_t m = 0; m < mg; ++m)
          for (int64_t i = 0; i < ysize; ++i) yg[m * ysize + i] += bias[grp * mg + m];
    }
}

// Causal depthwise 1-D convolution with carried state (CausalConvWithState): each channel's
// sequence is its past state (k - 1 values, zeros without one) followed by the input;
// y[t] = bias + sum_j w[j] * seq[t + j], optionally through SiLU; present receives the last
// k - 1 values of the sequence.
template <class T>
inline void causal_conv_with_state(const T* x, const T* w, const T* bias, const T* past, T* y, T* present,
                                   int64_t batch, int64_t channels, int64_t length, int64_t k, bool silu) {
  const int64_t carry = k - 1;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c) {
      const T* xs = x + (b * channels + c) * length;
      const T* ps = past ? past + (b * channels + c) * carry : nullptr;
      auto seq = [&](int64_t i) { return i < carry ? (ps ? ps[i] : T(0)) : xs[i - carry]; };
      const T* wc = w + c * k;
      T* ys = y + (b * channels + c) * length;
      for (int64_t t = 0; t < length; ++t) {
        T acc = bias ? bias[c] : T(0);
        for (int64_t j = 0; j < k; ++j) acc += wc[j] * seq(t + j);
        ys[t] = silu ? acc / (T(1) + std::exp(-acc)) : acc;
      }
      if (present)
        for (int64_t i = 0; i < carry; ++i) present[(b * channels + c) * carry + i] = seq(length + i);
    }
}
