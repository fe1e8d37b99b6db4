// Each graph pass on a tiny graph: what it rewrites, what it must leave alone, and (by
// compiling and running the generated code at -O 0 and -O extended) that it keeps the numbers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "model_builder.hpp"
#include "pass_helpers.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"

namespace fs = std::filesystem;
using namespace sofiec;
using sofiec_test::ModelBuilder;

namespace {

using sofiec_test::expect_same_numbers;
using sofiec_test::load;
using sofiec_test::ops;
using sofiec_test::wave;
using sofiec_test::run_generated;
using sofiec_test::run_pass;

ModelBuilder conv_bn_relu() {
  ModelBuilder b;
  b.input("x", {1, 2, 4, 4}).output("y");
  b.init_floats("w", {3, 2, 3, 3}, std::vector<float>(54, 0.f));
  for (int i = 0; i < 54; ++i) b.proto().mutable_graph()->mutable_initializer(0)->set_float_data(i, std::cos(float(i)));
  b.init_floats("b", {3}, {0.1f, -0.2f, 0.3f});
  b.init_floats("scale", {3}, {1.5f, 0.5f, -1.f});
  b.init_floats("beta", {3}, {0.f, 1.f, -1.f});
  b.init_floats("mean", {3}, {0.2f, -0.1f, 0.f});
  b.init_floats("var", {3}, {1.f, 4.f, 0.25f});
  ModelBuilder::attr_ints(b.node("Conv", {"x", "w", "b"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
  b.node("BatchNormalization", {"c", "scale", "beta", "mean", "var"}, {"n"}, "bn");
  b.node("Relu", {"n"}, {"y"}, "relu");
  return b;
}

TEST(Passes, ConvBatchNormFoldsIntoTheWeights) {
  int changes = 0;
  const Graph g = run_pass(conv_bn_relu(), make_conv_batch_norm_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"Conv", "Relu"}));
  // Filter 1: k = 0.5 / sqrt(4 + 1e-5); bias' = (-0.2 + 0.1) * k + 1.
  const Tensor& bias = *g.constant(g.nodes[0].inputs[2]);
  EXPECT_NEAR(bias.data<float>()[1], (-0.2 - -0.1) * 0.5 / std::sqrt(4.00001) + 1.0, 1e-6);
  // The original weights are untouched (they could be shared).
  EXPECT_FLOAT_EQ(g.constant("w")->data<float>()[0], 1.f);
}

TEST(Passes, ActivationsBecomeTheEpilogue) {
  ModelBuilder b = conv_bn_relu();
  int changes = 0;
  const Graph g = run_pass(b, make_epilogue_fusion(), &changes);
  EXPECT_EQ(changes, 0);  // BatchNormalization stands between the Conv and the Relu
  Model m = load(b);
  Analysis a = infer_graph(m.graph);
  make_conv_batch_norm_fusion()->run(m.graph, a);
  EXPECT_EQ(make_epilogue_fusion()->run(m.graph, a), 1);
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].outputs[0], "y");
  ASSERT_EQ(m.graph.nodes[0].epilogue.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].epilogue[0].op_type, "Relu");
}

TEST(Passes, FusedConvKeepsTheNumbers) { expect_same_numbers(conv_bn_relu(), 32); }

TEST(Passes, EpilogueStopsAtATensorReadTwice) {
  ModelBuilder b;
  b.input("x", {2, 3}).output("y").output("z");
  b.init_floats("w", {3, 2}, {1, 2, 3, 4, 5, 6});
  b.node("MatMul", {"x", "w"}, {"m"});
  b.node("Relu", {"m"}, {"y"});
  b.node("Sigmoid", {"m"}, {"z"});
  int changes = 0;
  run_pass(b, make_epilogue_fusion(), &changes);
  EXPECT_EQ(changes, 0);
}

ModelBuilder matmul_add_tanh() {
  ModelBuilder b;
  b.input("x", {2, 3}).output("y");
  b.init_floats("w", {3, 2}, {1, -2, 3, 0.5f, -1, 2});
  b.init_floats("bias", {2}, {0.25f, -0.75f});
  b.node("MatMul", {"x", "w"}, {"m"});
  b.node("Add", {"m", "bias"}, {"a"});
  b.node("Tanh", {"a"}, {"y"});
  return b;
}

TEST(Passes, MatMulAddBecomesGemm) {
  int changes = 0;
  const Graph g = run_pass(matmul_add_tanh(), make_matmul_add_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"Gemm", "Tanh"}));
  expect_same_numbers(matmul_add_tanh(), 6);
}

// A with batch dims (torch's Linear on [batch, tracks, features]) and a bias Add then Gelu.
ModelBuilder batched_matmul_add_gelu() {
  ModelBuilder b(20);
  b.input("x", {2, 5, 3}).output("y");
  b.init_floats("w", {3, 18}, std::vector<float>(54, 0.f));
  for (int i = 0; i < 54; ++i) b.proto().mutable_graph()->mutable_initializer(0)->set_float_data(i, std::cos(float(i)));
  std::vector<float> bias(18);
  for (int i = 0; i < 18; ++i) bias[std::size_t(i)] = 0.1f * float(i) - 0.9f;
  b.init_floats("bias", {18}, bias);
  b.node("MatMul", {"x", "w"}, {"m"});
  b.node("Add", {"bias", "m"}, {"a"});
  b.node("Gelu", {"a"}, {"y"});
  return b;
}

TEST(Passes, BatchedMatMulAddBecomesOneProductWithABiasRow) {
  int changes = 0;
  const Graph g = run_pass(batched_matmul_add_gelu(), make_matmul_add_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  ASSERT_EQ(ops(g), (std::vector<std::string>{"MatMul", "Gelu"}));
  EXPECT_EQ(g.nodes[0].domain, "ai.sofiec");
  EXPECT_EQ(g.nodes[0].inputs.size(), 3u);
  expect_same_numbers(batched_matmul_add_gelu(), 30);
}

ModelBuilder conv_add() {
  ModelBuilder b;
  b.input("x", {1, 1, 3, 3}).output("y");
  b.init_floats("w", {2, 1, 1, 1}, {2.f, -1.f});
  b.init_floats("c", {1, 2, 1, 1}, {0.5f, 1.5f});
  b.node("Conv", {"x", "w"}, {"t"});
  b.node("Add", {"t", "c"}, {"y"});
  return b;
}

TEST(Passes, ConvAddJoinsTheBias) {
  const Graph g = run_pass(conv_add(), make_conv_add_fusion());
  ASSERT_EQ(ops(g), (std::vector<std::string>{"Conv"}));
  EXPECT_EQ(g.constant(g.nodes[0].inputs[2])->size(), 2);
  expect_same_numbers(conv_add(), 9);
}

ModelBuilder transposes(std::vector<int64_t> second) {
  ModelBuilder b;
  b.input("x", {2, 3, 4}).output("y");
  ModelBuilder::attr_ints(b.node("Transpose", {"x"}, {"t"}), "perm", {1, 2, 0});
  ModelBuilder::attr_ints(b.node("Transpose", {"t"}, {"u"}), "perm", second);
  b.node("Neg", {"u"}, {"y"});
  return b;
}

TEST(Passes, TransposePairsCancelOrMerge) {
  EXPECT_EQ(ops(run_pass(transposes({2, 0, 1}), make_transpose_pair_elimination())), (std::vector<std::string>{"Neg"}));
  const Graph merged = run_pass(transposes({1, 0, 2}), make_transpose_pair_elimination());
  ASSERT_EQ(ops(merged), (std::vector<std::string>{"Transpose", "Neg"}));
  EXPECT_EQ(merged.nodes[0].attr_ints("perm"), (std::vector<int64_t>{2, 1, 0}));
  expect_same_numbers(transposes({1, 0, 2}), 24);
  expect_same_numbers(transposes({2, 0, 1}), 24);
}

TEST(Passes, NoOpsDisappearEvenBeforeAGraphOutput) {
  ModelBuilder b(13);
  b.input("x", {2, 3}).output("y");
  b.node("Relu", {"x"}, {"r"});
  b.node("Identity", {"r"}, {"i"});
  ModelBuilder::attr_int(b.node("Cast", {"i"}, {"c"}), "to", onnx::TensorProto::FLOAT);
  b.node("Dropout", {"c"}, {"y"});
  int changes = 0;
  const Graph g = run_pass(b, make_noop_elimination(), &changes);
  EXPECT_EQ(changes, 3);
  ASSERT_EQ(ops(g), (std::vector<std::string>{"Relu"}));
  EXPECT_EQ(g.nodes[0].outputs[0], "y");
}

// torch's AvgPool2d: a Pad of zeros before the AveragePool goes; a Pad that shifts stays.
TEST(Passes, PadOfZerosDisappears) {
  auto padded = [](std::vector<int64_t> pads) {
    ModelBuilder b(13);
    b.input("x", {1, 2, 4, 4}).output("y");
    b.init_ints("pads", {8}, pads);
    b.node("Relu", {"x"}, {"r"});
    b.node("Pad", {"r", "pads"}, {"p"});
    onnx::NodeProto& pool = b.node("AveragePool", {"p"}, {"y"});
    ModelBuilder::attr_ints(pool, "kernel_shape", {2, 2});
    ModelBuilder::attr_ints(pool, "strides", {2, 2});
    return b;
  };
  EXPECT_EQ(ops(run_pass(padded({0, 0, 0, 0, 0, 0, 0, 0}), make_noop_elimination())),
            (std::vector<std::string>{"Relu", "AveragePool"}));
  EXPECT_EQ(ops(run_pass(padded({0, 0, 1, 0, 0, 0, -1, 0}), make_noop_elimination())),
            (std::vector<std::string>{"Relu", "Pad", "AveragePool"}));
  expect_same_numbers(padded({0, 0, 0, 0, 0, 0, 0, 0}), 32);
}

TEST(Passes, IdentityBetweenGraphInputAndOutputStays) {
  ModelBuilder b;
  b.input("x", {2}).output("y");
  b.node("Identity", {"x"}, {"y"});
  EXPECT_EQ(ops(run_pass(b, make_noop_elimination())), (std::vector<std::string>{"Identity"}));
}

ModelBuilder reshapes() {
  ModelBuilder b;
  b.input("x", {2, 6}).output("y");
  b.init_ints("s1", {3}, {3, 2, 2});
  b.init_ints("s2", {2}, {4, 3});
  b.node("Relu", {"x"}, {"r"});
  b.node("Reshape", {"r", "s1"}, {"a"});
  b.node("Reshape", {"a", "s2"}, {"c"});
  b.node("Sigmoid", {"c"}, {"y"});
  return b;
}

TEST(Passes, ReshapeChainsReadTheOriginalAndViewsCostNothing) {
  const Graph g = run_pass(reshapes(), make_reshape_chain_elimination());
  EXPECT_EQ(ops(g), (std::vector<std::string>{"Relu", "Reshape", "Sigmoid"}));
  EXPECT_EQ(find_aliases(g).at("c"), "r");
  Model m = load(reshapes());
  const Analysis a = infer_graph(m.graph);
  const MemoryPlan with_views = plan_memory(m.graph, a, true, true), copies = plan_memory(m.graph, a, true, false);
  EXPECT_EQ(with_views.arena_bytes, 64);  // only the Relu's output: 48 bytes, aligned
  EXPECT_GT(copies.arena_bytes, with_views.arena_bytes);
  expect_same_numbers(reshapes(), 12);
}

// Transposes of x [1, 3, 4]: (1, 0, 2) moves only the axis of 1 (memory order kept: a view);
// (0, 2, 1) swaps the 3 and the 4, and (2, 0, 1) takes [1, 4, 3] back to [3, 1, 4] (copies).
ModelBuilder unit_axis_transposes() {
  ModelBuilder b;
  b.input("x", {1, 3, 4}).output("y");
  b.node("Relu", {"x"}, {"r"});
  ModelBuilder::attr_ints(b.node("Transpose", {"r"}, {"t"}), "perm", {1, 0, 2});
  ModelBuilder::attr_ints(b.node("Transpose", {"r"}, {"u"}), "perm", {0, 2, 1});
  b.node("Sigmoid", {"t"}, {"s"});
  b.node("Neg", {"u"}, {"n"});
  ModelBuilder::attr_ints(b.node("Transpose", {"n"}, {"v"}), "perm", {2, 0, 1});
  b.node("Add", {"s", "v"}, {"y"});
  return b;
}

TEST(Passes, TransposeOfAxesOfOneIsAView) {
  Model m = load(unit_axis_transposes());
  infer_graph(m.graph);
  const auto aliases = find_aliases(m.graph);
  EXPECT_EQ(aliases.at("t"), "r");
  EXPECT_EQ(aliases.count("u"), 0u);
  EXPECT_EQ(aliases.count("v"), 0u);
  expect_same_numbers(unit_axis_transposes(), 12);
}

// x -> Relu -> Split along an axis with only 1s before it (contiguous chunks) -> per chunk
// LogSoftmax and LayerNormalization, which the arena lets write over their input.
ModelBuilder split_chunks() {
  ModelBuilder b(17);
  b.input("x", {1, 5, 4}).output("y");
  b.init_ints("sizes", {2}, {2, 3});
  b.init_floats("scale", {4}, {1.f, 0.5f, -1.f, 2.f});
  b.node("Relu", {"x"}, {"r"});
  ModelBuilder::attr_int(b.node("Split", {"r", "sizes"}, {"a", "c"}, "split"), "axis", 1);
  b.node("LogSoftmax", {"a"}, {"p"});
  b.node("Exp", {"c"}, {"e"});
  b.node("LayerNormalization", {"e", "scale"}, {"n"});
  b.node("Neg", {"n"}, {"q"});
  ModelBuilder::attr_int(b.node("Concat", {"p", "q"}, {"y"}), "axis", 1);
  return b;
}

TEST(Passes, SplitChunksAreViewsAndRowKernelsWriteInPlace) {
  Model m = load(split_chunks());
  const Analysis a = infer_graph(m.graph);
  std::map<std::string, int64_t> offsets;
  const auto aliases = find_aliases(m.graph, &offsets);
  EXPECT_EQ(aliases.at("a"), "r");
  EXPECT_EQ(aliases.at("c"), "r");
  EXPECT_EQ(offsets.count("a"), 0u);  // the first chunk starts the tensor
  EXPECT_EQ(offsets.at("c"), 8);      // 2 rows of 4
  EXPECT_TRUE(find_aliases(m.graph, nullptr, false).empty());
  const MemoryPlan plan = plan_memory(m.graph, a, true, true);
  EXPECT_EQ(plan.in_place.at("n"), "e");  // LayerNormalization over its input
  expect_same_numbers(split_chunks(), 20);
  // Views forced (the compiler keeps copies when they need less memory): same numbers.
  CompileOptions o;
  o.split_views = true;
  EXPECT_NE(compile_model(load(split_chunks()), o).header.find("// node 'split' (Split): a view of 'r', no copy"),
            std::string::npos);
  std::vector<float> x(20);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 0.7f) * 2.f;
  const auto copies = run_generated(split_chunks(), OptLevel::O0, x),
             views = run_generated(split_chunks(), OptLevel::Extended, x, true);
  ASSERT_EQ(copies.size(), views.size());
  for (std::size_t i = 0; i < copies.size(); ++i) EXPECT_NEAR(views[i], copies[i], 1e-6) << i;
}

TEST(Passes, SplitOfANonLeadingAxisIsCopied) {
  ModelBuilder b(17);
  b.input("x", {2, 4}).output("y");
  b.init_ints("sizes", {2}, {1, 3});
  b.node("Relu", {"x"}, {"r"});
  ModelBuilder::attr_int(b.node("Split", {"r", "sizes"}, {"a", "c"}, "split"), "axis", 1);
  b.node("Softmax", {"a"}, {"p"});
  b.node("Softmax", {"c"}, {"q"});
  ModelBuilder::attr_int(b.node("Concat", {"p", "q"}, {"y"}), "axis", 1);
  Model m = load(b);
  infer_graph(m.graph);
  EXPECT_TRUE(find_aliases(m.graph).empty());
  expect_same_numbers(b, 8);
}

}  // namespace

namespace {

// Two branches, each a big tensor reduced to a small one; the file runs both big steps first.
ModelBuilder two_branches() {
  ModelBuilder b(13);
  b.input("x", {4}).output("y");
  b.init_ints("reps", {1}, {256});
  b.node("Tile", {"x", "reps"}, {"a1"}, "a1");
  b.node("Tile", {"x", "reps"}, {"b1"}, "b1");
  b.node("ReduceSum", {"a1"}, {"a2"}, "a2");
  b.node("ReduceMax", {"b1"}, {"b2"}, "b2");
  ModelBuilder::attr_int(b.node("Concat", {"a2", "b2"}, {"y"}, "y"), "axis", 0);
  return b;
}

TEST(MemoryPlan, AMemoryAwareOrderLowersThePeak) {
  Model m = load(two_branches());
  const Analysis a = infer_graph(m.graph);
  std::vector<std::string> names;
  for (std::size_t i : memory_aware_order(m.graph, a)) names.push_back(m.graph.nodes[i].name);
  EXPECT_EQ(names, (std::vector<std::string>{"a1", "a2", "b1", "b2", "y"}));
  CompileOptions basic, extended;
  basic.level = OptLevel::Basic;
  const CompileStats file_order = compile_model(load(two_branches()), basic).stats;
  const CompileStats reordered = compile_model(load(two_branches()), extended).stats;
  EXPECT_TRUE(reordered.reordered);
  EXPECT_EQ(reordered.arena_bytes, 4096 + 2 * 64);  // at b2: b1, a2 and b2 are alive
  EXPECT_LT(reordered.arena_bytes, file_order.arena_no_reuse);
  expect_same_numbers(two_branches(), 4);
}

TEST(Report, ListsPassesFlopsAndMemory) {
  CompileOptions o;
  o.emit_header = false;
  const CompiledModel c = compile_model(load(conv_bn_relu()), o);
  EXPECT_TRUE(c.header.empty());
  EXPECT_EQ(c.stats.nodes_before, 3u);
  EXPECT_EQ(c.stats.nodes_after, 1u);
  // 2 * filters(3) * positions(16) * channels(2) * taps(9) for the conv, 48 for the fused Relu.
  EXPECT_EQ(c.stats.total_flops, 2 * 3 * 16 * 2 * 9 + 48);
  const std::string text = format_report(c.stats, "m.onnx", false);
  EXPECT_NE(text.find("ConvBatchNormFusion                1"), std::string::npos) << text;
  EXPECT_NE(text.find("Conv 'conv' + Relu"), std::string::npos) << text;
  const std::string json = format_report(c.stats, "m.onnx", true);
  EXPECT_NE(json.find("\"total_flops\": 1776"), std::string::npos) << json;
  EXPECT_NE(json.find("\"fused\": [\"Relu\"]"), std::string::npos) << json;
}

}  // namespace

namespace {

ModelBuilder silu_after_matmul() {
  ModelBuilder b;
  b.input("x", {2, 3}).output("y");
  b.init_floats("w", {3, 3}, {1, -2, 3, 0.5f, -1, 2, 0, 1, -1});
  b.node("MatMul", {"x", "w"}, {"m"});
  b.node("Sigmoid", {"m"}, {"s"});
  b.node("Mul", {"s", "m"}, {"y"});
  return b;
}

TEST(Passes, SiluPatternBecomesOneEpilogue) {
  Model m = load(silu_after_matmul());
  Analysis a = infer_graph(m.graph);
  EXPECT_EQ(make_silu_fusion()->run(m.graph, a), 1);
  EXPECT_EQ(ops(m.graph), (std::vector<std::string>{"MatMul", "Silu"}));
  EXPECT_EQ(m.graph.nodes[1].domain, kSofiecDomain);
  EXPECT_EQ(make_epilogue_fusion()->run(m.graph, a), 1);
  expect_same_numbers(silu_after_matmul(), 6);
}

// torch's GELU before opset 20: 0.5 * (x * (1 + erf(x / sqrt(2)))).
ModelBuilder erf_gelu() {
  ModelBuilder b;
  b.input("x", {2, 4}).output("y");
  b.init_floats("sqrt2", {}, {1.41421353816986083984375f});
  b.init_floats("one", {}, {1.f});
  b.init_floats("half", {}, {0.5f});
  b.node("Div", {"x", "sqrt2"}, {"d"});
  b.node("Erf", {"d"}, {"e"});
  b.node("Add", {"e", "one"}, {"a"});
  b.node("Mul", {"x", "a"}, {"m"});
  b.node("Mul", {"m", "half"}, {"y"});
  return b;
}

TEST(Passes, ErfGeluPatternBecomesOneNode) {
  int changes = 0;
  const Graph g = run_pass(erf_gelu(), make_gelu_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"Gelu"}));
  expect_same_numbers(erf_gelu(), 8);
}

ModelBuilder residual_relu() {
  ModelBuilder b;
  b.input("x", {2, 4}).output("y");
  b.init_floats("c", {4}, {0.5f, -1.f, 2.f, -0.25f});
  b.node("Add", {"x", "c"}, {"a"});
  b.node("Relu", {"a"}, {"y"});
  return b;
}

TEST(Passes, BinaryMapsTakeAnEpilogue) {
  int changes = 0;
  const Graph g = run_pass(residual_relu(), make_epilogue_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"Add"}));
  expect_same_numbers(residual_relu(), 8);
}

}  // namespace

namespace {

// torch's Linear at batch 1: Gemm with transB=1 and a constant weight.
// torch's Linear(3, columns) + ReLU over `rows` rows.
ModelBuilder linear(int64_t rows, int64_t columns = 6) {
  ModelBuilder b;
  b.input("x", {rows, 3}).output("y");
  std::vector<float> w, bias;
  for (int64_t i = 0; i < columns * 3; ++i) w.push_back(float(i % 7) * 0.5f - 1.f);
  for (int64_t j = 0; j < columns; ++j) bias.push_back(0.25f * float(j) - 0.75f);
  b.init_floats("w", {columns, 3}, w);
  b.init_floats("bias", {columns}, bias);
  ModelBuilder::attr_int(b.node("Gemm", {"x", "w", "bias"}, {"g"}, "linear"), "transB", 1);
  b.node("Relu", {"g"}, {"y"});
  return b;
}

TEST(Passes, BatchedGemmStoresItsWeightTransposed) {
  int changes = 0;
  const Graph g = run_pass(linear(3), make_gemm_weight_transpose(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(g.nodes[0].attr_int("transB", 1), 0);
  const Tensor& w = *g.constant(g.nodes[0].inputs[1]);
  EXPECT_EQ(w.dims, (std::vector<int64_t>{3, 6}));
  EXPECT_FLOAT_EQ(w.data<float>()[1], 0.5f);  // w^T[0][1] = w[1][0] = (3 % 7) * 0.5 - 1
  expect_same_numbers(linear(3), 9);
  run_pass(linear(64), make_gemm_weight_transpose(), &changes);
  EXPECT_EQ(changes, 1);
  expect_same_numbers(linear(64), 64 * 3);
  // The report counts the weights the code reads: the transposed copy, not the original too.
  CompileOptions o;
  o.level = OptLevel::Extended;
  EXPECT_EQ(compile_model(sofiec_test::load(linear(64)), o).stats.weights_bytes, int64_t((18 + 6) * sizeof(float)));
  // One row (one event) keeps the exporter's layout: gemv_rows reads its rows contiguously; so
  // do kDotColumns columns or fewer, which gemm_dot_rows takes as dot products of rows.
  run_pass(linear(1), make_gemm_weight_transpose(), &changes);
  EXPECT_EQ(changes, 0);
  for (int64_t columns : {1, 3, 4}) {
    run_pass(linear(9, columns), make_gemm_weight_transpose(), &changes);
    EXPECT_EQ(changes, 0) << columns;
    expect_same_numbers(linear(9, columns), 9 * 3);
  }
  run_pass(linear(9, 5), make_gemm_weight_transpose(), &changes);
  EXPECT_EQ(changes, 1);
}

// Keras's Dense (MatMul + Add, then Gemm with B as [K, N]) with a few columns over a batch: B is
// stored [N, K] for gemm_dot_rows' dot products; with more columns it stays as it is.
ModelBuilder dense_layer(int64_t rows, int64_t columns) {
  ModelBuilder b;
  b.input("x", {rows, 5}).output("y");
  std::vector<float> w;
  for (int64_t i = 0; i < 5 * columns; ++i) w.push_back(float(i % 5) * 0.5f - float(i % 3));
  b.init_floats("w", {5, columns}, w);
  b.init_floats("bias", {columns}, std::vector<float>(std::size_t(columns), 0.5f));
  b.node("Gemm", {"x", "w", "bias"}, {"y"}, "dense");
  return b;
}

TEST(Passes, FewColumnGemmStoresItsWeightAsColumns) {
  int changes = 0;
  const Graph g = run_pass(dense_layer(7, 3), make_gemm_weight_transpose(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(g.nodes[0].attr_int("transB", 0), 1);
  const Tensor& w = *g.constant(g.nodes[0].inputs[1]);
  EXPECT_EQ(w.dims, (std::vector<int64_t>{3, 5}));
  EXPECT_FLOAT_EQ(w.data<float>()[1], 1.5f);  // column 0, row 1: w[1][0], at 3 as given: (3 % 5) * 0.5 - 3 % 3
  expect_same_numbers(dense_layer(7, 3), 7 * 5);
  run_pass(dense_layer(7, 6), make_gemm_weight_transpose(), &changes);
  EXPECT_EQ(changes, 0);
  run_pass(dense_layer(1, 3), make_gemm_weight_transpose(), &changes);
  EXPECT_EQ(changes, 0);
}

}  // namespace

namespace {

// torch's Linear + BatchNorm1d at batch 2.
ModelBuilder linear_bn() {
  ModelBuilder b;
  b.input("x", {2, 3}).output("y");
  b.init_floats("w", {2, 3}, {1, -2, 3, 0.5f, -1, 2});
  b.init_floats("bias", {2}, {0.25f, -0.75f});
  b.init_floats("scale", {2}, {1.5f, -0.5f});
  b.init_floats("shift", {2}, {0.1f, 0.2f});
  b.init_floats("mean", {2}, {0.3f, -0.4f});
  b.init_floats("var", {2}, {2.f, 0.5f});
  ModelBuilder::attr_int(b.node("Gemm", {"x", "w", "bias"}, {"g"}, "linear"), "transB", 1);
  b.node("BatchNormalization", {"g", "scale", "shift", "mean", "var"}, {"y"}, "bn");
  return b;
}

TEST(Passes, GemmBatchNormFoldsIntoTheWeights) {
  int changes = 0;
  const Graph g = run_pass(linear_bn(), make_gemm_batch_norm_fusion(), &changes);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(ops(g), (std::vector<std::string>{"Gemm"}));
  expect_same_numbers(linear_bn(), 6);
}

// nn.LayerNorm(4) as torch exports it before opset 17.
ModelBuilder layer_norm_written_out(bool affine) {
  ModelBuilder b(13);
  b.input("x", {3, 4}).output("y");
  b.init_floats("two", {}, {2.f});
  b.init_floats("eps", {}, {1e-5f});
  b.init_floats("scale", {4}, {1.f, 0.5f, -1.f, 2.f});
  b.init_floats("bias", {4}, {0.1f, 0.f, -0.3f, 1.f});
  ModelBuilder::attr_ints(b.node("ReduceMean", {"x"}, {"m"}), "axes", {-1});
  b.node("Sub", {"x", "m"}, {"d"});
  b.node("Pow", {"d", "two"}, {"p"});
  ModelBuilder::attr_ints(b.node("ReduceMean", {"p"}, {"v"}), "axes", {-1});
  b.node("Add", {"v", "eps"}, {"ve"});
  b.node("Sqrt", {"ve"}, {"s"});
  b.node("Div", {"d", "s"}, {affine ? "n" : "y"});
  if (affine) {
    b.node("Mul", {"n", "scale"}, {"g"});
    b.node("Add", {"g", "bias"}, {"y"});
  }
  return b;
}

TEST(Passes, LayerNormWrittenOutBecomesOneNode) {
  for (bool affine : {true, false}) {
    int changes = 0;
    const Graph g = run_pass(layer_norm_written_out(affine), make_layer_norm_fusion(), &changes);
    EXPECT_EQ(changes, 1);
    ASSERT_EQ(ops(g), (std::vector<std::string>{"LayerNormalization"}));
    EXPECT_EQ(g.nodes[0].domain, kSofiecDomain);
    EXPECT_EQ(g.nodes[0].inputs.size(), affine ? 3u : 2u);
    EXPECT_FLOAT_EQ(g.nodes[0].attr_float("epsilon", 0), 1e-5f);
    expect_same_numbers(layer_norm_written_out(affine), 12);
  }
}

// Nearest Resize takes each output from one input, infinities included: its plan has one tap
// per position, copied (a second tap of weight 0 gives 0 * inf = NaN). 2x2 -> 4x4, IsInf after.
TEST(Emit, NearestResizeCopiesInfinities) {
  ModelBuilder b(13);
  b.input("x", {1, 1, 2, 2}).output("y");
  b.init_floats("scales", {4}, {1.f, 1.f, 2.f, 2.f});
  b.init_floats("roi", {0}, {});
  ModelBuilder::attr_string(b.node("Resize", {"x", "roi", "scales"}, {"r"}), "mode", "nearest");
  b.node("IsInf", {"r"}, {"inf"});
  ModelBuilder::attr_int(b.node("Cast", {"inf"}, {"y"}), "to", onnx::TensorProto::FLOAT);
  for (OptLevel level : {OptLevel::O0, OptLevel::Extended}) {
    const std::vector<float> y = run_generated(b, level, {1.f, INFINITY, -INFINITY, 4.f});
    ASSERT_EQ(y.size(), 16u);
    for (std::size_t i = 0; i < 16; ++i) {
      const std::size_t row = i / 4, col = i % 4;  // from input (row / 2, col / 2)
      const bool infinite = (row < 2 && col >= 2) || (row >= 2 && col < 2);
      EXPECT_EQ(y[i], infinite ? 1.f : 0.f) << "at " << i;
    }
  }
}

TEST(Passes, LayerNormPatternNeedsTheTrailingAxes) {
  ModelBuilder b = layer_norm_written_out(true);
  auto* axes = b.proto().mutable_graph()->mutable_node(0)->mutable_attribute(0);
  axes->clear_ints();
  axes->add_ints(0);
  int changes = 0;
  run_pass(b, make_layer_norm_fusion(), &changes);
  EXPECT_EQ(changes, 0);
}

TEST(Passes, ConstantFoldingLeavesOnlyTheReshape) {
  Model m = load(sofiec_test::shape_chain());
  Analysis a = infer_graph(m.graph);
  EXPECT_EQ(make_constant_folding()->run(m.graph, a), 4);
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].op_type, "Reshape");
  EXPECT_TRUE(m.graph.is_constant("shape"));
}

TEST(Passes, DeadNodesAreRemoved) {
  ModelBuilder b;
  b.input("x", {2}).output("y");
  b.node("Relu", {"x"}, {"y"});
  b.node("Exp", {"x"}, {"unused"});
  Model m = load(b);
  Analysis a = infer_graph(m.graph);
  EXPECT_EQ(make_dead_node_elimination()->run(m.graph, a), 1);
  EXPECT_EQ(m.graph.nodes.size(), 1u);
}

TEST(MemoryPlan, ReusesMemoryOfDeadTensors) {
  ModelBuilder b;
  b.input("x", {256}).output("y");
  b.node("Relu", {"x"}, {"a"});
  b.node("Exp", {"a"}, {"b"});
  b.node("Tanh", {"b"}, {"c"});
  b.node("Sigmoid", {"c"}, {"y"});
  Model m = load(b);
  const Analysis a = infer_graph(m.graph);
  const MemoryPlan reuse = plan_memory(m.graph, a, true), separate = plan_memory(m.graph, a, false);
  EXPECT_EQ(separate.arena_bytes, 3 * 1024);
  // Elementwise maps write over their input when it dies there: a, b and c are one buffer.
  EXPECT_EQ(reuse.arena_bytes, 1024);
  EXPECT_EQ(reuse.in_place.at("b"), "a");
  EXPECT_EQ(reuse.tensor_offsets.at("a"), reuse.tensor_offsets.at("b"));
  EXPECT_EQ(reuse.tensor_offsets.at("b"), reuse.tensor_offsets.at("c"));
}

TEST(MemoryPlan, ReusesMemoryByLifetime) {
  ModelBuilder b(13);
  b.input("x", {16, 16}).output("y");
  for (const char* step : {"a", "b", "c"}) {
    const std::string in = std::string(step) == "a" ? "x" : std::string(1, char(step[0] - 1));
    // Hardmax cannot write over its input (Softmax could): each step needs a new buffer.
    ModelBuilder::attr_int(b.node("Hardmax", {in}, {step}), "axis", 1);
  }
  b.node("Hardmax", {"c"}, {"y"});
  Model m = load(b);
  const Analysis a = infer_graph(m.graph);
  const MemoryPlan reuse = plan_memory(m.graph, a, true);
  EXPECT_EQ(reuse.arena_bytes, 2 * 1024);  // a and c share, b lives beside them
  EXPECT_EQ(reuse.lower_bound_bytes, 2 * 1024);
  EXPECT_EQ(reuse.tensor_offsets.at("a"), reuse.tensor_offsets.at("c"));
  EXPECT_NE(reuse.tensor_offsets.at("a"), reuse.tensor_offsets.at("b"));
}

}  // namespace

// Constant nodes with a trailing absent input (a Div and a Concat written with "" last, as the
// fuzzer writes them) fold from their present inputs: the evaluation sees the inputs inference
// saw, never a null one.
TEST(Passes, ConstantsFoldWithATrailingAbsentInput) {
  ModelBuilder b(13);
  b.input("x", {4}).output("y");
  b.init_floats("a", {2}, {3.f, 5.f});
  b.init_floats("b", {2}, {2.f, 4.f});
  b.node("Div", {"a", "b", ""}, {"q"});
  onnx::NodeProto& cat = b.node("Concat", {"q", "a", ""}, {"c"});
  ModelBuilder::attr_int(cat, "axis", 0);
  b.node("Add", {"x", "c"}, {"y"});
  for (OptLevel level : {OptLevel::O0, OptLevel::Extended})
    EXPECT_EQ(sofiec_test::run_generated(b, level, {1.f, 2.f, 3.f, 4.f}), (std::vector<float>{2.5f, 3.25f, 6.f, 9.f}));
}

// x [3, 5] -> Gemm (W [6, 5] transposed, bias) -> Relu -> MatMul (W [6, 7]) -> Add (bias row)
// -> Sigmoid -> Gemm (W [7, 2], no bias) -> y, and a second reader of the last layer's input
// in `side` (so that a chain must stop where its output is read elsewhere).
ModelBuilder dense_layers(bool side) {
  ModelBuilder b(13);
  b.input("x", {3, 5}).output("y");
  if (side) b.output("s");
  b.init_floats("w1", {6, 5}, wave(30, 0.4f, 0.7f, 0.1f));
  b.init_floats("b1", {6}, wave(6, 0.2f, 1.3f, 0.5f));
  b.init_floats("w2", {6, 7}, wave(42, 0.3f, 0.9f, 0.3f));
  b.init_floats("b2", {7}, wave(7, 0.1f, 0.5f, 0.2f));
  b.init_floats("w3", {7, 2}, wave(14, 0.5f, 1.1f, 0.9f));
  ModelBuilder::attr_int(b.node("Gemm", {"x", "w1", "b1"}, {"h1"}), "transB", 1);
  b.node("Relu", {"h1"}, {"a1"});
  b.node("MatMul", {"a1", "w2"}, {"m2"});
  b.node("Add", {"m2", "b2"}, {"h2"});
  b.node("Sigmoid", {"h2"}, {"a2"});
  if (side) b.node("Neg", {"a2"}, {"s"});
  b.node("Gemm", {"a2", "w3"}, {"y"});
  return b;
}

// The CUDA pass list up to DenseChainFusion on `b`.
Graph cuda_chain_graph(const ModelBuilder& b) {
  Model m = load(b);
  Analysis a = infer_graph(m.graph);
  for (auto& pass : passes_for_level(OptLevel::Extended, Target::Cuda)) {
    pass->run(m.graph, a);
    a = infer_graph(m.graph);
  }
  return m.graph;
}

TEST(Passes, DenseChainFusionPacksTheLayersOfASmallMlp) {
  const Graph g = cuda_chain_graph(dense_layers(false));
  ASSERT_EQ(ops(g), std::vector<std::string>{"DenseChain"});
  const Node& chain = g.nodes[0];
  EXPECT_EQ(chain.attr_ints("widths"), (std::vector<int64_t>{5, 6, 7, 2}));
  ASSERT_EQ(chain.epilogue.size(), 2u);
  EXPECT_EQ(chain.epilogue[0].op_type, "Relu");
  EXPECT_EQ(chain.epilogue[0].attr_int("layer", -1), 0);
  EXPECT_EQ(chain.epilogue[1].op_type, "Sigmoid");
  EXPECT_EQ(chain.epilogue[1].attr_int("layer", -1), 1);
  // The blob evaluated as the kernel reads it (per layer W [K][N padded to 4], then the bias
  // row) against the layers computed from the model's own weights.
  const Tensor& blob = g.constants.at(chain.inputs[1]);
  const float* p = blob.data<float>();
  EXPECT_EQ(blob.size(), (5 + 1) * 8 + (6 + 1) * 8 + (7 + 1) * 4);
  const std::vector<float> w1 = wave(30, 0.4f, 0.7f, 0.1f), b1 = wave(6, 0.2f, 1.3f, 0.5f),
                           w2 = wave(42, 0.3f, 0.9f, 0.3f), b2 = wave(7, 0.1f, 0.5f, 0.2f),
                           w3 = wave(14, 0.5f, 1.1f, 0.9f);
  const std::vector<float> x = wave(15, 1.f, 0.37f, 0.f);
  for (int r = 0; r < 3; ++r) {
    std::vector<float> a1(6), a2(7), packed1(6), packed2(7);
    for (int n = 0; n < 6; ++n) {
      float s = b1[std::size_t(n)], q = p[5 * 8 + n];
      for (int k = 0; k < 5; ++k) {
        s += x[std::size_t(r * 5 + k)] * w1[std::size_t(n * 5 + k)];
        q += x[std::size_t(r * 5 + k)] * p[k * 8 + n];
      }
      a1[std::size_t(n)] = std::max(s, 0.f);
      packed1[std::size_t(n)] = std::max(q, 0.f);
    }
    const float* l2 = p + 6 * 8;
    for (int n = 0; n < 7; ++n) {
      float s = b2[std::size_t(n)], q = l2[6 * 8 + n];
      for (int k = 0; k < 6; ++k) {
        s += a1[std::size_t(k)] * w2[std::size_t(k * 7 + n)];
        q += packed1[std::size_t(k)] * l2[k * 8 + n];
      }
      a2[std::size_t(n)] = 1.f / (1.f + std::exp(-s));
      packed2[std::size_t(n)] = 1.f / (1.f + std::exp(-q));
    }
    const float* l3 = l2 + 7 * 8;
    for (int n = 0; n < 2; ++n) {
      float s = 0.f, q = l3[7 * 4 + n];
      for (int k = 0; k < 7; ++k) {
        s += a2[std::size_t(k)] * w3[std::size_t(k * 2 + n)];
        q += packed2[std::size_t(k)] * l3[k * 4 + n];
      }
      EXPECT_NEAR(q, s, 1e-5f) << "row " << r << ", output " << n;
    }
    // The padding is zeros (the kernel copies it and must not see anything else).
    for (int k = 0; k <= 5; ++k) EXPECT_EQ(p[k * 8 + 6], 0.f);
  }
}

TEST(Passes, DenseChainFusionStopsAtAnOutputReadElsewhereAndOnTheCpu) {
  // Layers 1 and 2 chain; layer 2's output is also read by Neg: layer 3 stays a Gemm.
  const Graph g = cuda_chain_graph(dense_layers(true));
  EXPECT_EQ(ops(g), (std::vector<std::string>{"DenseChain", "Neg", "Gemm"}));
  EXPECT_EQ(g.nodes[0].attr_ints("widths"), (std::vector<int64_t>{5, 6, 7}));
  // The CPU target keeps its own products.
  Model m = load(dense_layers(false));
  Analysis a = infer_graph(m.graph);
  for (auto& pass : passes_for_level(OptLevel::Extended, Target::Cpu)) {
    pass->run(m.graph, a);
    a = infer_graph(m.graph);
  }
  for (const Node& n : m.graph.nodes) EXPECT_NE(n.op_type, "DenseChain");
}

// x [2, 3] -> Mul by s [3] -> Add b [1, 3] -> Relu -> Sub x -> Sigmoid -> y, and a Tanh of x
// read by the graph too (the fused tree stops at a tensor read twice).
ModelBuilder elementwise_tree() {
  ModelBuilder b(13);
  b.input("x", {2, 3}).output("y").output("t");
  b.init_floats("s", {3}, {0.5f, -1.f, 2.f});
  b.init_floats("b", {1, 3}, {0.1f, 0.2f, 0.3f});
  b.node("Tanh", {"x"}, {"t"});
  b.node("Mul", {"t", "s"}, {"m"});
  b.node("Add", {"m", "b"}, {"a"});
  b.node("Relu", {"a"}, {"r"});
  b.node("Sub", {"r", "x"}, {"d"});
  b.node("Sigmoid", {"d"}, {"y"});
  return b;
}

TEST(Passes, ElementwiseFusionMakesATreeOneKernel) {
  const Graph g = cuda_chain_graph(elementwise_tree());
  ASSERT_EQ(ops(g), (std::vector<std::string>{"Tanh", "FusedElementwise"}));
  const Node& f = g.nodes[1];
  EXPECT_EQ(f.inputs, (std::vector<std::string>{"t", "s", "b", "x"}));
  // (EpilogueFusion, which runs first, gave the Add its Relu and the Sub its Sigmoid.)
  std::vector<std::string> members;
  for (const Node& m : f.epilogue)
    for (const Node* n : {&m, m.epilogue.empty() ? nullptr : &m.epilogue[0]})
      if (n) members.push_back(n->op_type);
  EXPECT_EQ(members, (std::vector<std::string>{"Mul", "Add", "Relu", "Sub", "Sigmoid"}));
  // The CUDA header: one launch with the tree as one expression, each leaf broadcast by its strides.
  CompileOptions o;
  o.target = Target::Cuda;
  o.namespace_name = "m";
  const std::string h = compile_model(load(elementwise_tree()), o).header;
  EXPECT_NE(h.find("static constexpr detail::FusedShape shape{2, {2, 3, 1, 1, 1, 1}, {{3, 1, 0, 0, 0, 0}, {0, 1, 0, "
                   "0, 0, 0}, {0, 1, 0, 0, 0, 0}, {3, 1, 0, 0, 0, 0}}};"),
            std::string::npos);
  EXPECT_NE(h.find(", 6, shape, false, detail::unary(detail::op_sigmoid{}, detail::binary(detail::op_sub{}, "
                   "detail::unary(detail::op_relu{}, detail::binary(detail::op_add{}, detail::binary(detail::op_mul{}, "
                   "detail::leaf<0>(), detail::leaf<1>()), detail::leaf<2>())), detail::leaf<3>())), stream);"),
            std::string::npos)
      << h.substr(h.find("fused_map<"), 600);
}
