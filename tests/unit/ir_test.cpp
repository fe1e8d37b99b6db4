// The IR and the loader: element counts, shapes, tensor reads, the loader's graph checks and
// external data, and the half-precision conversions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kernels/prelude.hpp"
#include "model_builder.hpp"
#include "pass_helpers.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"

namespace fs = std::filesystem;
using namespace sofiec;
using sofiec_test::external_data_model;
using sofiec_test::load;
using sofiec_test::ModelBuilder;

namespace {

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

TEST(Half, RoundsToNearestEvenAndKeepsSpecials) {
  EXPECT_EQ(float16_t(1.0f).bits, 0x3c00);
  EXPECT_EQ(float16_t(65504.f).bits, 0x7bff);
  EXPECT_EQ(float16_t(65520.f).bits, 0x7c00);             // rounds up to infinity
  EXPECT_EQ(float16_t(1.0f + 1.0f / 2048).bits, 0x3c00);  // a tie goes to the even neighbour
  EXPECT_EQ(float16_t(1.0f + 3.0f / 2048).bits, 0x3c02);
  EXPECT_EQ(float16_t(5.96046448e-8f).bits, 0x0001);  // smallest subnormal
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

}  // namespace
