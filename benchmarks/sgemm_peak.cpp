// The machine's single-core sgemm rate through the BLAS the generated code links: the
// reference for "fraction of peak" in the benchmark report. Prints GFLOP/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

extern "C" void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                       const int*, const float*, const int*, const float*, float*, const int*);

int main() {
  const int n = 1024;
  std::vector<float> a(std::size_t(n) * n, 1.0f), b(a), c(a);
  const float one = 1.0f, zero = 0.0f;
  double best = 0;
  for (int rep = 0; rep < 7; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    sgemm_("N", "N", &n, &n, &n, &one, a.data(), &n, b.data(), &n, &zero, c.data(), &n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * double(n) * n / s / 1e9);
  }
  std::printf("%.1f\n", best);
}
