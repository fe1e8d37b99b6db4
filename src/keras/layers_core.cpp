// Core Keras layers: Dense, activations, shape and merge layers, normalizations, Embedding.
#include <fmt/format.h>

#include <cmath>
#include <numeric>

#include "kernels.hpp"
#include "keras/layers.hpp"

namespace sofiec::keras {

std::string Layer::describe() const { return fmt::format("Keras layer '{}' ({})", name_, class_name_); }

const std::string& Layer::single(const std::vector<std::string>& inputs) const {
  if (inputs.size() != 1) fail(fmt::format("takes one input, is called on {}", inputs.size()));
  return inputs[0];
}

void Layer::fail(const std::string& message) const { throw Error(describe() + ": " + message); }
void Layer::unsupported(const std::string& message) const { throw UnsupportedError(describe() + ": " + message); }

int64_t Layer::get_int(const std::string& key, int64_t fallback) const {
  if (!has(key)) return fallback;
  const json& v = config_.at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number() && std::floor(v.get<double>()) == v.get<double>()) return static_cast<int64_t>(v.get<double>());
  if (v.is_array() && v.size() == 1 && v[0].is_number_integer()) return v[0].get<int64_t>();
  fail(fmt::format("'{}' is not an integer: {}", key, v.dump()));
}

float Layer::get_float(const std::string& key, float fallback) const {
  if (!has(key)) return fallback;
  const json& v = config_.at(key);
  if (!v.is_number()) fail(fmt::format("'{}' is not a number: {}", key, v.dump()));
  return v.get<float>();
}

bool Layer::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const json& v = config_.at(key);
  if (!v.is_boolean()) fail(fmt::format("'{}' is not true or false: {}", key, v.dump()));
  return v.get<bool>();
}

std::string Layer::get_string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const json& v = config_.at(key);
  if (!v.is_string()) fail(fmt::format("'{}' is not a string: {}", key, v.dump()));
  return v.get<std::string>();
}

std::vector<int64_t> Layer::get_ints(const std::string& key, std::size_t n, std::vector<int64_t> fallback) const {
  if (!has(key)) return fallback;
  const json& v = config_.at(key);
  std::vector<int64_t> out;
  if (v.is_number_integer()) {
    out.assign(n == 0 ? 1 : n, v.get<int64_t>());
  } else if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_number_integer()) fail(fmt::format("'{}' holds a non-integer: {}", key, v.dump()));
      out.push_back(e.get<int64_t>());
    }
    if (out.size() == 1 && n > 1) out.assign(n, out[0]);
  } else {
    fail(fmt::format("'{}' is not an integer or a list of them: {}", key, v.dump()));
  }
  if (n != 0 && out.size() != n) fail(fmt::format("'{}' has {} values, {} expected", key, out.size(), n));
  return out;
}

std::string Layer::activation(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const json& v = config_.at(key);
  if (v.is_string()) return v.get<std::string>();
  // Keras 3 may serialize a built-in activation as {"class_name": "function", "config": "relu", ...}.
  if (v.is_object() && v.contains("config") && v.at("config").is_string()) return v.at("config").get<std::string>();
  unsupported(fmt::format("activation '{}' is not a built-in Keras activation: {}", key, v.dump()));
}

const Tensor& Layer::weight(std::size_t i, std::size_t rank, const char* what) const {
  if (i >= weights_.size()) fail(fmt::format("its weights lack the {} (weight {} of {})", what, i + 1, weights_.size()));
  const Tensor& t = weights_[i];
  if (t.dims.size() != rank)
    fail(fmt::format("the {} has shape [{}], a rank-{} tensor was expected", what, fmt::join(t.dims, ","), rank));
  return t;
}

const Tensor& Layer::weights_at(std::size_t i) const {
  if (i >= weights_.size()) fail(fmt::format("has {} weight tensors, weight {} is missing", weights_.size(), i + 1));
  return weights_[i];
}

void Layer::expect_weights(std::size_t n) const {
  if (weights_.size() != n)
    fail(fmt::format("has {} weight tensors in the file, its config implies {}", weights_.size(), n));
}

const LayerDef* LayerRegistry::find(const std::string& class_name) const {
  auto it = defs_.find(class_name);
  return it == defs_.end() ? nullptr : &it->second;
}

const LayerRegistry& LayerRegistry::instance() {
  static const LayerRegistry registry = [] {
    LayerRegistry r;
    register_core_layers(r);
    register_conv_layers(r);
    register_recurrent_layers(r);
    return r;
  }();
  return registry;
}

Tensor permute_tensor(const Tensor& t, const std::vector<int64_t>& perm) {
  // The view Transpose folds with: the output's dims, each walking its input axis's stride.
  std::vector<int64_t> in_strides(t.dims.size(), 1), out_dims, view_strides;
  for (std::size_t i = t.dims.size(); i-- > 1;) in_strides[i - 1] = in_strides[i] * t.dims[i];
  for (int64_t p : perm) {
    out_dims.push_back(t.dims[static_cast<std::size_t>(p)]);
    view_strides.push_back(in_strides[static_cast<std::size_t>(p)]);
  }
  Tensor out(t.dtype, out_dims);
  if (out.size() > 0)
    rt::copy_strided(t.data<float>(), out.data<float>(), int(out_dims.size()), out_dims.data(), view_strides.data());
  return out;
}

Tensor reshape_tensor(Tensor t, std::vector<int64_t> dims) {
  if (element_count(dims) != t.size()) throw Error("internal: reshape_tensor changes the element count");
  t.dims = std::move(dims);
  return t;
}

int64_t keras_axis(const Layer& layer, int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) layer.fail(fmt::format("axis {} is out of range for its rank-{} input", axis, rank));
  return a;
}

namespace {

std::string unary(GraphBuilder& b, const std::string& op, const std::string& x, std::map<std::string, Attribute> attrs = {}) {
  return b.op(op, {x}, std::move(attrs));
}

std::string times(GraphBuilder& b, const std::string& x, float c) { return b.op("Mul", {x, b.scalar(c)}); }

}  // namespace

std::vector<std::string> activation_names() {
  return {"linear",     "relu",        "relu6",     "leaky_relu", "elu",       "selu",       "celu",
          "gelu",       "gelu_new",    "swish",     "silu",       "hard_swish", "hard_silu",  "sigmoid",
          "hard_sigmoid", "log_sigmoid", "tanh",    "hard_tanh",  "tanh_shrink", "softplus", "softsign",
          "softmax",    "log_softmax", "exponential", "mish",     "soft_shrink", "hard_shrink", "squareplus",
          "sparse_plus"};
}

std::string apply_activation(GraphBuilder& b, const Layer& layer, const std::string& x, const std::string& name) {
  if (name == "linear" || name.empty()) return x;
  if (name == "relu") return unary(b, "Relu", x);
  if (name == "relu6") return b.op("Clip", {x, b.scalar(0.f, "min"), b.scalar(6.f, "max")});
  if (name == "leaky_relu") return unary(b, "LeakyRelu", x, {{"alpha", float_attribute(0.2f)}});
  if (name == "elu") return unary(b, "Elu", x, {{"alpha", float_attribute(1.f)}});
  if (name == "selu")
    return unary(b, "Selu", x, {{"alpha", float_attribute(1.67326324f)}, {"gamma", float_attribute(1.05070098f)}});
  if (name == "celu") return unary(b, "Celu", x, {{"alpha", float_attribute(1.f)}});
  if (name == "gelu") return unary(b, "Gelu", x);  // the exact (erf) form, Keras's default
  if (name == "gelu_new") return unary(b, "Gelu", x, {{"approximate", string_attribute("tanh")}});
  if (name == "swish" || name == "silu") return b.op("Mul", {x, unary(b, "Sigmoid", x)});
  if (name == "hard_swish" || name == "hard_silu") return unary(b, "HardSwish", x);
  if (name == "sigmoid") return unary(b, "Sigmoid", x);
  if (name == "hard_sigmoid") {
    // Keras 2 (and tfjs): clip(0.2 x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6.
    const float alpha = layer.version() == KerasVersion::V3 ? 1.f / 6.f : 0.2f;
    return unary(b, "HardSigmoid", x, {{"alpha", float_attribute(alpha)}, {"beta", float_attribute(0.5f)}});
  }
  if (name == "log_sigmoid") return b.op("Neg", {unary(b, "Softplus", b.op("Neg", {x}))});
  if (name == "tanh") return unary(b, "Tanh", x);
  if (name == "hard_tanh") return b.op("Clip", {x, b.scalar(-1.f, "min"), b.scalar(1.f, "max")});
  if (name == "tanh_shrink") return b.op("Sub", {x, unary(b, "Tanh", x)});
  if (name == "softplus") return unary(b, "Softplus", x);
  if (name == "softsign") return unary(b, "Softsign", x);
  if (name == "softmax") return unary(b, "Softmax", x, {{"axis", int_attribute(-1)}});
  // Keras 2 saves the activation "log_softmax" under TensorFlow's function name.
  if (name == "log_softmax" || name == "log_softmax_v2") return unary(b, "LogSoftmax", x, {{"axis", int_attribute(-1)}});
  if (name == "exponential") return unary(b, "Exp", x);
  if (name == "mish") return unary(b, "Mish", x);
  if (name == "soft_shrink") return unary(b, "Shrink", x, {{"lambd", float_attribute(0.5f)}, {"bias", float_attribute(0.5f)}});
  if (name == "hard_shrink") return unary(b, "Shrink", x, {{"lambd", float_attribute(0.5f)}, {"bias", float_attribute(0.f)}});
  if (name == "squareplus") {  // (x + sqrt(x^2 + 4)) / 2
    const std::string root = unary(b, "Sqrt", b.op("Add", {b.op("Mul", {x, x}), b.scalar(4.f)}));
    return times(b, b.op("Add", {x, root}), 0.5f);
  }
  if (name == "sparse_plus") {  // 0 below -1, x above 1, (x + 1)^2 / 4 between
    const std::string one = b.scalar(1.f, "one");
    const std::string mid = times(b, b.op("Mul", {b.op("Add", {x, one}), b.op("Add", {x, one})}), 0.25f);
    const std::string upper = b.op("Where", {b.op("Greater", {x, one}), x, mid});
    return b.op("Where", {b.op("Less", {x, b.scalar(-1.f, "minus_one")}), b.scalar(0.f, "zero"), upper});
  }
  layer.unsupported(fmt::format("activation '{}' is not supported (supported: {})", name, fmt::join(activation_names(), ", ")));
}

namespace {

// x @ kernel + bias over x's last axis, then the activation: Dense, and the projections of
// other layers.
std::string dense(GraphBuilder& b, const std::string& x, const Tensor& kernel, const Tensor* bias) {
  std::string y;
  if (b.rank(x) == 2) {
    std::vector<std::string> in{x, b.constant(kernel, "kernel")};
    if (bias) in.push_back(b.constant(*bias, "bias"));
    y = b.op("Gemm", in);
  } else {
    y = b.op("MatMul", {x, b.constant(kernel, "kernel")});
    if (bias) y = b.op("Add", {y, b.constant(*bias, "bias")});
  }
  return y;
}

Outputs build_dense(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  const bool use_bias = l.get_bool("use_bias", true);
  l.expect_weights(use_bias ? 2 : 1);
  const Tensor& kernel = l.weight(0, 2, "kernel");
  const int64_t units = l.get_int("units", kernel.dims[1]);
  if (kernel.dims[1] != units || b.dim(x, -1) != kernel.dims[0])
    l.fail(fmt::format("kernel [{}] does not map its input's {} features to {} units", fmt::join(kernel.dims, ","),
                       b.dim(x, -1), units));
  const Tensor* bias = use_bias ? &l.weight(1, 1, "bias") : nullptr;
  if (bias && bias->dims[0] != units) l.fail(fmt::format("bias has {} values for {} units", bias->dims[0], units));
  return {apply_activation(b, l, dense(b, x, kernel, bias), l.activation("activation", "linear"))};
}

Outputs build_activation(const Layer& l, GraphBuilder& b, const Inputs& in) {
  return {apply_activation(b, l, l.single(in), l.activation("activation", "linear"))};
}

Outputs build_identity(const Layer& l, GraphBuilder&, const Inputs& in) { return {l.single(in)}; }

Outputs build_relu(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  const float slope = l.get_float("negative_slope", 0.f);
  const float threshold = l.get_float("threshold", 0.f);
  const bool capped = l.has("max_value");
  const float cap = l.get_float("max_value", 0.f);
  std::string y;
  if (threshold == 0.f) {
    y = slope == 0.f ? b.op("Relu", {x}) : b.op("LeakyRelu", {x}, {{"alpha", float_attribute(slope)}});
    if (capped) y = b.op("Min", {y, b.scalar(cap, "max_value")});
    return {y};
  }
  // x >= threshold: x (capped); below: negative_slope * (x - threshold).
  std::string above = capped ? b.op("Min", {x, b.scalar(cap, "max_value")}) : x;
  const std::string th = b.scalar(threshold, "threshold");
  const std::string below = times(b, b.op("Sub", {x, th}), slope);
  return {b.op("Where", {b.op("GreaterOrEqual", {x, th}), above, below})};
}

Outputs build_leaky_relu(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const float alpha = l.has("negative_slope") ? l.get_float("negative_slope", 0.3f) : l.get_float("alpha", 0.3f);
  return {b.op("LeakyRelu", {l.single(in)}, {{"alpha", float_attribute(alpha)}})};
}

Outputs build_elu(const Layer& l, GraphBuilder& b, const Inputs& in) {
  return {b.op("Elu", {l.single(in)}, {{"alpha", float_attribute(l.get_float("alpha", 1.f))}})};
}

Outputs build_thresholded_relu(const Layer& l, GraphBuilder& b, const Inputs& in) {
  return {b.op("ThresholdedRelu", {l.single(in)}, {{"alpha", float_attribute(l.get_float("theta", 1.f))}})};
}

Outputs build_prelu(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  l.expect_weights(1);
  const Tensor& alpha = l.weight(0, static_cast<std::size_t>(b.rank(x) - 1), "alpha");
  return {b.op("PRelu", {x, b.constant(alpha, "alpha")})};
}

Outputs build_softmax(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  const int64_t axis = keras_axis(l, l.get_ints("axis", 0, {-1}).at(0), b.rank(x));
  return {b.op("Softmax", {x}, {{"axis", int_attribute(axis)}})};
}

Outputs build_flatten(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  if (l.get_string("data_format", "channels_last") != "channels_last")
    l.unsupported("data_format channels_first is not supported");
  return {b.op("Flatten", {x}, {{"axis", int_attribute(1)}})};
}

Outputs build_reshape(const Layer& l, GraphBuilder& b, const Inputs& in) {
  std::vector<int64_t> shape{0};  // 0: the batch dim as it is
  for (int64_t d : l.get_ints("target_shape", 0, {})) shape.push_back(d);
  return {b.op("Reshape", {l.single(in), b.ints(shape)})};
}

Outputs build_permute(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  std::vector<int64_t> perm{0};
  for (int64_t d : l.get_ints("dims", 0, {})) perm.push_back(d);  // 1-based: the batch axis stays first
  if (static_cast<int64_t>(perm.size()) != b.rank(x)) l.fail("'dims' does not permute every non-batch axis");
  return {b.transpose(x, perm)};
}

Outputs build_repeat_vector(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  const int64_t n = l.get_int("n", 1);
  const std::string u = b.op("Unsqueeze", {x, b.ints({1}, "axes")});
  return {b.op("Tile", {u, b.ints({1, n, 1}, "repeats")})};
}

Outputs build_concatenate(const Layer& l, GraphBuilder& b, const Inputs& in) {
  if (in.size() < 2) l.fail("needs at least two inputs");
  const int64_t axis = keras_axis(l, l.get_int("axis", -1), b.rank(in[0]));
  return {b.op("Concat", in, {{"axis", int_attribute(axis)}})};
}

// Add, Subtract, Multiply, Average, Maximum, Minimum.
LayerFn merge(const std::string& kind) {
  return [kind](const Layer& l, GraphBuilder& b, const Inputs& in) -> Outputs {
    if (in.size() < 2) l.fail("needs at least two inputs");
    if (kind == "Subtract") {
      if (in.size() != 2) l.fail("takes exactly two inputs");
      return {b.op("Sub", in)};
    }
    if (kind == "Maximum") return {b.op("Max", in)};
    if (kind == "Minimum") return {b.op("Min", in)};
    const std::string op = kind == "Multiply" ? "Mul" : "Add";
    std::string acc = in[0];
    for (std::size_t i = 1; i < in.size(); ++i) acc = b.op(op, {acc, in[i]});
    if (kind == "Average") acc = times(b, acc, 1.f / static_cast<float>(in.size()));
    return {acc};
  };
}

// L2 normalization along `axis`, as Keras's Dot(normalize=True) does it: x / sqrt(max(sum x^2, 1e-12)).
std::string l2_normalize(GraphBuilder& b, const std::string& x, int64_t axis) {
  const std::string sq = b.op("ReduceSum", {b.op("Mul", {x, x}), b.ints({axis}, "axes")}, {{"keepdims", int_attribute(1)}});
  const std::string norm = b.op("Sqrt", {b.op("Max", {sq, b.scalar(1e-12f, "epsilon")})});
  return b.op("Div", {x, norm});
}

Outputs build_dot(const Layer& l, GraphBuilder& b, const Inputs& in) {
  if (in.size() != 2) l.fail("takes exactly two inputs");
  std::string x = in[0], y = in[1];
  const int64_t rx = b.rank(x), ry = b.rank(y);
  if (rx < 2 || rx > 3 || ry < 2 || ry > 3) l.unsupported("only inputs of rank 2 or 3 are supported");
  std::vector<int64_t> axes = l.get_ints("axes", 2, {});
  if (axes.empty()) l.fail("has no 'axes'");
  const int64_t ax = keras_axis(l, axes[0], rx), ay = keras_axis(l, axes[1], ry);
  if (ax == 0 || ay == 0) l.fail("cannot contract the batch axis");
  if (l.get_bool("normalize", false)) {
    x = l2_normalize(b, x, ax);
    y = l2_normalize(b, y, ay);
  }
  // As a batched matrix product: x's contracted axis last, y's first after the batch.
  if (rx == 2) x = b.op("Unsqueeze", {x, b.ints({1}, "axes")});
  else if (ax == 1) x = b.transpose(x, {0, 2, 1});
  if (ry == 2) y = b.op("Unsqueeze", {y, b.ints({2}, "axes")});
  else if (ay == 2) y = b.transpose(y, {0, 2, 1});
  std::string z = b.op("MatMul", {x, y});
  // Keras drops the axes that were the inputs' own placeholders; rank-2 products keep one.
  std::vector<int64_t> squeeze;
  if (rx == 2) squeeze.push_back(1);
  if (ry == 2) squeeze.push_back(2);
  if (rx == 2 && ry == 2) squeeze = {2};
  if (!squeeze.empty()) z = b.op("Squeeze", {z, b.ints(squeeze, "axes")});
  return {z};
}

// Per-channel scale and shift along the last axis (or axis 1): BatchNormalization.
Outputs build_batch_norm(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  const int64_t rank = b.rank(x);
  const int64_t axis = keras_axis(l, l.get_ints("axis", 0, {-1}).at(0), rank);
  const bool scale = l.get_bool("scale", true), center = l.get_bool("center", true);
  l.expect_weights(2 + (scale ? 1 : 0) + (center ? 1 : 0));
  std::size_t w = 0;
  const Tensor* gamma = scale ? &l.weight(w++, 1, "gamma") : nullptr;
  const Tensor* beta = center ? &l.weight(w++, 1, "beta") : nullptr;
  const Tensor& mean = l.weight(w++, 1, "moving mean");
  const Tensor& var = l.weight(w++, 1, "moving variance");
  const int64_t c = mean.dims[0];
  if (b.dim(x, axis) != c) l.fail(fmt::format("normalizes {} channels, its input has {}", c, b.dim(x, axis)));
  Tensor g = gamma ? *gamma : Tensor::from<float>({c}, std::vector<float>(static_cast<std::size_t>(c), 1.f));
  Tensor bt = beta ? *beta : Tensor::from<float>({c}, std::vector<float>(static_cast<std::size_t>(c), 0.f));
  const float eps = l.get_float("epsilon", 1e-3f);
  if (rank == 2 || axis == 1 || axis == rank - 1) {
    // ONNX BatchNormalization normalizes axis 1: channels-last data goes through a transpose
    // pair, which cancels against the neighbouring convolutions' and lets the BN fold into them.
    std::string t = axis == 1 || rank == 2 ? x : b.to_channels_first(x);
    t = b.op("BatchNormalization",
             {t, b.constant(g, "gamma"), b.constant(bt, "beta"), b.constant(mean, "moving_mean"), b.constant(var, "moving_variance")},
             {{"epsilon", float_attribute(eps)}});
    return {axis == 1 || rank == 2 ? t : b.to_channels_last(t)};
  }
  // Another axis: the same arithmetic as a broadcast multiply-add.
  std::vector<int64_t> dims(static_cast<std::size_t>(rank - 1), 1);
  dims[static_cast<std::size_t>(axis - 1)] = c;
  Tensor mul(DType::Float, dims), add(DType::Float, dims);
  for (int64_t i = 0; i < c; ++i) {
    const double s = double(g.data<float>()[i]) / std::sqrt(double(var.data<float>()[i]) + eps);
    mul.data<float>()[i] = float(s);
    add.data<float>()[i] = float(double(bt.data<float>()[i]) - double(mean.data<float>()[i]) * s);
  }
  return {b.op("Add", {b.op("Mul", {x, b.constant(mul, "scale")}), b.constant(add, "shift")})};
}

Outputs build_layer_norm(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  const int64_t rank = b.rank(x);
  std::vector<int64_t> axes = l.get_ints("axis", 0, {-1});
  for (int64_t& a : axes) a = keras_axis(l, a, rank);
  std::sort(axes.begin(), axes.end());
  for (std::size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i))
      l.unsupported("only normalization over the trailing axes is supported");
  if (l.get_bool("rms_scaling", false)) l.unsupported("rms_scaling is not supported");
  const bool scale = l.get_bool("scale", true), center = l.get_bool("center", true);
  l.expect_weights((scale ? 1 : 0) + (center ? 1 : 0));
  std::vector<int64_t> norm_dims;
  for (int64_t a : axes) {
    if (b.dim(x, a) < 0) l.unsupported("normalizes an axis whose extent is decided at run time");
    norm_dims.push_back(b.dim(x, a));
  }
  const int64_t n = element_count(norm_dims);
  std::size_t w = 0;
  Tensor gamma = scale ? l.weight(w++, axes.size(), "gamma")
                       : Tensor::from<float>(norm_dims, std::vector<float>(static_cast<std::size_t>(n), 1.f));
  Tensor beta = center ? l.weight(w++, axes.size(), "beta")
                       : Tensor::from<float>(norm_dims, std::vector<float>(static_cast<std::size_t>(n), 0.f));
  return {b.op("LayerNormalization", {x, b.constant(gamma, "gamma"), b.constant(beta, "beta")},
               {{"axis", int_attribute(axes[0])}, {"epsilon", float_attribute(l.get_float("epsilon", 1e-3f))}})};
}

Outputs build_embedding(const Layer& l, GraphBuilder& b, const Inputs& in) {
  const std::string& x = l.single(in);
  l.expect_weights(1);
  const Tensor& table = l.weight(0, 2, "embeddings");
  const std::string idx = b.info(x).dtype == DType::Int64 ? x : b.op("Cast", {x}, {{"to", int_attribute(7)}});  // INT64
  return {b.op("Gather", {b.constant(table, "embeddings"), idx}, {{"axis", int_attribute(0)}})};
}

}  // namespace

void register_core_layers(LayerRegistry& r) {
  r.add("Dense", build_dense, "Gemm (MatMul + Add on 3-D inputs), activation");
  r.add("Activation", build_activation, "the activation's operator");
  r.add("ReLU", build_relu, "Relu / LeakyRelu, Min for max_value, Where for a threshold");
  r.add("LeakyReLU", build_leaky_relu, "LeakyRelu");
  r.add("PReLU", build_prelu, "PRelu");
  r.add("ELU", build_elu, "Elu");
  r.add("ThresholdedReLU", build_thresholded_relu, "ThresholdedRelu");
  r.add("Softmax", build_softmax, "Softmax");
  const std::string inference_identity = "nothing (identity at inference)";
  for (const char* c : {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                        "GaussianDropout", "AlphaDropout", "ActivityRegularization"})
    r.add(c, build_identity, inference_identity);
  r.add("Masking", build_identity, "nothing: valid for inputs where no timestep equals mask_value");
  r.add("Flatten", build_flatten, "Flatten");
  r.add("Reshape", build_reshape, "Reshape");
  r.add("Permute", build_permute, "Transpose");
  r.add("RepeatVector", build_repeat_vector, "Unsqueeze, Tile");
  r.add("Concatenate", build_concatenate, "Concat");
  for (const auto& [c, ops] : std::vector<std::pair<const char*, const char*>>{
           {"Add", "Add"}, {"Subtract", "Sub"}, {"Multiply", "Mul"}, {"Average", "Add, Mul by 1/n"}, {"Maximum", "Max"},
           {"Minimum", "Min"}})
    r.add(c, merge(c), ops);
  r.add("Dot", build_dot, "MatMul (L2 normalization first with normalize=True)");
  r.add("BatchNormalization", build_batch_norm, "BatchNormalization (folded into the layer before)");
  r.add("LayerNormalization", build_layer_norm, "LayerNormalization");
  r.add("Embedding", build_embedding, "Gather");
}

}  // namespace sofiec::keras
