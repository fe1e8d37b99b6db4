// Recurrent layers: RNN, GRU, LSTM (all directions, layouts, sequence lengths, initial states,
// peepholes, clip and activation lists), one kernel for the three cells.
#include <cctype>

#include "emit/emit_context.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

enum class Cell { Rnn, Gru, Lstm };

int gates(Cell c) { return c == Cell::Rnn ? 1 : c == Cell::Gru ? 3 : 4; }
int activations_per_direction(Cell c) { return c == Cell::Rnn ? 1 : c == Cell::Gru ? 2 : 3; }

struct RecurrentPlan {
  int64_t seq, batch, input, hidden, directions;
  bool batch_first, reverse_only;
  std::vector<std::string> activations;  // "detail::ActivationFn{...}" per direction and slot
};

std::string activation_fn(const NodeView& v, const std::string& name, float alpha, float beta) {
  static const std::map<std::string, std::tuple<const char*, float, float>> known = {
      {"relu", {"Relu", 0.f, 0.f}},
      {"tanh", {"Tanh", 0.f, 0.f}},
      {"sigmoid", {"Sigmoid", 0.f, 0.f}},
      {"affine", {"Affine", 1.f, 0.f}},
      {"leakyrelu", {"LeakyRelu", 0.01f, 0.f}},
      {"thresholdedrelu", {"ThresholdedRelu", 1.f, 0.f}},
      {"scaledtanh", {"ScaledTanh", 1.f, 1.f}},
      {"hardsigmoid", {"HardSigmoid", 0.2f, 0.5f}},
      {"elu", {"Elu", 1.f, 0.f}},
      {"softsign", {"Softsign", 0.f, 0.f}},
      {"softplus", {"Softplus", 0.f, 0.f}}};
  std::string lower;
  for (char ch : name) lower += char(std::tolower(static_cast<unsigned char>(ch)));
  auto it = known.find(lower);
  if (it == known.end()) v.fail("unknown activation '{}'", name);
  const auto& [kind, default_alpha, default_beta] = it->second;
  return fmt::format("detail::ActivationFn{{detail::Activation::{}, {}, {}}}", kind,
                     cpp_float(std::isnan(alpha) ? default_alpha : alpha),
                     cpp_float(std::isnan(beta) ? default_beta : beta));
}

// transposed: the compiler's form (RecurrentWeightTranspose), W and R stored [directions,
// input, G*hidden] and [directions, hidden, G*hidden], each direction's matrix transposed.
RecurrentPlan plan_recurrent(const NodeView& v, Cell cell, bool transposed) {
  const auto x = v.input_dims(0), w = v.input_dims(1), r = v.input_dims(2);
  if (x.size() != 3 || w.size() != 3 || r.size() != 3) v.fail("X, W and R must be 3-D");
  RecurrentPlan p;
  p.batch_first = v.node().attr_int("layout", 0) != 0;
  p.seq = p.batch_first ? x[1] : x[0];
  p.batch = p.batch_first ? x[0] : x[1];
  p.input = x[2];
  const std::string direction = v.node().attr_string("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    v.fail("unknown direction '{}'", direction);
  p.directions = direction == "bidirectional" ? 2 : 1;
  p.reverse_only = direction == "reverse";
  p.hidden = v.node().attr_int("hidden_size", transposed ? r[1] : r[2]);
  const int64_t gh = gates(cell) * p.hidden;
  const std::vector<int64_t> w_dims =
      transposed ? std::vector<int64_t>{p.directions, p.input, gh} : std::vector<int64_t>{p.directions, gh, p.input};
  if (w != w_dims) v.fail("W must have shape {}", shape_str(to_shape(w_dims)));
  const std::vector<int64_t> r_dims =
      transposed ? std::vector<int64_t>{p.directions, p.hidden, gh} : std::vector<int64_t>{p.directions, gh, p.hidden};
  if (r != r_dims) v.fail("R must have shape {}", shape_str(to_shape(r_dims)));
  if (v.has_input(3) && v.input_dims(3) != std::vector<int64_t>{p.directions, 2 * gh})
    v.fail("B must have shape [{}, {}]", p.directions, 2 * gh);
  if (v.has_input(4) && v.input_dims(4) != std::vector<int64_t>{p.batch})
    v.fail("sequence_lens must have shape [{}]", p.batch);
  const std::vector<int64_t> state = p.batch_first ? std::vector<int64_t>{p.batch, p.directions, p.hidden}
                                                   : std::vector<int64_t>{p.directions, p.batch, p.hidden};
  if (v.has_input(5) && v.input_dims(5) != state) v.fail("initial_h must have shape {}", shape_str(to_shape(state)));
  if (cell == Cell::Lstm && v.has_input(6) && v.input_dims(6) != state)
    v.fail("initial_c must have shape {}", shape_str(to_shape(state)));
  if (cell == Cell::Lstm && v.has_input(7) && v.input_dims(7) != std::vector<int64_t>{p.directions, 3 * p.hidden})
    v.fail("P must have shape [{}, {}]", p.directions, 3 * p.hidden);
  const int per = activations_per_direction(cell);
  std::vector<std::string> names = v.node().attr_strings("activations");
  if (names.empty()) {
    const std::vector<std::string> defaults = cell == Cell::Rnn   ? std::vector<std::string>{"Tanh"}
                                              : cell == Cell::Gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                                  : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    for (int64_t d = 0; d < p.directions; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  }
  if (int64_t(names.size()) != per * p.directions)
    v.fail("{} activations given, {} expected", names.size(), per * p.directions);
  const auto alphas = v.node().attr_floats("activation_alpha"), betas = v.node().attr_floats("activation_beta");
  for (std::size_t i = 0; i < names.size(); ++i)
    p.activations.push_back(
        activation_fn(v, names[i], i < alphas.size() ? alphas[i] : NAN, i < betas.size() ? betas[i] : NAN));
  return p;
}

OpDef recurrent_def(const char* op, Cell cell, bool transposed) {
  OpDef d;
  d.op_type = op;
  d.min_opset = 7;
  d.types = "float, double; int32 sequence_lens";
  d.infer = [cell, transposed](const NodeView& v) {
    const DType t = require_float_input(v);
    const RecurrentPlan p = plan_recurrent(v, cell, transposed);
    const std::vector<int64_t> y = p.batch_first ? std::vector<int64_t>{p.batch, p.seq, p.directions, p.hidden}
                                                 : std::vector<int64_t>{p.seq, p.directions, p.batch, p.hidden};
    const std::vector<int64_t> state = p.batch_first ? std::vector<int64_t>{p.batch, p.directions, p.hidden}
                                                     : std::vector<int64_t>{p.directions, p.batch, p.hidden};
    InferResult res{{static_value(t, y), static_value(t, state)}};
    if (cell == Cell::Lstm) res.outputs.push_back(static_value(t, state));
    const int64_t gh = gates(cell) * p.hidden;
    res.workspace_bytes = (p.seq * p.batch * gh + p.batch * gh + 3 * p.batch * p.hidden + gh) * int64_t(dtype_size(t));
    return res;
  };
  // One initializer of the node's shape for both targets (kernels/recurrent.hpp and
  // cuda/recurrent.cuh declare the same struct), then the target's call.
  auto emit = [cell, transposed](EmitContext& e, bool cuda) {
    e.use_kernel("recurrent");
    const RecurrentPlan p = plan_recurrent(e, cell, transposed);
    const std::string t = e.in_type(0);
    const int per = activations_per_direction(cell);
    std::string fns;
    for (int64_t dir = 0; dir < 2; ++dir) {
      std::string row;
      for (int k = 0; k < 3; ++k) {
        const std::size_t i = std::size_t(std::min<int64_t>(dir, p.directions - 1) * per + std::min(k, per - 1));
        row += (k ? ", " : "") + p.activations[i];
      }
      fns += fmt::format("{}{{{}}}", dir ? ", " : "", row);
    }
    const char* kind = cell == Cell::Rnn ? "Rnn" : cell == Cell::Gru ? "Gru" : "Lstm";
    e.line(
        "static constexpr detail::RecurrentShape shape{{detail::CellKind::{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
        "{}, {{{}}}}};",
        kind, p.seq, p.batch, p.input, p.hidden, p.directions, p.batch_first, p.reverse_only,
        cpp_float(e.node().attr_float("clip", 0.f)), e.node().attr_int("linear_before_reset", 0) != 0,
        e.node().attr_int("input_forget", 0) != 0, transposed, fns);
    const bool lstm = cell == Cell::Lstm;
    e.line("detail::recurrent({}{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, shape, reinterpret_cast<{}*>({}){});",
           cuda ? "blas, " : "", e.in(0), e.in(1), e.in(2), e.in_or_null(3, t),
           e.in_or_null(4, e.has_input(4) ? e.in_type(4) : "int32_t"), e.in_or_null(5, t),
           e.in_or_null(lstm ? 6 : kAbsent, t), e.in_or_null(lstm ? 7 : kAbsent, t), e.out_or_null(0, t),
           e.out_or_null(1, t), e.out_or_null(lstm ? 2 : kAbsent, t), t, e.workspace(),
           cuda ? ", rt_.shared_memory_optin(), stream" : "");
  };
  d.emit = [emit](EmitContext& e) { emit(e, false); };
  // A block per direction and batch entry runs every step (templates/cuda/recurrent.cuh).
  d.emit_cuda = [emit, cell, transposed](EmitContext& e) {
    cuda_require_float(e, 4);
    for (std::size_t i = 5; i < e.num_inputs(); ++i)
      if (e.has_input(i) && e.input_dtype(i) != DType::Float)
        e.unsupported("input {} is {}; the CUDA target runs float32", i, dtype_name(e.input_dtype(i)));
    const RecurrentPlan p = plan_recurrent(e, cell, transposed);
    // (templates/cuda/recurrent.cuh keeps 5 rows of H floats in a block's shared memory.)
    if (p.hidden > 2048) e.unsupported("hidden_size {}; the CUDA target keeps at most 2048 units in a block", p.hidden);
    for (int64_t v : {p.seq * p.batch, gates(cell) * p.hidden, p.input}) cuda_int_dim(e, v);
    emit(e, true);
  };
  d.cuda_workspace = [cell, transposed](const NodeView& v) {
    const RecurrentPlan p = plan_recurrent(v, cell, transposed);
    return p.directions * p.seq * p.batch * gates(cell) * p.hidden * int64_t(sizeof(float));
  };
  d.flops = [cell, transposed](const NodeView& v) {  // the input and recurrent products dominate
    const RecurrentPlan p = plan_recurrent(v, cell, transposed);
    return 2 * p.directions * p.seq * p.batch * gates(cell) * p.hidden * (p.input + p.hidden);
  };
  return d;
}

void add_recurrent(Registry& r, const char* op, Cell cell) {
  r.add(recurrent_def(op, cell, false));
  r.add_internal(recurrent_def(op, cell, true));
}

}  // namespace

void register_recurrent_ops(Registry& r) {
  add_recurrent(r, "RNN", Cell::Rnn);
  add_recurrent(r, "GRU", Cell::Gru);
  add_recurrent(r, "LSTM", Cell::Lstm);
}

}  // namespace sofiec
