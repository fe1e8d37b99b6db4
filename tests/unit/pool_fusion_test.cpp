// ConvMaxPoolFusion on tiny graphs: which convolution -> 2x2 MaxPool pairs fuse, and (compiled
// and run at -O 0 and -O extended) the numbers of the fused direct and Winograd kernels: odd
// planes (the floor drops a row and a column), rows wider than 32 outputs, groups, no bias,
// and an epilogue that does not commute with the max (Neg), so that applying it after the pool
// would show.
#include <gtest/gtest.h>

#include "ops/registry.hpp"
#include "pass_helpers.hpp"

using namespace sofiec;
using sofiec_test::expect_same_numbers;
using sofiec_test::ModelBuilder;
using sofiec_test::ops;

namespace {

struct PoolCase {
  int64_t channels = 1, filters = 6, height = 13, width = 37, group = 1, stride = 1;
  std::vector<int64_t> pool_kernel{2, 2}, pool_pads{0, 0, 0, 0};
  int64_t ceil_mode = 0;
  bool bias = true;
  std::string activation = "Relu";
  // Filters of a 1x1 Conv after the pool: weights that leave F(4x4) room (see winograd_test).
  int64_t ballast = 0;
};

// x [2, C, H, W] -> Conv 3x3 pad 1 (+ bias) -> activation -> MaxPool [-> 1x1 ballast -> 1x1 to 4]
ModelBuilder pool_model(const PoolCase& c) {
  ModelBuilder b(13);
  b.input("x", {2, c.channels, c.height, c.width}).output("y");
  const int64_t per_group = c.channels / c.group;
  b.init_floats("w", {c.filters, per_group, 3, 3}, sofiec_test::wave(c.filters * per_group * 9, 0.3f, 0.53f, 0.2f));
  std::vector<std::string> inputs{"x", "w"};
  if (c.bias) {
    b.init_floats("bias", {c.filters}, sofiec_test::wave(c.filters, 0.3f, 0.53f, 1.1f));
    inputs.push_back("bias");
  }
  onnx::NodeProto& conv = b.node("Conv", inputs, {"c"}, "conv");
  ModelBuilder::attr_ints(conv, "pads", {1, 1, 1, 1});
  ModelBuilder::attr_ints(conv, "strides", {c.stride, c.stride});
  ModelBuilder::attr_int(conv, "group", c.group);
  b.node(c.activation, {"c"}, {"a"});
  onnx::NodeProto& pool = b.node("MaxPool", {"a"}, {c.ballast ? "p" : "y"}, "pool");
  ModelBuilder::attr_ints(pool, "kernel_shape", c.pool_kernel);
  ModelBuilder::attr_ints(pool, "strides", {2, 2});
  ModelBuilder::attr_ints(pool, "pads", c.pool_pads);
  ModelBuilder::attr_int(pool, "ceil_mode", c.ceil_mode);
  if (c.ballast) {
    b.init_floats("mix", {c.ballast, c.filters, 1, 1}, sofiec_test::wave(c.ballast * c.filters, 0.3f, 0.7f, 0.7f));
    b.init_floats("fold", {4, c.ballast, 1, 1}, sofiec_test::wave(4 * c.ballast, 0.3f, 0.9f, 0.9f));
    b.node("Conv", {"p", "mix"}, {"m"}, "mix");
    b.node("Conv", {"m", "fold"}, {"y"}, "fold");
  }
  return b;
}

std::size_t input_size(const PoolCase& c) { return std::size_t(2 * c.channels * c.height * c.width); }

// The graph after -O extended's passes.
Graph optimized(const ModelBuilder& b) {
  Model m = sofiec_test::load(b);
  Analysis a = infer_graph(m.graph);
  for (const auto& pass : passes_for_level(OptLevel::Extended)) pass->run(m.graph, a);
  infer_graph(m.graph);
  return m.graph;
}
std::vector<std::string> optimized_ops(const ModelBuilder& b) { return ops(optimized(b)); }

}  // namespace

TEST(ConvMaxPoolFusion, DirectAndWinogradConvolutionsTakeThePool) {
  EXPECT_EQ(optimized_ops(pool_model({})), (std::vector<std::string>{"ConvMaxPool"}));
  PoolCase winograd;
  winograd.channels = 16;
  winograd.filters = 8;
  EXPECT_EQ(optimized_ops(pool_model(winograd)), (std::vector<std::string>{"WinogradConv"}));
  winograd.ballast = 1500;
  const Graph g = optimized(pool_model(winograd));
  EXPECT_EQ(ops(g), (std::vector<std::string>{"WinogradConv", "Conv", "Conv"}));
  EXPECT_EQ(g.value(g.nodes[0].inputs[1]).shape, to_shape({36, 8, 16}));  // F(4x4)
  EXPECT_EQ(g.value(g.nodes[0].outputs[0]).shape, to_shape({2, 8, 6, 18}));
}

// A 3x3 pool, a padded pool, ceil_mode over odd planes, a strided convolution (neither direct
// nor Winograd, and too few filters for FilterPanelConv), and a convolution output read twice
// keep their MaxPool.
TEST(ConvMaxPoolFusion, OtherPoolsAndSharedOutputsStaySeparate) {
  PoolCase wide_pool, padded_pool, ceil, strided;
  wide_pool.pool_kernel = {3, 3};
  padded_pool.pool_pads = {1, 1, 1, 1};
  ceil.ceil_mode = 1;
  strided.stride = 2;
  for (const PoolCase& c : {wide_pool, padded_pool, ceil, strided})
    EXPECT_EQ(optimized_ops(pool_model(c)).back(), "MaxPool")
        << c.pool_kernel[0] << " " << c.pool_pads[0] << " " << c.ceil_mode << " " << c.stride;
  ModelBuilder shared = pool_model({});
  shared.output("a");
  const std::vector<std::string> kept = optimized_ops(shared);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "MaxPool"), 1);
}

// One channel, 6 filters (blocks of 4 and 2), 13x37: two chunks of 32 outputs a row, the
// second of 5 (2 pooled), the last row and column dropped. Then 15 filters: blocks of 8 (with
// AVX-512), 4, 2 and 1.
TEST(ConvMaxPoolFusion, DirectSameNumbers) {
  expect_same_numbers(pool_model({}), input_size({}));
  PoolCase c;
  c.filters = 15;
  expect_same_numbers(pool_model(c), input_size(c));
}

// Depthwise (3 groups of one channel), no bias, Neg after the convolution.
TEST(ConvMaxPoolFusion, DirectDepthwiseWithoutBiasSameNumbers) {
  PoolCase c;
  c.channels = c.filters = c.group = 3;
  c.bias = false;
  c.activation = "Neg";
  expect_same_numbers(pool_model(c), input_size(c));
}

// F(2x2) and F(4x4) (with ballast), 15x17 planes, Neg after the convolution; 8 filters (tiles in
// the lanes) and 32 (filters in the lanes). Then F(4x4) from the taps over 16x16 planes (the
// batch's 32 tiles in the lanes).
TEST(ConvMaxPoolFusion, WinogradSameNumbersInBothTiles) {
  for (int64_t filters : {8, 32}) {
    PoolCase c;
    c.channels = 16;
    c.filters = filters;
    c.height = 15;
    c.width = 17;
    c.activation = "Neg";
    expect_same_numbers(pool_model(c), input_size(c));
    c.ballast = 1500;
    expect_same_numbers(pool_model(c), input_size(c), 1e-4);
    c.ballast = 0;
    c.height = c.width = 16;
    const Graph g = optimized(pool_model(c));
    EXPECT_EQ(g.value(g.nodes[0].inputs[1]).shape.size(), 4u);  // the taps, [filters, 1, 9, 16]
    expect_same_numbers(pool_model(c), input_size(c), 1e-4);
  }
}

// resnet18's stem and its pool in small: 3 channels to 64 filters at stride 2 (a FilterPanelConv:
// the filters fill the lanes), then a 3x3 / 2 max pool with pads of 1.
static PoolCase stem_like_case() {
  PoolCase c;
  c.channels = 3;
  c.filters = 64;
  c.stride = 2;
  c.pool_kernel = {3, 3};
  c.pool_pads = {1, 1, 1, 1};
  return c;
}

// A strided convolution whose filters fill the lanes (FilterPanelConv) takes any max pool in
// floor mode; ceil_mode keeps it separate.
TEST(ConvMaxPoolFusion, FilterPanelConvTakesPaddedAndWidePools) {
  PoolCase c = stem_like_case();
  const Graph g = optimized(pool_model(c));
  ASSERT_EQ(ops(g), (std::vector<std::string>{"FilterPanelConv"}));
  EXPECT_EQ(g.nodes[0].attr_ints("pool_pads", {}), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(g.value(g.nodes[0].outputs[0]).shape, to_shape({2, 64, 4, 10}));  // conv 7x19, pooled (7 + 2 - 3) / 2 + 1
  c.ceil_mode = 1;
  EXPECT_EQ(optimized_ops(pool_model(c)).back(), "MaxPool");
}

// resnet18's stem pool (3x3 / 2, pads 1) over 60x60 planes of 64 filters: bands of 7 pooled
// rows (17 rows of the convolution, 65280 floats), the row shared by two bands moved up, and a
// last band of 2; Neg after the convolution, so that the padding of the pool shows.
TEST(ConvMaxPoolFusion, FilterPanelConvSameNumbersOverSeveralBands) {
  PoolCase c = stem_like_case();
  c.height = c.width = 120;
  c.activation = "Neg";
  expect_same_numbers(pool_model(c), input_size(c));
}

// 47 filters (a last panel of 15), a 2x2 pool over 31x23 planes (the floor drops a row and a
// column), no bias; and a pool padded at the end only.
TEST(ConvMaxPoolFusion, FilterPanelConvSameNumbersWithAPartialPanel) {
  PoolCase c;
  c.channels = 5;
  c.filters = 47;
  c.stride = 2;
  c.height = 61;
  c.width = 45;
  c.bias = false;
  expect_same_numbers(pool_model(c), input_size(c));
  c.pool_kernel = {3, 2};
  c.pool_pads = {0, 0, 2, 1};
  expect_same_numbers(pool_model(c), input_size(c));
}
