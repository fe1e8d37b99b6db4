// Hostile and broken models: each is refused with a sofiec::Error whose one-line message
// names the problem, and nothing else escapes (no crash, no other exception, no huge
// allocation). The fuzzer (tests/fuzz) searches for more; these are the known shapes of attack.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "model_builder.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"

namespace fs = std::filesystem;
using namespace sofiec;
using sofiec_test::ModelBuilder;

namespace {

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sofiec_hostile_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "model");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Loads and compiles; expects an Error mentioning `words` on one line.
  void expect_refused(const ModelBuilder& b, const std::string& words) {
    const fs::path p = dir_ / "model" / "m.onnx";
    b.save(p.string());
    try {
      compile_model(load_model(p.string()), CompileOptions{});
      ADD_FAILURE() << "accepted; expected an error about: " << words;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(words), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "escaped as " << typeid(e).name() << ": " << e.what();
    }
  }
  fs::path dir_;
};

TEST_F(Hostile, ElementCountsThatOverflow) {
  ModelBuilder b;
  b.input("x", {int64_t(1) << 40, int64_t(1) << 40}).output("y");
  b.node("Relu", {"x"}, {"y"});
  expect_refused(b, "too large");
}

TEST_F(Hostile, InitializerClaimingHugeDimsWithLittleData) {
  ModelBuilder b;
  b.input("x", {2}).output("y");
  b.init_floats("w", {int64_t(1) << 31, int64_t(1) << 20}, {1.f, 2.f});  // 2^51 elements claimed
  b.node("Add", {"x", "w"}, {"y"});
  expect_refused(b, "holds 2 values but its dims say");
}

TEST_F(Hostile, InitializerLongerThanItsDims) {
  ModelBuilder b;
  b.input("x", {2}).output("y");
  b.init_floats("w", {2}, {1.f, 2.f, 3.f});
  b.node("Add", {"x", "w"}, {"y"});
  expect_refused(b, "holds 3 values but its dims say 2");
}

TEST_F(Hostile, NegativeDims) {
  ModelBuilder b;
  b.input("x", {2}).output("y");
  b.init_floats("w", {2}, {1.f, 2.f});
  b.proto().mutable_graph()->mutable_initializer(0)->set_dims(0, -2);
  b.node("Add", {"x", "w"}, {"y"});
  expect_refused(b, "negative dimension");
}

TEST_F(Hostile, ExternalDataOutsideTheFolder) {
  expect_refused(sofiec_test::external_data_model("/etc/passwd"), "is absolute");
  expect_refused(sofiec_test::external_data_model("../../../../etc/passwd"), "leaves the model's folder");
  fs::create_symlink("/etc/passwd", dir_ / "model" / "link.bin");
  expect_refused(sofiec_test::external_data_model("link.bin"), "leaves the model's folder");
  fs::create_directories(dir_ / "model" / "sub");
  expect_refused(sofiec_test::external_data_model("sub"), "not a regular file");
  std::ofstream(dir_ / "model" / "w.bin", std::ios::binary) << std::string(8, '\0');
  expect_refused(sofiec_test::external_data_model("w.bin", "12x"), "is not a byte count");
  expect_refused(sofiec_test::external_data_model("w.bin", "4"), "holds 4 bytes");
}

TEST_F(Hostile, GraphStructure) {
  {
    ModelBuilder b;
    b.input("x", {2}).output("y").output("z");
    b.node("Relu", {"x"}, {"y"});
    expect_refused(b, "'z'");  // a graph output nothing produces
  }
  {
    ModelBuilder b;
    b.input("x", {2}).output("y");
    b.node("Relu", {"undefined"}, {"y"});
    expect_refused(b, "'undefined'");
  }
  {
    ModelBuilder b;
    b.input("x", {2}).output("y");
    b.node("Relu", {"x"}, {"y"});
    b.node("Neg", {"x"}, {"y"});
    expect_refused(b, "'y'");
  }
}

TEST_F(Hostile, Attributes) {
  {
    ModelBuilder b;
    b.input("a", {2}).input("c", {2}).output("y");
    b.node("Concat", {"a", "c"}, {"y"}, "cat");  // axis is required
    expect_refused(b, "'cat'");
  }
  {
    ModelBuilder b;
    b.input("a", {2}).input("c", {2}).output("y");
    auto& n = b.node("Concat", {"a", "c"}, {"y"}, "cat");
    auto* a = n.add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(0.5f);
    expect_refused(b, "'cat'");
  }
}

TEST_F(Hostile, ShapesThatContradictTheOperator) {
  {
    ModelBuilder b;
    b.input("a", {2, 3}).input("w", {4, 5}).output("y");
    b.node("Gemm", {"a", "w"}, {"y"}, "gemm");
    expect_refused(b, "node 'gemm' (Gemm)");
  }
  {
    ModelBuilder b;
    b.input("x", {1, 3, 5, 5}).output("y");
    b.init_floats("w", {4, 2, 1, 1}, std::vector<float>(8, 1.f));
    b.node("Conv", {"x", "w"}, {"y"}, "conv");
    expect_refused(b, "node 'conv' (Conv)");
  }
  {
    ModelBuilder b;
    b.input("x", {2, 3}).output("y");
    b.init_ints("shape", {1}, {7});
    b.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
    expect_refused(b, "cannot reshape");
  }
}

TEST_F(Hostile, ConstantIndicesOutOfRange) {
  ModelBuilder b;
  b.input("x", {3}).output("y");
  b.init_ints("i", {1}, {3});
  b.node("Gather", {"x", "i"}, {"y"}, "gather");
  expect_refused(b, "out of range");
}

TEST_F(Hostile, OpsetNewerThanTheCompilerKnows) {
  ModelBuilder b(99);
  b.input("x", {2}).output("y");
  b.node("Relu", {"x"}, {"y"});
  expect_refused(b, "opset 99");
}

TEST_F(Hostile, SubgraphsNestedTooDeep) {
  ModelBuilder b(13);
  b.input("x", {1}).input("c", {}, onnx::TensorProto::BOOL).output("y");
  onnx::NodeProto* node = &b.node("If", {"c"}, {"y"}, "if0");
  for (int depth = 0; depth < 20; ++depth) {
    auto* a = node->add_attribute();
    a->set_name("then_branch");
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* g = a->mutable_g();
    g->add_output()->set_name("y");
    node = g->add_node();
    node->set_op_type("If");
    node->add_input("c");
    node->add_output("y");
  }
  expect_refused(b, "nested deeper");
}

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
