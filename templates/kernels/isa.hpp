// The instruction set the kernels are compiled for, as sofiec's own macros, each 0 or 1:
//   SOFIEC_ISA_X86 (GCC vectors on x86: SSE2 at least), SOFIEC_ISA_AVX (32-byte registers),
//   SOFIEC_ISA_AVX2, SOFIEC_ISA_AVX512 (64-byte registers and masks), SOFIEC_ISA_NEON,
//   SOFIEC_ISA_FMA (a fused multiply-add in one rounding).
// Normally they follow the compiler's target macros. A header written with `--dispatch
// avx512` compiles a second copy of its kernels for AVX-512 inside a `#pragma GCC target`
// (Clang: `#pragma clang attribute`) region, where the compilers' macros cannot be relied on
// (Clang leaves __AVX512F__ undefined there, GCC defines it): there SOFIEC_DISPATCH_COPY_ is
// defined and these macros say AVX-512. So this file has no include guard: the header reads
// it again before and after that copy, and every kernel tests these macros, never the
// compiler's.
#undef SOFIEC_ISA_X86
#undef SOFIEC_ISA_NEON
#undef SOFIEC_ISA_AVX
#undef SOFIEC_ISA_AVX2
#undef SOFIEC_ISA_AVX512
#undef SOFIEC_ISA_FMA
#undef SOFIEC_ISA_NAME_
#undef SOFIEC_ISA_FMA_NAME_
#undef SOFIEC_ISA_COPY_NAME_
#if defined(SOFIEC_DISPATCH_COPY_)
#define SOFIEC_ISA_X86 1
#define SOFIEC_ISA_NEON 0
#define SOFIEC_ISA_AVX 1
#define SOFIEC_ISA_AVX2 1
#define SOFIEC_ISA_AVX512 1
#define SOFIEC_ISA_FMA 1
#define SOFIEC_ISA_NAME_ avx512
#define SOFIEC_ISA_COPY_NAME_ _dispatch
#else
#define SOFIEC_ISA_COPY_NAME_
#if !defined(SOFIEC_SCALAR_KERNELS) && defined(__GNUC__) && \
    (defined(__AVX512F__) || defined(__AVX__) || defined(__SSE2__))
#define SOFIEC_ISA_X86 1
#else
#define SOFIEC_ISA_X86 0
#endif
#if !defined(SOFIEC_SCALAR_KERNELS) && defined(__GNUC__) && !SOFIEC_ISA_X86 && \
    (defined(__ARM_NEON) || defined(__ARM_NEON__))
#define SOFIEC_ISA_NEON 1
#else
#define SOFIEC_ISA_NEON 0
#endif
#if SOFIEC_ISA_X86 && defined(__AVX__)
#define SOFIEC_ISA_AVX 1
#else
#define SOFIEC_ISA_AVX 0
#endif
#if SOFIEC_ISA_X86 && defined(__AVX2__)
#define SOFIEC_ISA_AVX2 1
#else
#define SOFIEC_ISA_AVX2 0
#endif
#if SOFIEC_ISA_X86 && defined(__AVX512F__)
#define SOFIEC_ISA_AVX512 1
#else
#define SOFIEC_ISA_AVX512 0
#endif
#if defined(__FMA__) || defined(__AVX512F__) || defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
#define SOFIEC_ISA_FMA 1
#else
#define SOFIEC_ISA_FMA 0
#endif
#if SOFIEC_ISA_AVX512
#define SOFIEC_ISA_NAME_ avx512
#elif SOFIEC_ISA_AVX2
#define SOFIEC_ISA_NAME_ avx2
#elif SOFIEC_ISA_AVX
#define SOFIEC_ISA_NAME_ avx
#elif SOFIEC_ISA_X86
#define SOFIEC_ISA_NAME_ sse
#elif SOFIEC_ISA_NEON && defined(__aarch64__)
#define SOFIEC_ISA_NAME_ neon64
#elif SOFIEC_ISA_NEON
#define SOFIEC_ISA_NAME_ neon
#else
#define SOFIEC_ISA_NAME_ scalar
#endif
#endif
#if SOFIEC_ISA_FMA
#define SOFIEC_ISA_FMA_NAME_ _fma
#else
#define SOFIEC_ISA_FMA_NAME_
#endif

// Generated headers put their kernels in sofiec::SOFIEC_KERNELS_NAMESPACE(k<id>), <id> a hash
// of the kernels' source, and the vector layer in sofiec::SOFIEC_VEC_NAMESPACE: every header
// from one sofiec shares one copy of each kernel in a translation unit, and the names also
// carry what changes the machine code (the instruction set, FMA, a BLAS, the AVX-512 copy of
// a dispatching header), so that translation units compiled with other flags, or headers from
// another sofiec, never have two different bodies under one linker symbol. (The AVX-512 copy
// is named apart from a -march=x86-64-v4 build: that one may use whatever else -march allows.)
// Each macro has its own guard: another header may have defined some of them.
#ifndef SOFIEC_ISA_PASTE_
#define SOFIEC_ISA_PASTE_(id, isa, fma, blas, copy) id##_##isa##fma##blas##copy
#endif
#ifndef SOFIEC_ISA_EXPAND_
#define SOFIEC_ISA_EXPAND_(id, isa, fma, blas, copy) SOFIEC_ISA_PASTE_(id, isa, fma, blas, copy)
#endif
#ifndef SOFIEC_KERNELS_NAMESPACE
#define SOFIEC_KERNELS_NAMESPACE(id) \
  SOFIEC_ISA_EXPAND_(id, SOFIEC_ISA_NAME_, SOFIEC_ISA_FMA_NAME_, SOFIEC_ISA_BLAS_NAME_, SOFIEC_ISA_COPY_NAME_)
#endif
#ifndef SOFIEC_VEC_NAMESPACE
#define SOFIEC_VEC_NAMESPACE SOFIEC_ISA_EXPAND_(vec, SOFIEC_ISA_NAME_, SOFIEC_ISA_FMA_NAME_, , SOFIEC_ISA_COPY_NAME_)
#endif
#ifndef SOFIEC_ISA_BLAS_NAME_
#if defined(SOFIEC_USE_BLAS)
#define SOFIEC_ISA_BLAS_NAME_ _blas
#else
#define SOFIEC_ISA_BLAS_NAME_
#endif
#endif
#ifndef SOFIEC_KERNELS_DISPATCH_NAMESPACE
// The AVX-512 copy's kernels, named from outside its region (the model's detail::avx512).
#define SOFIEC_KERNELS_DISPATCH_NAMESPACE(id) SOFIEC_ISA_EXPAND_(id, avx512, _fma, SOFIEC_ISA_BLAS_NAME_, _dispatch)
#endif
