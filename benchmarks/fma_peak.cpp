// The FMA peak of one core for the instruction set this file is compiled for (run.sh builds it
// for x86-64-v3 and for this machine): independent chains of fused multiply-adds on the
// kernels' own vector layer, as many as fill the registers without spilling. Prints GFLOP/s.
#include <chrono>
#include <cstdio>

#include "kernels/simd.hpp"

namespace {

namespace simd = sofiec::SOFIEC_VEC_NAMESPACE;  // the vector layer of this build's target
using simd::f32x16;
// Accumulators of 16 floats that leave two registers for the operands.
constexpr int kChains = (simd::kVectorRegisters - 2) / (16 / simd::kFloatLanes);

template <int... I> double run(long iterations, std::integer_sequence<int, I...>) {
  // Lanes all different: with equal lanes the compiler would compute one register of each.
  const f32x16 lanes = simd::convert_lanes<float>(simd::lane_indices<int32_t, 16>()) * 1e-3f;
  f32x16 acc[sizeof...(I)] = {(lanes + float(I))...};
  const f32x16 a(0.999999f), b(1e-7f);
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
    ((acc[I] = simd::fma(acc[I], a, b)), ...);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  float sink = 0;
  // Every lane read, or the compiler drops the registers nobody reads.
  for (const f32x16& a : acc)
    simd::for_each_index([&](auto l) { sink += a[l]; }, std::make_integer_sequence<int, 16>{});
  std::fprintf(stderr, "%g\n", double(sink));
  return 2.0 * 16 * double(sizeof...(I)) * double(iterations) / seconds / 1e9;
}

}  // namespace

int main() {
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const double g = run(50'000'000, std::make_integer_sequence<int, (kChains > 0 ? kChains : 1)>{});
    best = g > best ? g : best;
  }
  std::printf("%.1f\n", best);
}
