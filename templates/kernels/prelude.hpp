// Standard headers every kernel may use. When sofiec inlines kernels into a generated header,
// the #include lines of kernel files are dropped: the Session skeleton includes these.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#ifndef SOFIEC_SGEMM_DECLARED
#define SOFIEC_SGEMM_DECLARED
// The Fortran BLAS entry point, declared here so generated code links against any BLAS.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
#endif
