// ConvFilterPanels on tiny graphs: which convolutions put their filters along the lanes, and
// (compiled and run at -O 0 and -O extended) the numbers: a last panel of 15 filters, strides,
// dilations, asymmetric padding, batches of 2, a bias or none, a fused activation or none.
#include <gtest/gtest.h>

#include "ops/registry.hpp"
#include "pass_helpers.hpp"

using namespace sofiec;
using sofiec_test::expect_same_numbers;
using sofiec_test::ModelBuilder;
using sofiec_test::ops;
using sofiec_test::run_pass;

namespace {

struct ConvCase {
  int64_t channels = 20, filters = 47, size = 7, kernel = 3, stride = 1, dilation = 1;
  std::vector<int64_t> pads{1, 1, 1, 1};
  bool bias = true, relu = true;
};

// x [2, C, size, size] -> Conv (+ bias) [-> Relu]
ModelBuilder conv_model(const ConvCase& c) {
  ModelBuilder b(13);
  b.input("x", {2, c.channels, c.size, c.size}).output("y");
  b.init_floats("w", {c.filters, c.channels, c.kernel, c.kernel},
                sofiec_test::wave(c.filters * c.channels * c.kernel * c.kernel, 0.3f, 0.53f, 0.2f));
  std::vector<std::string> inputs{"x", "w"};
  if (c.bias) {
    b.init_floats("bias", {c.filters}, sofiec_test::wave(c.filters, 0.3f, 0.53f, 1.1f));
    inputs.push_back("bias");
  }
  onnx::NodeProto& n = b.node("Conv", inputs, {c.relu ? "c" : "y"}, "conv");
  ModelBuilder::attr_ints(n, "pads", c.pads);
  ModelBuilder::attr_ints(n, "strides", {c.stride, c.stride});
  ModelBuilder::attr_ints(n, "dilations", {c.dilation, c.dilation});
  if (c.relu) b.node("Relu", {"c"}, {"y"});
  return b;
}

std::size_t input_size(const ConvCase& c) { return std::size_t(2 * c.channels * c.size * c.size); }

// The case takes the filter panels, and its numbers at -O extended are those of -O 0.
void expect_panels_and_same_numbers(const ConvCase& c) {
  int changes = 0;
  run_pass(conv_model(c), make_conv_filter_panels(), &changes);
  EXPECT_EQ(changes, 1);
  expect_same_numbers(conv_model(c), input_size(c));
}

}  // namespace

TEST(ConvFilterPanels, SevenBySevenPlaneTakesFilterPanels) {
  int changes = 0;
  const Graph g = run_pass(conv_model({}), make_conv_filter_panels(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"FilterPanelConv", "Relu"}));
  EXPECT_EQ(g.nodes[0].domain, kSofiecDomain);
  EXPECT_EQ(g.value(g.nodes[0].inputs[1]).shape, to_shape({2, 20 * 9, 32}));
  EXPECT_EQ(g.value(g.nodes[0].outputs[0]).shape, to_shape({2, 47, 7, 7}));
}

TEST(ConvFilterPanels, SameNumbersWithAPartialPanelAndAnEpilogue) { expect_panels_and_same_numbers({}); }

TEST(ConvFilterPanels, SameNumbersStridedDilatedAsymmetricWithoutBias) {
  ConvCase c;
  c.size = 13;
  c.stride = 2;
  c.dilation = 2;
  c.pads = {0, 1, 0, 3};  // a 5-wide window: (13 - 5) / 2 + 1 = 5 rows, (13 + 4 - 5) / 2 + 1 = 7 columns
  c.bias = false;
  c.relu = false;
  expect_panels_and_same_numbers(c);
}

TEST(ConvFilterPanels, SameNumbersForAStridedPointwiseConv) {
  ConvCase c;
  c.size = 13;
  c.kernel = 1;
  c.stride = 2;
  c.pads = {0, 0, 0, 0};
  expect_panels_and_same_numbers(c);
}

TEST(ConvFilterPanels, SameNumbersForAStemLikeConvOfFilledPlanes) {
  ConvCase c;  // 7x7 / 2 from 3 channels, 22 x 22 positions, two full panels
  c.channels = 3;
  c.filters = 64;
  c.size = 44;
  c.kernel = 7;
  c.stride = 2;
  c.pads = {3, 3, 3, 3};
  expect_panels_and_same_numbers(c);
}

TEST(ConvFilterPanels, SameNumbersForAFilledUnitStrideConvWithAPartialChunk) {
  ConvCase c;  // 5x5 at 9x9: 81 positions, five chunks of 16 and one of 1
  c.size = 9;
  c.kernel = 5;
  c.pads = {2, 2, 2, 2};
  c.filters = 96;
  expect_panels_and_same_numbers(c);
}

TEST(ConvFilterPanels, SameNumbersOverSeveralDepthSlices) {
  ConvCase c;  // 130 channels x 9 taps: 1170, two slices of 585 summed through the tile
  c.channels = 130;
  c.filters = 80;  // two panels, then a last one of 16 filters
  expect_panels_and_same_numbers(c);
  c.size = 11;  // 121 positions: passes of 64 and 57
  c.filters = 47;
  expect_panels_and_same_numbers(c);
}

TEST(ConvFilterPanels, FilledPointwiseFewFiltersAndOnePositionStayConv) {
  ConvCase pointwise;  // 8x8: 64 positions fill their lanes, and the GEMM reads the image in place
  pointwise.size = 8;
  pointwise.kernel = 1;
  pointwise.pads = {0, 0, 0, 0};
  ConvCase few_filters;
  few_filters.filters = 24;
  ConvCase single;  // one position
  single.size = 1;
  single.pads = {0, 0, 0, 0};
  single.kernel = 1;
  for (const ConvCase& c : {pointwise, few_filters, single}) {
    int changes = 0;
    run_pass(conv_model(c), make_conv_filter_panels(), &changes);
    EXPECT_EQ(changes, 0) << c.size << " " << c.filters;
  }
}

TEST(ConvFilterPanels, FilledPlanesOfOtherKernelsTakeFilterPanels) {
  ConvCase padded_pointwise;  // 1x1 with padding: not y = W x
  padded_pointwise.size = 8;
  padded_pointwise.kernel = 1;
  ConvCase three_by_three;
  three_by_three.size = 8;
  for (const ConvCase& c : {padded_pointwise, three_by_three}) {
    int changes = 0;
    run_pass(conv_model(c), make_conv_filter_panels(), &changes);
    EXPECT_EQ(changes, 1) << c.kernel;
  }
}
