// EdgeConvFactorization on the edge features torch writes for an EdgeConv (DGCNN,
// ParticleNet): the nodes it leaves, and the numbers of the factorized form against the
// graph as written (compiled and run at -O 0 and -O extended), for the three ways of
// building the edge features.
#include <gtest/gtest.h>

#include <algorithm>

#include "ops/registry.hpp"
#include "pass_helpers.hpp"

using namespace sofiec;
using sofiec_test::expect_same_numbers;
using sofiec_test::ModelBuilder;
using sofiec_test::ops;
using sofiec_test::run_pass;

namespace {

constexpr int64_t kBatch = 2, kChannels = 3, kPoints = 10, kK = 4, kFilters = 19;  // tiles of 16 and tails

enum class Features { CentreAndDifference, DifferenceAndCentre, CentreAndNeighbour };

// x [B, C, P] -> T = Transpose [B, P, C]; neighbours: Gather(Reshape(T, [B*P, C]), indices)
// reshaped [B, P, K, C]; centres: Expand(Unsqueeze(T, 2)); Concat on axis 3, Transpose to
// [B, 2C, P, K], Conv 1x1 with bias, Relu. Indices point across the batch, and some are
// negative (counted from the end of the B*P rows).
ModelBuilder edge_conv_model(Features features, bool concat_is_output = false) {
  ModelBuilder b(13);
  b.input("x", {kBatch, kChannels, kPoints}).output("y");
  if (concat_is_output) b.output("edges");
  std::vector<int64_t> indices(std::size_t(kBatch * kPoints * kK));
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = int64_t(i * 7 % 30) - 10;  // -10 .. 19
  b.init_ints("indices", {kBatch * kPoints * kK}, indices);
  b.init_ints("rows", {2}, {kBatch * kPoints, kChannels});
  b.init_ints("grouped", {4}, {kBatch, kPoints, kK, kChannels});
  b.init_ints("axis2", {1}, {2});
  b.init_floats("w", {kFilters, 2 * kChannels, 1, 1}, sofiec_test::wave(kFilters * 2 * kChannels, 0.7f, 0.9f, 0.2f));
  b.init_floats("bias", {kFilters}, sofiec_test::wave(kFilters, 0.3f, 1.7f, 0.5f));
  ModelBuilder::attr_ints(b.node("Transpose", {"x"}, {"t"}), "perm", {0, 2, 1});
  b.node("Reshape", {"t", "rows"}, {"flat"});
  b.node("Gather", {"flat", "indices"}, {"gathered"});
  b.node("Reshape", {"gathered", "grouped"}, {"neighbours"});
  b.node("Unsqueeze", {"t", "axis2"}, {"u"});
  b.node("Expand", {"u", "grouped"}, {"centres"});
  b.node("Sub", {"neighbours", "centres"}, {"difference"});
  std::vector<std::string> parts{"centres", "difference"};
  if (features == Features::DifferenceAndCentre) parts = {"difference", "centres"};
  if (features == Features::CentreAndNeighbour) parts = {"centres", "neighbours"};
  ModelBuilder::attr_int(b.node("Concat", parts, {"edges"}), "axis", 3);
  ModelBuilder::attr_ints(b.node("Transpose", {"edges"}, {"channels_first"}), "perm", {0, 3, 1, 2});
  b.node("Conv", {"channels_first", "w", "bias"}, {"c"});
  b.node("Relu", {"c"}, {"y"});
  return b;
}

}  // namespace

TEST(EdgeConvFactorization, ProductsRunPerPointAndEdgesGatherThem) {
  int changes = 0;
  const Graph g = run_pass(edge_conv_model(Features::CentreAndDifference), make_edge_conv_factorization(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"Transpose", "MatMul", "EdgeConvGather", "Relu"}));
  EXPECT_EQ(g.nodes[1].inputs[0], "t");
  EXPECT_EQ(g.value(g.nodes[1].outputs[0]).shape, to_shape({kBatch, kPoints, 2 * kFilters}));
  EXPECT_EQ(g.nodes[2].domain, kSofiecDomain);
  EXPECT_EQ(g.nodes[2].inputs[1], "indices");
  EXPECT_EQ(g.value(g.nodes[2].outputs[0]).shape, to_shape({kBatch, kFilters, kPoints, kK}));
}

TEST(EdgeConvFactorization, SameNumbersForEveryFormOfTheEdgeFeatures) {
  for (Features f : {Features::CentreAndDifference, Features::DifferenceAndCentre, Features::CentreAndNeighbour}) {
    SCOPED_TRACE(int(f));
    int changes = 0;
    run_pass(edge_conv_model(f), make_edge_conv_factorization(), &changes);
    EXPECT_EQ(changes, 1);
    expect_same_numbers(edge_conv_model(f), kBatch * kChannels * kPoints);
  }
}

TEST(EdgeConvFactorization, EdgeFeaturesReadElsewhereStay) {
  int changes = 0;
  const Graph g =
      run_pass(edge_conv_model(Features::CentreAndDifference, true), make_edge_conv_factorization(), &changes);
  EXPECT_EQ(changes, 0);
  const auto names = ops(g);
  EXPECT_EQ(std::count(names.begin(), names.end(), "EdgeConvGather"), 0);
}
