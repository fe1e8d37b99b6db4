// The emitter: float literals, identifiers, the skeleton's regions, headers that are
// deterministic and self-contained, and the interface that stays whatever the level.
#include <gtest/gtest.h>

#include "emit/emit_context.hpp"
#include "emit/templates.hpp"
#include "model_builder.hpp"
#include "pass_helpers.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"

using namespace sofiec;
using sofiec_test::load;
using sofiec_test::ModelBuilder;
using sofiec_test::shape_chain;

namespace {

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
