// The Keras layers sofiec translates, one entry per class: how a layer's config and weights
// become ONNX nodes. Tensors stay in Keras's layout (channels last) between layers; a layer
// that computes channels first (convolutions, pooling) transposes in and out, and the
// transpose-pair pass removes the pairs that meet between two such layers.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "keras/graph_builder.hpp"

namespace sofiec::keras {

using json = nlohmann::json;

// Keras 2 (and tfjs) or Keras 3 serialization; they differ in a few defaults and names.
enum class KerasVersion { V2, V3 };

// One layer call: its config, its weights in Keras's order, what it is called on.
class Layer {
 public:
  Layer(std::string class_name, std::string name, const json& config, std::vector<Tensor> weights, KerasVersion version)
      : class_name_(std::move(class_name)), name_(std::move(name)), config_(config), weights_(std::move(weights)),
        version_(version) {}

  const std::string& class_name() const { return class_name_; }
  const std::string& name() const { return name_; }
  const json& config() const { return config_; }
  KerasVersion version() const { return version_; }
  std::string describe() const;  // "Keras layer 'dense_1' (Dense)"

  // The one input of a layer that takes one (fails otherwise).
  const std::string& single(const std::vector<std::string>& inputs) const;

  [[noreturn]] void fail(const std::string& message) const;
  [[noreturn]] void unsupported(const std::string& message) const;

  bool has(const std::string& key) const { return config_.contains(key) && !config_.at(key).is_null(); }
  int64_t get_int(const std::string& key, int64_t fallback) const;
  float get_float(const std::string& key, float fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  // An int or a list of ints (Keras accepts both for kernel_size, strides...), as n values.
  std::vector<int64_t> get_ints(const std::string& key, std::size_t n, std::vector<int64_t> fallback) const;
  // An activation given by name (or as Keras 3's serialized function object).
  std::string activation(const std::string& key, const std::string& fallback) const;

  std::size_t num_weights() const { return weights_.size(); }
  // Weight i, which must have `rank` dims; `what` names it in messages.
  const Tensor& weight(std::size_t i, std::size_t rank, const char* what) const;
  const Tensor& weights_at(std::size_t i) const;
  // Checks the number of weights against what the config implies.
  void expect_weights(std::size_t n) const;

 private:
  std::string class_name_, name_;
  const json& config_;
  std::vector<Tensor> weights_;
  KerasVersion version_;
};

using Inputs = std::vector<std::string>;
using Outputs = std::vector<std::string>;

// A layer's translation: its outputs (in Keras's layout) from its inputs (positional
// arguments first, then the named tensors it takes, such as MultiHeadAttention's value).
using LayerFn = std::function<Outputs(const Layer&, GraphBuilder&, const Inputs&)>;

struct LayerDef {
  LayerFn build;
  std::string summary;  // what it becomes, for the README's layer table
  // Keras 3 weights files keep some layers' variables in sub-objects (an LSTM's cell, a
  // wrapper's layer): their paths below the layer's group, in the order of the layer's weights
  // ("" for the layer's own variables). Unset: the layer's own variables only.
  std::function<std::vector<std::string>(const json& config)> keras3_parts;
};

// The sub-paths of a layer's variables in a Keras 3 weights file (see LayerDef).
std::vector<std::string> keras3_parts(const std::string& class_name, const json& config);

class LayerRegistry {
 public:
  static const LayerRegistry& instance();
  const LayerDef* find(const std::string& class_name) const;
  const std::map<std::string, LayerDef>& all() const { return defs_; }
  void add(const std::string& class_name, LayerFn build, std::string summary,
           std::function<std::vector<std::string>(const json&)> keras3_parts = nullptr) {
    defs_[class_name] = LayerDef{std::move(build), std::move(summary), std::move(keras3_parts)};
  }
  void alias(const std::string& alias, const std::string& class_name) { defs_[alias] = defs_.at(class_name); }

 private:
  std::map<std::string, LayerDef> defs_;
};

void register_core_layers(LayerRegistry& r);
void register_conv_layers(LayerRegistry& r);
void register_recurrent_layers(LayerRegistry& r);

// Applies a Keras activation (by its name) to x; "linear" returns x. Throws for an unknown one.
std::string apply_activation(GraphBuilder& b, const Layer& layer, const std::string& x, const std::string& name);
// Names Keras accepts in `activation=` that apply_activation knows.
std::vector<std::string> activation_names();

}  // namespace sofiec::keras

namespace sofiec::keras {
// A float tensor with its axes permuted (out axis i is in axis perm[i]).
Tensor permute_tensor(const Tensor& t, const std::vector<int64_t>& perm);
// The same elements with other dims (the element count must agree).
Tensor reshape_tensor(Tensor t, std::vector<int64_t> dims);
// Axis `axis` of a Keras tensor of rank `rank` (negative counts from the end), checked.
int64_t keras_axis(const Layer& layer, int64_t axis, int64_t rank);
}  // namespace sofiec::keras
