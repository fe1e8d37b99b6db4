// Runs a generated model on torch's input and compares with torch's output. Built once per
// model by tests/CMakeLists.txt with MODEL_HEADER, MODEL_NS and MODEL_DATA (file prefix) set,
// and MODEL_WEIGHTS_FILE for --weights file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include MODEL_HEADER

namespace {

std::vector<float> read_floats(const std::string& path, std::size_t n) {
  std::vector<float> v(n);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(float)));
  EXPECT_TRUE(in) << "cannot read " << path;
  EXPECT_EQ(in.peek(), std::char_traits<char>::eof()) << path << " is larger than the model's tensor";
  return v;
}

std::unique_ptr<MODEL_NS::Session> make_session() {
#ifdef MODEL_WEIGHTS_FILE
  return std::make_unique<MODEL_NS::Session>(MODEL_WEIGHTS_FILE);
#else
  return std::make_unique<MODEL_NS::Session>();
#endif
}

TEST(GeneratedModel, MatchesTorch) {
  using Session = MODEL_NS::Session;
  static_assert(Session::num_inputs == 1 && Session::num_outputs == 1, "test models have one input and one output");
  EXPECT_STREQ(Session::input_names[0], "input");
  EXPECT_STREQ(Session::output_names[0], "output");
  const auto x = read_floats(std::string(MODEL_DATA) + ".input.bin", std::size_t(Session::input_shapes[0].size()));
  const auto expected =
      read_floats(std::string(MODEL_DATA) + ".output.bin", std::size_t(Session::output_shapes[0].size()));
  auto session = make_session();
  std::vector<float> y(expected.size());
  session->infer(x.data(), y.data());
  double worst = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double err = std::fabs(double(y[i]) - double(expected[i])) / std::max(1.0, std::fabs(double(expected[i])));
    worst = std::max(worst, err);
    ASSERT_LE(err, 1e-4) << "element " << i << ": " << y[i] << " vs torch " << expected[i];
  }
  std::printf("max relative difference to torch: %.3g over %zu values\n", worst, y.size());

  // Bit-identical on a second run, in a second Session, and through the vector form.
  std::vector<float> again(y.size());
  session->infer(x.data(), again.data());
  EXPECT_EQ(std::memcmp(y.data(), again.data(), y.size() * sizeof(float)), 0);
  auto other = make_session();
  const std::vector<float> from_vector = other->infer(x.data());
  ASSERT_EQ(from_vector.size(), y.size());
  EXPECT_EQ(std::memcmp(y.data(), from_vector.data(), y.size() * sizeof(float)), 0);
}

}  // namespace
