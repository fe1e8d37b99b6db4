// The vector layer (templates/kernels/simd.hpp) against plain loops, built for every register
// width (tests/CMakeLists.txt: the portable, v2, v3, native and scalar builds): the lanes of a
// vec must not depend on how many registers hold them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.hpp"

namespace sofiec {
namespace {
using namespace rt::simd;  // the vector layer of this build's target

f32x16 iota_plus(float base) {
  f32x16 v;
  for (int l = 0; l < 16; ++l) v.set(l, base + float(l) * 1.25f);
  return v;
}

TEST(Simd, LanesSurviveArithmeticCompareAndSelect) {
  const f32x16 a = iota_plus(-7.f), b = iota_plus(3.f) * -0.5f;
  const f32x16 sum = a + b, product = a * b, quotient = a / (b + 100.f);
  const f32x16 larger = select(a > b, a, b), fused = fma(a, b, sum);
  for (int l = 0; l < 16; ++l) {
    EXPECT_EQ(sum[l], a[l] + b[l]) << l;
    EXPECT_EQ(product[l], a[l] * b[l]) << l;
    EXPECT_EQ(quotient[l], a[l] / (b[l] + 100.f)) << l;
    EXPECT_EQ(larger[l], a[l] > b[l] ? a[l] : b[l]) << l;
    EXPECT_EQ(fused[l], kHasFma ? std::fma(a[l], b[l], sum[l]) : a[l] * b[l] + sum[l]) << l;
  }
}

TEST(Simd, ABroadcastOfMinusZeroKeepsItsSign) {
  const f32x16 v(-0.f);
  for (int l = 0; l < 16; ++l) EXPECT_TRUE(std::signbit(v[l])) << l;
}

template <int... I> void expect_shuffle(const f32x16& a, const f32x16& b) {
  const auto r = shuffle<I...>(a, b);
  constexpr int idx[] = {I...};
  for (int l = 0; l < int(sizeof...(I)); ++l) EXPECT_EQ(r[l], idx[l] < 16 ? a[idx[l]] : b[idx[l] - 16]) << l;
}

TEST(Simd, ShufflesWithinAndAcrossRegisters) {
  const f32x16 a = iota_plus(0.f), b = iota_plus(100.f);
  expect_shuffle<0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30>(a, b);
  expect_shuffle<1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31>(a, b);
  expect_shuffle<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(a, b);
  expect_shuffle<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(a, b);
  expect_shuffle<15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30>(a, b);
  expect_shuffle<2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17>(a, b);
  expect_shuffle<31, 0, 17, 5, 12, 12, 3, 30, 8, 1, 22, 9, 4, 27, 16, 15>(a, b);  // any lane anywhere
  expect_shuffle<4, 5, 6, 7>(a, b);                                               // narrower results
  expect_shuffle<8, 9, 10, 11, 12, 13, 14, 15>(a, b);
}

TEST(Simd, ConversionsAndBitsLaneByLane) {
  const f32x16 a = iota_plus(-5.3f);
  const i32x16 truncated = convert_lanes<int32_t>(a);
  const auto bits = bit_cast_lanes<int32_t>(a);
  const vec<float, 8> half = shuffle<8, 9, 10, 11, 12, 13, 14, 15>(a, a);
  const f64x8 wide = convert_lanes<double>(half);
  for (int l = 0; l < 16; ++l) {
    EXPECT_EQ(truncated[l], int32_t(a[l])) << l;
    int32_t want;
    const float x = a[l];
    std::memcpy(&want, &x, 4);
    EXPECT_EQ(bits[l], want) << l;
  }
  for (int l = 0; l < 8; ++l) EXPECT_EQ(wide[l], double(a[8 + l])) << l;
  const i32x16 lanes = lane_indices<int32_t, 16>();
  EXPECT_EQ(lane_bits(lanes < 5), 0x1fu);
  EXPECT_EQ(lane_bits(lanes >= 13 || lanes == 0), 0xe001u);
}

// The sum of 16 lanes is one tree on every target: lane l with l + 8, then l + 4, 2, 1.
TEST(Simd, LaneSumsFollowOneTree) {
  f32x16 v;
  for (int l = 0; l < 16; ++l) v.set(l, std::ldexp(1.f + float(l) / 7.f, (l * 5) % 23 - 11));
  float h[8], q[4];
  for (int l = 0; l < 8; ++l) h[l] = v[l] + v[l + 8];
  for (int l = 0; l < 4; ++l) q[l] = h[l] + h[l + 4];
  const float want = (q[0] + q[2]) + (q[1] + q[3]);
  EXPECT_EQ(rt::sum_lanes(v), want);
}

template <int L> void expect_partial_moves() {
  for (int64_t n = 0; n <= L; ++n) {
    std::vector<float> src(L + 8), dst(L + 8, -1.f);
    for (int i = 0; i < L + 8; ++i) src[std::size_t(i)] = float(i) + 0.5f;
    vec<float, L> v(7.f);
    load_first(src.data(), n, v);
    for (int l = 0; l < L; ++l) EXPECT_EQ(v[l], l < n ? src[std::size_t(l)] : 0.f) << "n " << n << " lane " << l;
    store_first(dst.data(), n, v);
    for (int i = 0; i < L + 8; ++i) EXPECT_EQ(dst[std::size_t(i)], i < n ? src[std::size_t(i)] : -1.f) << n << " " << i;
  }
}

TEST(Simd, PartialLoadsAndStoresTouchOnlyTheirLanes) {
  expect_partial_moves<16>();
  expect_partial_moves<8>();
  expect_partial_moves<4>();
}

}  // namespace
}  // namespace sofiec
