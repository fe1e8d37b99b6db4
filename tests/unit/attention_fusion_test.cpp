// AttentionFusion on tiny graphs: the patterns exporters write, what must stay unfused, and
// (compiled and run at -O 0 and -O extended) the numbers.
#include <gtest/gtest.h>

#include <algorithm>

#include "pass_helpers.hpp"

using namespace sofiec;
using sofiec_test::expect_same_numbers;
using sofiec_test::ModelBuilder;
using sofiec_test::ops;
using sofiec_test::run_pass;

namespace {

void weights(ModelBuilder& b, const std::string& name, std::vector<int64_t> dims, float phase) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<float> w(std::size_t(n), 0.f);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.4f * std::cos(float(i) * 0.37f + phase);
  b.init_floats(name, dims, w);
}

// torch's multi-head self-attention: x [1, T, 3*H*D] -> Reshape [1, T, 3, H, D] -> Transpose
// (2, 0, 3, 1, 4) -> Split -> Squeeze -> q, k, v [1, H, T, D]; K transposed; scores / sqrt(D);
// Softmax; times V; heads merged back by Transpose and Reshape, then a Linear.
ModelBuilder torch_attention(int64_t tokens, int64_t heads, int64_t size) {
  ModelBuilder b(13);
  const int64_t hidden = heads * size;
  b.input("x", {1, tokens, 3 * hidden}).output("y");
  b.init_ints("qkv_shape", {5}, {1, tokens, 3, heads, size});
  b.init_ints("merged_shape", {3}, {1, tokens, hidden});
  b.init_ints("chunks", {3}, {1, 1, 1});
  b.init_ints("axis0", {1}, {0});
  b.init_floats("root", {}, {std::sqrt(float(size))});
  weights(b, "w_out", {hidden, 5}, 0.3f);
  b.node("Reshape", {"x", "qkv_shape"}, {"r"});
  ModelBuilder::attr_ints(b.node("Transpose", {"r"}, {"t"}), "perm", {2, 0, 3, 1, 4});
  b.node("Split", {"t", "chunks"}, {"q5", "k5", "v5"});
  b.node("Squeeze", {"q5", "axis0"}, {"q"});
  b.node("Squeeze", {"k5", "axis0"}, {"k"});
  b.node("Squeeze", {"v5", "axis0"}, {"v"});
  ModelBuilder::attr_ints(b.node("Transpose", {"k"}, {"kt"}), "perm", {0, 1, 3, 2});
  b.node("MatMul", {"q", "kt"}, {"s"});
  b.node("Div", {"s", "root"}, {"scaled"});
  ModelBuilder::attr_int(b.node("Softmax", {"scaled"}, {"p"}), "axis", -1);
  b.node("MatMul", {"p", "v"}, {"o"});
  ModelBuilder::attr_ints(b.node("Transpose", {"o"}, {"merged"}), "perm", {0, 2, 1, 3});
  b.node("Reshape", {"merged", "merged_shape"}, {"flat"});
  b.node("MatMul", {"flat", "w_out"}, {"y"});
  return b;
}

TEST(AttentionFusion, TorchMultiHeadAttentionBecomesOneNodeWithoutCopies) {
  int changes = 0;
  const Graph g = run_pass(torch_attention(6, 2, 3), make_attention_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  // The head split and merge are strides now (reading the graph input itself); the Reshape
  // that remains is a view.
  EXPECT_EQ(ops(g), (std::vector<std::string>{"ScaledDotAttention", "Reshape", "MatMul"}));
  const Node& a = g.nodes[0];
  EXPECT_EQ(a.domain, "ai.sofiec");
  EXPECT_EQ(a.inputs, (std::vector<std::string>{"x", "x", "x"}));
  EXPECT_EQ(a.outputs, std::vector<std::string>{"merged"});
  EXPECT_EQ(a.attr_ints("offsets"), (std::vector<int64_t>{0, 6, 12}));             // q, k, v chunks of a row
  EXPECT_EQ(a.attr_ints("q_strides"), (std::vector<int64_t>{0, 0, 0, 3, 18, 1}));  // head, token, feature
  EXPECT_EQ(a.attr_ints("k_strides"), (std::vector<int64_t>{0, 0, 0, 3, 1, 18}));  // K^T: feature, token
  EXPECT_EQ(a.attr_ints("y_strides"), (std::vector<int64_t>{0, 0, 36, 3, 6, 1}));  // written merged
  EXPECT_EQ(a.attr_int("divide", 0), 1);
  EXPECT_FLOAT_EQ(a.attr_float("scale", 0), std::sqrt(3.f));
}

TEST(AttentionFusion, KeepsTheNumbersAcrossBlockAndLaneTails) {
  // 6 query rows (a block of 4 and 2), 6 keys (a partial 16-lane block): against -O 0.
  expect_same_numbers(torch_attention(6, 2, 3), 6 * 18);
  // 21 keys and heads of 20 features (two column blocks, the second partial).
  expect_same_numbers(torch_attention(21, 2, 20), 21 * 120);
  // Heads of 16 and 32 features, whole vectors: Q and V read in place from the input's rows
  // (blocks of 4 queries; the last, partial one copied), 9 keys and 37 (3 vectors, padded).
  expect_same_numbers(torch_attention(9, 2, 16), 9 * 96);
  expect_same_numbers(torch_attention(37, 3, 32), 37 * 288);
}

// Q [2, 5, 4] x K^T [2, 4, 19] * 0.5 -> Softmax -> x V [2, 19, 18]; Q and K^T computed, V an input.
ModelBuilder plain_attention(int64_t softmax_axis) {
  ModelBuilder b(13);
  b.input("x", {2, 5, 4}).output("y");
  weights(b, "wk", {2, 5, 19}, 1.1f);
  weights(b, "v", {2, 19, 18}, 2.3f);
  b.init_floats("half", {1}, {0.5f});
  b.node("Relu", {"x"}, {"q"});
  ModelBuilder::attr_ints(b.node("Transpose", {"x"}, {"xt"}), "perm", {0, 2, 1});
  b.node("MatMul", {"xt", "wk"}, {"kt"});
  b.node("MatMul", {"q", "kt"}, {"s"});
  b.node("Mul", {"half", "s"}, {"scaled"});
  ModelBuilder::attr_int(b.node("Softmax", {"scaled"}, {"p"}), "axis", softmax_axis);
  b.node("MatMul", {"p", "v"}, {"y"});
  return b;
}

TEST(AttentionFusion, ScaleByMulAndOperandsWithoutViews) {
  int changes = 0;
  const Graph g = run_pass(plain_attention(2), make_attention_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g).back(), "ScaledDotAttention");
  EXPECT_EQ(g.nodes.back().attr_int("divide", 1), 0);
  EXPECT_EQ(g.nodes.back().outputs, std::vector<std::string>{"y"});  // a graph output, written directly
  expect_same_numbers(plain_attention(-1), 40);
}

TEST(AttentionFusion, SoftmaxOverAnotherAxisIsNotAttention) {
  int changes = 0;
  const Graph g = run_pass(plain_attention(1), make_attention_fusion(), &changes);
  EXPECT_EQ(changes, 0);
  const auto names = ops(g);
  EXPECT_EQ(std::count(names.begin(), names.end(), "Softmax"), 1);
  expect_same_numbers(plain_attention(1), 40);
}

TEST(AttentionFusion, ScoresReadElsewhereStayUnfused) {
  ModelBuilder b = plain_attention(-1);
  b.proto().mutable_graph()->add_output()->set_name("p");  // the probabilities are wanted too
  int changes = 0;
  run_pass(b, make_attention_fusion(), &changes);
  EXPECT_EQ(changes, 0);
}

}  // namespace
