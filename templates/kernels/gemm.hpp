// Matrix products. float goes to the BLAS; other types use a plain loop.
#pragma once
#include "functors.hpp"
#include "prelude.hpp"

// c[j] = alpha * dot(w[j, 0:k], a) + beta * c[j] for j < n: one event through a layer whose
// weight is stored as the exporter wrote it ([N,K], rows contiguous). Four rows at a time
// keep four independent accumulators in flight; no BLAS call, so none of its work buffers
// (OpenBLAS: megabytes of resident memory for the process).
inline void gemv_rows(int64_t n, int64_t k, float alpha, const float* w, int64_t ldw, const float* a, float beta, float* c) {
  auto finish = [&](int64_t j, float dot) { c[j] = alpha * dot + (beta == 0.f ? 0.f : beta * c[j]); };
  // A chain of adds, not sum_lanes' tree: measured faster here (the four rows' sums overlap;
  // SOFIE MLP batch 1: 1.64 us against 1.80).
  auto chain_sum = [](const ::sofiec::f32x16& v) {
    float t = 0.f;
    for (int l = 0; l < 16; ++l) t += v[l];
    return t;
  };
  const int64_t k16 = k / 16 * 16;
  const int64_t n4 = n / 4 * 4;
  const float* row = w;
  // Four named accumulators (not an array): registers at -O2 too, where loops over an array
  // of vectors are not unrolled.
  for (int64_t j = 0; j < n4; j += 4, row += 4 * ldw) {
    const float* r0 = row;
    const float* r1 = row + ldw;
    const float* r2 = row + 2 * ldw;
    const float* r3 = row + 3 * ldw;
    ::sofiec::f32x16 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {}, x, r;
    for (int64_t p = 0; p < k16; p += 16) {
      std::memcpy(&x, a + p, sizeof x);
      std::memcpy(&r, r0 + p, sizeof r);
      acc0 += r * x;
      std::memcpy(&r, r1 + p, sizeof r);
      acc1 += r * x;
      std::memcpy(&r, r2 + p, sizeof r);
      acc2 += r * x;
      std::memcpy(&r, r3 + p, sizeof r);
      acc3 += r * x;
    }
    float d0 = chain_sum(acc0), d1 = chain_sum(acc1), d2 = chain_sum(acc2), d3 = chain_sum(acc3);
    for (int64_t t = k16; t < k; ++t) {
      d0 += r0[t] * a[t];
      d1 += r1[t] * a[t];
      d2 += r2[t] * a[t];
      d3 += r3[t] * a[t];
    }
    finish(j, d0);
    finish(j + 1, d1);
    finish(j + 2, d2);
    finish(j + 3, d3);
  }
  for (int64_t j = n4; j < n; ++j, row += ldw) {
    ::sofiec::f32x16 acc = {}, x, r;
    for (int64_t p = 0; p < k16; p += 16) {
      std::memcpy(&x, a + p, sizeof x);
      std::memcpy(&r, row + p, sizeof r);
      acc += r * x;
    }
    float dot = chain_sum(acc);
    for (int64_t t = k16; t < k; ++t) dot += row[t] * a[t];
    finish(j, dot);
  }
}

// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C through the BLAS, always:
// a column-major BLAS computes the transpose, C^T = op(B)^T op(A)^T.
inline void gemm_blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
  const int im = int(m), in = int(n), ik = int(k), ilda = int(lda), ildb = int(ldb), ildc = int(ldc);
  sgemm_(&tb, &ta, &in, &im, &ik, &alpha, b, &ildb, a, &ilda, &beta, c, &ildc);
}

// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, with leading dimensions.
inline void gemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                          int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  if (m == 1 && trans_b && !trans_a) {
    gemv_rows(n, k, alpha, b, ldb, a, beta, c);
    return;
  }
  gemm_blas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <class T>
inline void gemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T acc = T(0);
      for (int64_t p = 0; p < k; ++p)
        acc += (trans_a ? a[p * lda + i] : a[i * lda + p]) * (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * ldc + j] = alpha * acc + (beta == T(0) ? T(0) : beta * c[i * ldc + j]);
    }
}

// The BLAS-only entry for other types: there is no BLAS, the plain loop.
template <class T>
inline void gemm_blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                      const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  gemm_rowmajor(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Batched row-major matmul over the output's batch dims; each operand steps through them by
// its strides (in elements, 0 along a dim it is broadcast over), so broadcasting costs nothing
// and the batch count may be a run-time value.
template <class T>
inline void matmul_batched(const T* a, const T* b, T* c, int64_t rank, const int64_t* batch, const int64_t* a_strides,
                           const int64_t* b_strides, int64_t m, int64_t n, int64_t k) {
  int64_t batches = 1;
  for (int64_t d = 0; d < rank; ++d) batches *= batch[d];
  for (int64_t i = 0; i < batches; ++i) {
    int64_t oa = 0, ob = 0;
    for (int64_t d = rank - 1, rest = i; d >= 0; --d) {
      const int64_t idx = rest % batch[d];
      rest /= batch[d];
      oa += idx * a_strides[d];
      ob += idx * b_strides[d];
    }
    gemm_rowmajor(false, false, m, n, k, T(1), a + oa, k, b + ob, n, T(0), c + i * m * n, n);
  }
}

// Adds a bias broadcast as [rows, cols] with strides (0 where repeated), scaled by beta.
template <class T>
inline void add_bias_2d(T* c, const T* bias, int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                        T beta) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) c[i * cols + j] += beta * bias[i * row_stride + j * col_stride];
}

// General Einsum: every output position sums, over the summed labels' positions, the product
// of the operands' elements. Strides per operand and label were computed at generation time
// (a label repeated within an operand, a diagonal, has its strides added).
template <class T>
inline void einsum(const T* const* operands, int count, T* y, int out_rank, const int64_t* out_dims,
                   const int64_t* out_strides, int sum_rank, const int64_t* sum_dims, const int64_t* sum_strides) {
  int64_t outputs = 1, sums = 1;
  for (int d = 0; d < out_rank; ++d) outputs *= out_dims[d];
  for (int d = 0; d < sum_rank; ++d) sums *= sum_dims[d];
  int64_t out_index[16] = {0};
  int64_t base[16] = {0};  // per operand
  for (int64_t o = 0; o < outputs; ++o) {
    T acc = T(0);
    int64_t sum_index[16] = {0};
    int64_t offset[16];
    for (int k = 0; k < count; ++k) offset[k] = base[k];
    for (int64_t s = 0; s < sums; ++s) {
      T product = T(1);
      for (int k = 0; k < count; ++k) product *= operands[k][offset[k]];
      acc += product;
      for (int d = sum_rank - 1; d >= 0; --d) {
        for (int k = 0; k < count; ++k) offset[k] += sum_strides[k * sum_rank + d];
        if (++sum_index[d] < sum_dims[d]) break;
        for (int k = 0; k < count; ++k) offset[k] -= sum_strides[k * sum_rank + d] * sum_dims[d];
        sum_index[d] = 0;
      }
    }
    y[o] = acc;
    for (int d = out_rank - 1; d >= 0; --d) {
      for (int k = 0; k < count; ++k) base[k] += out_strides[k * out_rank + d];
      if (++out_index[d] < out_dims[d]) break;
      for (int k = 0; k < count; ++k) base[k] -= out_strides[k * out_rank + d] * out_dims[d];
      out_index[d] = 0;
    }
  }
}

// Determinants of `count` square matrices of order n, by LU with partial pivoting in double.
// scratch holds n * n doubles.
template <class T>
inline void determinant(const T* x, T* y, int64_t count, int64_t n, double* scratch) {
  for (int64_t m = 0; m < count; ++m) {
    double* a = scratch;
    for (int64_t i = 0; i < n * n; ++i) a[i] = double(x[m * n * n + i]);
    double det = 1;
    for (int64_t c = 0; c < n && det != 0; ++c) {
      int64_t pivot = c;
      for (int64_t r = c + 1; r < n; ++r)
        if (std::fabs(a[r * n + c]) > std::fabs(a[pivot * n + c])) pivot = r;
      if (a[pivot * n + c] == 0) {
        det = 0;
        break;
      }
      if (pivot != c) {
        for (int64_t k = 0; k < n; ++k) std::swap(a[c * n + k], a[pivot * n + k]);
        det = -det;
      }
      det *= a[c * n + c];
      for (int64_t r = c + 1; r < n; ++r) {
        const double f = a[r * n + c] / a[c * n + c];
        for (int64_t k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      }
    }
    y[m] = T(det);
  }
}
