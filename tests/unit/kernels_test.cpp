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
  static_assert(!rt::has_lanes<rt::op_sigmoid>::value, "no 16-lane sigmoid yet");
  static_assert(rt::has_lanes<decltype(rt::chain(rt::op_gelu{}, rt::op_relu{}))>::value, "");
  static_assert(!rt::has_lanes<decltype(rt::chain(rt::op_gelu{}, rt::op_sigmoid{}))>::value, "");
  expect_lanes_match_scalar(rt::op_erf{}, -5.f, 5.f);
  expect_lanes_match_scalar(rt::op_gelu{}, -9.f, 9.f);
  expect_lanes_match_scalar(rt::op_leaky_relu{0.1f}, -3.f, 3.f);
  expect_lanes_match_scalar(rt::chain(rt::op_gelu{}, rt::op_relu{}), -4.f, 4.f);
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

}  // namespace
}  // namespace sofiec
