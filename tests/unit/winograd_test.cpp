// ConvWinograd on tiny graphs: which convolutions take the F(4x4, 3x3) or F(2x2, 3x3) form,
// and (compiled and run at -O 0 and -O extended) the numbers, with odd sizes (partial tiles),
// asymmetric padding, a bias and a fused activation, in one block of tile rows or several.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ops/registry.hpp"
#include "pass_helpers.hpp"

using namespace sofiec;
using sofiec_test::expect_same_numbers;
using sofiec_test::ModelBuilder;
using sofiec_test::ops;
using sofiec_test::run_pass;

namespace {

std::vector<float> wave(int64_t n, float phase) { return sofiec_test::wave(n, 0.3f, 0.53f, phase); }

struct ConvCase {
  int64_t channels = 32, filters = 24, height = 13, width = 11, stride = 1;
  std::vector<int64_t> pads{1, 1, 1, 1};
  bool relu = true;
  // Filters of a 1x1 Conv after it: weights beside the 3x3 ones, so that the model's weights
  // leave F(4x4) room (its filters are 4 times the 3x3 ones and the budget is 1.25 times the
  // model's: 11 times the 3x3 weights beside them).
  int64_t ballast = 3400;
};

// x [2, C, H, W] -> Conv 3x3 (+ bias) [-> Relu] [-> Conv 1x1 to `ballast` channels -> Conv 1x1 to 8]
ModelBuilder conv_model(const ConvCase& c) {
  ModelBuilder b(13);
  b.input("x", {2, c.channels, c.height, c.width}).output("y");
  b.init_floats("w", {c.filters, c.channels, 3, 3}, wave(c.filters * c.channels * 9, 0.2f));
  b.init_floats("bias", {c.filters}, wave(c.filters, 1.1f));
  const std::string conv_out = c.relu ? "c" : c.ballast ? "r" : "y";
  onnx::NodeProto& n = b.node("Conv", {"x", "w", "bias"}, {conv_out}, "conv");
  ModelBuilder::attr_ints(n, "kernel_shape", {3, 3});
  ModelBuilder::attr_ints(n, "pads", c.pads);
  ModelBuilder::attr_ints(n, "strides", {c.stride, c.stride});
  if (c.relu) b.node("Relu", {"c"}, {c.ballast ? "r" : "y"});
  if (c.ballast) {
    b.init_floats("mix", {c.ballast, c.filters, 1, 1}, wave(c.ballast * c.filters, 0.7f));
    b.init_floats("fold", {8, c.ballast, 1, 1}, wave(8 * c.ballast, 0.9f));
    b.node("Conv", {"r", "mix"}, {"m"}, "mix");
    b.node("Conv", {"m", "fold"}, {"y"}, "fold");
  }
  return b;
}

std::size_t input_size(const ConvCase& c) { return std::size_t(2 * c.channels * c.height * c.width); }

// The shape of the filters ConvWinograd transformed (the WinogradConv's second input).
auto transformed_filters_shape(const ConvCase& c) {
  const Graph g = run_pass(conv_model(c), make_conv_winograd());
  return g.value(g.nodes[0].inputs[1]).shape;
}

}  // namespace

TEST(ConvWinograd, PaddedConvBecomesWinogradWithTransformedFilters) {
  int changes = 0;
  const Graph g = run_pass(conv_model({}), make_conv_winograd(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"WinogradConv", "Relu", "Conv", "Conv"}));
  EXPECT_EQ(g.nodes[0].domain, kSofiecDomain);
  EXPECT_EQ(g.value(g.nodes[0].inputs[1]).shape, to_shape({36, 24, 32}));  // F(4x4)
  EXPECT_EQ(g.value(g.nodes[0].outputs[0]).shape, to_shape({2, 24, 13, 11}));
}

// The layout stage runs at -O extended only: -O basic writes the same graph whatever the
// target's width, so its Conv stays a Conv (the report lists no layout pass), and its numbers
// are the same.
TEST(ConvWinograd, OnlyTheExtendedLevelChoosesLayouts) {
  CompileOptions basic, extended;
  basic.level = OptLevel::Basic;
  basic.emit_header = extended.emit_header = false;
  auto pass_names = [](const CompiledModel& c) {
    std::vector<std::string> names;
    for (const auto& [pass, changes] : c.stats.pass_changes) names.push_back(pass);
    return names;
  };
  const CompiledModel b = compile_model(sofiec_test::load(conv_model({})), basic);
  const CompiledModel e = compile_model(sofiec_test::load(conv_model({})), extended);
  const std::vector<std::string> b_passes = pass_names(b), e_passes = pass_names(e);
  for (const char* layout : {"GemmWeightTranspose", "RecurrentWeightTranspose", "ConvWinograd", "ConvFilterPanels",
                             "SingleRowGemmSkippingZeros"}) {
    EXPECT_EQ(std::count(b_passes.begin(), b_passes.end(), layout), 0) << layout;
    EXPECT_EQ(std::count(e_passes.begin(), e_passes.end(), layout), 1) << layout;
  }
  EXPECT_EQ(std::count(b_passes.begin(), b_passes.end(), "AttentionFusion"), 1);
  EXPECT_EQ(b.stats.ops_after.count("WinogradConv"), 0u);
  EXPECT_EQ(b.stats.ops_after.count("Conv"), 1u);
  EXPECT_EQ(e.stats.ops_after.count("WinogradConv"), 1u);
}

// Filters that F(4x4) would make larger than 3 MiB (160 x 160 x 36 floats) keep F(2x2), even
// with room in the model's weights. 160 filters: in panels of 32, for the products with the
// filters in the lanes.
TEST(ConvWinograd, LargeLayersTakeTheSmallTile) {
  ConvCase c;
  c.channels = c.filters = 160;
  c.ballast = 20000;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({16, 5, 160, 32}));
}

// A model of 3x3 convolutions only: F(2x2) already grows its weights by 7/9, F(4x4) would
// triple them.
TEST(ConvWinograd, WithoutRoomInTheWeightsTheSmallTile) {
  ConvCase c;
  c.ballast = 0;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({16, 24, 32}));
}

// F(4x4) rounds more than the direct sum: 1e-4 of the values' scale.
constexpr double kLargeTileTolerance = 1e-4;

TEST(ConvWinograd, SameNumbersWithPartialTilesAndAnEpilogue) {
  expect_same_numbers(conv_model({}), input_size({}), kLargeTileTolerance);
}

// 64 filters: U in panels of 32, the products with the filters in the lanes, the output
// transformed 16 filters at a time; the batch's 24 tiles make one full group of 16 and one of 8.
// Then 9x30 planes without an activation, and 150x11 planes in blocks of 48 tiles, one of them
// over both images.
TEST(ConvWinograd, SameNumbersWithTheFiltersInTheLanes) {
  ConvCase c;
  c.filters = 64;
  c.ballast = 4000;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({36, 2, 32, 32}));
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
  c.relu = false;
  c.height = 9;
  c.width = 30;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
  c.relu = true;
  c.height = 150;
  c.width = 11;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
}

// 64 filters over 14x16 planes in F(2x2): blocks of 64 tiles fill two panels of 32, and the
// tiles stay in the lanes; 24 filters never fill a panel.
TEST(ConvWinograd, TilesStayInTheLanesWhereTheyFillWholePanels) {
  ConvCase c;
  c.filters = 64;
  c.height = 14;
  c.width = 16;
  c.ballast = 0;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({16, 64, 32}));
  c.filters = 24;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({16, 24, 32}));
}

// Without room in the weights for F(4x4)'s U, planes that its tiles fill (16x16, 12x12) take it
// from the 3x3 taps, stored by vectors of U: tiles in the lanes [filters, channels / 16, 9, 16],
// filters in the lanes (64 of them over the batch's 18 tiles) [filters / 32, channels, 2, 9, 16].
// 14x14 planes, padded to 16x16 by F(4x4)'s tiles, keep F(2x2).
TEST(ConvWinograd, TheTapsWhereTheWeightsHaveNoRoomAndThePlanesFillTheLargeTiles) {
  ConvCase c;
  c.ballast = 0;
  c.height = c.width = 16;
  const Graph g = run_pass(conv_model(c), make_conv_winograd());
  EXPECT_EQ(g.value(g.nodes[0].inputs[1]).shape, to_shape({24, 2, 9, 16}));
  EXPECT_EQ(g.nodes[0].attr_int("tile", 0), 4);
  c.height = c.width = 14;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({16, 24, 32}));
  c.filters = 64;
  c.height = c.width = 12;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({2, 32, 2, 9, 16}));
}

// F(4x4) from the taps: 64 channels to 24 filters over 16x16 planes, in slices of 16 channels,
// the batch's 32 tiles in one block; 150x8 planes in blocks of 32 tile rows of 2 tiles, one of
// them over both images; 64 filters (in the lanes) over 12x12 planes from 48 channels without
// an activation, and 32 filters from 96 channels in slices of 32.
TEST(ConvWinograd, SameNumbersFromTheTaps) {
  ConvCase c;
  c.ballast = 0;
  c.channels = 64;
  c.height = c.width = 16;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
  c.height = 150;
  c.width = 8;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
  c.channels = 48;
  c.filters = 64;
  c.height = c.width = 12;
  c.relu = false;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
  c.channels = 96;
  c.filters = 32;
  c.relu = true;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
}

// Stored F(4x4) U in slices of channels: 64 channels to 24 filters (slices of 16) over 13x11
// planes, tiles in the lanes; 96 channels to 32 filters (slices of 32), filters in the lanes.
TEST(ConvWinograd, SameNumbersInSlicesOfChannels) {
  ConvCase c;
  c.channels = 64;
  c.ballast = 6000;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({36, 24, 64}));
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
  c.channels = 96;
  c.filters = 32;
  c.ballast = 8000;
  EXPECT_EQ(transformed_filters_shape(c), to_shape({36, 1, 96, 32}));
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
}

// 14x15 planes (padded rows of 17 floats: through a padded plane), then 13x13 ones (padded rows
// built in one vector, shifted by 2 lanes) and, with pads of 2 at the top and 0 on the left,
// unshifted.
TEST(ConvWinograd, SameNumbersWithAsymmetricPadsAndNoActivation) {
  ConvCase c;
  c.pads = {0, 2, 1, 0};
  c.relu = false;
  c.height = 14;
  c.width = 15;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
  c.height = c.width = 13;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
  c.pads = {2, 0, 0, 2};
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
}

TEST(ConvWinograd, StridedOrSmallConvolutionsStayDirect) {
  ConvCase strided;
  strided.stride = 2;
  ConvCase few_tiles;
  few_tiles.height = few_tiles.width = 7;  // 16 tiles
  ConvCase few_channels;
  few_channels.channels = 8;
  for (const ConvCase& c : {strided, few_tiles, few_channels}) {
    int changes = 0;
    run_pass(conv_model(c), make_conv_winograd(), &changes);
    EXPECT_EQ(changes, 0);
  }
}

// F(4x4): the batch's 2 x 38 tile rows of 3 tiles go in blocks of 16 rows (48 tiles, 3 full
// vectors), the third one holding the first image's last 6 rows and the second's first 10,
// and a last block of 12: the blocks' products, output rows, bias and epilogue line up, the
// last output rows of each image a partial tile row (150 = 37 * 4 + 2).
TEST(ConvWinograd, SameNumbersOverSeveralBlocksOfTileRows) {
  ConvCase c;
  c.height = 150;
  c.width = 11;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
}

// F(2x2) (160 channels and filters, 41x10 planes that F(4x4)'s tiles would pad to 44x12): the
// batch's 2 x 21 tile rows of 5 tiles in blocks of 16, 16 (5 rows of the first image, 11 of the
// second) and 10 rows. Sums of 1440 products: the same relative tolerance as F(4x4)'s sums of 288.
TEST(ConvWinograd, SameNumbersInSmallTilesOverSeveralBlocks) {
  ConvCase c;
  c.channels = c.filters = 160;
  c.ballast = 0;
  c.height = 41;
  c.width = 10;
  expect_same_numbers(conv_model(c), input_size(c), kLargeTileTolerance);
}
