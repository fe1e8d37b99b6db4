// Matrix products through cuBLAS on row-major tensors: cuBLAS is column-major, so the product
// Y = op(A) op(B) is computed as its transpose, Y^T = op(B)^T op(A)^T, which reads the same
// memory with the operands swapped.
#pragma once

#include "runtime.cuh"

// Y[m][n] = alpha * op(A)[m][k] op(B)[k][n] (+ beta * Y), row-major; trans_a: A is stored k x m.
inline void gemm(cublasHandle_t blas, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                 const float* b, float beta, float* y) {
  if (m == 0 || n == 0) return;
  // (cuBLAS wants every leading dim >= 1, also for an empty inner dim: the product is zeros.)
  const int kk = k > 0 ? k : 1;
  check_cuda(cublasSgemm(blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                         &alpha, b, trans_b ? kk : n, a, trans_a ? m : kk, &beta, y, n),
             "cublasSgemm");
}

// `batch` products of the same shapes, each operand `stride_*` floats after the previous one
// (0: the same matrix for every product).
inline void gemm_batched(cublasHandle_t blas, int batch, int m, int n, int k, const float* a, long long stride_a,
                         const float* b, long long stride_b, float* y) {
  if (m == 0 || n == 0 || batch == 0) return;
  const float one = 1.f, zero = 0.f;
  check_cuda(cublasSgemmStridedBatched(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, b, n, stride_b, a, k > 0 ? k : 1,
                                       stride_a,
                                       &zero, y, n, static_cast<long long>(m) * n, batch),
             "cublasSgemmStridedBatched");
}
