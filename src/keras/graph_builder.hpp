// Builds the IR graph of a Keras model one node at a time. Each node is inferred as it is
// added (with the operator registry the compiler uses), so that a layer's translation can read
// the shapes of the tensors it receives, as Keras layers do when they are built. Inference needs
// concrete dims, and Keras's None dims are run-time dims: the nodes are inferred in two shadow
// graphs where each None dim has a different stand-in value, and an extent the two disagree on
// is one decided at run time.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "passes/rewrite.hpp"  // the attribute makers
#include "sofiec/error.hpp"
#include "sofiec/ir.hpp"

namespace sofiec::keras {

class GraphBuilder {
 public:
  explicit GraphBuilder(Graph& graph);

  // Nodes and constants added from now on are named after this layer ("dense_1/MatMul").
  void set_scope(const std::string& layer) { scope_ = layer; }

  void add_input(const std::string& name, DType dtype, Shape shape);
  void add_output(const std::string& name) { g_.outputs.push_back(name); }

  // Adds a node of the default ONNX domain and infers its outputs; returns their names.
  std::vector<std::string> node(const std::string& op, std::vector<std::string> inputs,
                                std::map<std::string, Attribute> attributes = {}, std::size_t outputs = 1);
  std::string op(const std::string& op, std::vector<std::string> inputs, std::map<std::string, Attribute> attributes = {}) {
    return node(op, std::move(inputs), std::move(attributes), 1)[0];
  }
  // A constant (an initializer) named after the scope and `hint`.
  std::string constant(Tensor value, const std::string& hint);
  std::string ints(const std::vector<int64_t>& values, const std::string& hint = "shape");
  std::string scalar(float value, const std::string& hint = "scalar");

  // What is known of a tensor: its type, and its dims with unknown ones (Dim()) where the
  // extent depends on a run-time dim.
  ValueInfo info(const std::string& tensor) const;
  Shape shape(const std::string& tensor) const { return info(tensor).shape; }
  int64_t rank(const std::string& tensor) const { return static_cast<int64_t>(shadow_[0].value(tensor).shape.size()); }
  // The extent of axis `axis` (negative counts from the end); -1 if decided at run time.
  int64_t dim(const std::string& tensor, int64_t axis) const;

  // Common shapes of work.
  std::string transpose(const std::string& x, std::vector<int64_t> perm);
  // Channels-last (N, spatial..., C) to channels-first (N, C, spatial...) and back.
  std::string to_channels_first(const std::string& x);
  std::string to_channels_last(const std::string& x);

  Graph& graph() { return g_; }

 private:
  std::string unique(const std::string& base);

  Graph& g_;
  Graph shadow_[2];
  std::map<std::string, int> symbols_;  // run-time dim -> its index (its stand-in values)
  std::string scope_;
  std::map<std::string, int> used_;
};

}  // namespace sofiec::keras
