// The description of a recurrent node (RNN, GRU, LSTM) and its activation functions, shared by
// the CPU's and the GPU's kernels: the emitter writes one initializer of RecurrentShape for
// both targets. An activation is evaluated by the functor of that name of the target it is
// compiled for (kernels/functors.hpp, cuda/functors.cuh; the kernel file that includes this one
// includes them first), so that an RNN's Elu is the Elu operator of the same target.
#pragma once
#include "host_device.hpp"

enum class CellKind { Rnn, Gru, Lstm };
enum class Activation {
  Relu,
  Tanh,
  Sigmoid,
  Affine,
  LeakyRelu,
  ThresholdedRelu,
  ScaledTanh,
  HardSigmoid,
  Elu,
  Softsign,
  Softplus
};

struct ActivationFn {
  Activation kind;
  float alpha, beta;
  // A member template: nvcc compiles it for whichever side calls it (the functors of a CUDA
  // header are device functions, a CPU header's host ones).
  template <class T> SOFIEC_HOST_DEVICE T operator()(T x) const {
    switch (kind) {
      case Activation::Relu: return op_relu{}(x);
      case Activation::Tanh: return op_tanh{}(x);
      case Activation::Sigmoid: return op_sigmoid{}(x);
      case Activation::Affine: return T(alpha) * x + T(beta);
      case Activation::LeakyRelu: return op_leaky_relu{alpha}(x);
      case Activation::ThresholdedRelu: return op_thresholded_relu{alpha}(x);
      case Activation::ScaledTanh: return T(alpha) * op_tanh{}(T(beta) * x);
      case Activation::HardSigmoid: return op_hard_sigmoid{alpha, beta}(x);
      case Activation::Elu: return op_elu{alpha}(x);
      case Activation::Softsign: return op_softsign{}(x);
      case Activation::Softplus: return op_softplus{}(x);
    }
    return x;
  }
};

struct RecurrentShape {
  CellKind cell;
  int64_t seq, batch, input, hidden, directions;
  bool batch_first;          // layout = 1
  bool reverse_only;         // direction = reverse (with directions == 1)
  float clip;                // <= 0: none
  bool linear_before_reset;  // GRU
  bool input_forget;         // LSTM
  bool transposed;           // W, R stored [directions, input or hidden, G*hidden] (RecurrentWeightTranspose)
  ActivationFn f[2][3];      // per direction: f, g, h (RNN uses f; GRU f, g; LSTM f, g, h)
};

SOFIEC_HOST_DEVICE int gate_count(CellKind c) { return c == CellKind::Rnn ? 1 : c == CellKind::Gru ? 3 : 4; }
