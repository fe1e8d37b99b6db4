// The CUDA target's convolution (templates/cuda/conv.cuh) against cuBLAS on the same product:
// the shapes of the benchmark models' convolutions (ParticleNet's pointwise ones, the UNet's and
// resnet18's 3x3 ones, at batch 1 and at large batch), each timed over back-to-back launches on
// one stream (no graph), in float32 and in TF32, beside cublasSgemm of filters x (images *
// positions) x (channels * taps) on columns already gathered: what an implicit GEMM at cuBLAS's
// rate would take. One JSON line per shape; an argument runs only the shapes whose names contain
// it (`conv_rates resnet18_b64`, for a profiler). Built by benchmarks/run_cuda.sh with
// -I templates/cuda.
#include <cuda_pipeline.h>
#include <mma.h>

#include <cstdio>
#include <cstring>
#include <mutex>

// (The Session's launch lock, which runtime.cuh names; a generated header defines it.)
namespace sofiec {
inline std::recursive_mutex& cuda_launch_lock() {
  static std::recursive_mutex m;
  return m;
}
}  // namespace sofiec

#include "conv.cuh"

namespace {

// Values in [-1, 1) from a hash of the index (a card clocks higher on zeros).
__global__ void fill(float* x, std::size_t n, unsigned seed) {
  for (std::size_t i = blockIdx.x * 256ull + threadIdx.x; i < n; i += 256ull * gridDim.x) {
    unsigned h = unsigned(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    x[i] = float(h & 0xffffff) / float(1 << 23) - 1.f;
  }
}

struct Shape {
  const char* name;
  int images, channels, height, width, filters, kernel, pad;
};

}  // namespace

int main(int argc, char** argv) {
  const Shape shapes[] = {
      {"particlenet_b1_pointwise_64", 1, 64, 100, 16, 64, 1, 0},
      {"particlenet_b512_pointwise_256", 512, 256, 100, 16, 256, 1, 0},
      {"unet_b1_3x3_32ch_32x32", 1, 32, 32, 32, 32, 3, 1},
      {"unet_b1_3x3_64ch_8x8", 1, 64, 8, 8, 64, 3, 1},
      {"unet_b64_3x3_32ch_32x32", 64, 32, 32, 32, 32, 3, 1},
      {"resnet18_b1_3x3_512ch_7x7", 1, 512, 7, 7, 512, 3, 1},
      {"resnet18_b64_3x3_64ch_56x56", 64, 64, 56, 56, 64, 3, 1},
      {"resnet18_b64_3x3_512ch_7x7", 64, 512, 7, 7, 512, 3, 1},
  };
  const std::size_t x_floats = std::size_t(512) * 256 * 100 * 16, w_floats = 512 * 512 * 9;
  const std::size_t col_floats = x_floats, scratch_floats = std::size_t(8) << 20;  // (the largest product: 512 x 1600 columns by 256)
  cublasHandle_t blas, blas_tf32;
  cudaStream_t stream;
  float *x, *w, *y, *col, *scratch;
  check_cuda(cudaStreamCreate(&stream), "cudaStreamCreate");
  check_cuda(cublasCreate(&blas), "cublasCreate");
  check_cuda(cublasCreate(&blas_tf32), "cublasCreate");
  check_cuda(cublasSetStream(blas, stream), "cublasSetStream");
  check_cuda(cublasSetStream(blas_tf32, stream), "cublasSetStream");
  check_cuda(cublasSetMathMode(blas_tf32, CUBLAS_TF32_TENSOR_OP_MATH), "cublasSetMathMode");
  check_cuda(cudaMalloc(&x, x_floats * 4), "cudaMalloc");
  check_cuda(cudaMalloc(&w, w_floats * 4), "cudaMalloc");
  check_cuda(cudaMalloc(&y, x_floats * 4), "cudaMalloc");
  check_cuda(cudaMalloc(&col, col_floats * 4), "cudaMalloc");
  check_cuda(cudaMalloc(&scratch, scratch_floats * 4), "cudaMalloc");
  fill<<<1024, 256, 0, stream>>>(x, x_floats, 1);
  fill<<<1024, 256, 0, stream>>>(w, w_floats, 2);
  fill<<<1024, 256, 0, stream>>>(col, col_floats, 3);
  cudaEvent_t start, stop;
  check_cuda(cudaEventCreate(&start), "cudaEventCreate");
  check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  // Microseconds per call: the best of 5 rounds of back-to-back calls (about 10 ms each).
  const auto time = [&](auto&& call, int reps) {
    call();
    float best = 1e30f;
    for (int round = 0; round < 5; ++round) {
      check_cuda(cudaEventRecord(start, stream), "cudaEventRecord");
      for (int i = 0; i < reps; ++i) call();
      check_cuda(cudaEventRecord(stop, stream), "cudaEventRecord");
      check_cuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
      float ms = 0;
      check_cuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
      best = ms * 1000.f / float(reps) < best ? ms * 1000.f / float(reps) : best;
    }
    return best;
  };
  for (const Shape& c : shapes) {
    if (argc > 1 && !std::strstr(c.name, argv[1])) continue;  // only the shapes named
    const WindowShape s{{c.height, c.width, 1}, {c.height, c.width, 1}, {c.kernel, c.kernel, 1},
                        {1, 1, 1},           {1, 1, 1},          {c.pad, c.pad, 0}};
    const long long columns = static_cast<long long>(c.images) * c.height * c.width;
    const long long inner = static_cast<long long>(c.channels) * c.kernel * c.kernel;
    const double flop = 2.0 * double(columns) * c.filters * double(inner);
    const int reps = flop > 1e10 ? 5 : flop > 1e9 ? 50 : 500;
    const ConvTiling t = conv_tiling(c.filters, columns, inner, static_cast<long long>(scratch_floats));
    float us[2], blas_us[2];
    for (int tf32 = 0; tf32 < 2; ++tf32) {
      us[tf32] = time(
          [&] {
            conv(tf32 ? blas_tf32 : blas, x, w, nullptr, y, scratch, static_cast<long long>(scratch_floats), c.images,
                 c.channels, c.filters, 1, c.kernel == 1, s, false, chain(), tf32 == 1, stream);
          },
          reps);
      const float one = 1.f, zero = 0.f;
      blas_us[tf32] = time(
          [&] {
            cublasSgemm(tf32 ? blas_tf32 : blas, CUBLAS_OP_N, CUBLAS_OP_N, int(columns), c.filters, int(inner), &one,
                        col, int(columns), w, int(inner), &zero, y, int(columns));
          },
          reps);
    }
    std::printf(
        "{\"conv\": \"%s\", \"tile\": \"%dx%d\", \"splits\": %d, \"sofiec_us\": %.2f, \"cublas_us\": %.2f, "
        "\"sofiec_tflops\": %.2f, \"cublas_tflops\": %.2f, \"tf32_sofiec_us\": %.2f, \"tf32_cublas_us\": %.2f}\n",
        c.name, 16 * t.rows_per_thread, 16 * t.columns_per_thread, t.splits, us[0], blas_us[0], flop / us[0] / 1e6,
        flop / blas_us[0] / 1e6, us[1], blas_us[1]);
  }
  check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  return 0;
}
