// Elementwise kernels: one function of one tensor, of two with NumPy broadcasting, and the bias
// and epilogue that follow a matrix product. Grid-stride loops, so any size runs in one launch.
#pragma once

#include <cstdint>

#include "functors.cuh"
#include "runtime.cuh"

// (T, Y: float, or the int64_t / int32_t / bool of index arithmetic, masks and casts.)
template <class T, class Y, class F>
__global__ void map1_kernel(const T* __restrict__ x, Y* __restrict__ y, long long n, F f) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) y[i] = f(x[i]);
}

template <class T, class Y, class F> void map1(const T* x, Y* y, long long n, F f, cudaStream_t stream) {
  if (n > 0) map1_kernel<<<blocks_for(n), 256, 0, stream>>>(x, y, n, f);
}

// Where each output element reads its two operands: the output's dims and, per operand, the
// stride of each dim (0 where the operand is broadcast along it), at most 6 dims.
struct Broadcast2 {
  int rank;
  long long dims[6];
  long long a_strides[6], b_strides[6];
};

// (T: float, or int64_t / int32_t for index arithmetic, or bool; Y: T, or bool for comparisons.)
template <class T, class Y, class F>
__global__ void map2_kernel(const T* __restrict__ a, const T* __restrict__ b, Y* y, long long n, Broadcast2 shape,
                            F f) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    long long rest = i, ia = 0, ib = 0;
    for (int d = shape.rank - 1; d >= 0; --d) {
      const long long k = rest % shape.dims[d];
      rest /= shape.dims[d];
      ia += k * shape.a_strides[d];
      ib += k * shape.b_strides[d];
    }
    y[i] = f(a[ia], b[ib]);
  }
}

template <class T, class Y, class F>
__global__ void map2_same_kernel(const T* __restrict__ a, const T* __restrict__ b, Y* y, long long n, F f) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) y[i] = f(a[i], b[i]);
}

// y = f(a, b); same_shape: neither operand is broadcast (the common case gets no index math).
template <class T, class Y, class F>
void map2(const T* a, const T* b, Y* y, long long n, const Broadcast2& shape, bool same_shape, F f,
          cudaStream_t stream) {
  if (n <= 0) return;
  if (same_shape)
    map2_same_kernel<<<blocks_for(n), 256, 0, stream>>>(a, b, y, n, f);
  else
    map2_kernel<<<blocks_for(n), 256, 0, stream>>>(a, b, y, n, shape, f);
}

// Where(condition, x, y) with broadcasting: per output element, each operand's offset from
// its strides (0 along a dim it is broadcast over), at most 6 dims.
struct Broadcast3 {
  int rank;
  long long dims[6];
  long long strides[3][6];
};

template <class T>
__global__ void where_kernel(const bool* __restrict__ c, const T* __restrict__ a, const T* __restrict__ b,
                             T* __restrict__ y, long long n, Broadcast3 s) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    long long rest = i, at[3] = {0, 0, 0};
    for (int d = s.rank - 1; d >= 0; --d) {
      const long long k = rest % s.dims[d];
      rest /= s.dims[d];
      for (int o = 0; o < 3; ++o) at[o] += k * s.strides[o][d];
    }
    y[i] = c[at[0]] ? a[at[1]] : b[at[2]];
  }
}

template <class T>
void where(const bool* c, const T* a, const T* b, T* y, long long n, const Broadcast3& s, cudaStream_t stream) {
  if (n > 0) where_kernel<<<blocks_for(n), 256, 0, stream>>>(c, a, b, y, n, s);
}

// y[i][j] = e(y[i][j] + beta * c[i * c_row + j * c_col]) over an m x n matrix: a Gemm's bias
// (c null: no bias) and fused epilogue, after the product.
template <class E>
__global__ void bias_epilogue_kernel(float* y, long long m, long long n, const float* __restrict__ c, long long c_row,
                                     long long c_col, float beta, E e) {
  const long long total = m * n;
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < total; i += 256ll * gridDim.x) {
    const long long r = i / n, k = i % n;
    const float v = c ? y[i] + beta * c[r * c_row + k * c_col] : y[i];
    y[i] = e(v);
  }
}

template <class E>
void bias_epilogue(float* y, long long m, long long n, const float* c, long long c_row, long long c_col, float beta,
                   E e, cudaStream_t stream) {
  if (m * n > 0) bias_epilogue_kernel<<<blocks_for(m * n), 256, 0, stream>>>(y, m, n, c, c_row, c_col, beta, e);
}

// A tree of elementwise maps in one kernel (ElementwiseFusion): each output element reads its
// leaves (the tree's operands, each broadcast to the output by strides: 0 along a dim it does
// not span) and evaluates the tree in registers, so that the intermediate tensors are neither
// written nor read and the tree is one launch. The tree is a type, composed by the generated
// code from leaf<K>(), unary(f, a) and binary(f, a, b): the compiler sees straight-line code.
constexpr int kFusedMaxLeaves = 8;

template <int K> struct ex_leaf {
  SOFIEC_DEVICE float operator()(const float* v) const { return v[K]; }
};
template <class F, class A> struct ex_unary {
  F f;
  A a;
  SOFIEC_DEVICE float operator()(const float* v) const { return f(a(v)); }
};
template <class F, class A, class B> struct ex_binary {
  F f;
  A a;
  B b;
  SOFIEC_DEVICE float operator()(const float* v) const { return f(a(v), b(v)); }
};
template <int K> ex_leaf<K> leaf() { return {}; }
template <class F, class A> ex_unary<F, A> unary(F f, A a) { return {f, a}; }
template <class F, class A, class B> ex_binary<F, A, B> binary(F f, A a, B b) { return {f, a, b}; }

// The output's dims (at most 6) and each leaf's strides over them.
struct FusedShape {
  int rank;
  long long dims[6];
  long long strides[kFusedMaxLeaves][6];
};

template <int NL> struct FusedLeaves {
  const float* p[NL];
};

// same_shape: every leaf has the output's shape (no index math).
template <int NL, bool kSame, class E>
__global__ void fused_map_kernel(FusedLeaves<NL> leaves, float* y, long long n, FusedShape s, E e) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    float v[NL];
    if constexpr (kSame) {
#pragma unroll
      for (int k = 0; k < NL; ++k) v[k] = leaves.p[k][i];
    } else {
      long long at[NL] = {};
      long long rest = i;
      for (int d = s.rank - 1; d >= 0; --d) {
        const long long c = rest % s.dims[d];
        rest /= s.dims[d];
#pragma unroll
        for (int k = 0; k < NL; ++k) at[k] += c * s.strides[k][d];
      }
#pragma unroll
      for (int k = 0; k < NL; ++k) v[k] = leaves.p[k][at[k]];
    }
    y[i] = e(v);
  }
}

template <int NL, class E>
void fused_map(const FusedLeaves<NL>& leaves, float* y, long long n, const FusedShape& s, bool same_shape, E e,
               cudaStream_t stream) {
  static_assert(NL >= 1 && NL <= kFusedMaxLeaves, "1 to 8 leaves");
  if (n <= 0) return;
  if (same_shape)
    fused_map_kernel<NL, true><<<blocks_for(n), 256, 0, stream>>>(leaves, y, n, s, e);
  else
    fused_map_kernel<NL, false><<<blocks_for(n), 256, 0, stream>>>(leaves, y, n, s, e);
}
