// Runs a generated model with run-time dims at every size torch computed (NAME.cases: the
// dims' values, then the output's dims), in one Session built for the largest values, and
// checks values, reported shapes and the refusal of values above the maxima. Built once per
// model by tests/CMakeLists.txt with MODEL_HEADER, MODEL_NS and MODEL_DATA (file prefix).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include MODEL_HEADER
#include "model_cases.hpp"

namespace {

using Session = MODEL_NS::Session;
constexpr std::size_t kDims = Session::num_dims;
using Dims = std::array<std::size_t, kDims>;

using Case = model_cases::Case<kDims>;

std::vector<Case> read_cases() {
  std::vector<Case> cases = model_cases::read<kDims>(std::string(MODEL_DATA) + ".cases");
  EXPECT_FALSE(cases.empty()) << "cannot read " << MODEL_DATA << ".cases";
  return cases;
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<float> v(std::size_t(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  return v;
}

template <std::size_t... I> std::unique_ptr<Session> make_session(const Dims& maxima, std::index_sequence<I...>) {
  return std::make_unique<Session>(maxima[I]...);
}

template <std::size_t... I> void run(Session& s, const Dims& d, const float* x, float* y, std::index_sequence<I...>) {
  s.infer(d[I]..., x, y);
}

template <std::size_t... I>
std::vector<float> run_vector(Session& s, const Dims& d, const float* x, std::index_sequence<I...>) {
  return s.infer(d[I]..., x);
}

template <std::size_t... I>
void run_on(const Session& s, MODEL_NS::Workspace& w, const Dims& d, const float* x, float* y, std::index_sequence<I...>) {
  s.infer(w, d[I]..., x, y);
}

constexpr auto kSeq = std::make_index_sequence<kDims>();

TEST(DynamicModel, MatchesTorchAtEverySize) {
  static_assert(Session::num_inputs == 1 && Session::num_outputs == 1, "test models have one input and one output");
  const std::vector<Case> cases = read_cases();
  ASSERT_GE(cases.size(), 3u);
  const Dims maxima = cases.back().dims;  // the last case is at the maxima
  auto session = make_session(maxima, kSeq);
  MODEL_NS::Workspace workspace(*session);
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const std::string prefix = std::string(MODEL_DATA) + "." + std::to_string(c);
    const std::vector<float> x = read_floats(prefix + ".input.bin");
    const std::vector<float> expected = read_floats(prefix + ".output.bin");
    std::vector<float> y(expected.size());
    run(*session, cases[c].dims, x.data(), y.data(), kSeq);
    double worst = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      const double err = std::fabs(double(y[i]) - double(expected[i])) / std::max(1.0, std::fabs(double(expected[i])));
      worst = std::max(worst, err);
      ASSERT_LE(err, 1e-4) << "case " << c << ", element " << i << ": " << y[i] << " vs torch " << expected[i];
    }
    const auto shape = session->output_shape(0);
    ASSERT_EQ(shape.rank, cases[c].output_dims.size());
    for (std::size_t d = 0; d < shape.rank; ++d)
      EXPECT_EQ(shape.dims[d], cases[c].output_dims[d]) << "case " << c << ", dim " << d;
    std::printf("case %zu: max relative difference to torch %.3g over %zu values\n", c, worst, y.size());
    // The vector form gives the same bits, sized by the dims' values.
    const std::vector<float> again = run_vector(*session, cases[c].dims, x.data(), kSeq);
    ASSERT_EQ(again.size(), y.size());
    EXPECT_EQ(std::memcmp(again.data(), y.data(), y.size() * sizeof(float)), 0);
    // So does the const infer() on a Workspace of the caller's, which records the dims too.
    std::vector<float> on_workspace(y.size());
    run_on(*session, workspace, cases[c].dims, x.data(), on_workspace.data(), kSeq);
    EXPECT_EQ(std::memcmp(on_workspace.data(), y.data(), y.size() * sizeof(float)), 0) << "case " << c;
    for (std::size_t d = 0; d < shape.rank; ++d) EXPECT_EQ(workspace.output_shape(0).dims[d], shape.dims[d]);
  }
  std::printf("arena for the maxima: %zu bytes\n", session->arena_bytes());
  EXPECT_EQ(session->workspace_bytes(), session->arena_bytes());
  // A Session made for smaller maxima needs a smaller Workspace; one too small is refused.
  auto small = make_session(cases.front().dims, kSeq);
  MODEL_NS::Workspace small_workspace(*small);
  if (small->workspace_bytes() < session->workspace_bytes()) {
    // (Refused before anything is read or written: one float each is enough.)
    float x = 0, y = 0;
    EXPECT_THROW(run_on(*session, small_workspace, cases.back().dims, &x, &y, kSeq), std::invalid_argument);
  }
}

#ifdef DISPATCH_HEADER
// A header written with --dispatch avx512 and built for less: the AVX-512 copy where the CPU
// has AVX-512, and at every size the same bits as the kernels built for the target.
TEST(DynamicModel, TheAvx512CopyGivesTheTargetsBits) {
  const std::vector<Case> cases = read_cases();
  auto fast = make_session(cases.back().dims, kSeq), target = make_session(cases.back().dims, kSeq);
  EXPECT_STREQ(fast->kernels(), __builtin_cpu_supports("avx512f") ? "avx512" : "target");
  target->use_target_kernels();
  EXPECT_STREQ(target->kernels(), "target");
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const std::vector<float> x = read_floats(std::string(MODEL_DATA) + "." + std::to_string(c) + ".input.bin");
    const std::vector<float> a = run_vector(*fast, cases[c].dims, x.data(), kSeq);
    const std::vector<float> b = run_vector(*target, cases[c].dims, x.data(), kSeq);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "case " << c;
  }
}
#endif

TEST(DynamicModel, ValuesAboveTheMaximaAreRefused) {
  const std::vector<Case> cases = read_cases();
  const Dims maxima = cases[1].dims;
  auto session = make_session(maxima, kSeq);
  const std::vector<float> x = read_floats(std::string(MODEL_DATA) + ".1.input.bin");
  std::vector<float> y(read_floats(std::string(MODEL_DATA) + ".1.output.bin").size(), -7.0f);
  for (std::size_t d = 0; d < kDims; ++d) {
    Dims too_big = maxima, zero = maxima;
    too_big[d] += 1;
    zero[d] = 0;
    EXPECT_THROW(run(*session, too_big, x.data(), y.data(), kSeq), std::out_of_range);
    EXPECT_THROW(run(*session, zero, x.data(), y.data(), kSeq), std::out_of_range);
    Dims no_max = maxima;
    no_max[d] = 0;
    EXPECT_THROW(make_session(no_max, kSeq), std::invalid_argument);
  }
  for (float v : y) ASSERT_EQ(v, -7.0f) << "a refused call wrote its output";
}

#ifdef PROFILE_HEADER
// --profile with run-time dims: each node's FLOPs and bytes follow the dims' values (the
// counts are lifted into polynomials of the dims like the code's sizes).
TEST(DynamicModel, ProfileCountsFollowTheDims) {
  const std::vector<Case> cases = read_cases();
  auto session = make_session(cases.back().dims, kSeq);
  auto run_case = [&](std::size_t c) {
    const std::vector<float> x = read_floats(std::string(MODEL_DATA) + "." + std::to_string(c) + ".input.bin");
    std::vector<float> y(read_floats(std::string(MODEL_DATA) + "." + std::to_string(c) + ".output.bin").size());
    run(*session, cases[c].dims, x.data(), y.data(), kSeq);
  };
  run_case(0);
  const auto small = session->profile();
  session->reset_profile();
  run_case(cases.size() - 1);
  const auto large = session->profile();
  ASSERT_EQ(small.size(), Session::profile_nodes);
  ASSERT_EQ(large.size(), small.size());
  double small_flops = 0, large_flops = 0;
  for (std::size_t i = 0; i < small.size(); ++i) {
    EXPECT_EQ(small[i].calls, 1);
    EXPECT_EQ(large[i].calls, 1);
    EXPECT_LE(small[i].bytes, large[i].bytes) << small[i].name;
    small_flops += small[i].flops;
    large_flops += large[i].flops;
  }
  EXPECT_GT(small_flops, 0);
  EXPECT_GT(large_flops, 2 * small_flops);
  std::printf("FLOPs per call: %.0f at the first case, %.0f at the maxima\n", small_flops, large_flops);
}
#endif

TEST(DynamicModel, MetadataNamesTheDims) {
  EXPECT_GE(kDims, 1u);
  for (std::size_t d = 0; d < kDims; ++d) EXPECT_GT(std::strlen(Session::dim_names[d]), 0u);
  bool has_runtime_dim = false;
  for (std::size_t d = 0; d < Session::input_shapes[0].rank; ++d)
    has_runtime_dim |= Session::input_shapes[0].dims[d] == -1;
  EXPECT_TRUE(has_runtime_dim);
  EXPECT_NE(std::string(Session::input_shape_names[0]).find(Session::dim_names[0]), std::string::npos);
}

}  // namespace
