// The card's float32 GEMM rate through cuBLAS (TF32 off, and on), the reference for "% of
// cuBLAS SGEMM" in the CUDA benchmark table: square products of 4096 and 8192 of random
// values, the best of 7 rounds of 10. Prints one JSON line.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>

namespace {

// Values in [-1, 1) from a hash of the index: a card draws less power on zeros, and may clock
// higher than on real data.
__global__ void fill(float* x, std::size_t n, unsigned seed) {
  for (std::size_t i = blockIdx.x * 256ull + threadIdx.x; i < n; i += 256ull * gridDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    x[i] = static_cast<float>(h >> 8) / 8388608.0f - 1.0f;
  }
}

double gflops(cublasHandle_t blas, int n, const float* a, const float* b, float* c) {
  const float one = 1.f, zero = 0.f;
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  double best = 0;
  cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n);  // warm-up
  for (int round = 0; round < 7; ++round) {
    cudaEventRecord(start);
    for (int i = 0; i < 10; ++i) cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    best = std::max(best, 10 * 2.0 * n * double(n) * n / (ms * 1e-3) / 1e9);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return best;
}

}  // namespace

int main() {
  const int n = 8192;
  float *a = nullptr, *b = nullptr, *c = nullptr;
  const std::size_t bytes = sizeof(float) * std::size_t(n) * n;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess || cudaMalloc(&c, bytes) != cudaSuccess) {
    std::fprintf(stderr, "cuda_sgemm_peak: cudaMalloc failed\n");
    return 1;
  }
  fill<<<4096, 256>>>(a, std::size_t(n) * n, 1u);
  fill<<<4096, 256>>>(b, std::size_t(n) * n, 2u);
  cublasHandle_t blas;
  if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cuda_sgemm_peak: cublasCreate failed\n");
    return 1;
  }
  cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH);
  const double fp32 = std::max(gflops(blas, 4096, a, b, c), gflops(blas, n, a, b, c));
  cublasSetMathMode(blas, CUBLAS_TF32_TENSOR_OP_MATH);
  const double tf32 = std::max(gflops(blas, 4096, a, b, c), gflops(blas, n, a, b, c));
  std::printf("{\"sgemm_gflops\": %.0f, \"sgemm_tf32_gflops\": %.0f}\n", fp32, tf32);
  cublasDestroy(blas);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  return 0;
}
