// What the CPU running a dispatching header (sofiec --dispatch avx512) can execute, asked once
// per Session. Compiled for the header's own target, outside the AVX-512 region: it must run
// on every CPU the header was built for.
#pragma once

#ifndef SOFIEC_CPU_DEFINED
#define SOFIEC_CPU_DEFINED
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
namespace sofiec {
// Whether the CPU has the AVX-512 instructions of x86-64-v4 (F, CD, BW, DQ, VL) and every
// other feature the copy is compiled with (SSE3 to SSE4.2, POPCNT, AVX, AVX2, FMA, BMI1/2,
// F16C, LZCNT, MOVBE: a header built for plain x86-64 carries the copy too), and whether
// the operating system saves the opmask and all 32 zmm registers on a context switch (XCR0
// bits 1, 2, 5, 6 and 7), which CPUID alone does not say.
inline bool cpu_has_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const unsigned leaf1 = (1u << 0) | (1u << 9) | (1u << 12) | (1u << 19) | (1u << 20) | (1u << 22) | (1u << 23) |
                         (1u << 27) | (1u << 28) | (1u << 29);
  // SSE3, SSSE3, FMA, SSE4.1, SSE4.2, MOVBE, POPCNT, OSXSAVE, AVX, F16C
  if ((c & leaf1) != leaf1) return false;
  unsigned xcr0 = 0, xcr0_high = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_high) : "c"(0));
  (void)xcr0_high;
  if ((xcr0 & 0xe6u) != 0xe6u) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const unsigned leaf7 = (1u << 3) | (1u << 5) | (1u << 8) | (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) |
                         (1u << 31);  // BMI1, AVX2, BMI2, AVX512F, DQ, CD, BW, VL
  if ((b & leaf7) != leaf7) return false;
  if (!__get_cpuid(0x80000001u, &a, &b, &c, &d)) return false;
  return c >> 5 & 1;  // LZCNT
#else
  return false;
#endif
}
}  // namespace sofiec
#endif
