// Unit tests of the IR, the loader's graph checks, shape inference, the passes and the emitter.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "emit/emit_context.hpp"
#include "emit/templates.hpp"
#include "model_builder.hpp"
#include "kernels/prelude.hpp"
#include "ops/broadcast.hpp"
#include "passes/passes.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"

namespace fs = std::filesystem;
using namespace sofiec;
using sofiec_test::ModelBuilder;
using sofiec_test::external_data_model;

namespace {

Model load(const ModelBuilder& b) {
  const fs::path p = fs::temp_directory_path() / ("sofiec_unit_" + std::to_string(::getpid()) + ".onnx");
  b.save(p.string());
  Model m = load_model(p.string());
  fs::remove(p);
  return m;
}

TEST(Ir, ElementCountChecksOverflowAndSign) {
  EXPECT_EQ(element_count({2, 3, 4}), 24);
  EXPECT_EQ(element_count({}), 1);
  EXPECT_EQ(element_count({5, 0}), 0);
  EXPECT_THROW(element_count({int64_t(1) << 40, int64_t(1) << 40}), Error);
  EXPECT_THROW(element_count({-2}), Error);
}

TEST(Ir, ShapesPrintWithSymbols) {
  EXPECT_EQ(shape_str({Dim(2), Dim::symbolic("N"), Dim()}), "[2,N,?]");
  EXPECT_FALSE(is_static({Dim(2), Dim::symbolic("N")}));
}

TEST(Ir, TensorReadsAnyIntegerType) {
  const Tensor t = Tensor::from<int32_t>({3}, {-1, 0, 7});
  EXPECT_EQ(t.as_ints(), (std::vector<int64_t>{-1, 0, 7}));
  EXPECT_DOUBLE_EQ(Tensor::from<float>({1}, {2.5f}).float_at(0), 2.5);
}

TEST(Loader, SortsNodesAndTurnsConstantsIntoData) {
  ModelBuilder b;
  b.input("x", {2}).output("z", {2});
  b.node("Add", {"y", "c"}, {"z"}, "late");  // listed before its producer
  b.node("Relu", {"x"}, {"y"}, "early");
  auto& c = b.node("Constant", {}, {"c"});
  auto* a = c.add_attribute();
  a->set_name("value_float");
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(1.5f);
  const Model m = load(b);
  ASSERT_EQ(m.graph.nodes.size(), 2u);
  EXPECT_EQ(m.graph.nodes[0].name, "early");
  ASSERT_NE(m.graph.constant("c"), nullptr);
  EXPECT_FLOAT_EQ(float(m.graph.constant("c")->float_at(0)), 1.5f);
}

TEST(Loader, RefusesBrokenGraphs) {
  {
    ModelBuilder b;
    b.input("x", {2}).output("y");
    b.node("Relu", {"nothing"}, {"y"});
    EXPECT_THROW(load(b), Error);
  }
  {
    ModelBuilder b;
    b.input("x", {2}).output("y");
    b.node("Relu", {"x"}, {"y"});
    b.node("Relu", {"x"}, {"y"});
    EXPECT_THROW(load(b), Error);
  }
  {
    ModelBuilder b;
    b.input("x", {2}).output("b");
    b.node("Add", {"x", "b"}, {"a"});
    b.node("Relu", {"a"}, {"b"});
    try {
      load(b);
      FAIL() << "a cycle was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos);
    }
  }
  {
    ModelBuilder b;
    b.input("x", {2}).output("y");
    b.init_floats("w", {3}, {1, 2});  // dims say 3 values, data has 2
    b.node("Add", {"x", "w"}, {"y"});
    EXPECT_THROW(load(b), Error);
  }
}


TEST(Loader, ExternalDataMustStayInTheModelFolder) {
  const ModelBuilder b = external_data_model("../../etc/passwd");
  try {
    load(b);
    FAIL() << "an escaping external data path was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("leaves the model's folder"), std::string::npos) << e.what();
  }
}

TEST(Loader, ReadsExternalData) {
  const fs::path dir = fs::temp_directory_path() / ("sofiec_ext_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const float w[2] = {3.f, 4.f};
  std::ofstream(dir / "weights.bin", std::ios::binary).write(reinterpret_cast<const char*>(w), sizeof w);
  external_data_model("weights.bin").save((dir / "m.onnx").string());
  const Model m = load_model((dir / "m.onnx").string());
  fs::remove_all(dir);
  EXPECT_FLOAT_EQ(float(m.graph.constant("w")->float_at(1)), 4.f);
}

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

TEST(Half, RoundsToNearestEvenAndKeepsSpecials) {
  EXPECT_EQ(float16_t(1.0f).bits, 0x3c00);
  EXPECT_EQ(float16_t(65504.f).bits, 0x7bff);
  EXPECT_EQ(float16_t(65520.f).bits, 0x7c00);          // rounds up to infinity
  EXPECT_EQ(float16_t(1.0f + 1.0f / 2048).bits, 0x3c00);  // a tie goes to the even neighbour
  EXPECT_EQ(float16_t(1.0f + 3.0f / 2048).bits, 0x3c02);
  EXPECT_EQ(float16_t(5.96046448e-8f).bits, 0x0001);    // smallest subnormal
  EXPECT_TRUE(std::isnan(float(float16_t(std::nanf("")))));
  for (uint32_t b = 0; b < 0x7c00; ++b) {  // every finite half survives float and back
    float16_t h;
    h.bits = uint16_t(b);
    ASSERT_EQ(float16_t(float(h)).bits, b);
  }
  EXPECT_EQ(bfloat16_t(1.0f).bits, 0x3f80);
  EXPECT_EQ(bfloat16_t(1.0f + 1.0f / 256).bits, 0x3f80);  // tie to even
  EXPECT_EQ(bfloat16_t(1.0f + 3.0f / 256).bits, 0x3f82);
  EXPECT_FLOAT_EQ(float(bfloat16_t(-2.5f)), -2.5f);
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
  b.node("SequenceErase", {"s", "first"}, {"t"});         // [b]
  b.node("SequenceInsert", {"t", "a"}, {"u"});            // [b, a]
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

TEST(Emit, DataDependentOutputsReportTheirDims) {
  ModelBuilder b(13);
  b.input("x", {2, 3}).output("idx", {}, onnx::TensorProto::INT64);
  b.node("NonZero", {"x"}, {"idx"}, "nz");
  const std::string h = compile_model(load(b), CompileOptions{}).header;
  EXPECT_NE(h.find("output_has_data_dependent_shape{{true}}"), std::string::npos);
  EXPECT_NE(h.find("static constexpr int64_t output0_dims[] = {2, 6};"), std::string::npos);
  EXPECT_NE(h.find("output_dims_[1] = dim_nz_count;"), std::string::npos) << h.substr(h.find("void infer("), 800);
  EXPECT_NE(h.find("out.resize(std::size_t(output_shape(0).size()));"), std::string::npos);
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

// The exporter's way of writing x.reshape(x.shape[0], -1).
ModelBuilder shape_chain() {
  ModelBuilder b;
  b.input("x", {2, 3, 4}).output("y");
  b.init_ints("zero", {}, {0});
  b.init_ints("minus_one", {1}, {-1});
  b.node("Shape", {"x"}, {"s"});
  b.node("Gather", {"s", "zero"}, {"n"});
  b.node("Unsqueeze", {"n", "axes"}, {"n1"});
  b.init_ints("axes", {1}, {0});
  ModelBuilder::attr_int(b.node("Concat", {"n1", "minus_one"}, {"shape"}), "axis", 0);
  b.node("Reshape", {"x", "shape"}, {"y"});
  return b;
}

TEST(Inference, ShapeSubgraphsAreComputedAtGenerationTime) {
  Model m = load(shape_chain());
  const Analysis a = infer_graph(m.graph);
  EXPECT_EQ(shape_str(m.graph.value("y").shape), "[2,12]");
  ASSERT_TRUE(a.known.count("shape"));
  EXPECT_EQ(a.known.at("shape").as_ints(), (std::vector<int64_t>{2, -1}));
}

TEST(Passes, ConstantFoldingLeavesOnlyTheReshape) {
  Model m = load(shape_chain());
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

TEST(Emit, FloatsRoundTrip) {
  EXPECT_EQ(cpp_float(0.1f), "0.1f");
  EXPECT_EQ(cpp_float(1.0f), "1.0f");
  EXPECT_EQ(cpp_float(1e-5f), "1e-05f");
  EXPECT_EQ(cpp_float(0.1, DType::Double), "0.1");
  EXPECT_NE(cpp_float(std::numeric_limits<float>::infinity()).find("infinity"), std::string::npos);
}

TEST(Emit, IdentifiersAreSanitized) {
  EXPECT_EQ(sanitize_identifier("my-model.v2"), "my_model_v2");
  EXPECT_EQ(sanitize_identifier("3dcnn"), "m_3dcnn");
  EXPECT_EQ(sanitize_identifier("new"), "new_");
  EXPECT_EQ(sanitize_identifier("__x"), "m_x");
}

TEST(Emit, SkeletonRegionsMustMatch) {
  const std::string skeleton = "a\n//@begin x\nsample\n//@end x\nb\n";
  EXPECT_EQ(fill_skeleton(skeleton, {{"x", "filled\n"}}), "a\nfilled\nb\n");
  EXPECT_THROW(fill_skeleton(skeleton, {}), Error);
  EXPECT_THROW(fill_skeleton(skeleton, {{"x", ""}, {"y", ""}}), Error);
}

TEST(Emit, HeaderIsDeterministicAndSelfContained) {
  ModelBuilder b;
  b.input("x", {1, 2}).output("y");
  b.init_floats("w", {2, 2}, {1, 2, 3, 4});
  b.node("MatMul", {"x", "w"}, {"h"});
  b.node("Relu", {"h"}, {"y"});
  CompileOptions o;
  o.namespace_name = "tiny";
  const std::string first = compile_model(load(b), o).header;
  EXPECT_EQ(first, compile_model(load(b), o).header);
  EXPECT_NE(first.find("#ifndef TINY_SOFIEC_HXX_"), std::string::npos);
  EXPECT_NE(first.find("extern \"C\" void sgemm_("), std::string::npos);
  EXPECT_NE(first.find("void infer(const float* in_x, float* out_y)"), std::string::npos);
  EXPECT_NE(first.find("std::vector<float> infer(const float* in_x)"), std::string::npos);
  EXPECT_EQ(first.find("sofiec_skeleton"), std::string::npos);
  EXPECT_EQ(first.find("//@"), std::string::npos);
  // Only standard headers.
  for (std::size_t p = first.find("\n#include"); p != std::string::npos; p = first.find("\n#include", p + 1))
    EXPECT_EQ(first[first.find_first_not_of(' ', p + 9)], '<') << first.substr(p, 40);
}

TEST(Emit, LevelsChangeTheGraphNotTheInterface) {
  CompileOptions o0, ext;
  o0.level = OptLevel::O0;
  const CompiledModel a = compile_model(load(shape_chain()), o0), b = compile_model(load(shape_chain()), ext);
  EXPECT_EQ(a.stats.nodes_after, 5u);
  EXPECT_EQ(b.stats.nodes_after, 1u);
  EXPECT_NE(a.header.find("void infer(const float* in_x, float* out_y)"), std::string::npos);
  EXPECT_NE(b.header.find("void infer(const float* in_x, float* out_y)"), std::string::npos);
}

}  // namespace

namespace {

// Every input the fuzzer ever crashed the compiler with (tests/fuzz/regressions) is now
// refused with a sofiec::Error or compiled; nothing else may escape.
TEST(Fuzz, RegressionInputsAreRefusedCleanly) {
  const fs::path dir = fs::path(SOFIEC_SOURCE_DIR) / "tests" / "fuzz" / "regressions";
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ++count;
    try {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      compile_model(load_model_from_bytes(bytes, entry.path().string(), "/nonexistent/sofiec-fuzz"), CompileOptions{});
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << entry.path() << ": " << e.what();
    }
  }
  EXPECT_GT(count, 0);
}

}  // namespace
