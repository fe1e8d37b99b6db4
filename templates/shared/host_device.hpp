// templates/shared/ holds the rules the CPU's kernels (kernels/) and the GPU's (cuda/) share;
// the header writer puts a copy in each target's namespace. SOFIEC_HOST_DEVICE marks their
// functions: plain inline functions in a CPU header, callable from host and device code where
// nvcc compiles them (a CUDA header, or a CPU header in a .cu file).
#pragma once

#ifndef SOFIEC_HOST_DEVICE
#if defined(__CUDACC__)
#define SOFIEC_HOST_DEVICE __host__ __device__ inline
#else
#define SOFIEC_HOST_DEVICE inline
#endif
#endif
