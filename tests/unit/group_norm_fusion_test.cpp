// GroupNormFusion on torch's pre-opset-18 form of GroupNorm: the fused node, and (compiled and
// run at -O 0 and -O extended) the numbers against group normalization and SiLU computed
// here in double.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/registry.hpp"
#include "pass_helpers.hpp"

using namespace sofiec;
using sofiec_test::ModelBuilder;
using sofiec_test::ops;
using sofiec_test::run_generated;
using sofiec_test::run_pass;

namespace {

constexpr int64_t kBatch = 2, kChannels = 8, kGroups = 4, kHeight = 5, kWidth = 7;  // 35 per plane: lane tails
constexpr float kEpsilon = 1e-5f;

std::vector<float> gamma() { return sofiec_test::wave(kChannels, 0.8f, 0.9f, 0.3f); }
std::vector<float> beta() { return sofiec_test::wave(kChannels, 0.5f, 1.3f, 0.7f); }

// x -> Reshape [N, G, -1] -> InstanceNormalization(1, 0) -> Reshape [N, C, H, W] -> Mul gamma
// -> Add beta -> x * Sigmoid(x), as torch 1.13 exports nn.GroupNorm + nn.SiLU.
ModelBuilder group_norm_model(float instance_scale = 1.f) {
  ModelBuilder b(13);
  b.input("x", {kBatch, kChannels, kHeight, kWidth}).output("y");
  b.init_ints("grouped", {3}, {kBatch, kGroups, -1});
  b.init_ints("full", {4}, {kBatch, kChannels, kHeight, kWidth});
  b.init_floats("ones", {kGroups}, std::vector<float>(kGroups, instance_scale));
  b.init_floats("zeros", {kGroups}, std::vector<float>(kGroups, 0.f));
  b.init_floats("gamma", {kChannels, 1, 1}, gamma());
  b.init_floats("beta", {kChannels, 1, 1}, beta());
  b.node("Reshape", {"x", "grouped"}, {"g"});
  onnx::NodeProto& norm = b.node("InstanceNormalization", {"g", "ones", "zeros"}, {"n"});
  ModelBuilder::attr_float(norm, "epsilon", kEpsilon);
  b.node("Reshape", {"n", "full"}, {"r"});
  b.node("Mul", {"r", "gamma"}, {"m"});
  b.node("Add", {"m", "beta"}, {"a"});
  b.node("Sigmoid", {"a"}, {"s"});
  b.node("Mul", {"a", "s"}, {"y"});
  return b;
}

}  // namespace

TEST(GroupNormFusion, TorchGroupNormBecomesOneNodeWithPerChannelParameters) {
  int changes = 0;
  const Graph g = run_pass(group_norm_model(), make_group_norm_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"GroupNormalization", "Sigmoid", "Mul"}));
  EXPECT_EQ(g.nodes[0].domain, kSofiecDomain);
  EXPECT_EQ(g.nodes[0].inputs[0], "x");
  EXPECT_EQ(g.nodes[0].attr_int("num_groups", 0), kGroups);
  EXPECT_EQ(g.value(g.nodes[0].inputs[1]).shape, to_shape({kChannels}));
  EXPECT_EQ(g.value(g.nodes[0].inputs[2]).shape, to_shape({kChannels}));
}

TEST(GroupNormFusion, InstanceNormWithItsOwnScaleStays) {
  int changes = 0;
  run_pass(group_norm_model(2.f), make_group_norm_fusion(), &changes);
  EXPECT_EQ(changes, 0);
}

TEST(GroupNormFusion, NumbersMatchGroupNormAndSiluInDouble) {
  const int64_t n = kBatch * kChannels * kHeight * kWidth, plane = kHeight * kWidth, per = kChannels / kGroups;
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 3.f + std::sin(float(i) * 0.7f) * 2.f;  // a mean away from 0
  std::vector<double> want(x.size());
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t grp = 0; grp < kGroups; ++grp) {
      const int64_t first = (b * kChannels + grp * per) * plane, count = per * plane;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < count; ++i) mean += x[std::size_t(first + i)];
      mean /= double(count);
      for (int64_t i = 0; i < count; ++i)
        var += (x[std::size_t(first + i)] - mean) * (x[std::size_t(first + i)] - mean);
      var /= double(count);
      for (int64_t i = 0; i < count; ++i) {
        const int64_t c = grp * per + i / plane;
        const double a = (x[std::size_t(first + i)] - mean) / std::sqrt(var + kEpsilon) * gamma()[std::size_t(c)] +
                         beta()[std::size_t(c)];
        want[std::size_t(first + i)] = a / (1 + std::exp(-a));
      }
    }
  for (OptLevel level : {OptLevel::O0, OptLevel::Extended}) {
    const std::vector<float> got = run_generated(group_norm_model(), level, x);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 2e-6 + 2e-6 * std::fabs(want[i])) << "element " << i << " at level " << int(level);
  }
}
