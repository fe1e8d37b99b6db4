// Kernels of templates/kernels tested on their own: accuracy against libm in double, and the
// 16-lane forms against the scalar ones (the generated code mixes them: vector body, tails).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels.hpp"

namespace sofiec {
namespace {

double ulps(float got, double want) {
  const double step = std::nextafter(float(std::fabs(want)), INFINITY) - float(std::fabs(want));
  return std::fabs(double(got) - want) / step;
}

TEST(Kernels, ErfIsWithinEightUlpOfTheExactValue) {
  double worst = 0, at = 0;
  for (float x = -6.f; x <= 6.f; x += 1.0f / 4096) {
    const double u = ulps(rt::op_erf{}(x), std::erf(double(x)));
    if (u > worst) worst = u, at = x;
  }
  EXPECT_LE(worst, 8.0) << "at " << at;
  EXPECT_EQ(rt::op_erf{}(0.f), 0.f);
  EXPECT_EQ(rt::op_erf{}(10.f), 1.f);
  EXPECT_EQ(rt::op_erf{}(-10.f), -1.f);
  EXPECT_TRUE(std::isnan(rt::op_erf{}(NAN)));
}

TEST(Kernels, GeluMatchesItsDefinition) {
  for (float x = -8.f; x <= 8.f; x += 1.0f / 256) {
    const double want = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    EXPECT_NEAR(rt::op_gelu{}(x), want, 1e-6 * (1 + std::fabs(want))) << x;
  }
}

template <class F> void expect_lanes_match_scalar(const F& f, float from, float to) {
  std::vector<float> x;
  for (float v = from; v <= to; v += (to - from) / 1000) x.push_back(v);
  x.resize(x.size() / 16 * 16 + 5);  // a tail of 5
  std::vector<float> y(x.size());
  rt::map_unary(x.data(), y.data(), int64_t(x.size()), f);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], f(x[i])) << "at " << x[i];
}

TEST(Kernels, LanesAgreeWithTheScalarFormBitForBit) {
  static_assert(rt::has_lanes<rt::op_gelu>::value && rt::has_lanes<rt::op_relu>::value, "");
  static_assert(!rt::has_lanes<rt::op_log>::value, "no 16-lane log yet");
  static_assert(rt::has_lanes<decltype(rt::chain(rt::op_gelu{}, rt::op_relu{}))>::value, "");
  static_assert(!rt::has_lanes<decltype(rt::chain(rt::op_gelu{}, rt::op_log{}))>::value, "");
  expect_lanes_match_scalar(rt::op_erf{}, -5.f, 5.f);
  expect_lanes_match_scalar(rt::op_gelu{}, -9.f, 9.f);
  expect_lanes_match_scalar(rt::op_leaky_relu{0.1f}, -3.f, 3.f);
  expect_lanes_match_scalar(rt::chain(rt::op_gelu{}, rt::op_relu{}), -4.f, 4.f);
  expect_lanes_match_scalar(rt::op_sigmoid{}, -100.f, 100.f);
  expect_lanes_match_scalar(rt::op_swish{1.5f}, -30.f, 30.f);
  expect_lanes_match_scalar(rt::op_tanh{}, -12.f, 12.f);
}

TEST(Kernels, TanhIsWithinAFewUlp) {
  double worst = 0, at = 0;
  for (float x = -12.f; x <= 12.f; x += 1.0f / 1024) {
    const double u = ulps(rt::op_tanh{}(x), std::tanh(double(x)));
    if (u > worst) worst = u, at = x;
  }
  EXPECT_LE(worst, 4.0) << "at " << at;
  EXPECT_EQ(rt::op_tanh{}(0.f), 0.f);
  EXPECT_EQ(rt::op_tanh{}(1e-20f), 1e-20f);
  EXPECT_EQ(rt::op_tanh{}(-50.f), -1.f);
  EXPECT_TRUE(std::isnan(rt::op_tanh{}(NAN)));
}

TEST(Kernels, ExpAndSigmoidAreWithinAFewUlp) {
  double worst_exp = 0, worst_sigmoid = 0;
  for (float x = -87.f; x <= 88.f; x += 1.0f / 64) {
    float e = x;
    rt::exp_poly(e);
    worst_exp = std::max(worst_exp, ulps(e, std::exp(double(x))));
    worst_sigmoid = std::max(worst_sigmoid, ulps(rt::op_sigmoid{}(x), 1 / (1 + std::exp(-double(x)))));
  }
  EXPECT_LE(worst_exp, 3.0);
  EXPECT_LE(worst_sigmoid, 4.0);
  EXPECT_TRUE(std::isnan(rt::op_sigmoid{}(NAN)));
  EXPECT_EQ(rt::op_sigmoid{}(200.f), 1.f);
  EXPECT_LT(rt::op_sigmoid{}(-200.f), 1e-37f);
}

TEST(Kernels, BinaryMapsThroughLanesMatchTheScalarLoop) {
  const int64_t n = 37;  // two blocks of 16 and a tail
  std::vector<float> a(n), b(n), y(n);
  for (int64_t i = 0; i < n; ++i) a[i] = 0.3f * float(i) - 5.f, b[i] = 1.f + 0.01f * float(i * i);
  const auto f = rt::then(rt::op_div{}, rt::chain(rt::op_swish{1.f}));
  static_assert(rt::has_binary_lanes<decltype(f)>::value, "");
  rt::map_binary_same(a.data(), b.data(), y.data(), n, f);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y[i], f(a[i], b[i])) << i;
  rt::map_binary_scalar_a(a.data(), b.data(), y.data(), n, f);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y[i], f(a[0], b[i])) << i;
  // Empty tensors may have no storage: nothing is read (tests/fuzz/regressions/empty-tensor-binary-lanes.onnx).
  const float* none = nullptr;
  rt::map_binary_scalar_b(none, none, static_cast<float*>(nullptr), 0, f);
  rt::map_binary_same(none, none, static_cast<float*>(nullptr), 0, f);
  // Broadcast [2, n] + [1, n] through the strided map: a row repeats (step 0 outside).
  std::vector<float> two(2 * n), out(2 * n);
  for (int64_t i = 0; i < 2 * n; ++i) two[i] = float(i % 7) - 3.f;
  const int64_t dims[] = {2, n}, strides[] = {n, 1, 0, 1};
  rt::map_strided(out.data(), 2, dims, strides, f, two.data(), b.data());
  for (int64_t i = 0; i < 2 * n; ++i) EXPECT_EQ(out[i], f(two[i], b[i % n])) << i;
}

TEST(Kernels, BiasRowsAddTheRowThenTheEpilogue) {
  const int64_t rows = 3, cols = 21;  // one 16-lane block and a tail per row
  std::vector<float> c(rows * cols), bias(cols), want(rows * cols);
  for (int64_t j = 0; j < cols; ++j) bias[j] = 0.25f * float(j) - 2.f;
  for (int64_t i = 0; i < rows * cols; ++i) c[i] = 0.1f * float(i % 17) - 0.7f;
  for (int64_t i = 0; i < rows * cols; ++i) want[i] = rt::op_gelu{}(c[i] + bias[i % cols]);
  rt::add_bias_rows(c.data(), bias.data(), rows, cols, rt::chain(rt::op_gelu{}));
  for (int64_t i = 0; i < rows * cols; ++i) EXPECT_EQ(c[i], want[i]) << i;
  std::vector<double> d(4, 1.0), db{1, 2, 3, 4};
  rt::add_bias_rows(d.data(), db.data(), 1, 4, rt::chain(rt::op_relu{}));
  EXPECT_EQ(d, (std::vector<double>{2, 3, 4, 5}));
}

}  // namespace
}  // namespace sofiec

namespace sofiec {
namespace {

TEST(Kernels, MaxPoolPropagatesNaNOnBothPaths) {
  // 4x4 plane: the 2x2 stride-2 path and the general path (3x3 windows, stride 1).
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[std::size_t(i)] = float((i * 7) % 16) - 8.f;
  x[5] = NAN;
  rt::ConvGeometry quad{2, {4, 4}, {2, 2}, {2, 2}, {2, 2}, {1, 1}, {0, 0}};
  std::vector<float> y(4);
  rt::pool_2d(x.data(), y.data(), 1, quad, true);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], std::max({x[2], x[3], x[6], x[7]}));
  EXPECT_EQ(y[2], std::max({x[8], x[9], x[12], x[13]}));
  EXPECT_EQ(y[3], std::max({x[10], x[11], x[14], x[15]}));
  rt::ConvGeometry nine{2, {4, 4}, {2, 2}, {3, 3}, {1, 1}, {1, 1}, {0, 0}};
  rt::pool_2d(x.data(), y.data(), 1, nine, true);
  for (float v : y) EXPECT_TRUE(std::isnan(v));  // every 3x3 window holds x[5]
  x[5] = -100.f;
  rt::pool_2d(x.data(), y.data(), 1, nine, true);
  EXPECT_EQ(y[3], std::max({x[5], x[6], x[7], x[9], x[10], x[11], x[13], x[14], x[15]}));
}

// TopK's two selections (a sorted list for k <= 32, partial_sort above) agree on ties (lower
// index first) and NaN (the largest value), both ways round.
// The sorted-list selection (k <= 32, its 16-lane prefilter for floats) against
// partial_sort's (k > 32): ties, NaN anywhere (also filling the list, which makes the
// prefilter pass everything), largest and smallest.
TEST(Kernels, TopKSelectionsAgreeOnTiesAndNaN) {
  const int64_t n = 90;
  const std::vector<std::vector<int64_t>> nan_places = {{}, {17, 60}, {3}, {0, 1, 2, 3, 4, 5, 6, 7}, {89}};
  for (const auto& places : nan_places) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[std::size_t(i)] = float((i * 37) % 13);  // many ties
    for (int64_t at : places) x[std::size_t(at)] = NAN;
    for (bool largest : {true, false})
      for (int64_t k : {1, 5, 8, 32}) {
        std::vector<float> v_few(std::size_t(k), 0.f), v_many(40);
        std::vector<int64_t> i_few(static_cast<std::size_t>(k)), i_many(40), order(static_cast<std::size_t>(n));
        rt::top_k(x.data(), v_few.data(), i_few.data(), order.data(), 1, n, 1, k, largest, true);
        rt::top_k(x.data(), v_many.data(), i_many.data(), order.data(), 1, n, 1, 40, largest, true);
        for (std::size_t j = 0; j < std::size_t(k); ++j)
          EXPECT_EQ(i_few[j], i_many[j]) << "largest " << largest << " k " << k << " rank " << j << " NaNs "
                                         << places.size();
        if (largest && places.size() == 2) {
          EXPECT_EQ(i_few[0], 17);
          if (k > 1) {
            EXPECT_EQ(i_few[1], 60);
          }
        }
      }
  }
  // Rows along a middle axis (inner > 1) take the scalar walk: the same selection.
  std::vector<float> x(2 * 50 * 3);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float((i * 29) % 17);
  std::vector<float> v(2 * 4 * 3);
  std::vector<int64_t> idx(v.size()), order(50);
  rt::top_k(x.data(), v.data(), idx.data(), order.data(), 2, 50, 3, 4, true, true);
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t i = 0; i < 3; ++i) {
      std::vector<float> row(50);
      for (int64_t l = 0; l < 50; ++l) row[std::size_t(l)] = x[std::size_t((o * 50 + l) * 3 + i)];
      std::vector<float> rv(4);
      std::vector<int64_t> ri(4);
      rt::top_k(row.data(), rv.data(), ri.data(), order.data(), 1, 50, 1, 4, true, true);
      for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(idx[std::size_t((o * 4 + j) * 3 + i)], ri[std::size_t(j)]);
    }
}

// The register-blocked GEMM against a double loop: one and two rows (the wide blocks), row
// counts that split into unequal blocks, column panels with partial vectors, depths over one
// slice (256), both transposes (packed panels), alpha and beta (beta 0 must not read C, which
// holds NaN here).
TEST(Kernels, GemmKernelMatchesTheDoubleLoop) {
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape& sh : std::vector<Shape>{{1, 7, 3},
                                            {1, 130, 257},
                                            {2, 64, 20},
                                            {2, 70, 300},
                                            {5, 16, 9},
                                            {13, 33, 40},
                                            {32, 70, 300},
                                            {7, 48, 257},
                                            {40, 100, 64},
                                            // few columns (gemm_dot_rows with tb): partial blocks of rows, columns, K
                                            {2, 1, 5},
                                            {5, 3, 17},
                                            {9, 2, 16},
                                            {4, 4, 1},
                                            {3, 4, 33},
                                            {64, 4, 100}})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto [alpha, beta] : std::vector<std::pair<float, float>>{{1.f, 0.f}, {0.5f, 1.f}, {2.f, -0.25f}}) {
          const int64_t m = sh.m, n = sh.n, k = sh.k, lda = ta ? m + 3 : k + 2, ldb = tb ? k + 1 : n + 5, ldc = n + 4;
          std::vector<float> a(std::size_t((ta ? k : m) * lda)), b(std::size_t((tb ? n : k) * ldb));
          for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(float(i) * 0.37f);
          for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::cos(float(i) * 0.23f);
          std::vector<float> c(std::size_t(m * ldc), beta == 0.f ? NAN : 0.75f);
          const std::vector<float> c0 = c;
          rt::gemm_kernel(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < ldc; ++j) {
              const std::size_t at = std::size_t(i * ldc + j);
              if (j >= n) {  // the padding between rows is not written
                EXPECT_TRUE(std::isnan(c0[at]) ? std::isnan(c[at]) : c[at] == c0[at]);
                continue;
              }
              double want = 0;
              for (int64_t p = 0; p < k; ++p)
                want += double(ta ? a[std::size_t(p * lda + i)] : a[std::size_t(i * lda + p)]) *
                        double(tb ? b[std::size_t(j * ldb + p)] : b[std::size_t(p * ldb + j)]);
              want = alpha * want + (beta == 0.f ? 0.0 : beta * double(c0[at]));
              ASSERT_NEAR(c[at], want, 1e-4 * (1 + std::fabs(want)))
                  << m << "x" << n << "x" << k << " ta " << ta << " tb " << tb << " alpha " << alpha << " at " << i
                  << "," << j;
            }
        }
}

// Transposes in 16x16 register tiles (with edges, a batch dim, a reversed axis) and merged
// runs (Expand) against the definition y[o] = x[sum of index * stride].
TEST(Kernels, StridedCopiesMatchTheIndexDefinition) {
  struct View {
    std::vector<int64_t> dims, strides;
    int64_t offset;  // of the first element, for reversed axes
  };
  const std::vector<View> views = {{{16, 16}, {1, 16}, 0},         {{17, 33}, {1, 17}, 0},
                                   {{40, 7}, {1, 40}, 0},          {{64, 700}, {1, 64}, 0},
                                   {{3, 20, 18}, {360, 1, 20}, 0}, {{2, 33, 17}, {1, 34, 2}, 0},
                                   {{19, 21}, {1, -19}, 19 * 20},  {{5, 7, 32}, {32, 0, 1}, 0},
                                   {{4, 1, 6}, {6, 0, 1}, 0},      {{6, 5}, {0, 1}, 0}};
  for (const View& v : views) {
    int64_t total = 1, span = 1;
    for (std::size_t d = 0; d < v.dims.size(); ++d) {
      total *= v.dims[d];
      span += (v.dims[d] - 1) * std::abs(v.strides[d]);
    }
    std::vector<float> x(std::size_t(span + v.offset));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.5f + 1.f;
    std::vector<float> y(std::size_t(total), -1.f);
    const int rank = int(v.dims.size());
    rt::copy_strided(x.data() + v.offset, y.data(), rank, v.dims.data(), v.strides.data());
    for (int64_t o = 0; o < total; ++o) {
      int64_t src = v.offset;
      for (int d = rank - 1, rest = int(o); d >= 0; --d) {
        src += (rest % v.dims[std::size_t(d)]) * v.strides[std::size_t(d)];
        rest /= int(v.dims[std::size_t(d)]);
      }
      ASSERT_EQ(y[std::size_t(o)], x[std::size_t(src)]) << "view of rank " << rank << " at " << o;
    }
  }
}

// Reductions over one axis with the kept innermost axis contiguous fold 16 outputs in the
// lanes, each in the scalar order: the same bits as a plain loop, NaN propagated.
TEST(Kernels, ReduceLanesMatchTheScalarFold) {
  const int64_t outer = 3, length = 5, inner = 37;
  std::vector<float> x(std::size_t(outer * length * inner));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 0.7f) * 3.f;
  x[std::size_t(1 * length * inner + 2 * inner + 20)] = NAN;
  const int64_t kept_dims[] = {outer, inner}, kept_strides[] = {length * inner, 1};
  const int64_t red_dims[] = {length}, red_strides[] = {inner};
  std::vector<float> sum(std::size_t(outer * inner)), mean(sum.size()), mx(sum.size()), mn(sum.size());
  rt::reduce_axes(x.data(), sum.data(), 2, kept_dims, kept_strides, 1, red_dims, red_strides, rt::reduce_sum<float>{});
  rt::reduce_axes(x.data(), mean.data(), 2, kept_dims, kept_strides, 1, red_dims, red_strides,
                  rt::reduce_mean<float>{});
  rt::reduce_axes(x.data(), mx.data(), 2, kept_dims, kept_strides, 1, red_dims, red_strides, rt::reduce_max<float>{});
  rt::reduce_axes(x.data(), mn.data(), 2, kept_dims, kept_strides, 1, red_dims, red_strides, rt::reduce_min<float>{});
  auto same = [](float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; };
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      float s = 0.f, hi = -INFINITY, lo = INFINITY;
      for (int64_t l = 0; l < length; ++l) {
        const float v = x[std::size_t((o * length + l) * inner + i)];
        s += v;
        hi = (v > hi || v != v) ? v : hi;
        lo = (v < lo || v != v) ? v : lo;
      }
      const std::size_t at = std::size_t(o * inner + i);
      EXPECT_TRUE(same(sum[at], s)) << at;
      EXPECT_TRUE(same(mean[at], s / float(length))) << at;
      EXPECT_TRUE(same(mx[at], hi)) << at;
      EXPECT_TRUE(same(mn[at], lo)) << at;
    }
}

// Reductions along contiguous rows, outputs one row apart (ParticleNet's mean over the 16
// neighbours): 16 rows at a time transposed into the lanes, then a scalar tail (37 rows); the
// same bits as a fold in order, NaN included. Rows of 7 (the plain loop), 16 and 32 (whole
// vectors, transposed in registers) and 20 (a second, partial set of columns).
TEST(Kernels, ReduceAlongRowsMatchesTheScalarFold) {
  for (int64_t gap : {3, 0})  // rows with a gap between them, or one after another
    for (int64_t length : {2, 7, 11, 16, 20, 32}) {
      const int64_t outputs = 37, step = length + gap;
      std::vector<float> x(std::size_t(outputs * step));
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 0.9f) * 5.f;
      x[std::size_t(3 * step + 4)] = NAN;
      const int64_t kept_dims[] = {outputs}, kept_strides[] = {step}, red_dims[] = {length}, red_strides[] = {1};
      std::vector<float> sum(static_cast<std::size_t>(outputs)), mean(sum.size()), mx(sum.size()), mn(sum.size());
      rt::reduce_axes(x.data(), sum.data(), 1, kept_dims, kept_strides, 1, red_dims, red_strides,
                      rt::reduce_sum<float>{});
      rt::reduce_axes(x.data(), mean.data(), 1, kept_dims, kept_strides, 1, red_dims, red_strides,
                      rt::reduce_mean<float>{});
      rt::reduce_axes(x.data(), mx.data(), 1, kept_dims, kept_strides, 1, red_dims, red_strides,
                      rt::reduce_max<float>{});
      rt::reduce_axes(x.data(), mn.data(), 1, kept_dims, kept_strides, 1, red_dims, red_strides,
                      rt::reduce_min<float>{});
      auto same = [](float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; };
      for (int64_t o = 0; o < outputs; ++o) {
        float s = 0.f, hi = -INFINITY, lo = INFINITY;
        for (int64_t l = 0; l < length; ++l) {
          const float v = x[std::size_t(o * step + l)];
          s += v;
          hi = (v > hi || v != v) ? v : hi;
          lo = (v < lo || v != v) ? v : lo;
        }
        const std::size_t at = std::size_t(o);
        EXPECT_TRUE(same(sum[at], s)) << length << " gap " << gap << " at " << at;
        EXPECT_TRUE(same(mean[at], s / float(length))) << length << " gap " << gap << " at " << at;
        EXPECT_TRUE(same(mx[at], hi)) << length << " gap " << gap << " at " << at;
        EXPECT_TRUE(same(mn[at], lo)) << length << " gap " << gap << " at " << at;
      }
    }
}

// 2x2 stride-2 max and average pooling through the buffer of row maxima (sums): short rows
// (7 and 14 outputs), an odd input width, rows longer than the buffer, NaN; against the
// double instantiation.
TEST(Kernels, Pool2x2LanesMatchTheScalarWindows) {
  for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{14, 14}, {28, 28}, {9, 29}, {4, 4200}}) {
    std::vector<float> x(std::size_t(3 * h * w));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 0.37f) * float(i % 11);
    x[std::size_t(h * w + w + 3)] = NAN;
    const std::vector<double> xd(x.begin(), x.end());
    rt::ConvGeometry g{2, {h, w}, {h / 2, w / 2}, {2, 2}, {2, 2}, {1, 1}, {0, 0}};
    std::vector<float> y(std::size_t(3 * (h / 2) * (w / 2)));
    std::vector<double> yd(y.size());
    for (bool max : {true, false}) {
      rt::pool_2d(x.data(), y.data(), 3, g, max);
      rt::pool_2d(xd.data(), yd.data(), 3, g, max);
      for (std::size_t i = 0; i < y.size(); ++i) {
        if (std::isnan(yd[i])) EXPECT_TRUE(std::isnan(y[i])) << h << "x" << w << " at " << i;
        else if (max) EXPECT_EQ(double(y[i]), yd[i]) << h << "x" << w << " at " << i;
        else
          EXPECT_NEAR(double(y[i]), yd[i], 1e-6 * (1 + std::fabs(yd[i])))
              << "average, " << h << "x" << w << " at " << i;
      }
    }
  }
}

// im2col's shifted-plane copy (unit strides, rows as long as the input's) against the window
// walk that defines it: padding on every side, dilation, a kernel wider than the padding.
TEST(Kernels, Im2colPlaneShiftMatchesTheWindowWalk) {
  struct Case {
    int64_t h, w, kh, kw, dh, dw, pt, pl, oh;
  };
  for (const Case& c : std::vector<Case>{{7, 9, 3, 3, 1, 1, 1, 1, 7},
                                         {6, 10, 5, 5, 2, 2, 4, 4, 6},
                                         {5, 8, 3, 3, 1, 1, 0, 1, 3},
                                         {4, 6, 7, 7, 1, 1, 3, 3, 4}}) {
    rt::ConvGeometry g{2, {c.h, c.w}, {c.oh, c.w}, {c.kh, c.kw}, {1, 1}, {c.dh, c.dw}, {c.pt, c.pl}};
    const int64_t channels = 2, rows = channels * c.kh * c.kw, osize = c.oh * c.w;
    std::vector<float> x(std::size_t(channels * c.h * c.w));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i) + 1.f;
    std::vector<float> col(std::size_t(rows * osize), -1.f), want(col.size(), -1.f);
    rt::im2col_nd(x.data(), col.data(), channels, g);
    rt::for_each_window_tap(channels, g, [&](int64_t ch, int64_t row, int64_t o, int64_t index) {
      want[std::size_t(row * osize + o)] = index < 0 ? 0.f : x[std::size_t(ch * c.h * c.w + index)];
    });
    EXPECT_EQ(col, want) << c.h << "x" << c.w << " kernel " << c.kh << "x" << c.kw;
  }
}

// 2-D float convolutions by stride phases (implicit GEMM) against the window walk summed in
// double: strides 1 to 3 per axis, dilation, padding on some sides only, outputs narrower than
// a panel of 32 and wider, 1x1 strided, and more than 256 taps (two depth slices).
TEST(Kernels, ConvByPhasesMatchesTheWindowWalk) {
  struct Case {
    int64_t channels, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
  };
  for (const Case& c : std::vector<Case>{{3, 23, 37, 7, 7, 2, 2, 1, 1, 3, 3, 11, 19},
                                         {30, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 9, 11},
                                         {4, 14, 14, 1, 1, 2, 2, 1, 1, 0, 0, 7, 7},
                                         {5, 13, 17, 3, 5, 3, 2, 2, 1, 0, 2, 3, 9},
                                         {2, 8, 40, 3, 3, 1, 1, 2, 3, 2, 0, 8, 34}}) {
    rt::ConvGeometry g{2, {c.h, c.w}, {c.oh, c.ow}, {c.kh, c.kw}, {c.sh, c.sw}, {c.dh, c.dw}, {c.pt, c.pl}};
    const int64_t filters = 13, taps = c.kh * c.kw, osize = c.oh * c.ow, rows = c.channels * taps;
    std::vector<float> x(static_cast<std::size_t>(c.channels * c.h * c.w)), w(static_cast<std::size_t>(filters * rows));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 37 % 23) - 11) / 8.f;
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = float(int(i * 53 % 29) - 14) / 16.f;
    std::vector<float> y(static_cast<std::size_t>(filters * osize));
    std::vector<float> scratch(static_cast<std::size_t>(rt::implicit_conv_scratch(g, c.channels)));
    rt::split_phases(x.data(), scratch.data(), c.channels, g);
    rt::conv2d_implicit(scratch.data(), w.data(), y.data(), c.channels, filters, g);
    std::vector<double> want(y.size(), 0.0);
    rt::for_each_window_tap(c.channels, g, [&](int64_t ch, int64_t row, int64_t o, int64_t index) {
      if (index < 0) return;
      for (int64_t f = 0; f < filters; ++f)
        want[std::size_t(f * osize + o)] +=
            double(w[std::size_t(f * rows + row)]) * x[std::size_t(ch * c.h * c.w + index)];
    });
    for (std::size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(y[i], want[i], 1e-4 * (1 + std::abs(want[i]))) << "case " << c.h << "x" << c.w << " at " << i;
  }
}

// The direct convolution (few taps, unit strides) against the window walk summed in double,
// through conv_nd with a bias and a Relu: one channel 3x3 with padding on every side, outputs
// narrower than 32 and wider (a tail of 7), dilation and padding on some sides only, 4 + 2 + 1
// filters, depthwise groups, and a valid (unpadded) 5x5.
TEST(Kernels, DirectConvMatchesTheWindowWalk) {
  struct Case {
    int64_t channels, groups, filters, h, w, kh, kw, dh, dw, pt, pl, oh, ow;
  };
  for (const Case& c : std::vector<Case>{{1, 1, 16, 28, 28, 3, 3, 1, 1, 1, 1, 28, 28},
                                         {2, 1, 7, 9, 39, 3, 3, 2, 1, 2, 0, 9, 38},
                                         {6, 6, 6, 11, 20, 3, 3, 1, 1, 1, 1, 11, 20},
                                         {1, 1, 5, 12, 70, 5, 5, 1, 1, 0, 0, 8, 66},
                                         // many taps, one or two filters per group (the UNet's last layer)
                                         {32, 1, 1, 32, 32, 3, 3, 1, 1, 1, 1, 32, 32},
                                         {12, 2, 4, 10, 37, 3, 3, 1, 1, 1, 1, 10, 37}}) {
    const rt::ConvGeometry g{2, {c.h, c.w}, {c.oh, c.ow}, {c.kh, c.kw}, {1, 1}, {c.dh, c.dw}, {c.pt, c.pl}};
    const int64_t cg = c.channels / c.groups, mg = c.filters / c.groups, taps = cg * c.kh * c.kw;
    const int64_t osize = c.oh * c.ow, isize = c.h * c.w;
    ASSERT_TRUE(rt::conv2d_direct_pays(g, cg) || rt::conv2d_direct_few_filters_pays(g, cg, mg));
    std::vector<float> x(static_cast<std::size_t>(2 * c.channels * isize)),
        w(static_cast<std::size_t>(c.filters * taps));
    std::vector<float> bias(static_cast<std::size_t>(c.filters));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 37 % 23) - 11) / 8.f;
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = float(int(i * 53 % 29) - 14) / 16.f;
    for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = float(int(i * 7 % 5) - 2) / 4.f;
    std::vector<float> y(static_cast<std::size_t>(2 * c.filters * osize), -7.f);
    std::vector<float> scratch(static_cast<std::size_t>(rt::direct_conv_scratch(g, cg)));
    rt::conv_nd(x.data(), w.data(), bias.data(), y.data(), scratch.data(), 2, c.channels, c.filters, c.groups, g,
                rt::functor_chain<rt::op_relu>());
    std::vector<double> want(y.size(), 0.0);
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t grp = 0; grp < c.groups; ++grp)
        rt::for_each_window_tap(cg, g, [&](int64_t ch, int64_t row, int64_t o, int64_t index) {
          if (index < 0) return;
          for (int64_t f = grp * mg; f < (grp + 1) * mg; ++f)
            want[std::size_t((n * c.filters + f) * osize + o)] +=
                double(w[std::size_t(f * taps + row)]) *
                x[std::size_t((n * c.channels + grp * cg + ch) * isize + index)];
        });
    for (std::size_t i = 0; i < y.size(); ++i) {
      const double expected = std::max(0.0, want[i] + bias[i / std::size_t(osize) % std::size_t(c.filters)]);
      ASSERT_NEAR(y[i], expected, 1e-5 * (1 + std::abs(expected))) << "case " << c.h << "x" << c.w << " at " << i;
    }
  }
}

// The 16-lane rows (stride 1 and 2, padding on both sides, ceil mode's last window over the
// edge, blocks and tails, a NaN, the negative values a -inf padding must not beat) against the
// scalar windows of the double instantiation.
TEST(Kernels, MaxPoolLanesMatchTheScalarWindows) {
  const int64_t h = 37, w = 75;
  std::vector<float> x(std::size_t(2 * h * w));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 0.37f) * float(i % 11) - 12.f;
  x[std::size_t(h * w + 5 * w + 40)] = NAN;
  const std::vector<double> xd(x.begin(), x.end());
  for (int64_t kernel : {2, 3, 5})
    for (int64_t stride : {1, 2})
      for (int64_t pad = 0; pad < kernel && pad <= 2; ++pad)
        for (bool ceil : {false, true}) {
          auto out = [&](int64_t n) {
            int64_t o = (n + 2 * pad - kernel + (ceil ? stride - 1 : 0)) / stride + 1;
            return (o - 1) * stride >= n + pad ? o - 1 : o;  // ONNX: the last window starts inside
          };
          const int64_t oh = out(h), ow = out(w);
          rt::ConvGeometry g{2, {h, w}, {oh, ow}, {kernel, kernel}, {stride, stride}, {1, 1}, {pad, pad}};
          std::vector<float> y(std::size_t(2 * oh * ow));
          std::vector<double> yd(y.size());
          rt::pool_2d(x.data(), y.data(), 2, g, true);
          rt::pool_2d(xd.data(), yd.data(), 2, g, true);
          for (std::size_t i = 0; i < y.size(); ++i) {
            const std::string where = "kernel " + std::to_string(kernel) + " stride " + std::to_string(stride) +
                                      " pad " + std::to_string(pad) + (ceil ? " ceil" : "") + " at " +
                                      std::to_string(i);
            if (std::isnan(yd[i])) ASSERT_TRUE(std::isnan(y[i])) << where;
            else ASSERT_EQ(double(y[i]), yd[i]) << where;
          }
        }
}

}  // namespace
}  // namespace sofiec

namespace sofiec {
namespace {

// Attention against its definition in double, with K given as rows (a key's features
// contiguous: packed by 16x16 tiles, 37 keys = 2 tiles + 5, 20 features = 1 tile + 4) and as
// K^T (element by element), V with contiguous and strided features.
TEST(Kernels, ScaledDotAttentionMatchesTheDefinition) {
  const int64_t heads = 3, q_len = 7, kv_len = 37, head = 20, v_head = 18;
  std::vector<float> q(std::size_t(heads * q_len * head)), k(std::size_t(heads * kv_len * head)),
      v(std::size_t(heads * kv_len * v_head));
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.37f * float(i));
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = std::cos(0.23f * float(i));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.11f * float(i)) * 2.f;
  for (bool key_rows : {true, false})
    for (bool v_rows : {true, false}) {
      // k holds [head][key][feature] when key_rows, else [head][feature][key]; v [head][key][f]
      // or [head][f][key].
      const int64_t ks4 = key_rows ? 1 : kv_len, ks5 = key_rows ? head : 1;
      const int64_t vs4 = v_rows ? v_head : 1, vs5 = v_rows ? 1 : kv_len;
      const rt::ScaledDotShape shape{{1, 1, 1, heads},
                                     q_len,
                                     kv_len,
                                     head,
                                     v_head,
                                     {0, 0, 0, q_len * head, head, 1},
                                     {0, 0, 0, kv_len * head, ks4, ks5},
                                     {0, 0, 0, kv_len * v_head, vs4, vs5},
                                     {0, 0, 0, q_len * v_head, v_head, 1},
                                     2.5f,
                                     true};
      std::vector<float> y(std::size_t(heads * q_len * v_head)),
          scratch(std::size_t(rt::scaled_dot_scratch(kv_len, head, v_head)));
      rt::scaled_dot_attention(q.data(), k.data(), v.data(), y.data(), shape, scratch.data());
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < q_len; ++i) {
          std::vector<double> p(static_cast<std::size_t>(kv_len));
          double peak = -1e300, sum = 0;
          for (int64_t j = 0; j < kv_len; ++j) {
            double dot = 0;
            for (int64_t f = 0; f < head; ++f)
              dot += double(q[std::size_t((h * q_len + i) * head + f)]) *
                     k[std::size_t(h * kv_len * head + f * ks4 + j * ks5)];
            p[std::size_t(j)] = dot / 2.5;
            peak = std::max(peak, p[std::size_t(j)]);
          }
          for (double& e : p) sum += (e = std::exp(e - peak));
          for (int64_t c = 0; c < v_head; ++c) {
            double want = 0;
            for (int64_t j = 0; j < kv_len; ++j)
              want += p[std::size_t(j)] / sum * v[std::size_t(h * kv_len * v_head + j * vs4 + c * vs5)];
            ASSERT_NEAR(y[std::size_t((h * q_len + i) * v_head + c)], want, 1e-5)
                << "key rows " << key_rows << " v rows " << v_rows << " head " << h << " query " << i << " feature "
                << c;
          }
        }
    }
}

// Layer normalization of floats (in float lanes, with a tail of 5) against the double
// instantiation, with and without a bias, and with a shared scale (step 0, the double loop);
// rows of spread 50 around 7 and of spread 1 around 1e4 (the float sums around the row's first
// value), and RMS normalization.
TEST(Kernels, LayerNormLanesMatchTheDoubleRows) {
  const int64_t outer = 3, inner = 133;
  std::vector<float> x(std::size_t(outer * inner)), scale(static_cast<std::size_t>(inner)),
      bias(static_cast<std::size_t>(inner));
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = i < std::size_t(inner) ? std::sin(0.7f * float(i)) + 1e4f : std::sin(0.3f * float(i)) * 50.f + 7.f;
  for (std::size_t i = 0; i < scale.size(); ++i) scale[i] = 0.5f + 0.01f * float(i), bias[i] = std::cos(float(i));
  const std::vector<double> xd(x.begin(), x.end()), sd(scale.begin(), scale.end()), bd(bias.begin(), bias.end());
  for (bool rms : {false, true})
    for (int64_t step : {1, 0})
      for (bool with_bias : {true, false}) {
        std::vector<float> y(x.size()), mean(outer), inv_std(outer);
        std::vector<double> yd(x.size()), meand(outer), inv_stdd(outer);
        rt::layer_norm(x.data(), scale.data(), step, with_bias ? bias.data() : nullptr, step, y.data(), mean.data(),
                       inv_std.data(), outer, inner, 1e-5f, rms);
        rt::layer_norm(xd.data(), sd.data(), step, with_bias ? bd.data() : nullptr, step, yd.data(), meand.data(),
                       inv_stdd.data(), outer, inner, 1e-5f, rms);
        for (std::size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], yd[i], 1e-6 * (1 + std::fabs(yd[i])))
              << "rms " << rms << " step " << step << " bias " << with_bias << " at " << i;
        for (int64_t o = 0; o < outer; ++o) {
          EXPECT_NEAR(mean[o], meand[o], 1e-6 * (1 + std::fabs(meand[o]))) << o;
          EXPECT_NEAR(inv_std[o], inv_stdd[o], 1e-6 * inv_stdd[o]) << o;
        }
      }
}

// Float groups summed in the lanes around their first value against the double kernel: a group
// of spread 1 around 1e4, others of spread 50; 300 values a plane (a partial vector), groups of
// 4 planes, with and without the SiLU after it.
TEST(Kernels, GroupNormLanesMatchTheDoubleGroups) {
  const int64_t batch = 2, channels = 8, spatial = 300, groups = 2;
  std::vector<float> x(static_cast<std::size_t>(batch * channels * spatial)), scale(static_cast<std::size_t>(channels)),
      bias(static_cast<std::size_t>(channels));
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = i < std::size_t(4 * spatial) ? std::sin(0.7f * float(i)) + 1e4f : std::sin(0.3f * float(i)) * 50.f + 7.f;
  for (std::size_t i = 0; i < scale.size(); ++i) scale[i] = 0.5f + 0.1f * float(i), bias[i] = std::cos(float(i));
  const std::vector<double> xd(x.begin(), x.end()), sd(scale.begin(), scale.end()), bd(bias.begin(), bias.end());
  std::vector<float> y(x.size()), ys(x.size());
  std::vector<double> yd(x.size()), yds(x.size());
  rt::group_norm(x.data(), scale.data(), bias.data(), y.data(), batch, channels, spatial, groups, 1e-5f, false);
  rt::group_norm(xd.data(), sd.data(), bd.data(), yd.data(), batch, channels, spatial, groups, 1e-5f, false);
  rt::group_norm(x.data(), scale.data(), bias.data(), ys.data(), batch, channels, spatial, groups, 1e-5f, false,
                 rt::chain(rt::op_swish{1.f}));
  rt::group_norm(xd.data(), sd.data(), bd.data(), yds.data(), batch, channels, spatial, groups, 1e-5f, false,
                 rt::chain(rt::op_swish{1.f}));
  for (std::size_t i = 0; i < y.size(); ++i) {
    ASSERT_NEAR(y[i], yd[i], 1e-6 * (1 + std::fabs(yd[i]))) << i;
    ASSERT_NEAR(ys[i], yds[i], 1e-6 * (1 + std::fabs(yds[i]))) << i;
  }
}

TEST(Kernels, CenteredSumsInLanesMatchASequentialDoubleSum) {
  for (int64_t n : {1, 7, 8, 13, 64, 1001}) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[std::size_t(i)] = std::sin(0.1f * float(i)) * 100.f + 3.f;
    double sum = 0, squares = 0;
    for (float v : x) sum += double(v);
    const double mean = sum / double(n);
    for (float v : x) squares += (double(v) - mean) * (double(v) - mean);
    EXPECT_NEAR(rt::centered_sum(x.data(), n, 0.0, false), sum, 1e-9 * (1 + std::fabs(sum))) << n;
    EXPECT_NEAR(rt::centered_sum(x.data(), n, mean, true), squares, 1e-9 * (1 + squares)) << n;
  }
}

// EdgeConvGather against its definition: per edge the centre's value plus the bias, plus the
// neighbour's (of any batch entry; negative indices count from the end, indices outside add
// zero). 35 edges per channel (two tiles of 16 and 3) and 19 channels (16 and 3).
TEST(Kernels, EdgeConvGatherMatchesTheEdgeSums) {
  const int64_t batch = 2, filters = 19, points = 5, k = 7, rows = batch * points;
  std::vector<float> pc(std::size_t(batch * points * 2 * filters)), bias(static_cast<std::size_t>(filters));
  for (std::size_t i = 0; i < pc.size(); ++i) pc[i] = std::sin(float(i) * 1.3f) * 3.f;
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = std::cos(float(i)) - 0.5f;
  std::vector<int64_t> indices(std::size_t(rows * k));
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = int64_t(i * 7 % 23) - 11;  // -11 .. 11: some outside
  for (bool relu : {false, true}) {
    std::vector<float> y(std::size_t(batch * filters * points * k), NAN);
    if (relu)
      rt::edge_conv_gather(pc.data(), indices.data(), bias.data(), y.data(), batch, filters, points, k,
                           rt::chain(rt::op_relu{}));
    else rt::edge_conv_gather(pc.data(), indices.data(), bias.data(), y.data(), batch, filters, points, k);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t o = 0; o < filters; ++o)
        for (int64_t i = 0; i < points; ++i)
          for (int64_t j = 0; j < k; ++j) {
            int64_t r = indices[std::size_t((b * points + i) * k + j)];
            if (r < 0) r += rows;
            const float centre = pc[std::size_t((b * points + i) * 2 * filters + o)] + bias[std::size_t(o)];
            const float neighbour = r >= 0 && r < rows ? pc[std::size_t(r * 2 * filters + filters + o)] : 0.f;
            const float want = relu ? std::max(0.f, centre + neighbour) : centre + neighbour;
            EXPECT_EQ(y[std::size_t(((b * filters + o) * points + i) * k + j)], want)
                << b << " " << o << " " << i << " " << j;
          }
  }
}

// gemm_skipping_zeros against the dense sums in double: rows of A half zeros (one all zeros),
// panels of every width from 1 to 8 vectors, whole and partial, two panels (150 columns), three
// slices of depth (600), alpha, a bias or none, an epilogue or none; a NaN in A reaches its row.
TEST(Kernels, ProductsSkippingZerosMatchTheDenseSums) {
  for (int64_t n : {16, 20, 33, 48, 64, 77, 96, 100, 112, 128, 150}) {
    for (int64_t k : {1, 37, 600}) {
      const int64_t m = 3, ldb = n + (n % 2);  // rows of B packed from n apart, or 1 more
      std::vector<float> a(std::size_t(m * k)), b(std::size_t(k * ldb), 0.f), bias(static_cast<std::size_t>(n));
      for (std::size_t i = 0; i < a.size(); ++i) {
        const float v = std::sin(0.37f * float(i) + 0.1f);
        a[i] = i < std::size_t(k) ? 0.f : (v > 0 ? v : 0.f);  // row 0 all zeros, the others about half
      }
      for (int64_t p = 0; p < k; ++p)
        for (int64_t j = 0; j < n; ++j) b[std::size_t(p * ldb + j)] = std::cos(0.11f * float(p * n + j));
      for (int64_t j = 0; j < n; ++j) bias[std::size_t(j)] = 0.5f - 0.01f * float(j);
      std::vector<float> panels(std::size_t(k * n));
      rt::pack_column_panels(b.data(), ldb, k, n, panels.data());
      for (const bool with_bias : {false, true}) {
        std::vector<float> c(std::size_t(m * n)), c_relu(std::size_t(m * n));
        const float* bp = with_bias ? bias.data() : nullptr;
        rt::gemm_skipping_zeros(m, n, k, 0.75f, a.data(), k, panels.data(), bp, c.data(), n, rt::chain());
        rt::gemm_skipping_zeros(m, n, k, 0.75f, a.data(), k, panels.data(), bp, c_relu.data(), n,
                                rt::chain(rt::op_relu{}));
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t p = 0; p < k; ++p)
              sum += double(a[std::size_t(i * k + p)]) * double(b[std::size_t(p * ldb + j)]);
            const double want = 0.75 * sum + (with_bias ? bias[std::size_t(j)] : 0.0);
            const std::size_t at = std::size_t(i * n + j);
            ASSERT_NEAR(c[at], want, 1e-5 * (1 + std::fabs(want))) << n << " " << k << " " << i << " " << j;
            ASSERT_EQ(c_relu[at], c[at] > 0 ? c[at] : 0.f) << n << " " << k << " " << i << " " << j;
          }
      }
      a[std::size_t(2 * k - 1)] = std::nanf("");
      std::vector<float> c(std::size_t(m * n));
      rt::gemm_skipping_zeros(m, n, k, 1.f, a.data(), k, panels.data(), bias.data(), c.data(), n, rt::chain());
      for (int64_t j = 0; j < n; ++j) {
        ASSERT_TRUE(std::isnan(c[std::size_t(n + j)])) << n << " " << k << " " << j;
        ASSERT_EQ(c[std::size_t(j)], bias[std::size_t(j)]);
        ASSERT_FALSE(std::isnan(c[std::size_t(2 * n + j)]));
      }
    }
  }
}

}  // namespace
}  // namespace sofiec
