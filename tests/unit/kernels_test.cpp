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

template <class F>
void expect_lanes_match_scalar(const F& f, float from, float to) {
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
TEST(Kernels, TopKSelectionsAgreeOnTiesAndNaN) {
  const int64_t n = 90;
  std::vector<float> x(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[std::size_t(i)] = float((i * 37) % 13);  // many ties
  x[17] = NAN;
  x[60] = NAN;
  for (bool largest : {true, false}) {
    std::vector<float> v_few(8), v_many(40);
    std::vector<int64_t> i_few(8), i_many(40), order(static_cast<std::size_t>(n));
    rt::top_k(x.data(), v_few.data(), i_few.data(), order.data(), 1, n, 1, 8, largest, true);
    rt::top_k(x.data(), v_many.data(), i_many.data(), order.data(), 1, n, 1, 40, largest, true);
    for (std::size_t j = 0; j < 8; ++j) EXPECT_EQ(i_few[j], i_many[j]) << "largest " << largest << " rank " << j;
    if (largest) {
      EXPECT_EQ(i_few[0], 17);
      EXPECT_EQ(i_few[1], 60);
    } else {
      for (int64_t i : i_many) EXPECT_TRUE(i != 17 && i != 60) << "a NaN among the 40 smallest of 88 numbers";
    }
  }
}

// The 16-lane rows (stride 1 and 2, left padding, blocks and tails) against the scalar
// windows of the double instantiation.
TEST(Kernels, MaxPoolLanesMatchTheScalarWindows) {
  const int64_t h = 37, w = 75;
  std::vector<float> x(std::size_t(2 * h * w));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 0.37f) * float(i % 11);
  x[std::size_t(h * w + 5 * w + 40)] = NAN;
  const std::vector<double> xd(x.begin(), x.end());
  for (int64_t stride : {1, 2})
    for (int64_t pad : {0, 1}) {
      const int64_t oh = (h + 2 * pad - 3) / stride + 1, ow = (w + 2 * pad - 3) / stride + 1;
      rt::ConvGeometry g{2, {h, w}, {oh, ow}, {3, 3}, {stride, stride}, {1, 1}, {pad, pad}};
      std::vector<float> y(std::size_t(2 * oh * ow));
      std::vector<double> yd(y.size());
      rt::pool_2d(x.data(), y.data(), 2, g, true);
      rt::pool_2d(xd.data(), yd.data(), 2, g, true);
      for (std::size_t i = 0; i < y.size(); ++i) {
        if (std::isnan(yd[i])) EXPECT_TRUE(std::isnan(y[i])) << "stride " << stride << " pad " << pad << " at " << i;
        else EXPECT_EQ(double(y[i]), yd[i]) << "stride " << stride << " pad " << pad << " at " << i;
      }
    }
}

}  // namespace
}  // namespace sofiec

namespace sofiec {
namespace {

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

}  // namespace
}  // namespace sofiec
