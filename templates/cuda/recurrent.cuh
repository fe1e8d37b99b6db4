// Recurrent layers (ONNX RNN, GRU, LSTM) on the device, with every option the CPU kernel takes
// (directions, layouts, sequence lengths, initial states, peepholes, clip, coupled gates,
// linear_before_reset, activation lists). The input parts of every step's gates come from one
// cuBLAS product per direction up front. The steps themselves are sequential, so one kernel
// runs them all: a block per direction and batch entry keeps h (and the cell state) in shared
// memory, and a launch per step, a few microseconds of launch against a fraction of that of
// work at the sizes physics models use, is avoided. Within a step TU threads share each unit's
// dot products over the previous h (k split by TU, summed in a fixed butterfly: the same bits
// every run), so that a block has enough threads to hide the reads of R.
#pragma once

#include <cstdint>
#include <type_traits>

#include "functors.cuh"
#include "../shared/recurrent_cell.hpp"  // after the functors it names
#include "gemm.cuh"
#include "runtime.cuh"

__device__ inline float clipped(float v, float clip) { return clip > 0.f ? fmaxf(-clip, fminf(clip, v)) : v; }

// Unit j's dot product with v (H values in shared memory) for gate g, this thread's share of
// k (q, q + TU, ...), summed with the other TU threads of the unit: every one gets the total.
// R(g*H + j, k) is r[k * G*H + g*H + j] when stored transposed (the warp's units read
// adjacent addresses, its TU threads of a unit rows TU apart), r[(g*H + j) * H + k] as ONNX
// stores it (stride H between units).
template <int TU>
__device__ inline float unit_dot(const float* __restrict__ r, const float* v, int64_t H, int64_t GH, bool transposed,
                                 int g, int64_t j, int q) {
  float sum = 0.f;
  if (j < H) {
    if (transposed)
      for (int64_t k = q; k < H; k += TU) sum = fmaf(v[k], __ldg(r + k * GH + g * H + j), sum);
    else
      for (int64_t k = q; k < H; k += TU) sum = fmaf(v[k], __ldg(r + (g * H + j) * H + k), sum);
  }
  for (int lane = TU / 2; lane > 0; lane /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, lane, TU);
  return sum;
}

// Block (d, b): direction d of batch entry b, all steps, with 5 rows of H floats in shared
// memory (h twice, the cell state, the GRU's r*h and z: at most 40 KiB, as the emitter keeps H
// to 2048), up to 1024 threads (__launch_bounds__: at most 64 registers a thread). xw: the
// input parts, [S*B, G*H] per direction (rows in x's order); bias: W's biases then R's, per
// direction.
template <int TU, class L>
__global__ void __launch_bounds__(1024)
    recurrent_kernel(const float* __restrict__ xw, const float* __restrict__ r, const float* __restrict__ bias,
                     const L* __restrict__ seq_lens, const float* __restrict__ initial_h,
                     const float* __restrict__ initial_c, const float* __restrict__ peephole, float* __restrict__ y,
                     float* __restrict__ y_h, float* __restrict__ y_c, RecurrentShape s) {
  extern __shared__ float shared[];
  const int64_t H = s.hidden, B = s.batch, S = s.seq, D = s.directions;
  const int G = gate_count(s.cell);
  const int64_t GH = G * H;
  const int64_t d = blockIdx.x / B, b = blockIdx.x % B;
  float* h = shared;              // the state, double-buffered: h[cur * H + j]
  float* c = shared + 2 * H;      // the LSTM's cell state
  float* rh = shared + 3 * H;     // the GRU's r * h
  float* zs = shared + 4 * H;     // the GRU's z
  const bool backward = s.reverse_only || d == 1;
  const float* rd = r + d * GH * H;
  const float* wb = bias ? bias + d * 2 * GH : nullptr;
  const float* rb = bias ? wb + GH : nullptr;
  const float* pd = peephole ? peephole + d * 3 * H : nullptr;
  const ActivationFn* fn = s.f[d];
  const int64_t state_at = s.batch_first ? (b * D + d) * H : (d * B + b) * H;
  const int q = threadIdx.x % TU;
  const int64_t units_per_pass = blockDim.x / TU;
  for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
    h[j] = initial_h ? initial_h[state_at + j] : 0.f;
    c[j] = initial_c ? initial_c[state_at + j] : 0.f;
  }
  __syncthreads();
  // sequence_lens' value within [0, S], as on the CPU.
  const int64_t given = seq_lens ? static_cast<int64_t>(seq_lens[b]) : S;
  const int64_t len = given < 0 ? 0 : given > S ? S : given;
  auto bias_of = [&](int64_t i) { return bias ? wb[i] + rb[i] : 0.f; };
  int cur = 0;
  for (int64_t step = 0; step < S; ++step) {
    const bool active = step < len;
    const int64_t t = active ? (backward ? len - 1 - step : step) : step;
    float* hn = h + (1 - cur) * H;
    const float* hc = h + cur * H;
    if (active) {
      const float* gx = xw + d * S * B * GH + (s.batch_first ? b * S + t : t * B + b) * GH;
      // Every thread runs the same passes (the shuffles need the whole warp); units past H
      // compute nothing and store nothing.
      for (int64_t base = 0; base < H; base += units_per_pass) {
        const int64_t j = base + threadIdx.x / TU;
        const bool mine = j < H && q == 0;
        if (s.cell == CellKind::Rnn) {
          const float a = unit_dot<TU>(rd, hc, H, GH, s.transposed, 0, j, q);
          if (mine) hn[j] = fn[0](clipped(gx[j] + a + bias_of(j), s.clip));
        } else if (s.cell == CellKind::Lstm) {
          const float pi = unit_dot<TU>(rd, hc, H, GH, s.transposed, 0, j, q);
          const float po = unit_dot<TU>(rd, hc, H, GH, s.transposed, 1, j, q);
          const float pf = unit_dot<TU>(rd, hc, H, GH, s.transposed, 2, j, q);
          const float pc = unit_dot<TU>(rd, hc, H, GH, s.transposed, 3, j, q);
          if (mine) {
            float cj = c[j];
            float i = gx[j] + pi + bias_of(j), o = gx[H + j] + po + bias_of(H + j);
            float f = gx[2 * H + j] + pf + bias_of(2 * H + j), g = gx[3 * H + j] + pc + bias_of(3 * H + j);
            if (pd) {
              i += pd[j] * cj;
              if (!s.input_forget) f += pd[2 * H + j] * cj;
            }
            i = fn[0](clipped(i, s.clip));
            f = s.input_forget ? 1.f - i : fn[0](clipped(f, s.clip));
            g = fn[1](clipped(g, s.clip));
            cj = f * cj + i * g;
            if (pd) o += pd[H + j] * cj;
            o = fn[0](clipped(o, s.clip));
            c[j] = cj;
            hn[j] = o * fn[2](cj);
          }
        } else {
          const float pz = unit_dot<TU>(rd, hc, H, GH, s.transposed, 0, j, q);
          const float pr = unit_dot<TU>(rd, hc, H, GH, s.transposed, 1, j, q);
          if (mine) {
            const float z = fn[0](clipped(gx[j] + pz + bias_of(j), s.clip));
            const float rg = fn[0](clipped(gx[H + j] + pr + bias_of(H + j), s.clip));
            zs[j] = z;
            rh[j] = s.linear_before_reset ? rg : rg * hc[j];
          }
        }
      }
      if (s.cell == CellKind::Gru) {
        // The h gate reads r * h of every unit (or, with linear_before_reset, r scales R_h h).
        __syncthreads();
        for (int64_t base = 0; base < H; base += units_per_pass) {
          const int64_t j = base + threadIdx.x / TU;
          const float ph = unit_dot<TU>(rd, s.linear_before_reset ? hc : rh, H, GH, s.transposed, 2, j, q);
          if (j < H && q == 0) {
            const float wh = wb ? wb[2 * H + j] : 0.f, rbh = rb ? rb[2 * H + j] : 0.f;
            float hh = s.linear_before_reset ? gx[2 * H + j] + rh[j] * (ph + rbh) + wh : gx[2 * H + j] + ph + wh + rbh;
            hh = fn[1](clipped(hh, s.clip));
            hn[j] = (1.f - zs[j]) * hh + zs[j] * hc[j];
          }
        }
      }
      __syncthreads();
      cur = 1 - cur;
    }
    if (y) {
      float* yt = y + (s.batch_first ? ((b * S + t) * D + d) * H : ((t * D + d) * B + b) * H);
      for (int64_t j = threadIdx.x; j < H; j += blockDim.x) yt[j] = active ? h[cur * H + j] : 0.f;
    }
  }
  for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
    if (y_h) y_h[state_at + j] = h[cur * H + j];
    if (y_c) y_c[state_at + j] = c[j];
  }
}

template <int TU, class L>
void launch_recurrent(const float* xw, const float* r, const float* bias, const L* seq_lens, const float* initial_h,
                      const float* initial_c, const float* peephole, float* y, float* y_h, float* y_c,
                      const RecurrentShape& s, cudaStream_t stream) {
  // H * TU threads, at most 256 (up to 1024 where TU is 1 and H alone needs them), in warps.
  long long threads = s.hidden * TU;
  if (threads > 256) threads = TU == 1 ? (s.hidden < 1024 ? s.hidden : 1024) : 256;
  threads = (threads + 31) / 32 * 32;
  const std::size_t bytes = static_cast<std::size_t>(5 * s.hidden) * sizeof(float);  // <= 40 KiB
  recurrent_kernel<TU, L><<<static_cast<unsigned>(s.directions * s.batch), static_cast<unsigned>(threads), bytes,
                            stream>>>(xw, r, bias, seq_lens, initial_h, initial_c, peephole, y, y_h, y_c, s);
}

// scratch: directions * seq * batch * G*hidden floats, the input parts of the gates.
template <class L>
void recurrent(cublasHandle_t blas, const float* x, const float* w, const float* r, const float* bias,
               const L* seq_lens, const float* initial_h, const float* initial_c, const float* peephole, float* y,
               float* y_h, float* y_c, const RecurrentShape& s, float* scratch, cudaStream_t stream) {
  if (s.batch == 0 || s.hidden == 0) return;
  const int64_t GH = gate_count(s.cell) * s.hidden, rows = s.seq * s.batch;
  // x as [rows, input] (its rows in (t, b) or (b, t) order, which the kernel follows).
  for (int64_t d = 0; d < s.directions; ++d)
    gemm(blas, false, !s.transposed, static_cast<int>(rows), static_cast<int>(GH), static_cast<int>(s.input), 1.f, x,
         w + d * GH * s.input, 0.f, scratch + d * rows * GH);
  // TU threads per unit: about 256 threads a block down to 8 units (a few warps hide the reads
  // of R; more would wait on the butterfly).
  const int64_t H = s.hidden;
  auto launch = [&](auto tu) {
    launch_recurrent<decltype(tu)::value>(scratch, r, bias, seq_lens, initial_h, initial_c, peephole, y, y_h, y_c, s,
                                          stream);
  };
  if (H <= 8) launch(std::integral_constant<int, 32>{});
  else if (H <= 16) launch(std::integral_constant<int, 16>{});
  else if (H <= 32) launch(std::integral_constant<int, 8>{});
  else if (H <= 64) launch(std::integral_constant<int, 4>{});
  else if (H <= 128) launch(std::integral_constant<int, 2>{});
  else launch(std::integral_constant<int, 1>{});
}
