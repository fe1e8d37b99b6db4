// Recurrent layers (ONNX RNN, GRU, LSTM) in one kernel. Gate pre-activations from the inputs
// for all steps come from one GEMM up front; each step adds the recurrent GEMM of the
// previous hidden state and applies the cell's equations. Batch entries past their
// sequence length keep their state and output zeros.
#pragma once
#include "prelude.hpp"
#include "functors.hpp"
#include "elementwise.hpp"
#include "gemm.hpp"
#include "../shared/recurrent_cell.hpp"  // after the functors it names

// f over v[0:n] in place; sigmoid and tanh (every default) through their 16-lane forms.
template <class T> inline void activate(const ActivationFn& f, T* v, int64_t n) {
  if (f.kind == Activation::Sigmoid) map_unary(v, v, n, op_sigmoid{});
  else if (f.kind == Activation::Tanh) map_unary(v, v, n, op_tanh{});
  else
    for (int64_t i = 0; i < n; ++i) v[i] = f(v[i]);
}

template <class T> inline void clip_values(T* v, int64_t n, float clip) {
  if (clip > 0.f)
    for (int64_t i = 0; i < n; ++i) v[i] = std::max(T(-clip), std::min(T(clip), v[i]));
}

// One LSTM step of one batch entry; p holds the four gates' pre-activations (i, o, f, c),
// tmp H values of scratch.
template <class T>
inline void lstm_cell(T* p, T* h, T* c, const T* peephole, const ActivationFn* fn, const RecurrentShape& s, T* tmp) {
  const int64_t H = s.hidden;
  T* i_gate = p;
  T* o_gate = p + H;
  T* f_gate = p + 2 * H;
  T* c_gate = p + 3 * H;
  if (peephole)
    for (int64_t j = 0; j < H; ++j) {
      i_gate[j] += peephole[j] * c[j];
      if (!s.input_forget) f_gate[j] += peephole[2 * H + j] * c[j];
    }
  clip_values(i_gate, H, s.clip);
  activate(fn[0], i_gate, H);
  if (s.input_forget) {
    const T one = T(1);
    map_binary_scalar_a(&one, i_gate, f_gate, H, op_sub{});
  } else {
    clip_values(f_gate, H, s.clip);
    activate(fn[0], f_gate, H);
  }
  clip_values(c_gate, H, s.clip);
  activate(fn[1], c_gate, H);
  map_binary_same(f_gate, c, c, H, op_mul{});            // f * c
  map_binary_same(i_gate, c_gate, c_gate, H, op_mul{});  // i * g
  map_binary_same(c, c_gate, c, H, op_add{});            // the new cell state
  if (peephole)
    for (int64_t j = 0; j < H; ++j) o_gate[j] += peephole[H + j] * c[j];
  clip_values(o_gate, H, s.clip);
  activate(fn[0], o_gate, H);
  copy_elements(c, tmp, H);
  activate(fn[2], tmp, H);
  map_binary_same(o_gate, tmp, h, H, op_mul{});
}

// One LSTM step of one batch entry in registers, for the common cell: activations sigmoid,
// tanh, tanh, no clip, peephole or coupled gates, R stored transposed [H, 4H]. Per block of hidden
// units (kLstmUnits) the four gates' products run as 8 chains of FMAs down R's rows; the gates, the cell
// update and h follow in the same registers, and with blocks of 32 units (not 64) one
// block's exponentials overlap the next block's reads. R (64 KiB at H = 64, twice L1)
// streams from L2 at every step, and that bounds the step: so alternate steps walk R the
// other way (blocks and rows reversed) and begin with the part the last step left in L1.
// The new h goes to h_next, since every unit's product still reads the old h.
template <bool FULL, int NV>
inline void lstm_units_lanes(int64_t units, const float* h, const float* r, int64_t H, const float* gx,
                             const float* bias_sum, float* c, float* h_next, bool upward) {
  using simd::f32x16;
  const int64_t GH = 4 * H;
  const int64_t width[2] = {std::min<int64_t>(16, units), std::max<int64_t>(0, units - 16)};
  auto load = [&](const float* p, int v, f32x16& x) __attribute__((always_inline)) {
    if (FULL) simd::load(x, p + 16 * v);
    else simd::load_first(p + 16 * v, width[v], x);
  };
  f32x16 i0 = {}, i1 = {}, o0 = {}, o1 = {}, f0 = {}, f1 = {}, g0 = {}, g1 = {};
  const int64_t first = upward ? 0 : H - 1, step = upward ? 1 : -1;
  const float* row = r + first * GH;
  for (int64_t n = 0, k = first; n < H; ++n, k += step, row += step * GH) {
    const f32x16 a(h[k]);
    f32x16 b0, b1;
#define SOFIEC_LSTM_GATE(acc, offset)  \
  load(row + (offset), 0, b0);         \
  acc##0 = simd::fma(a, b0, acc##0);   \
  if constexpr (NV > 1) {              \
    load(row + (offset), 1, b1);       \
    acc##1 = simd::fma(a, b1, acc##1); \
  }
    SOFIEC_LSTM_GATE(i, 0)
    SOFIEC_LSTM_GATE(o, H)
    SOFIEC_LSTM_GATE(f, 2 * H)
    SOFIEC_LSTM_GATE(g, 3 * H)
#undef SOFIEC_LSTM_GATE
  }
  auto finish = [&](int v, f32x16& i, f32x16& o, f32x16& f, f32x16& g) __attribute__((always_inline)) {
    f32x16 x, cv;
    load(gx, v, x), i += x;
    load(gx + H, v, x), o += x;
    load(gx + 2 * H, v, x), f += x;
    load(gx + 3 * H, v, x), g += x;
    if (bias_sum) {
      load(bias_sum, v, x), i += x;
      load(bias_sum + H, v, x), o += x;
      load(bias_sum + 2 * H, v, x), f += x;
      load(bias_sum + 3 * H, v, x), g += x;
    }
    sigmoid_poly(i);
    sigmoid_poly(o);
    sigmoid_poly(f);
    tanh_poly(g);
    load(c, v, cv);
    cv = f * cv + i * g;
    f32x16 t = cv;
    tanh_poly(t);
    t = o * t;
    if (FULL) {
      simd::store(c + 16 * v, cv);
      simd::store(h_next + 16 * v, t);
    } else {
      simd::store_first(c + 16 * v, width[v], cv);
      simd::store_first(h_next + 16 * v, width[v], t);
    }
  };
  finish(0, i0, o0, f0, g0);
  if (NV > 1 && width[1] > 0) finish(1, i1, o1, f1, g1);
}

// Units per block: 32 (8 accumulators of 16 floats) where they fit the registers with AVX-512,
// 16 elsewhere (4 accumulators: 8 of AVX2's registers, 16 of NEON's).
constexpr int64_t kLstmUnits = simd::kFloatLanes >= 16 ? 32 : 16;

inline bool lstm_lanes_apply(const RecurrentShape& s, const ActivationFn* fn, const void* peephole) {
  return s.cell == CellKind::Lstm && s.transposed && !peephole && s.clip <= 0.f && !s.input_forget &&
         fn[0].kind == Activation::Sigmoid && fn[1].kind == Activation::Tanh && fn[2].kind == Activation::Tanh;
}

inline void lstm_step_lanes(const float* h, const float* r, int64_t H, const float* gx, const float* bias_sum, float* c,
                            float* h_next, bool upward) {
  constexpr int NV = int(kLstmUnits / 16);
  const int64_t blocks = (H + kLstmUnits - 1) / kLstmUnits;
  for (int64_t n = 0; n < blocks; ++n) {
    const int64_t u = kLstmUnits * (upward ? n : blocks - 1 - n);
    const int64_t units = std::min<int64_t>(kLstmUnits, H - u);
    if (units == kLstmUnits)
      lstm_units_lanes<true, NV>(units, h, r + u, H, gx + u, bias_sum ? bias_sum + u : nullptr, c + u, h_next + u,
                                 upward);
    else
      lstm_units_lanes<false, NV>(units, h, r + u, H, gx + u, bias_sum ? bias_sum + u : nullptr, c + u, h_next + u,
                                  upward);
  }
}

// One GRU step of one batch entry; p holds the z and r pre-activations and the h gate's
// recurrent part (or nothing there when it waits for r), gx the input parts, tmp H values.
template <class T>
inline void gru_cell(T* p, const T* gx, const T* bias_sum, const T* wb, const T* rb, const T* r_h, int64_t ld_r, T* h,
                     const ActivationFn* fn, const RecurrentShape& s, T* tmp) {
  const int64_t H = s.hidden;
  T* z = p;
  T* r = p + H;
  T* hh = p + 2 * H;
  clip_values(p, 2 * H, s.clip);
  activate(fn[0], p, 2 * H);
  if (!s.linear_before_reset) {
    // h gate's recurrent part: (r * H) R_h^T
    map_binary_same(r, h, tmp, H, op_mul{});
    gemm_rowmajor(false, !s.transposed, 1, H, H, T(1), tmp, H, r_h, ld_r, T(0), hh, H);
    map_binary_same(hh, gx + 2 * H, hh, H, op_add{});
    if (bias_sum) map_binary_same(hh, bias_sum + 2 * H, hh, H, op_add{});
  } else {
    // gx + r * (R_h h + rb) + wb
    if (rb) map_binary_same(hh, rb + 2 * H, hh, H, op_add{});
    map_binary_same(r, hh, hh, H, op_mul{});
    map_binary_same(gx + 2 * H, hh, hh, H, op_add{});
    if (wb) map_binary_same(hh, wb + 2 * H, hh, H, op_add{});
  }
  clip_values(hh, H, s.clip);
  activate(fn[1], hh, H);
  // (1 - z) * hh + z * h
  map_binary_same(z, h, r, H, op_mul{});
  const T one = T(1);
  map_binary_scalar_a(&one, z, z, H, op_sub{});
  map_binary_same(z, hh, z, H, op_mul{});
  map_binary_same(z, r, h, H, op_add{});
}

// Batch entry b's length: sequence_lens' value, within [0, S] (a longer one would read and
// write past the sequence).
template <class L> inline int64_t sequence_length(const L* seq_lens, int64_t b, int64_t S) {
  const int64_t len = seq_lens ? int64_t(seq_lens[b]) : S;
  return len < 0 ? 0 : len > S ? S : len;
}

// Y's rows of one step: each entry's h, or zeros past its sequence length.
template <class T, class L>
inline void write_step_output(T* y, const T* h, int64_t step, bool backward, const L* seq_lens, int64_t d,
                              const RecurrentShape& s) {
  if (!y) return;
  const int64_t H = s.hidden, B = s.batch, S = s.seq;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = sequence_length(seq_lens, b, S);
    const int64_t t = step < len ? (backward ? len - 1 - step : step) : step;
    T* yt = y + (s.batch_first ? ((b * S + t) * s.directions + d) * H : ((t * s.directions + d) * B + b) * H);
    for (int64_t j = 0; j < H; ++j) yt[j] = step < len ? h[b * H + j] : T(0);
  }
}

// scratch: seq*batch*G*hidden + batch*G*hidden + 3*batch*hidden + G*hidden elements of T
// (input parts, recurrent parts, h, c, a row of scratch per batch entry, the bias sums).
template <class T, class L>
inline void recurrent(const T* x, const T* w, const T* r, const T* bias, const L* seq_lens, const T* initial_h,
                      const T* initial_c, const T* peephole, T* y, T* y_h, T* y_c, const RecurrentShape& s,
                      T* scratch) {
  const int64_t G = gate_count(s.cell), H = s.hidden, B = s.batch, S = s.seq, GH = G * H;
  T* xw = scratch;
  T* hr = xw + S * B * GH;
  T* h = hr + B * GH;
  T* c = h + B * H;
  T* tmp = c + B * H;
  T* bias_sum = tmp + B * H;
  auto h_offset = [&](int64_t d, int64_t b) { return s.batch_first ? (b * s.directions + d) * H : (d * B + b) * H; };
  const bool gru_reset_first = s.cell == CellKind::Gru && !s.linear_before_reset;
  for (int64_t d = 0; d < s.directions; ++d) {
    const bool backward = s.reverse_only || d == 1;
    const T* wd = w + d * GH * s.input;
    const T* rd = r + d * GH * H;
    // R_h, the h gate's block: rows 2H.. of R, or its columns 2H.. when stored transposed
    const T* r_h = s.transposed ? rd + 2 * H : rd + 2 * H * H;
    const int64_t ld_r = s.transposed ? GH : H;
    const T* wb = bias ? bias + d * 2 * GH : nullptr;
    const T* rb = bias ? wb + GH : nullptr;
    const T* pd = peephole ? peephole + d * 3 * H : nullptr;
    const ActivationFn* fn = s.f[d];
    // Both biases summed once per gate (a GRU with linear_before_reset adds its h gate's two
    // separately: r multiplies R's).
    if (bias) map_binary_same(wb, rb, bias_sum, GH, op_add{});
    // Rows of x in (t, b) order for layout 0, (b, t) for layout 1.
    gemm_rowmajor(false, !s.transposed, S * B, GH, s.input, T(1), x, s.input, wd, s.transposed ? GH : s.input, T(0), xw,
                  GH);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        h[b * H + j] = initial_h ? initial_h[h_offset(d, b) + j] : T(0);
        c[b * H + j] = initial_c ? initial_c[h_offset(d, b) + j] : T(0);
      }
    // The common LSTM cell of one or two batch entries: per entry, product and cell in
    // registers (lstm_step_lanes). More entries share each read of R through the GEMM.
    bool lanes = false;
    if constexpr (std::is_same<T, float>::value) lanes = B <= 2 && lstm_lanes_apply(s, fn, pd);
    for (int64_t step = 0; step < S && lanes; ++step) {
      if constexpr (std::is_same<T, float>::value) {
        for (int64_t b = 0; b < B; ++b) {
          const int64_t len = sequence_length(seq_lens, b, S);
          if (step >= len) continue;
          const int64_t t = backward ? len - 1 - step : step;
          const T* gx = xw + (s.batch_first ? b * S + t : t * B + b) * GH;
          lstm_step_lanes(h + b * H, rd, H, gx, bias ? bias_sum : nullptr, c + b * H, tmp + b * H, step % 2 == 0);
          copy_elements(tmp + b * H, h + b * H, H);
        }
        write_step_output(y, h, step, backward, seq_lens, d, s);
      }
    }
    for (int64_t step = 0; step < S && !lanes; ++step) {
      // Recurrent part; for GRU without linear_before_reset the h gate's part waits for r.
      // With R transposed (RecurrentWeightTranspose) one row runs the register-blocked
      // kernel, B's rows in order, no horizontal sums.
      const int64_t cols = gru_reset_first ? 2 * H : GH;
      gemm_rowmajor(false, !s.transposed, B, cols, H, T(1), h, H, rd, s.transposed ? GH : H, T(0), hr, GH);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t len = sequence_length(seq_lens, b, S);
        if (step >= len) continue;
        const int64_t t = backward ? len - 1 - step : step;
        const T* gx = xw + (s.batch_first ? b * S + t : t * B + b) * GH;
        T* p = hr + b * GH;                                           // the recurrent part, then the pre-activations
        const int64_t summed = s.cell == CellKind::Gru ? 2 * H : GH;  // a GRU's h gate: in gru_cell
        map_binary_same(p, gx, p, summed, op_add{});
        if (bias) map_binary_same(p, bias_sum, p, summed, op_add{});
        if (s.cell == CellKind::Rnn) {
          clip_values(p, H, s.clip);
          activate(fn[0], p, H);
          copy_elements(p, h + b * H, H);
        } else if (s.cell == CellKind::Gru) {
          gru_cell(p, gx, bias ? bias_sum : nullptr, wb, rb, r_h, ld_r, h + b * H, fn, s, tmp + b * H);
        } else {
          lstm_cell(p, h + b * H, c + b * H, pd, fn, s, tmp + b * H);
        }
      }
      write_step_output(y, h, step, backward, seq_lens, d, s);
    }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        if (y_h) y_h[h_offset(d, b) + j] = h[b * H + j];
        if (y_c) y_c[h_offset(d, b) + j] = c[b * H + j];
      }
  }
}
