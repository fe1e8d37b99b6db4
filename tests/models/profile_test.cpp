// A header written with --profile (PROFILE in sofie_generate) beside the same model without:
// the same bits out, and a profile that covers every timed node with its calls, times and
// counts. PLAIN_HEADER/PLAIN_NS and PROFILE_HEADER/PROFILE_NS name the two; MODEL_DATA the
// input (<model>.input.bin).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include PLAIN_HEADER
#include PROFILE_HEADER

TEST(Profile, SameBitsAndEveryNodeTimed) {
  using Plain = PLAIN_NS::Session;
  using Profiled = PROFILE_NS::Session;
  std::vector<float> x(std::size_t(Plain::input_shapes[0].size()));
  std::ifstream in(std::string(MODEL_DATA) + ".input.bin", std::ios::binary);
  in.read(reinterpret_cast<char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  ASSERT_TRUE(in);
  const std::size_t n = std::size_t(Plain::output_shapes[0].size());
  std::vector<float> plain(n), profiled(n);
  auto a = std::make_unique<Plain>();
  auto b = std::make_unique<Profiled>();
  a->infer(x.data(), plain.data());
  constexpr int kCalls = 7;
  for (int i = 0; i < kCalls; ++i) b->infer(x.data(), profiled.data());
  EXPECT_EQ(std::memcmp(plain.data(), profiled.data(), n * sizeof(float)), 0);

  const auto profile = b->profile();
  ASSERT_EQ(profile.size(), Profiled::profile_nodes);
  ASSERT_GT(profile.size(), 2u);
  double flops = 0, total = 0;
  for (std::size_t i = 0; i < profile.size(); ++i) {
    const auto& p = profile[i];
    EXPECT_EQ(p.name, Profiled::profile_names[i]);
    EXPECT_EQ(p.op, Profiled::profile_ops[i]);
    EXPECT_EQ(p.calls, kCalls) << p.name;
    EXPECT_GT(p.total_s, 0) << p.name;
    EXPECT_LE(p.median_s, p.total_s) << p.name;
    EXPECT_GT(p.bytes, 0) << p.name;
    flops += p.flops;
    total += p.total_s;
  }
  EXPECT_GT(flops, 1e5);
  std::printf("%zu nodes, %.0f FLOPs per call, %.3g s in them over %d calls\n", profile.size(), flops, total, kCalls);

  // A Workspace of its own keeps its own timings; a reset clears them.
  PROFILE_NS::Workspace ws(*b);
  b->infer(ws, x.data(), profiled.data());
  EXPECT_EQ(b->profile(ws)[0].calls, 1);
  EXPECT_EQ(b->profile()[0].calls, kCalls);
  b->reset_profile();
  EXPECT_EQ(b->profile()[0].calls, 0);
  EXPECT_EQ(b->profile()[0].total_s, 0);
}
