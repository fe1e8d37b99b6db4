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

#include <cuda_pipeline.h>

#include <cstdint>
#include <type_traits>

#include "functors.cuh"
#include "../shared/recurrent_cell.hpp"  // after the functors it names
#include "gemm.cuh"
#include "runtime.cuh"

__device__ inline float clipped(float v, float clip) { return clip > 0.f ? fmaxf(-clip, fminf(clip, v)) : v; }

// Where R(g*H + j, k) is: r[k * ks + (g*H + j) * us]. In shared memory (the kernel's copy) and
// as RecurrentWeightTranspose stores it, ks is a row of all G*H units and us 1, so a warp's
// units read adjacent words; as ONNX stores it, ks is 1 and us H.
struct RView {
  const float* r;
  int ks, us;
};

// Unit j's dot products with v (H values in shared memory) for NG gates from g0 on, each
// thread over its share of k (q, q + TU, ...), summed with the other TU threads of the unit in
// a fixed butterfly: every one gets the totals. The gates share each v[k] read and give NG
// independent chains of FMAs.
template <int TU, int NG>
__device__ inline void unit_dots(RView rv, const float* v, int H, int g0, int j, int q, float (&sum)[NG]) {
#pragma unroll
  for (int n = 0; n < NG; ++n) sum[n] = 0.f;
  if (j < H) {
    const float* r = rv.r + (g0 * H + j) * rv.us;
    const int gate_step = H * rv.us;
#pragma unroll 4
    for (int k = q; k < H; k += TU) {
      const float vk = v[k];
      const float* rk = r + k * rv.ks;
#pragma unroll
      for (int n = 0; n < NG; ++n) sum[n] = fmaf(vk, rk[n * gate_step], sum[n]);
    }
  }
#pragma unroll
  for (int n = 0; n < NG; ++n)
    for (int lane = TU / 2; lane > 0; lane /= 2) sum[n] += __shfl_xor_sync(0xffffffffu, sum[n], lane, TU);
}

// The row of R's copy in shared memory: G*H words rounded up to the 32 banks, plus 32/TU, so
// that the TU threads of a unit (k rows apart) start 32/TU banks apart and the warp's 32 reads
// fall in 32 different banks.
template <int TU>
__host__ __device__ inline int cached_r_row(int GH) {
  return (GH + 31) / 32 * 32 + (32 / TU) % 32;
}

// Block (d, b): direction d of batch entry b, all steps, with 5 rows of H floats in shared
// memory (h twice, the cell state, the GRU's r*h and z: at most 40 KiB, as the emitter keeps H
// to 2048), up to 1024 threads (__launch_bounds__: at most 64 registers a thread). xw: the
// input parts, [S*B, G*H] per direction (rows in x's order); bias: W's biases then R's, per
// direction. Where the launcher found room, the block keeps after the state the G*H sums of
// the biases (sums_shared) and then a copy of its direction's R (cache_r: H rows of
// cached_r_row words, to about H = 112 for an LSTM on an H100): every step reads both, and
// shared memory answers in tens of cycles where L2 takes hundreds.
template <int TU, class L, bool kDefaults>
__global__ void __launch_bounds__(1024)
    recurrent_kernel(const float* __restrict__ xw, const float* __restrict__ r, const float* __restrict__ bias,
                     const L* __restrict__ seq_lens, const float* __restrict__ initial_h,
                     const float* __restrict__ initial_c, const float* __restrict__ peephole, float* __restrict__ y,
                     float* __restrict__ y_h, float* __restrict__ y_c, RecurrentShape s, bool sums_shared,
                     bool cache_r) {
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
  RView rv{rd, s.transposed ? static_cast<int>(GH) : 1, s.transposed ? 1 : static_cast<int>(H)};
  if (cache_r) {
    const int row = cached_r_row<TU>(static_cast<int>(GH)), gh = static_cast<int>(GH), total = gh * static_cast<int>(H);
    float* rc = shared + 5 * H + GH;
    // R stored [H, G*H] with rows and both copies on 16 bytes: asynchronous 16-byte copies,
    // all in flight at once and no registers held, waited for with the state's first loads
    // (below). Else eight loads in flight per thread before their stores: a trip to memory
    // per eight words, not per word (a word at a time, the copy took longer than the steps).
    const bool async_copy = s.transposed && row % 4 == 0 && gh % 4 == 0 && (5 * H + GH) % 4 == 0 &&
                            reinterpret_cast<std::uintptr_t>(rd) % 16 == 0;
    if (async_copy) {
      const int chunks = gh / 4;
      for (int i = threadIdx.x; i < total / 4; i += blockDim.x)
        __pipeline_memcpy_async(rc + (i / chunks) * row + 4 * (i % chunks), rd + 4 * static_cast<int64_t>(i), 16);
      __pipeline_commit();
    }
    for (int base = threadIdx.x; !async_copy && base < total; base += 8 * blockDim.x) {
      float v[8];
#pragma unroll
      for (int u = 0; u < 8; ++u) {
        const int i = base + u * static_cast<int>(blockDim.x), k = i / gh, unit = i % gh;  // R(unit, k)
        if (i < total) v[u] = s.transposed ? __ldg(rd + i) : __ldg(rd + static_cast<int64_t>(unit) * H + k);
      }
#pragma unroll
      for (int u = 0; u < 8; ++u) {
        const int i = base + u * static_cast<int>(blockDim.x);
        if (i < total) rc[(i / gh) * row + i % gh] = v[u];
      }
    }
    rv = RView{rc, row, 1};
  }
  const float* wb = bias ? bias + d * 2 * GH : nullptr;
  const float* rb = bias ? wb + GH : nullptr;
  const float* pd = peephole ? peephole + d * 3 * H : nullptr;
  const ActivationFn fn[3] = {s.f[d][0], s.f[d][1], s.f[d][2]};  // in registers: read every step
  // Activation k of the cell. kDefaults: ONNX's defaults (the RNN's tanh; sigmoid, then tanh),
  // called directly, so that a step's gates interleave instead of each waiting on a switch.
  auto act = [&](int k, float x) -> float {
    if constexpr (kDefaults)
      return s.cell != CellKind::Rnn && k == 0 ? op_sigmoid{}(x) : op_tanh{}(x);
    else
      return fn[k](x);
  };
  // W's and R's biases summed once (the GRU's h gate's apply apart), after the state.
  float* bsum = shared + 5 * H;
  if (sums_shared)
    for (int64_t i = threadIdx.x; i < GH; i += blockDim.x) bsum[i] = bias ? wb[i] + rb[i] : 0.f;
  auto bias_sum = [&](int64_t i) { return sums_shared ? bsum[i] : bias ? wb[i] + rb[i] : 0.f; };
  const int64_t state_at = s.batch_first ? (b * D + d) * H : (d * B + b) * H;
  const int q = threadIdx.x % TU;
  const int64_t units_per_pass = blockDim.x / TU;
  for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
    h[j] = initial_h ? initial_h[state_at + j] : 0.f;
    c[j] = initial_c ? initial_c[state_at + j] : 0.f;
  }
  __pipeline_wait_prior(0);  // this thread's copies of R (none pending where it had none)
  __syncthreads();
  // sequence_lens' value within [0, S], as on the CPU.
  const int64_t given = seq_lens ? static_cast<int64_t>(seq_lens[b]) : S;
  const int64_t len = given < 0 ? 0 : given > S ? S : given;
  // The time an active step reads and writes, and the input parts of the gates at time t.
  auto time_of = [&](int64_t step) { return backward ? len - 1 - step : step; };
  auto gates_at = [&](int64_t t) { return xw + d * S * B * GH + (s.batch_first ? b * S + t : t * B + b) * GH; };
  // Unit j's input parts at active step `step`: a trip to L2 or memory.
  auto input_parts = [&](int64_t step, int64_t j, float (&xg)[4]) {
    const float* gx = gates_at(time_of(step));
#pragma unroll
    for (int g = 0; g < 4; ++g) xg[g] = g < G ? gx[g * H + j] : 0.f;
  };
  // Where one pass covers every unit, each thread's unit is the same every step, and its input
  // parts are loaded a step ahead: the trip to memory overlaps the step before, instead of
  // standing in every step's chain of dependent latencies.
  const bool one_pass = H <= units_per_pass;
  float ahead[4] = {0.f, 0.f, 0.f, 0.f};
  if (one_pass && len > 0 && threadIdx.x / TU < H && q == 0) input_parts(0, threadIdx.x / TU, ahead);
  int cur = 0;
  for (int64_t step = 0; step < S; ++step) {
    const bool active = step < len;
    const int64_t t = active ? time_of(step) : step;
    float* hn = h + (1 - cur) * H;
    const float* hc = h + cur * H;
    if (active) {
      const float* gx = gates_at(t);
      float x_h = 0.f;  // the GRU's h-gate input part, where one pass keeps it for the second
      // Every thread runs the same passes (the shuffles need the whole warp); units past H
      // compute nothing and store nothing.
      for (int64_t base = 0; base < H; base += units_per_pass) {
        const int64_t j = base + threadIdx.x / TU;
        const bool mine = j < H && q == 0;
        // The input parts of unit j's gates: loaded the step before, or now, before the dot
        // products so that the trips to memory overlap them (nothing reads them until then).
        float xg[4] = {ahead[0], ahead[1], ahead[2], ahead[3]};
        if (mine && !one_pass) input_parts(step, j, xg);
        if (mine && one_pass && step + 1 < len) input_parts(step + 1, j, ahead);
        x_h = xg[2];
        if (s.cell == CellKind::Rnn) {
          float a[1];
          unit_dots<TU>(rv, hc, static_cast<int>(H), 0, static_cast<int>(j), q, a);
          if (mine) hn[j] = act(0, clipped(xg[0] + bias_sum(j) + a[0], s.clip));
        } else if (s.cell == CellKind::Lstm) {
          float p[4];
          unit_dots<TU>(rv, hc, static_cast<int>(H), 0, static_cast<int>(j), q, p);
          const float pi = p[0], po = p[1], pf = p[2], pc = p[3];
          if (mine) {
            float cj = c[j];
            float i = xg[0] + bias_sum(j) + pi, o = xg[1] + bias_sum(H + j) + po;
            float f = xg[2] + bias_sum(2 * H + j) + pf, g = xg[3] + bias_sum(3 * H + j) + pc;
            if (pd) {
              i += pd[j] * cj;
              if (!s.input_forget) f += pd[2 * H + j] * cj;
            }
            i = act(0, clipped(i, s.clip));
            f = s.input_forget ? 1.f - i : act(0, clipped(f, s.clip));
            g = act(1, clipped(g, s.clip));
            cj = f * cj + i * g;
            if (pd) o += pd[H + j] * cj;
            o = act(0, clipped(o, s.clip));
            c[j] = cj;
            hn[j] = o * act(2, cj);
          }
        } else {
          float p[2];
          unit_dots<TU>(rv, hc, static_cast<int>(H), 0, static_cast<int>(j), q, p);
          if (mine) {
            const float z = act(0, clipped(xg[0] + bias_sum(j) + p[0], s.clip));
            const float rg = act(0, clipped(xg[1] + bias_sum(H + j) + p[1], s.clip));
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
          float p[1];
          unit_dots<TU>(rv, s.linear_before_reset ? hc : rh, static_cast<int>(H), 2, static_cast<int>(j), q, p);
          const float ph = p[0];
          if (j < H && q == 0) {
            const float wh = wb ? wb[2 * H + j] : 0.f, rbh = rb ? rb[2 * H + j] : 0.f;
            const float xh = one_pass ? x_h : gx[2 * H + j];
            float hh = s.linear_before_reset ? xh + rh[j] * (ph + rbh) + wh : xh + ph + wh + rbh;
            hh = act(1, clipped(hh, s.clip));
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

template <int TU, class L, bool kDefaults>
void launch_recurrent(const float* xw, const float* r, const float* bias, const L* seq_lens, const float* initial_h,
                      const float* initial_c, const float* peephole, float* y, float* y_h, float* y_c,
                      const RecurrentShape& s, int limit, cudaStream_t stream) {
  // H * TU threads, at most 256 (up to 1024 where TU is 1 and H alone needs them), in warps.
  long long threads = s.hidden * TU;
  if (threads > 256) threads = TU == 1 ? (s.hidden < 1024 ? s.hidden : 1024) : 256;
  threads = (threads + 31) / 32 * 32;
  const std::size_t state_bytes = static_cast<std::size_t>(5 * s.hidden) * sizeof(float);  // <= 40 KiB
  const int GH = gate_count(s.cell) * static_cast<int>(s.hidden);
  const std::size_t sums_bytes = static_cast<std::size_t>(GH) * sizeof(float),
                    r_bytes = static_cast<std::size_t>(s.hidden) * cached_r_row<TU>(GH) * sizeof(float);
  // The bias sums and R in shared memory where the card has room for them beside the state
  // (limit: Runtime::shared_memory_optin()); past 48 KiB a kernel must ask for it.
  const std::size_t room = static_cast<std::size_t>(limit);
  const bool sums_shared = state_bytes + sums_bytes <= room;
  const bool cache_r = sums_shared && state_bytes + sums_bytes + r_bytes <= room;
  const std::size_t bytes = state_bytes + (sums_shared ? sums_bytes : 0) + (cache_r ? r_bytes : 0);
  const auto kernel = recurrent_kernel<TU, L, kDefaults>;
  allow_shared_memory(kernel, bytes, limit, "cudaFuncSetAttribute(recurrent_kernel)");
  const unsigned blocks = static_cast<unsigned>(s.directions * s.batch);
  kernel<<<blocks, static_cast<unsigned>(threads), bytes, stream>>>(xw, r, bias, seq_lens, initial_h, initial_c,
                                                                    peephole, y, y_h, y_c, s, sums_shared, cache_r);
}

// scratch: directions * seq * batch * G*hidden floats, the input parts of the gates;
// shared_limit: the shared memory a block may ask for (Runtime::shared_memory_optin()).
template <class L>
void recurrent(cublasHandle_t blas, const float* x, const float* w, const float* r, const float* bias,
               const L* seq_lens, const float* initial_h, const float* initial_c, const float* peephole, float* y,
               float* y_h, float* y_c, const RecurrentShape& s, float* scratch, int shared_limit, cudaStream_t stream) {
  if (s.batch == 0 || s.hidden == 0) return;
  const int64_t GH = gate_count(s.cell) * s.hidden, rows = s.seq * s.batch;
  // x as [rows, input] (its rows in (t, b) or (b, t) order, which the kernel follows).
  for (int64_t d = 0; d < s.directions; ++d)
    gemm(blas, false, !s.transposed, static_cast<int>(rows), static_cast<int>(GH), static_cast<int>(s.input), 1.f, x,
         w + d * GH * s.input, 0.f, scratch + d * rows * GH);
  // TU threads per unit: about 256 threads a block down to 8 units (a few warps hide the reads
  // of R; more would wait on the butterfly).
  const int64_t H = s.hidden;
  // ONNX's default activations in every direction: the kernel calls them directly.
  bool defaults = true;
  for (int64_t d = 0; d < s.directions; ++d) {
    const ActivationFn* f = s.f[d];
    if (s.cell == CellKind::Rnn) defaults = defaults && f[0].kind == Activation::Tanh;
    else
      defaults = defaults && f[0].kind == Activation::Sigmoid && f[1].kind == Activation::Tanh &&
                 (s.cell == CellKind::Gru || f[2].kind == Activation::Tanh);
  }
  auto launch = [&](auto tu) {
    if (defaults)
      launch_recurrent<decltype(tu)::value, L, true>(scratch, r, bias, seq_lens, initial_h, initial_c, peephole, y, y_h,
                                                     y_c, s, shared_limit, stream);
    else
      launch_recurrent<decltype(tu)::value, L, false>(scratch, r, bias, seq_lens, initial_h, initial_c, peephole, y,
                                                      y_h, y_c, s, shared_limit, stream);
  };
  if (H <= 8) launch(std::integral_constant<int, 32>{});
  else if (H <= 16) launch(std::integral_constant<int, 16>{});
  else if (H <= 32) launch(std::integral_constant<int, 8>{});
  else if (H <= 64) launch(std::integral_constant<int, 4>{});
  else if (H <= 128) launch(std::integral_constant<int, 2>{});
  else launch(std::integral_constant<int, 1>{});
}
