// Shape inference: broadcasting, half operators, control flow known at generation time, data-
// dependent dims and their bounds, and the shapes it must refuse.
#include <gtest/gtest.h>

#include "kernels/prelude.hpp"
#include "model_builder.hpp"
#include "ops/broadcast.hpp"
#include "pass_helpers.hpp"
#include "passes/passes.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"

using namespace sofiec;
using sofiec_test::load;
using sofiec_test::ModelBuilder;
using sofiec_test::shape_chain;

namespace {

TEST(Broadcast, MergesDimensionsAndFindsScalars) {
  EXPECT_EQ(plan_binary({2, 3}, {2, 3}, {2, 3}).kind, BinaryLayout::Kind::Same);
  EXPECT_EQ(plan_binary({2, 3}, {1}, {2, 3}).kind, BinaryLayout::Kind::ScalarB);
  const BinaryLayout l = plan_binary({4, 5, 6}, {5, 1}, {4, 5, 6});
  EXPECT_EQ(l.kind, BinaryLayout::Kind::Strided);
  EXPECT_EQ(l.dims, (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(l.b_strides, (std::vector<int64_t>{0, 1, 0}));
  const BinaryLayout row = plan_binary({4, 5, 6}, {6}, {4, 5, 6});
  EXPECT_EQ(row.dims, (std::vector<int64_t>{20, 6}));  // the two outer dims merge
  EXPECT_EQ(row.b_strides, (std::vector<int64_t>{0, 1}));
}

TEST(Broadcast, ThreeOperandsMergeWhereAllAgree) {
  // Where(cond [4,1,6], x [5,6], y scalar) -> [4,5,6]: no two dims walk alike for all three.
  const BroadcastLayout l = plan_broadcast({{4, 1, 6}, {5, 6}, {}}, {4, 5, 6});
  EXPECT_EQ(l.dims, (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(l.strides[0], (std::vector<int64_t>{6, 0, 1}));
  EXPECT_EQ(l.strides[1], (std::vector<int64_t>{0, 6, 1}));
  EXPECT_EQ(l.strides[2], (std::vector<int64_t>{0, 0, 0}));
  // Same-shaped operands and a row merge the two outer dims.
  const BroadcastLayout m = plan_broadcast({{4, 5, 6}, {4, 5, 6}, {6}}, {4, 5, 6});
  EXPECT_EQ(m.dims, (std::vector<int64_t>{20, 6}));
  EXPECT_EQ(m.flat_strides(), (std::vector<int64_t>{6, 1, 6, 1, 0, 1}));
}

TEST(Inference, HalfOperatorsComputeInFloat) {
  ModelBuilder b;
  b.input("x", {2}, onnx::TensorProto::FLOAT16).output("y", {2}, onnx::TensorProto::FLOAT16);
  b.node("Relu", {"x"}, {"y"}, "relu");
  Model m = load(b);
  infer_graph(m.graph);
  std::vector<std::string> ops;
  for (const Node& n : m.graph.nodes) ops.push_back(n.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Cast", "Relu", "Cast"}));
  EXPECT_EQ(m.graph.value(m.graph.nodes[1].outputs[0]).dtype, DType::Float);
  EXPECT_EQ(m.graph.value("y").dtype, DType::Float16);
}

TEST(Inference, NeededValuesNameTheirGraphInputs) {
  ModelBuilder b(18);
  b.input("x", {2, 3}).input("k", {1}, onnx::TensorProto::INT64).output("y");
  b.node("Neg", {"k"}, {"minus_k"});
  b.node("ReduceSum", {"x", "minus_k"}, {"y"});
  Model m = load(b);
  try {
    infer_graph(m.graph);
    FAIL();
  } catch (const NeedsValueError& e) {
    EXPECT_EQ(e.inputs, (std::vector<std::string>{"k"}));
  }
  CompileOptions o;
  o.frozen_inputs["k"] = frozen_value(m.graph, "k", {-2});  // Neg(-2) = axis 2 is out of range
  EXPECT_THROW(compile_model(m, o), Error);
  o.frozen_inputs["k"] = frozen_value(m.graph, "k", {-1});
  const CompiledModel c = compile_model(m, o);
  EXPECT_NE(c.header.find("void infer(const float* in_x, float* out_y)"), std::string::npos);
  EXPECT_THROW(frozen_value(m.graph, "x", {1}), Error);  // 1 value for 6 elements
}

TEST(Inference, KnownIfConditionsInlineTheirBranch) {
  ModelBuilder b;
  b.input("x", {2}).output("y", {2});
  b.init_ints("n", {}, {3});
  b.init_ints("three", {}, {3});
  b.node("Equal", {"n", "three"}, {"cond"});
  auto& n = b.node("If", {"cond"}, {"y"}, "choose");
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* a = n.add_attribute();
    a->set_name(branch);
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* g = a->mutable_g();
    g->set_name(branch);
    auto* node = g->add_node();
    node->set_op_type(std::string(branch) == "then_branch" ? "Relu" : "Neg");
    node->add_input("x");  // outer-scope tensor
    node->add_output("r");
    auto* out = g->add_output();
    out->set_name("r");
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  Model m = load(b);
  infer_graph(m.graph);
  std::vector<std::string> ops;
  for (const Node& node : m.graph.nodes) ops.push_back(node.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Equal", "Relu", "Identity"}));
  EXPECT_EQ(m.graph.nodes[1].outputs[0], "choose/r");
}

TEST(Inference, KnownSequencesBecomeTensorNodes) {
  ModelBuilder b(14);
  b.input("a", {2}).input("b", {2}).output("y", {4});
  b.init_ints("first", {}, {0});
  b.node("SequenceConstruct", {"a", "b"}, {"s"});
  b.node("SequenceErase", {"s", "first"}, {"t"});  // [b]
  b.node("SequenceInsert", {"t", "a"}, {"u"});     // [b, a]
  ModelBuilder::attr_int(b.node("ConcatFromSequence", {"u"}, {"y"}), "axis", 0);
  Model m = load(b);
  infer_graph(m.graph);
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].op_type, "Concat");
  EXPECT_EQ(m.graph.nodes[0].inputs, (std::vector<std::string>{"b", "a"}));
}

TEST(Inference, ScanUnrollsOverItsScanAxis) {
  ModelBuilder b(16);
  b.input("init", {2}).input("xs", {3, 2}).output("total", {2}).output("running", {3, 2});
  auto& n = b.node("Scan", {"init", "xs"}, {"total", "running"}, "scan");
  ModelBuilder::attr_int(n, "num_scan_inputs", 1);
  auto* a = n.add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  auto* g = a->mutable_g();
  for (const char* in : {"acc", "x"}) g->add_input()->set_name(in);
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->add_input("acc");
  add->add_input("x");
  add->add_output("sum");
  auto* copy = g->add_node();
  copy->set_op_type("Identity");
  copy->add_input("sum");
  copy->add_output("out");
  g->add_output()->set_name("sum");
  g->add_output()->set_name("out");
  Model m = load(b);
  infer_graph(m.graph);
  int adds = 0;
  for (const Node& node : m.graph.nodes) adds += node.op_type == "Add";
  EXPECT_EQ(adds, 3);
  EXPECT_EQ(shape_str(m.graph.value("running").shape), "[3,2]");
  EXPECT_EQ(shape_str(m.graph.value("total").shape), "[2]");
}

TEST(Inference, DataDependentDimsHaveAnUpperBound) {
  ModelBuilder b(13);
  b.input("x", {2, 3}).output("idx", {}, onnx::TensorProto::INT64);
  b.node("NonZero", {"x"}, {"idx"}, "nz");
  Model m = load(b);
  infer_graph(m.graph);
  const Shape& s = m.graph.value("idx").shape;
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], Dim(2));
  ASSERT_TRUE(m.graph.is_data_dependent(s[1]));
  EXPECT_EQ(m.graph.capacity_dims(s), (std::vector<int64_t>{2, 6}));
}

TEST(Inference, DataDependentTensorsOnlyLeaveTheGraph) {
  ModelBuilder b(13);
  b.input("x", {4}).output("y", {}, onnx::TensorProto::INT64);
  b.node("NonZero", {"x"}, {"idx"}, "nz");
  b.node("Neg", {"idx"}, {"y"}, "negate");
  Model m = load(b);
  try {
    infer_graph(m.graph);
    FAIL() << "expected UnsupportedError";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("'negate'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("decided by the data"), std::string::npos) << e.what();
  }
}

TEST(Inference, KnownInputsMakeDataDependentOutputsStatic) {
  ModelBuilder b(13);
  b.input("x", {3}).output("y");
  b.init_ints("values", {5}, {0, 7, 0, 7, 3});
  b.node("Unique", {"values"}, {"u"}, "unique");  // sorted: [0, 3, 7]
  b.node("Cast", {"u"}, {"uf"}, "cast").add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("to");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(onnx::TensorProto::FLOAT);
    return a;
  }());
  b.node("Add", {"x", "uf"}, {"y"});
  CompileOptions o;
  const CompiledModel c = compile_model(load(b), o);
  EXPECT_EQ(c.stats.nodes_after, 1u);
  EXPECT_NE(c.header.find("output_has_data_dependent_shape{{false}}"), std::string::npos);
}

TEST(Inference, LoopWithAKnownTripCountUnrolls) {
  ModelBuilder b(16);
  b.input("x", {2}).output("final", {2}).output("history", {3, 2});
  b.init_ints("trips", {}, {3});
  auto& n = b.node("Loop", {"trips", "", "x"}, {"final", "history"}, "loop");
  auto* a = n.add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  auto* g = a->mutable_g();
  for (const char* in : {"i", "cond", "acc"}) g->add_input()->set_name(in);
  auto* keep = g->add_node();
  keep->set_op_type("Identity");
  keep->add_input("cond");
  keep->add_output("cond_out");
  auto* twice = g->add_node();
  twice->set_op_type("Add");
  twice->add_input("acc");
  twice->add_input("acc");
  twice->add_output("next");
  auto* copy = g->add_node();
  copy->set_op_type("Identity");
  copy->add_input("next");
  copy->add_output("seen");
  for (const char* out : {"cond_out", "next", "seen"}) g->add_output()->set_name(out);
  Model m = load(b);
  infer_graph(m.graph);
  int adds = 0;
  for (const Node& node : m.graph.nodes) adds += node.op_type == "Add";
  EXPECT_EQ(adds, 3);
  EXPECT_EQ(shape_str(m.graph.value("history").shape), "[3,2]");
  EXPECT_EQ(shape_str(m.graph.value("final").shape), "[2]");
}

TEST(Inference, LoopThatComputesItsConditionIsRefused) {
  ModelBuilder b(16);
  b.input("x", {1}).output("final", {1});
  b.init_ints("trips", {}, {3});
  auto& n = b.node("Loop", {"trips", "", "x"}, {"final"}, "loop");
  auto* a = n.add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  auto* g = a->mutable_g();
  for (const char* in : {"i", "cond", "acc"}) g->add_input()->set_name(in);
  auto* stop = g->add_node();
  stop->set_op_type("Not");
  stop->add_input("cond");
  stop->add_output("cond_out");
  auto* copy = g->add_node();
  copy->set_op_type("Identity");
  copy->add_input("acc");
  copy->add_output("next");
  for (const char* out : {"cond_out", "next"}) g->add_output()->set_name(out);
  Model m = load(b);
  EXPECT_THROW(infer_graph(m.graph), UnsupportedError);
}

TEST(Inference, BroadcastMatMulAndSymbols) {
  ModelBuilder b;
  b.input("a", {-1, 1, 4, 5}, onnx::TensorProto::FLOAT, {"N"}).input("b", {3, 5, 6}).output("y");
  b.input("c", {6});
  b.node("MatMul", {"a", "b"}, {"m"});
  b.node("Add", {"m", "c"}, {"y"});
  Model m = load(b);
  infer_graph(m.graph);
  EXPECT_EQ(shape_str(m.graph.value("m").shape), "[N,3,4,6]");
  EXPECT_EQ(shape_str(m.graph.value("y").shape), "[N,3,4,6]");
}

TEST(Inference, RefusesContradictoryShapes) {
  ModelBuilder b;
  b.input("a", {2, 3}).input("b", {4, 5}).output("y");
  b.node("MatMul", {"a", "b"}, {"y"}, "mm");
  Model m = load(b);
  try {
    infer_graph(m.graph);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 'mm' (MatMul): inner dimensions differ"), std::string::npos) << e.what();
  }
}

TEST(Inference, ConvOutputShapes) {
  ModelBuilder b;
  b.input("x", {1, 4, 11, 9}).output("y");
  b.init_floats("w", {8, 2, 3, 3}, std::vector<float>(8 * 2 * 9, 0.f));
  auto& n = b.node("Conv", {"x", "w"}, {"y"});
  ModelBuilder::attr_int(n, "group", 2);
  ModelBuilder::attr_ints(n, "strides", {2, 1});
  ModelBuilder::attr_ints(n, "dilations", {1, 2});
  ModelBuilder::attr_ints(n, "pads", {1, 0, 1, 0});
  Model m = load(b);
  const Analysis a = infer_graph(m.graph);
  // H: (11 + 2 - 3) / 2 + 1 = 6; W: (9 - 5) / 1 + 1 = 5
  EXPECT_EQ(shape_str(m.graph.value("y").shape), "[1,8,6,5]");
  EXPECT_GT(a.workspace.at(m.graph.nodes[0].name), 0);
}

TEST(Inference, ShapeSubgraphsAreComputedAtGenerationTime) {
  Model m = load(shape_chain());
  const Analysis a = infer_graph(m.graph);
  EXPECT_EQ(shape_str(m.graph.value("y").shape), "[2,12]");
  ASSERT_TRUE(a.known.count("shape"));
  EXPECT_EQ(a.known.at("shape").as_ints(), (std::vector<int64_t>{2, -1}));
}

}  // namespace
