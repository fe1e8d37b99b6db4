#include "passes/rewrite.hpp"

#include <algorithm>
#include <cmath>

#include "ops/registry.hpp"

namespace sofiec {

std::map<std::string, int> use_counts(const Graph& g) {
  std::map<std::string, int> uses;
  for (const Node& n : g.nodes)
    for (const std::string& in : n.inputs)
      if (!in.empty()) ++uses[in];
  for (const std::string& o : g.outputs) ++uses[o];
  return uses;
}

bool is_graph_output(const Graph& g, const std::string& tensor) {
  return std::find(g.outputs.begin(), g.outputs.end(), tensor) != g.outputs.end();
}

bool is_graph_input(const Graph& g, const std::string& tensor) {
  return std::find(g.inputs.begin(), g.inputs.end(), tensor) != g.inputs.end();
}

int producer_of(const Graph& g, const std::string& tensor) {
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const std::string& o : g.nodes[i].outputs)
      if (o == tensor) return int(i);
  return -1;
}

std::vector<std::size_t> consumers_of(const Graph& g, const std::string& tensor) {
  std::vector<std::size_t> found;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (std::find(g.nodes[i].inputs.begin(), g.nodes[i].inputs.end(), tensor) != g.nodes[i].inputs.end())
      found.push_back(i);
  return found;
}

int sole_consumer(const Graph& g, const std::string& tensor) {
  if (is_graph_output(g, tensor)) return -1;
  const auto readers = consumers_of(g, tensor);
  if (readers.size() != 1) return -1;
  const Node& n = g.nodes[readers[0]];
  if (std::count(n.inputs.begin(), n.inputs.end(), tensor) != 1) return -1;
  return int(readers[0]);
}

const Tensor* float_constant(const Graph& g, const std::string& name) {
  const Tensor* t = name.empty() ? nullptr : g.constant(name);
  return t && t->dtype == DType::Float ? t : nullptr;
}

void replace_uses(Graph& g, const std::string& from, const std::string& to) {
  for (Node& n : g.nodes)
    for (std::string& in : n.inputs)
      if (in == from) in = to;
  for (std::string& o : g.outputs)
    if (o == from) o = to;
}

bool bypass_node(Graph& g, std::size_t node, std::string in, std::string out) {
  if (!is_graph_output(g, out)) {
    g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(node));
    replace_uses(g, out, in);
    return true;
  }
  const int producer = producer_of(g, in);
  if (producer < 0 || is_graph_output(g, in) || use_counts(g)[in] != 1) return false;
  for (std::string& o : g.nodes[std::size_t(producer)].outputs)
    if (o == in) o = out;
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(node));
  return true;
}

std::string fresh_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 1; g.values.count(name) || g.constants.count(name); ++i) name = base + "_" + std::to_string(i);
  return name;
}

void set_constant(Graph& g, const std::string& name, Tensor t) {
  g.values[name] = ValueInfo{t.dtype, to_shape(t.dims), true};
  g.constants[name] = std::move(t);
}

std::string add_fresh_constant(Graph& g, const std::string& base, Tensor t) {
  const std::string name = fresh_name(g, base);
  set_constant(g, name, std::move(t));
  return name;
}

Attribute ints_attribute(std::vector<int64_t> values) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(values);
  return a;
}

Attribute int_attribute(int64_t value) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = value;
  return a;
}

Attribute float_attribute(float value) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = value;
  return a;
}

Attribute string_attribute(std::string value) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = std::move(value);
  return a;
}

Attribute strings_attribute(std::vector<std::string> values) {
  Attribute a;
  a.kind = Attribute::Kind::Strings;
  a.strings = std::move(values);
  return a;
}

bool unit_stride_dense_conv(const Node& n) {
  if (n.op_type != "Conv" || !n.domain.empty() || !n.epilogue.empty() || n.attr_int("group", 1) != 1) return false;
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return false;
  for (const char* attr : {"strides", "dilations"})
    for (int64_t s : n.attr_ints(attr, {1, 1}))
      if (s != 1) return false;
  return true;
}

// The values of `name` if it is a float constant of one value per channel broadcast over
// [N, C, spatial...] of rank `rank` ([C, 1, 1], [1, C, 1, 1]...).
std::optional<std::vector<float>> per_channel_constant(const Graph& g, const std::string& name, int64_t channels,
                                                       std::size_t rank) {
  const Tensor* t = g.constant(name);
  if (!t || t->dtype != DType::Float || t->size() != channels || t->dims.size() > rank) return std::nullopt;
  std::vector<int64_t> padded(rank - t->dims.size(), 1);
  padded.insert(padded.end(), t->dims.begin(), t->dims.end());
  for (std::size_t d = 0; d < rank; ++d)
    if (padded[d] != (d == 1 ? channels : 1)) return std::nullopt;
  return std::vector<float>(t->data<float>(), t->data<float>() + channels);
}

// The float matrices of m ([..., rows, cols]) each transposed: [..., cols, rows].
Tensor transposed_matrices(const Tensor& m) {
  const std::size_t rank = m.dims.size();
  const int64_t rows = m.dims[rank - 2], cols = m.dims[rank - 1],
                count = rows > 0 && cols > 0 ? m.size() / (rows * cols) : 0;
  std::vector<int64_t> dims = m.dims;
  std::swap(dims[rank - 2], dims[rank - 1]);
  Tensor t(DType::Float, dims);
  for (int64_t d = 0; d < count; ++d)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        t.data<float>()[(d * cols + j) * rows + i] = m.data<float>()[(d * rows + i) * cols + j];
  return t;
}

bool scalar_constant(const Graph& g, const std::string& name, double& value) {
  const Tensor* t = g.constant(name);
  if (!t || t->size() != 1 || !dtype_is_float(t->dtype)) return false;
  value = t->float_at(0);
  return true;
}

Node* only_reader(Graph& g, const std::string& tensor, const char* op) {
  if (is_graph_output(g, tensor)) return nullptr;
  const auto readers = consumers_of(g, tensor);
  if (readers.size() != 1) return nullptr;
  Node& n = g.nodes[readers[0]];
  return n.op_type == op && n.domain.empty() ? &n : nullptr;
}

const std::string* other_operand(const Node& n, const std::string& known) {
  if (n.inputs.size() != 2) return nullptr;
  if (n.inputs[0] == known) return &n.inputs[1];
  if (n.inputs[1] == known) return &n.inputs[0];
  return nullptr;
}

void become_unary(Node& n, const char* op, const std::string& x) {
  n.op_type = op;
  n.domain = kSofiecDomain;
  n.inputs = {x};
  n.attributes.clear();
}

bool is_plain_conv(const Graph& g, const Node& n) {
  return n.op_type == "Conv" && n.domain.empty() && n.epilogue.empty() && float_constant(g, n.inputs.at(1)) &&
         (!n.has_input(2) || float_constant(g, n.inputs[2]));
}

std::vector<double> conv_bias(const Graph& g, const Node& conv, int64_t filters) {
  std::vector<double> b(std::size_t(filters), 0.0);
  if (conv.has_input(2))
    for (int64_t m = 0; m < filters; ++m) b[std::size_t(m)] = g.constant(conv.inputs[2])->data<float>()[m];
  return b;
}

std::optional<AffineBatchNorm> foldable_batch_norm(const Graph& g, const std::string& tensor, int64_t channels) {
  const int j = sole_consumer(g, tensor);
  if (j < 0) return std::nullopt;
  const Node& bn = g.nodes[std::size_t(j)];
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.attr_int("training_mode", 0) != 0 ||
      bn.attr_int("spatial", 1) == 0 || bn.inputs.size() < 5 || bn.inputs[0] != tensor)
    return std::nullopt;
  for (std::size_t k = 1; k < bn.outputs.size(); ++k)
    if (!bn.outputs[k].empty()) return std::nullopt;
  const Tensor *gamma = float_constant(g, bn.inputs[1]), *beta = float_constant(g, bn.inputs[2]),
               *mean = float_constant(g, bn.inputs[3]), *var = float_constant(g, bn.inputs[4]);
  if (!gamma || !beta || !mean || !var || gamma->size() != channels || beta->size() != channels ||
      mean->size() != channels || var->size() != channels)
    return std::nullopt;
  const double eps = bn.attr_float("epsilon", 1e-5f);
  AffineBatchNorm a{std::size_t(j), {}, {}};
  for (int64_t c = 0; c < channels; ++c) {
    const double k = double(gamma->data<float>()[c]) / std::sqrt(double(var->data<float>()[c]) + eps);
    a.scale.push_back(k);
    a.shift.push_back(double(beta->data<float>()[c]) - double(mean->data<float>()[c]) * k);
  }
  return a;
}

void rewrite_conv(Graph& g, std::size_t conv_index, Tensor w, const std::vector<double>& bias, std::size_t absorbed,
                  const std::string& output) {
  Node& conv = g.nodes[conv_index];
  Tensor b(DType::Float, {int64_t(bias.size())});
  for (std::size_t m = 0; m < bias.size(); ++m) b.data<float>()[m] = float(bias[m]);
  conv.inputs.resize(3);
  conv.inputs[1] = add_fresh_constant(g, conv.name + "/fused_weight", std::move(w));
  conv.inputs[2] = add_fresh_constant(g, conv.name + "/fused_bias", std::move(b));
  conv.outputs[0] = output;
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(absorbed));
}

}  // namespace sofiec
