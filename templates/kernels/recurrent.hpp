// Recurrent layers (ONNX RNN, GRU, LSTM) in one kernel. Gate pre-activations from the inputs
// for all steps come from one GEMM up front; each step adds the recurrent GEMM of the
// previous hidden state and applies the cell's equations. Batch entries past their
// sequence length keep their state and output zeros.
#pragma once
#include "prelude.hpp"
#include "functors.hpp"
#include "gemm.hpp"

enum class CellKind { Rnn, Gru, Lstm };
enum class Activation { Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus };

struct ActivationFn {
  Activation kind;
  float alpha, beta;
  template <class T>
  T operator()(T x) const {
    switch (kind) {
      case Activation::Relu: return x > T(0) ? x : T(0);
      case Activation::Tanh: return op_tanh{}(x);
      case Activation::Sigmoid: return op_sigmoid{}(x);
      case Activation::Affine: return T(alpha) * x + T(beta);
      case Activation::LeakyRelu: return x >= T(0) ? x : T(alpha) * x;
      case Activation::ThresholdedRelu: return x > T(alpha) ? x : T(0);
      case Activation::ScaledTanh: return T(alpha) * op_tanh{}(T(beta) * x);
      case Activation::HardSigmoid: return std::max(T(0), std::min(T(1), T(alpha) * x + T(beta)));
      case Activation::Elu: return x >= T(0) ? x : T(alpha) * (std::exp(x) - T(1));
      case Activation::Softsign: return x / (T(1) + std::fabs(x));
      case Activation::Softplus: return std::log1p(std::exp(x));
    }
    return x;
  }
};

struct RecurrentShape {
  CellKind cell;
  int64_t seq, batch, input, hidden, directions;
  bool batch_first;           // layout = 1
  bool reverse_only;          // direction = reverse (with directions == 1)
  float clip;                 // <= 0: none
  bool linear_before_reset;   // GRU
  bool input_forget;          // LSTM
  ActivationFn f[2][3];       // per direction: f, g, h (RNN uses f; GRU f, g; LSTM f, g, h)
};

inline int gate_count(CellKind c) { return c == CellKind::Rnn ? 1 : c == CellKind::Gru ? 3 : 4; }

// scratch: seq*batch*G*hidden + batch*G*hidden + 4*batch*hidden elements of T.
template <class T, class L>
inline void recurrent(const T* x, const T* w, const T* r, const T* bias, const L* seq_lens, const T* initial_h,
                      const T* initial_c, const T* peephole, T* y, T* y_h, T* y_c, const RecurrentShape& s, T* scratch) {
  const int64_t G = gate_count(s.cell), H = s.hidden, B = s.batch, S = s.seq, GH = G * H;
  T* xw = scratch;
  T* hr = xw + S * B * GH;
  T* h = hr + B * GH;
  T* c = h + B * H;
  T* tmp = c + B * H;
  auto clip = [&](T v) { return s.clip > 0.f ? std::max(T(-s.clip), std::min(T(s.clip), v)) : v; };
  auto h_offset = [&](int64_t d, int64_t b) { return s.batch_first ? (b * s.directions + d) * H : (d * B + b) * H; };
  for (int64_t d = 0; d < s.directions; ++d) {
    const bool backward = s.reverse_only || d == 1;
    const T* wd = w + d * GH * s.input;
    const T* rd = r + d * GH * H;
    const T* wb = bias ? bias + d * 2 * GH : nullptr;
    const T* rb = bias ? wb + GH : nullptr;
    const T* pd = peephole ? peephole + d * 3 * H : nullptr;
    const ActivationFn* fn = s.f[d];
    // Rows of x in (t, b) order for layout 0, (b, t) for layout 1.
    gemm_rowmajor(false, true, S * B, GH, s.input, T(1), x, s.input, wd, s.input, T(0), xw, GH);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        h[b * H + j] = initial_h ? initial_h[h_offset(d, b) + j] : T(0);
        c[b * H + j] = initial_c ? initial_c[h_offset(d, b) + j] : T(0);
      }
    for (int64_t step = 0; step < S; ++step) {
      const bool gru_reset_first = s.cell == CellKind::Gru && !s.linear_before_reset;
      // Recurrent part; for GRU without linear_before_reset the h gate's part waits for r.
      // Through the BLAS even for one row: the input projection above has paid for its work
      // buffers already, and its matrix-vector path is the faster one over many steps.
      gemm_blas(false, true, B, gru_reset_first ? 2 * H : GH, H, T(1), h, H, rd, H, T(0), hr, GH);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t len = seq_lens ? int64_t(seq_lens[b]) : S;
        if (step >= len) continue;
        const int64_t t = backward ? len - 1 - step : step;
        const T* gx = xw + (s.batch_first ? b * S + t : t * B + b) * GH;
        T* gh = hr + b * GH;
        T* hb = h + b * H;
        T* cb = c + b * H;
        auto pre = [&](int gate, int64_t j, bool with_recurrent) {
          T v = gx[gate * H + j] + (with_recurrent ? gh[gate * H + j] : T(0));
          if (wb) v += wb[gate * H + j] + rb[gate * H + j];
          return v;
        };
        if (s.cell == CellKind::Rnn) {
          for (int64_t j = 0; j < H; ++j) hb[j] = fn[0](clip(pre(0, j, true)));
        } else if (s.cell == CellKind::Gru) {
          T* rh = tmp + b * H;
          for (int64_t j = 0; j < H; ++j) rh[j] = fn[0](clip(pre(1, j, true))) * hb[j];  // r * H
          if (gru_reset_first) {
            // h gate's recurrent part: (r * H) R_h^T
            for (int64_t j = 0; j < H; ++j) {
              T acc = T(0);
              for (int64_t k = 0; k < H; ++k) acc += rh[k] * rd[(2 * H + j) * H + k];
              gh[2 * H + j] = acc;
            }
          }
          for (int64_t j = 0; j < H; ++j) {
            const T z = fn[0](clip(pre(0, j, true)));
            T hh;
            if (gru_reset_first) {
              hh = fn[1](clip(pre(2, j, true)));
            } else {
              const T r_gate = fn[0](clip(pre(1, j, true)));
              T v = gx[2 * H + j] + r_gate * (gh[2 * H + j] + (rb ? rb[2 * H + j] : T(0)));
              if (wb) v += wb[2 * H + j];
              hh = fn[1](clip(v));
            }
            tmp[B * H + j] = (T(1) - z) * hh + z * hb[j];
          }
          for (int64_t j = 0; j < H; ++j) hb[j] = tmp[B * H + j];
        } else {  // LSTM, gates i, o, f, c
          for (int64_t j = 0; j < H; ++j) {
            const T i_gate = fn[0](clip(pre(0, j, true) + (pd ? pd[j] * cb[j] : T(0))));
            const T f_gate = s.input_forget ? T(1) - i_gate : fn[0](clip(pre(2, j, true) + (pd ? pd[2 * H + j] * cb[j] : T(0))));
            const T c_gate = fn[1](clip(pre(3, j, true)));
            const T c_new = f_gate * cb[j] + i_gate * c_gate;
            const T o_gate = fn[0](clip(pre(1, j, true) + (pd ? pd[H + j] * c_new : T(0))));
            cb[j] = c_new;
            hb[j] = o_gate * fn[2](c_new);
          }
        }
      }
      if (y)
        for (int64_t b = 0; b < B; ++b) {
          const int64_t len = seq_lens ? int64_t(seq_lens[b]) : S;
          const int64_t t = step < len ? (backward ? len - 1 - step : step) : step;
          T* yt = y + (s.batch_first ? ((b * S + t) * s.directions + d) * H : ((t * s.directions + d) * B + b) * H);
          for (int64_t j = 0; j < H; ++j) yt[j] = step < len ? h[b * H + j] : T(0);
        }
    }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        if (y_h) y_h[h_offset(d, b) + j] = h[b * H + j];
        if (y_c) y_c[h_offset(d, b) + j] = c[b * H + j];
      }
  }
}
