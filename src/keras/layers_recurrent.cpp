// Keras's sequence layers: SimpleRNN, GRU, LSTM (as ONNX RNN, GRU, LSTM with batch-first
// layout), the Bidirectional and TimeDistributed wrappers, and MultiHeadAttention.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "keras/layers.hpp"

namespace sofiec::keras {
namespace {

enum class Cell { Rnn, Gru, Lstm };

Cell cell_of(const std::string& class_name) {
  return class_name == "LSTM" ? Cell::Lstm : class_name == "GRU" ? Cell::Gru : Cell::Rnn;
}
int gates(Cell c) { return c == Cell::Lstm ? 4 : c == Cell::Gru ? 3 : 1; }

std::string onnx_activation(const Layer& l, const std::string& name) {
  if (name == "tanh") return "Tanh";
  if (name == "sigmoid") return "Sigmoid";
  if (name == "relu") return "Relu";
  // Keras 2's hard_sigmoid, 0.2 x + 0.5 clipped, is ONNX's HardSigmoid with its defaults.
  if (name == "hard_sigmoid" && l.version() == KerasVersion::V2) return "HardSigmoid";
  l.unsupported(fmt::format("recurrent activation '{}' is not supported (tanh, sigmoid, relu{} are)", name,
                            l.version() == KerasVersion::V2 ? ", hard_sigmoid" : ""));
}

// One direction's ONNX W (gates*H, F), R (gates*H, H) and B (2*gates*H) from Keras's kernel
// (F, gates*H), recurrent kernel (H, gates*H) and bias. LSTM gates go from Keras's i, f, c, o
// to ONNX's i, o, f, c; GRU's z, r, h are the same in both.
struct DirectionWeights {
  Tensor w, r, b;
};

Tensor reorder_rows(const Tensor& t, Cell cell, int64_t hidden) {
  if (cell != Cell::Lstm) return t;
  static const int64_t from[4] = {0, 3, 1, 2};
  Tensor out(t.dtype, t.dims);
  const int64_t cols = t.size() / t.dims[0];
  for (int64_t g = 0; g < 4; ++g)
    for (int64_t i = 0; i < hidden * cols; ++i)
      out.data<float>()[g * hidden * cols + i] = t.data<float>()[from[g] * hidden * cols + i];
  return out;
}

DirectionWeights direction_weights(const Layer& l, Cell cell, std::size_t first, int64_t features, int64_t& hidden,
                                   bool& linear_before_reset) {
  const int g = gates(cell);
  const bool use_bias = l.get_bool("use_bias", true);
  const Tensor& kernel = l.weight(first, 2, "kernel");
  const Tensor& recurrent = l.weight(first + 1, 2, "recurrent kernel");
  hidden = recurrent.dims[0];
  if (kernel.dims[0] != features || kernel.dims[1] != g * hidden || recurrent.dims[1] != g * hidden)
    l.fail(fmt::format("kernels [{}] and [{}] do not fit {} input features and {} units", fmt::join(kernel.dims, ","),
                       fmt::join(recurrent.dims, ","), features, hidden));
  DirectionWeights d;
  d.w = reorder_rows(permute_tensor(kernel, {1, 0}), cell, hidden);
  d.r = reorder_rows(permute_tensor(recurrent, {1, 0}), cell, hidden);
  d.b = Tensor(DType::Float, {2 * g * hidden});
  linear_before_reset = false;
  if (use_bias) {
    const Tensor& bias = l.weights_at(first + 2);
    if (cell == Cell::Gru && bias.dims.size() == 2 && bias.dims[0] == 2 && bias.dims[1] == g * hidden) {
      // reset_after: separate input and recurrent biases, the reset gate applied after the
      // recurrent product (ONNX's linear_before_reset).
      std::copy(bias.data<float>(), bias.data<float>() + 2 * g * hidden, d.b.data<float>());
      linear_before_reset = true;
    } else if (bias.dims.size() == 1 && bias.dims[0] == g * hidden) {
      Tensor reordered = reorder_rows(reshape_tensor(bias, {g * hidden, 1}), cell, hidden);
      std::copy(reordered.data<float>(), reordered.data<float>() + g * hidden, d.b.data<float>());
    } else {
      l.fail(fmt::format("bias [{}] does not fit {} units", fmt::join(bias.dims, ","), hidden));
    }
  }
  // A config without reset_after (older files) is told by its bias: (2, 3H) is reset_after.
  if (cell == Cell::Gru && l.has("reset_after") && use_bias && l.get_bool("reset_after", true) != linear_before_reset)
    l.fail("its bias does not match its reset_after setting");
  if (cell == Cell::Gru && !use_bias) linear_before_reset = l.get_bool("reset_after", true);
  return d;
}

Tensor stack(const std::vector<const Tensor*>& parts) {
  std::vector<int64_t> dims{static_cast<int64_t>(parts.size())};
  dims.insert(dims.end(), parts[0]->dims.begin(), parts[0]->dims.end());
  Tensor out(DType::Float, dims);
  std::size_t offset = 0;
  for (const Tensor* p : parts) {
    std::copy(p->bytes.begin(), p->bytes.end(), out.bytes.begin() + static_cast<std::ptrdiff_t>(offset));
    offset += p->bytes.size();
  }
  return out;
}

std::string reverse_time(GraphBuilder& b, const std::string& x) {
  return b.op("Slice", {x, b.ints({-1}, "starts"), b.ints({std::numeric_limits<int64_t>::min()}, "ends"),
                        b.ints({1}, "axes"), b.ints({-1}, "steps")});
}

// The recurrent layer `l` on x (N, T, F), one direction (forward, or both for Bidirectional
// with the backward layer's weights after the forward's). Returns Y (N, T, D, H), Y_h (N, D, H)
// and, for LSTM, Y_c.
std::vector<std::string> run_recurrent(const Layer& l, GraphBuilder& b, const std::string& x, bool bidirectional) {
  const Cell cell = cell_of(l.class_name());
  if (b.rank(x) != 3) l.fail("expects a rank-3 input (batch, timesteps, features)");
  if (l.get_bool("time_major", false)) l.unsupported("time_major is not supported");
  const int64_t features = b.dim(x, 2);
  const std::size_t per = l.get_bool("use_bias", true) ? 3 : 2;
  l.expect_weights(bidirectional ? 2 * per : per);
  int64_t hidden = 0, hidden2 = 0;
  bool lbr = false, lbr2 = false;
  DirectionWeights fw = direction_weights(l, cell, 0, features, hidden, lbr);
  std::vector<DirectionWeights> dirs{fw};
  if (bidirectional) {
    dirs.push_back(direction_weights(l, cell, per, features, hidden2, lbr2));
    if (hidden2 != hidden || lbr2 != lbr) l.fail("its forward and backward layers differ in size or reset_after");
  }
  std::vector<const Tensor*> ws, rs, bs;
  for (const auto& d : dirs) {
    ws.push_back(&d.w);
    rs.push_back(&d.r);
    bs.push_back(&d.b);
  }
  std::vector<std::string> acts;
  const std::string act = onnx_activation(l, l.activation("activation", "tanh"));
  const std::string rec = cell == Cell::Rnn ? "" : onnx_activation(l, l.activation("recurrent_activation", "sigmoid"));
  for (std::size_t d = 0; d < dirs.size(); ++d) {
    if (cell == Cell::Lstm) acts.insert(acts.end(), {rec, act, act});
    else if (cell == Cell::Gru) acts.insert(acts.end(), {rec, act});
    else acts.push_back(act);
  }
  std::map<std::string, Attribute> attrs{{"hidden_size", int_attribute(hidden)},
                                         {"layout", int_attribute(1)},
                                         {"activations", strings_attribute(acts)},
                                         {"direction", string_attribute(bidirectional ? "bidirectional" : "forward")}};
  if (cell == Cell::Gru) attrs["linear_before_reset"] = int_attribute(lbr ? 1 : 0);
  const std::string input = !bidirectional && l.get_bool("go_backwards", false) ? reverse_time(b, x) : x;
  const char* op = cell == Cell::Lstm ? "LSTM" : cell == Cell::Gru ? "GRU" : "RNN";
  return b.node(op, {input, b.constant(stack(ws), "W"), b.constant(stack(rs), "R"), b.constant(stack(bs), "B")}, attrs,
                cell == Cell::Lstm ? 3 : 2);
}

// Keras's outputs from ONNX's: the sequence or the last state, then the states (return_state).
Outputs recurrent_outputs(const Layer& l, GraphBuilder& b, const std::vector<std::string>& y, const std::string& merge) {
  const bool sequences = l.get_bool("return_sequences", false);
  std::string out;
  const bool two = merge != "";
  if (!two) {
    out = sequences ? b.op("Squeeze", {y[0], b.ints({2}, "axes")}) : b.op("Squeeze", {y[1], b.ints({1}, "axes")});
  } else {
    const std::string& both = sequences ? y[0] : y[1];
    const int64_t axis = sequences ? 2 : 1;
    if (merge == "concat") out = b.op("Reshape", {both, b.ints(sequences ? std::vector<int64_t>{0, 0, -1} : std::vector<int64_t>{0, -1})});
    else if (merge == "sum") out = b.op("ReduceSum", {both, b.ints({axis}, "axes")}, {{"keepdims", int_attribute(0)}});
    else if (merge == "ave") out = b.op("ReduceMean", {both, b.ints({axis}, "axes")}, {{"keepdims", int_attribute(0)}});
    else if (merge == "mul") out = b.op("ReduceProd", {both, b.ints({axis}, "axes")}, {{"keepdims", int_attribute(0)}});
    else l.unsupported(fmt::format("merge_mode '{}' is not supported (concat, sum, ave, mul are)", merge));
  }
  Outputs outs{out};
  if (l.get_bool("return_state", false)) {
    // The states per direction: h (and c) of the forward layer, then of the backward one.
    const std::size_t dirs = two ? 2 : 1;
    for (std::size_t d = 0; d < dirs; ++d)
      for (std::size_t s = 1; s < y.size(); ++s)
        outs.push_back(b.op("Squeeze", {b.op("Slice", {y[s], b.ints({int64_t(d)}, "starts"), b.ints({int64_t(d) + 1}, "ends"),
                                                          b.ints({1}, "axes")}),
                                          b.ints({1}, "axes")}));
  }
  return outs;
}

Outputs build_recurrent(const Layer& l, GraphBuilder& b, const Inputs& in) {
  if (in.empty()) l.fail("is called on no input");
  if (in.size() > 1) l.unsupported("initial states and masks given as inputs are not supported");
  return recurrent_outputs(l, b, run_recurrent(l, b, in[0], false), "");
}

// The wrapped layer's config, as a Layer holding the given weights.
const json& inner_config(const Layer& l, std::string& class_name) {
  if (!l.has("layer") || !l.config().at("layer").is_object() || !l.config().at("layer").contains("class_name"))
    l.fail("has no wrapped 'layer' in its config");
  const json& inner = l.config().at("layer");
  class_name = inner.at("class_name").get<std::string>();
  return inner.at("config");
}

Outputs build_bidirectional(const Layer& l, GraphBuilder& b, const Inputs& in) {
  std::string inner_class;
  const json& config = inner_config(l, inner_class);
  if (inner_class != "LSTM" && inner_class != "GRU" && inner_class != "SimpleRNN")
    l.unsupported(fmt::format("wraps a {}: only LSTM, GRU and SimpleRNN are supported", inner_class));
  if (l.has("backward_layer")) {
    const json& back = l.config().at("backward_layer");
    if (back.value("class_name", "") != inner_class || back.at("config").value("units", -1) != config.value("units", -2))
      l.unsupported("a backward layer unlike the forward one is not supported");
  }
  if (in.size() != 1) l.unsupported("initial states given as inputs are not supported");
  if (config.value("go_backwards", false)) l.unsupported("a forward layer with go_backwards is not supported");
  std::vector<Tensor> weights;
  for (std::size_t i = 0; i < l.num_weights(); ++i) weights.push_back(l.weights_at(i));
  Layer inner(inner_class, l.name(), config, std::move(weights), l.version());
  const std::string merge = l.get_string("merge_mode", "concat");
  if (merge.empty()) l.unsupported("merge_mode None (two outputs) is not supported");
  return recurrent_outputs(inner, b, run_recurrent(inner, b, in[0], true), merge);
}

Outputs build_time_distributed(const Layer& l, GraphBuilder& b, const Inputs& in) {
  std::string inner_class;
  const json& config = inner_config(l, inner_class);
  const LayerDef* def = LayerRegistry::instance().find(inner_class);
  if (!def) l.unsupported(fmt::format("wraps an unsupported layer class {}", inner_class));
  if (in.size() != 1) l.fail("takes one input");
  std::vector<Tensor> weights;
  for (std::size_t i = 0; i < l.num_weights(); ++i) weights.push_back(l.weights_at(i));
  Layer inner(inner_class, l.name(), config, std::move(weights), l.version());
  const std::string& x = in[0];
  // Layers that act on the last axis alone apply to every timestep as they are.
  static const std::vector<std::string> per_feature{"Dense", "Activation", "Dropout", "ReLU", "LeakyReLU", "ELU", "Softmax"};
  if (std::find(per_feature.begin(), per_feature.end(), inner_class) != per_feature.end())
    return def->build(inner, b, {x});
  // Others see (batch * timesteps, ...) and give back (batch, timesteps, ...).
  const int64_t steps = b.dim(x, 1);
  if (steps < 0) l.unsupported(fmt::format("wrapping {} needs a number of timesteps fixed in the model", inner_class));
  std::vector<int64_t> merged{-1};
  for (int64_t i = 2; i < b.rank(x); ++i) merged.push_back(b.dim(x, i));
  Outputs ys = def->build(inner, b, {b.op("Reshape", {x, b.ints(merged)})});
  for (std::string& y : ys) {
    std::vector<int64_t> split{-1, steps};
    for (int64_t i = 1; i < b.rank(y); ++i) split.push_back(b.dim(y, i));
    y = b.op("Reshape", {y, b.ints(split)});
  }
  return ys;
}

// Keras's (d, heads, size) projection kernel and (heads, size) bias as one (d, heads*size)
// product, reshaped to (N, heads, T, size).
std::string project_heads(GraphBuilder& b, const Layer& l, const std::string& x, const Tensor& kernel, const Tensor* bias,
                          bool transpose_last) {
  if (kernel.dims.size() != 3) l.fail("a projection kernel is not (features, heads, size)");
  const int64_t heads = kernel.dims[1], size = kernel.dims[2];
  if (b.dim(x, -1) != kernel.dims[0])
    l.fail(fmt::format("projection kernel [{}] does not take {} features", fmt::join(kernel.dims, ","), b.dim(x, -1)));
  std::string y = b.op("MatMul", {x, b.constant(reshape_tensor(kernel, {kernel.dims[0], heads * size}), "kernel")});
  if (bias) y = b.op("Add", {y, b.constant(reshape_tensor(*bias, {heads * size}), "bias")});
  y = b.op("Reshape", {y, b.ints({0, 0, heads, size})});
  return b.transpose(y, transpose_last ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3});
}

Outputs build_multi_head_attention(const Layer& l, GraphBuilder& b, const Inputs& in) {
  if (in.empty() || in.size() > 3) l.fail("takes query, value and optionally key");
  if (l.has("attention_axes")) l.unsupported("attention_axes other than the default are not supported");
  const std::string& query = in[0];
  const std::string& value = in.size() > 1 ? in[1] : in[0];
  const std::string& key = in.size() > 2 ? in[2] : value;
  for (const std::string* t : {&query, &value, &key})
    if (b.rank(*t) != 3) l.unsupported("only (batch, sequence, features) inputs are supported");
  const bool use_bias = l.get_bool("use_bias", true);
  l.expect_weights(use_bias ? 8 : 4);
  const std::size_t step = use_bias ? 2 : 1;
  auto kernel = [&](std::size_t i) -> const Tensor& { return l.weight(i * step, 3, "projection kernel"); };
  auto bias = [&](std::size_t i) -> const Tensor* { return use_bias ? &l.weights_at(i * step + 1) : nullptr; };
  const int64_t key_dim = kernel(0).dims[2];
  std::string q = project_heads(b, l, query, kernel(0), bias(0), false);
  q = b.op("Mul", {q, b.scalar(static_cast<float>(1.0 / std::sqrt(double(key_dim))), "scale")});
  const std::string k = project_heads(b, l, key, kernel(1), bias(1), true);
  const std::string v = project_heads(b, l, value, kernel(2), bias(2), false);
  const std::string weights = b.op("Softmax", {b.op("MatMul", {q, k})}, {{"axis", int_attribute(-1)}});
  std::string y = b.transpose(b.op("MatMul", {weights, v}), {0, 2, 1, 3});  // (N, T, heads, value_dim)
  const Tensor& out_kernel = kernel(3);  // (heads, value_dim, output)
  y = b.op("Reshape", {y, b.ints({0, 0, out_kernel.dims[0] * out_kernel.dims[1]})});
  y = b.op("MatMul", {y, b.constant(reshape_tensor(out_kernel, {out_kernel.dims[0] * out_kernel.dims[1], out_kernel.dims[2]}),
                                    "output_kernel")});
  if (use_bias) y = b.op("Add", {y, b.constant(*bias(3), "output_bias")});
  return {y};
}

std::vector<std::string> cell_parts(const json&) { return {"cell"}; }

}  // namespace

std::vector<std::string> keras3_parts(const std::string& class_name, const json& config) {
  const LayerDef* def = LayerRegistry::instance().find(class_name);
  if (!def || !def->keras3_parts) return {""};
  return def->keras3_parts(config);
}

void register_recurrent_layers(LayerRegistry& r) {
  r.add("SimpleRNN", build_recurrent, "RNN (batch-first)", cell_parts);
  r.add("GRU", build_recurrent, "GRU (reset_after: linear_before_reset)", cell_parts);
  r.add("LSTM", build_recurrent, "LSTM (gates reordered)", cell_parts);
  r.add("Bidirectional", build_bidirectional, "one bidirectional RNN/GRU/LSTM, outputs merged", [](const json& c) {
                            std::vector<std::string> parts;
                            const std::string inner = c.at("layer").value("class_name", "");
                            for (const char* side : {"forward_layer", "backward_layer"})
                              for (const std::string& p : keras3_parts(inner, c.at("layer").value("config", json::object())))
                                parts.push_back(p.empty() ? side : std::string(side) + "/" + p);
                            return parts;
                          });
  r.add("TimeDistributed", build_time_distributed, "the wrapped layer on every timestep", [](const json& c) {
                              std::vector<std::string> parts;
                              const std::string inner = c.at("layer").value("class_name", "");
                              for (const std::string& p : keras3_parts(inner, c.at("layer").value("config", json::object())))
                                parts.push_back(p.empty() ? "layer" : "layer/" + p);
                              return parts;
                            });
  r.add("MultiHeadAttention", build_multi_head_attention, "MatMul projections, Softmax attention (fused)", [](const json&) {
                                 return std::vector<std::string>{"_query_dense", "_key_dense", "_value_dense", "_output_dense"};
                               });
}

}  // namespace sofiec::keras
