// SingleRowGemmSkippingZeros on tiny graphs: which products of one row take the compiler's
// ZeroSkippingGemm, and (compiled and run at -O 0 and -O extended) the numbers, with A after a
// ReLU (about half zeros): weights given transposed or not, alpha and beta, a
// scalar C, no C, several panels of columns and slices of depth, a fused activation.
#include <gtest/gtest.h>

#include <limits>

#include "ops/registry.hpp"
#include "pass_helpers.hpp"

using namespace sofiec;
using sofiec_test::expect_same_numbers;
using sofiec_test::ModelBuilder;
using sofiec_test::ops;
using sofiec_test::run_pass;

namespace {

struct ProductCase {
  int64_t rows = 1, k = 100, n = 40;
  bool matmul = false, trans_a = false, trans_b = true, relu_after = true;
  float alpha = 1.f, beta = 1.f;
  enum class Bias { Row, Scalar, RunTime, None } bias = Bias::Row;
  bool infinite_weight = false;
};

// x -> Relu -> Gemm (or MatMul) with constant weights [-> Relu]
ModelBuilder product_model(const ProductCase& c) {
  ModelBuilder b(13);
  b.input("x", c.trans_a ? std::vector<int64_t>{c.k, c.rows} : std::vector<int64_t>{c.rows, c.k}).output("y");
  std::vector<float> w = sofiec_test::wave(c.k * c.n, 0.4f, 0.37f, 0.3f);
  if (c.infinite_weight) w[5] = std::numeric_limits<float>::infinity();
  b.init_floats("w", c.trans_b ? std::vector<int64_t>{c.n, c.k} : std::vector<int64_t>{c.k, c.n}, w);
  b.node("Relu", {"x"}, {"r"});
  std::vector<std::string> inputs{"r", "w"};
  if (c.bias == ProductCase::Bias::Row) b.init_floats("c", {c.n}, sofiec_test::wave(c.n, 0.5f, 0.9f, 1.f));
  if (c.bias == ProductCase::Bias::Scalar) b.init_floats("c", {1}, {0.25f});
  if (c.bias == ProductCase::Bias::RunTime) b.input("c", {c.n});
  if (c.bias != ProductCase::Bias::None) inputs.push_back("c");
  const std::string product = c.relu_after ? "p" : "y";
  if (c.matmul) {
    b.node("MatMul", inputs, {product});
  } else {
    onnx::NodeProto& n = b.node("Gemm", inputs, {product}, "gemm");
    ModelBuilder::attr_int(n, "transA", c.trans_a);
    ModelBuilder::attr_int(n, "transB", c.trans_b);
    ModelBuilder::attr_float(n, "alpha", c.alpha);
    ModelBuilder::attr_float(n, "beta", c.beta);
  }
  if (c.relu_after) b.node("Relu", {"p"}, {"y"});
  return b;
}

void expect_skipping_and_same_numbers(const ProductCase& c) {
  int changes = 0;
  const Graph g = run_pass(product_model(c), make_single_row_gemm_skipping_zeros(), &changes);
  EXPECT_EQ(changes, 1);
  expect_same_numbers(product_model(c), std::size_t(c.rows * c.k));
}

int changes_for(const ProductCase& c) {
  int changes = 0;
  run_pass(product_model(c), make_single_row_gemm_skipping_zeros(), &changes);
  return changes;
}

}  // namespace

TEST(SingleRowGemmSkippingZeros, OneRowTakesTheWeightsInColumnPanels) {
  int changes = 0;
  const Graph g = run_pass(product_model({}), make_single_row_gemm_skipping_zeros(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"Relu", "ZeroSkippingGemm", "Relu"}));
  const Node& n = g.nodes[1];
  EXPECT_EQ(n.domain, kSofiecDomain);
  EXPECT_EQ(g.value(n.inputs[1]).shape, to_shape({100, 40}));
  // Row p, column j is w[j][p] (given [N, K]), in runs of 16 columns of 100 rows each: columns
  // 0-15 first, then 16-31, then the last 8 columns as [100][8].
  const Tensor& panels = *g.constant(n.inputs[1]);
  const std::vector<float> w = sofiec_test::wave(100 * 40, 0.4f, 0.37f, 0.3f);
  EXPECT_EQ(panels.data<float>()[3 * 16 + 7], w[7 * 100 + 3]);
  EXPECT_EQ(panels.data<float>()[1600 + 3 * 16 + 7], w[23 * 100 + 3]);
  EXPECT_EQ(panels.data<float>()[3200 + 3 * 8 + 7], w[39 * 100 + 3]);
  EXPECT_EQ(g.value(n.outputs[0]).shape, to_shape({1, 40}));
}

TEST(SingleRowGemmSkippingZeros, SameNumbersWithTransposedWeightsAndAnEpilogue) {
  expect_skipping_and_same_numbers({});
}

TEST(SingleRowGemmSkippingZeros, SameNumbersOverPanelsAndSlicesWithoutTransposedWeights) {
  ProductCase c;  // 150 columns: a panel of 8 vectors and one of 2 (the last 6 wide); 600 deep: 256 + 256 + 88
  c.k = 600;
  c.n = 150;
  c.trans_b = false;
  c.relu_after = false;
  expect_skipping_and_same_numbers(c);
}

TEST(SingleRowGemmSkippingZeros, SameNumbersWithAlphaAndBetaTimesAScalarC) {
  ProductCase c;
  c.alpha = 0.5f;
  c.beta = 2.f;
  c.bias = ProductCase::Bias::Scalar;
  c.n = 16;
  expect_skipping_and_same_numbers(c);
}

TEST(SingleRowGemmSkippingZeros, SameNumbersForAMatMulOfOneRow) {
  ProductCase c;
  c.matmul = true;
  c.trans_b = false;
  c.bias = ProductCase::Bias::None;
  c.n = 33;
  expect_skipping_and_same_numbers(c);
}

TEST(SingleRowGemmSkippingZeros, OtherProductsStayGemm) {
  ProductCase two_rows;
  two_rows.rows = 2;
  EXPECT_EQ(changes_for(two_rows), 0);
  ProductCase transposed_a;
  transposed_a.trans_a = true;
  EXPECT_EQ(changes_for(transposed_a), 0);
  ProductCase few_columns;  // 10 of a vector's 16 lanes: gemv_rows's dot products
  few_columns.n = 10;
  EXPECT_EQ(changes_for(few_columns), 0);
  ProductCase infinite;  // 0 * Inf is NaN: the zeros of A cannot be skipped
  infinite.infinite_weight = true;
  EXPECT_EQ(changes_for(infinite), 0);
  ProductCase scaled_run_time_c;  // beta * C would be computed at run time
  scaled_run_time_c.bias = ProductCase::Bias::RunTime;
  scaled_run_time_c.beta = 3.f;
  EXPECT_EQ(changes_for(scaled_run_time_c), 0);
  ProductCase run_time_c;  // a row as it is
  run_time_c.bias = ProductCase::Bias::RunTime;
  EXPECT_EQ(changes_for(run_time_c), 1);
}
