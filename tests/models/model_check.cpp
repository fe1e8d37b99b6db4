// Runs a generated model on torch's input, compares with torch's output and writes the output's
// bits to a file: the model test for builds that cannot link GoogleTest (cross-compiled for
// aarch64 and run under qemu, the scalar build, each x86-64 level), whose outputs are then
// compared bit for bit across targets (tests/models/same_bits.cmake).
// Built with MODEL_NS and the header (MODEL_HEADER, or -include); run as:
//   model_check DATA_PREFIX [OUTPUT_BITS_FILE [KERNELS]]
// KERNELS (with DISPATCH_HEADER defined: a header written with --dispatch avx512): "avx512" or
// "target", the kernels the Session must have chosen on this CPU.
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#ifdef MODEL_HEADER  // else the header comes by -include
#include MODEL_HEADER
#endif

namespace {

bool read_floats(const std::string& path, std::vector<float>& v) {
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
  if (!in || in.peek() != std::char_traits<char>::eof()) {
    std::fprintf(stderr, "%s: missing, short or larger than the model's tensor\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using Session = MODEL_NS::Session;
  static_assert(Session::num_inputs == 1 && Session::num_outputs == 1, "test models have one input and one output");
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_PREFIX [OUTPUT_BITS_FILE]\n", argv[0]);
    return 2;
  }
  const std::string data = argv[1];
  std::vector<float> x(std::size_t(Session::input_shapes[0].size())),
      expected(std::size_t(Session::output_shapes[0].size()));
  if (!read_floats(data + ".input.bin", x) || !read_floats(data + ".output.bin", expected)) return 1;
  auto session = std::make_unique<Session>();
#ifdef DISPATCH_HEADER  // sofiec --dispatch avx512: the kernels the Session must choose here
  if (argc > 3 && std::strcmp(session->kernels(), argv[3]) != 0) {
    std::fprintf(stderr, "the Session chose the %s kernels, not %s\n", session->kernels(), argv[3]);
    return 1;
  }
#endif
  std::vector<float> y(expected.size()), again(expected.size());
  session->infer(x.data(), y.data());
  session->infer(x.data(), again.data());
  double worst = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double err = std::fabs(double(y[i]) - double(expected[i])) / std::max(1.0, std::fabs(double(expected[i])));
    if (!(err <= 1e-4)) {
      std::fprintf(stderr, "element %zu: %.9g vs torch %.9g\n", i, double(y[i]), double(expected[i]));
      return 1;
    }
    worst = std::max(worst, err);
  }
  if (std::memcmp(y.data(), again.data(), y.size() * sizeof(float)) != 0) {
    std::fprintf(stderr, "a second run gave other bits\n");
    return 1;
  }
  std::printf("max relative difference to torch: %.3g over %zu values\n", worst, y.size());
  if (argc > 2) {
    std::ofstream out(argv[2], std::ios::binary);
    out.write(reinterpret_cast<const char*>(y.data()), std::streamsize(y.size() * sizeof(float)));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", argv[2]);
      return 1;
    }
  }
  return 0;
}
