// The linear-algebra operators that are not matrix products: Einsum in its general form (the
// compiler sends products it recognizes to gemm.hpp) and Det. Both are plain loops: their
// models spend their time elsewhere, and the determinant's pivoting is sequential.

#include "prelude.hpp"

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
template <class T> inline void determinant(const T* x, T* y, int64_t count, int64_t n, double* scratch) {
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
