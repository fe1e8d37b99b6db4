#include "keras/graph_builder.hpp"

#include <fmt/format.h>

#include "ops/registry.hpp"

namespace sofiec::keras {

std::string GraphBuilder::unique(const std::string& base) {
  const std::string name = scope_.empty() ? base : scope_ + "/" + base;
  int& count = used_[name];
  std::string out = count == 0 ? name : fmt::format("{}_{}", name, count);
  ++count;
  // (The shadow graphs hold every name the graph has.)
  while (shadow_[0].values.count(out)) out = fmt::format("{}_{}", name, count++);
  return out;
}

GraphBuilder::GraphBuilder(Graph& graph) : g_(graph) {
  for (Graph& s : shadow_) s.opsets = g_.opsets;
}

void GraphBuilder::add_input(const std::string& name, DType dtype, Shape shape) {
  if (g_.values.count(name)) throw Error(fmt::format("two Keras inputs are named '{}'", name));
  ValueInfo v;
  v.dtype = dtype;
  v.shape = shape;
  v.has_shape = true;
  g_.values[name] = v;
  g_.inputs.push_back(name);
  for (int k = 0; k < 2; ++k) {
    ValueInfo c = v;
    for (Dim& d : c.shape) {
      if (d.is_static()) continue;
      const int index = symbols_.emplace(d.symbol, static_cast<int>(symbols_.size())).first->second;
      d = Dim(k == 0 ? 5 + 2 * index : 17 + 2 * index);  // different in the two, and not 1
    }
    shadow_[k].values[name] = c;
    shadow_[k].inputs.push_back(name);
  }
}

ValueInfo GraphBuilder::info(const std::string& tensor) const {
  ValueInfo a = shadow_[0].value(tensor);
  const ValueInfo& b = shadow_[1].value(tensor);
  for (std::size_t i = 0; i < a.shape.size() && i < b.shape.size(); ++i)
    if (a.shape[i] != b.shape[i]) a.shape[i] = Dim();
  return a;
}

std::vector<std::string> GraphBuilder::node(const std::string& op, std::vector<std::string> inputs,
                                            std::map<std::string, Attribute> attributes, std::size_t outputs) {
  Node n;
  n.op_type = op;
  n.name = unique(op);
  n.inputs = std::move(inputs);
  n.attributes = std::move(attributes);
  for (std::size_t i = 0; i < outputs; ++i) n.outputs.push_back(outputs == 1 ? n.name : fmt::format("{}:{}", n.name, i));
  for (Graph& s : shadow_) {
    const OpDef* def = Registry::instance().find(n, s);
    if (!def) throw UnsupportedError(fmt::format("no operator {} for {}", op, n.describe()));
    std::map<std::string, Tensor> known;
    NodeView view(n, s, &known);
    InferResult r = def->infer(view);
    for (std::size_t i = 0; i < outputs; ++i) s.values[n.outputs[i]] = r.outputs.at(i);
    s.nodes.push_back(n);
  }
  std::vector<std::string> out = n.outputs;
  g_.nodes.push_back(std::move(n));
  return out;
}

std::string GraphBuilder::constant(Tensor value, const std::string& hint) {
  const std::string name = unique(hint);
  ValueInfo v;
  v.dtype = value.dtype;
  v.shape = to_shape(value.dims);
  v.has_shape = true;
  for (Graph& s : shadow_) {
    s.values[name] = v;
    s.constants[name] = value;
  }
  g_.values[name] = v;
  g_.constants[name] = std::move(value);
  return name;
}

std::string GraphBuilder::ints(const std::vector<int64_t>& values, const std::string& hint) {
  return constant(Tensor::from<int64_t>({static_cast<int64_t>(values.size())}, values), hint);
}

std::string GraphBuilder::scalar(float value, const std::string& hint) {
  return constant(Tensor::from<float>({}, {value}), hint);
}

int64_t GraphBuilder::dim(const std::string& tensor, int64_t axis) const {
  const Shape s = shape(tensor);
  const int64_t r = static_cast<int64_t>(s.size());
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) throw Error(fmt::format("axis {} out of range for tensor '{}' of rank {}", axis, tensor, r));
  return s[static_cast<std::size_t>(axis)].is_static() ? s[static_cast<std::size_t>(axis)].value : -1;
}

std::string GraphBuilder::transpose(const std::string& x, std::vector<int64_t> perm) {
  return op("Transpose", {x}, {{"perm", ints_attribute(std::move(perm))}});
}

std::string GraphBuilder::to_channels_first(const std::string& x) {
  const int64_t r = rank(x);
  std::vector<int64_t> perm{0, r - 1};
  for (int64_t i = 1; i < r - 1; ++i) perm.push_back(i);
  return transpose(x, perm);
}

std::string GraphBuilder::to_channels_last(const std::string& x) {
  const int64_t r = rank(x);
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < r; ++i) perm.push_back(i);
  perm.push_back(1);
  return transpose(x, perm);
}

}  // namespace sofiec::keras
