// Small helpers shared by the rewriting passes (elimination and fusion).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sofiec/ir.hpp"

namespace sofiec {

// How many times each tensor is read: by node inputs, plus one per appearance as a graph output.
std::map<std::string, int> use_counts(const Graph& g);

bool is_graph_output(const Graph& g, const std::string& tensor);
bool is_graph_input(const Graph& g, const std::string& tensor);

// Index of the node that writes `tensor`, or -1.
int producer_of(const Graph& g, const std::string& tensor);

// Indices of the nodes that read `tensor`.
std::vector<std::size_t> consumers_of(const Graph& g, const std::string& tensor);

// The single node reading `tensor` (once), when it is not a graph output; else -1.
int sole_consumer(const Graph& g, const std::string& tensor);

// The value of constant `name` if it is a float tensor, else nullptr.
const Tensor* float_constant(const Graph& g, const std::string& name);

// Makes every reader of `from` (node inputs, graph outputs) read `to` instead.
void replace_uses(Graph& g, const std::string& from, const std::string& to);

// Removes `node`, whose output `out` holds the same values as its input `in` (Identity, a
// Cast to the same type...). Readers of `out` read `in`; when `out` is a graph output, the
// producer of `in` writes `out` directly if nothing else reads `in`. Returns false (and
// changes nothing) when neither is possible. (The names are copies: they may live in the node.)
bool bypass_node(Graph& g, std::size_t node, std::string in, std::string out);

// A constant name not used yet in g, derived from `base`.
std::string fresh_name(const Graph& g, const std::string& base);

// Makes `name` a constant of value t (the value replaced if it was one).
void set_constant(Graph& g, const std::string& name, Tensor t);
// Adds t as a constant under a fresh name derived from `base`; returns the name.
std::string add_fresh_constant(Graph& g, const std::string& base, Tensor t);

// The float matrices of m ([..., rows, cols]) each transposed: [..., cols, rows].
Tensor transposed_matrices(const Tensor& m);

// Attributes of a rewritten node.
Attribute ints_attribute(std::vector<int64_t> values);
Attribute int_attribute(int64_t value);
Attribute float_attribute(float value);
Attribute string_attribute(std::string value);
Attribute strings_attribute(std::vector<std::string> values);

// A default-domain Conv without a fused epilogue, one group, and unit strides and dilations
// with explicit (or VALID) padding: what the Conv rewrites (Winograd, EdgeConv) start from.
bool unit_stride_dense_conv(const Node& n);

// The values of `name` if it is a float constant of one value per channel broadcast over
// [N, C, spatial...] of rank `rank` ([C], [C, 1, 1], [1, C, 1, 1]...): a bias or scale per channel.
std::optional<std::vector<float>> per_channel_constant(const Graph& g, const std::string& name, int64_t channels,
                                                       std::size_t rank);

// The value of a one-element float constant, if `name` is one.
bool scalar_constant(const Graph& g, const std::string& name, double& value);

// The single reader of `tensor` if it is a default-domain `op` (and `tensor` no graph output).
Node* only_reader(Graph& g, const std::string& tensor, const char* op);

// For a binary node reading `known`, the other operand.
const std::string* other_operand(const Node& n, const std::string& known);

// Turns node n into the compiler's unary `op` on x (its output is kept).
void become_unary(Node& n, const char* op, const std::string& x);

// A default-domain Conv without a fused epilogue whose weights (and bias, if it has one) are
// float constants: what a BatchNormalization or a bias Add after it can be folded into.
bool is_plain_conv(const Graph& g, const Node& n);

// The conv's bias as doubles (zeros when it has none).
std::vector<double> conv_bias(const Graph& g, const Node& conv, int64_t filters);

// The BatchNormalization that alone reads `tensor` (inference mode, constant float parameters
// for `channels` channels, no extra outputs) as y = x * scale[c] + shift[c].
struct AffineBatchNorm {
  std::size_t index;
  std::vector<double> scale, shift;
};

std::optional<AffineBatchNorm> foldable_batch_norm(const Graph& g, const std::string& tensor, int64_t channels);

// Gives the conv new weights and bias (new constants: the old ones may be shared) and makes it
// write `output`, removing the node at `absorbed`.
void rewrite_conv(Graph& g, std::size_t conv_index, Tensor w, const std::vector<double>& bias, std::size_t absorbed,
                  const std::string& output);

}  // namespace sofiec
