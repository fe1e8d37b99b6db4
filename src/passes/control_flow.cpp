// Control flow made straight: If nodes whose condition is known at generation time are
// replaced by the nodes of the branch they take, Scan nodes (whose iteration count is the
// static length of their scan axis) and Loop nodes (with a known trip count and a condition
// the body passes through) are unrolled, each iteration's copy of the body renamed
// under the node's name; sequences whose structure is known at generation time become lists of
// tensor names, their operators Identity, Split and Concat nodes. The rest of the compiler only
// ever sees straight-line graphs of tensors.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"
#include "sofiec/error.hpp"

namespace sofiec {
namespace {

// Renames references to `renamed` tensors inside a nested graph, except names it defines itself.
void rename_free_references(Graph& g, const std::map<std::string, std::string>& renamed) {
  std::set<std::string> own(g.inputs.begin(), g.inputs.end());
  for (const auto& kv : g.constants) own.insert(kv.first);
  for (const Node& n : g.nodes) own.insert(n.outputs.begin(), n.outputs.end());
  std::map<std::string, std::string> free;
  for (const auto& kv : renamed)
    if (!own.count(kv.first)) free.insert(kv);
  for (Node& n : g.nodes) {
    for (std::string& in : n.inputs)
      if (auto it = free.find(in); it != free.end()) in = it->second;
    for (auto& [name, attr] : n.attributes)
      if (attr.kind == Attribute::Kind::Graph && attr.g) rename_free_references(*attr.g, free);
  }
  for (std::string& o : g.outputs)
    if (auto it = free.find(o); it != free.end()) o = it->second;
}

// Copies a subgraph's nodes and constants into g under `prefix`: its inputs become `bound`
// (body input name -> outer tensor), the tensors it defines get the prefix, references to
// anything else are outer-scope names and stay. Returns the outer names of its outputs.
std::vector<std::string> splice_subgraph(Graph& g, const Graph& body, const std::string& prefix,
                                         const std::map<std::string, std::string>& bound, std::vector<Node>& out) {
  std::map<std::string, std::string> renamed = bound;
  for (const auto& kv : body.constants) renamed[kv.first] = prefix + kv.first;
  for (const Node& n : body.nodes)
    for (const std::string& o : n.outputs)
      if (!o.empty()) renamed[o] = prefix + o;
  for (const auto& [name, value] : body.constants) {
    g.values[renamed[name]] = ValueInfo{value.dtype, to_shape(value.dims), true};
    g.constants[renamed[name]] = value;
  }
  for (Node n : body.nodes) {
    n.name = prefix + n.name;
    for (std::string& in : n.inputs)
      if (auto it = renamed.find(in); it != renamed.end()) in = it->second;
    for (std::string& o : n.outputs)
      if (!o.empty()) o = renamed[o];
    for (auto& [name, attr] : n.attributes)
      if (attr.kind == Attribute::Kind::Graph && attr.g) {
        attr.g = std::make_shared<Graph>(*attr.g);
        rename_free_references(*attr.g, renamed);
      }
    out.push_back(std::move(n));
  }
  std::vector<std::string> outputs;
  for (const std::string& o : body.outputs) outputs.push_back(renamed.count(o) ? renamed[o] : o);
  return outputs;
}

Node make_node(const std::string& name, const char* op, std::vector<std::string> inputs,
               std::vector<std::string> outputs) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

// Stacks per-iteration tensors along a new axis (negative: counted in the stacked rank) into
// `target`: one Unsqueeze per part and a Concat.
void stack_slices(Graph& g, const std::string& name, const std::vector<std::string>& parts, int64_t axis,
                  const std::string& target, std::vector<Node>& nodes) {
  std::vector<std::string> stacked;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const std::string step = fmt::format("{}/step{}", name, p);
    Node unsqueeze = make_node(step, "Unsqueeze", {parts[p]}, {step});
    if (g.opset() >= 13) {
      unsqueeze.inputs.push_back(add_fresh_constant(g, step + "/axes", Tensor::from<int64_t>({1}, {axis})));
    } else {
      unsqueeze.attributes["axes"] = ints_attribute({axis});
    }
    stacked.push_back(step);
    nodes.push_back(std::move(unsqueeze));
  }
  Node concat = make_node(name, "Concat", stacked, {target});
  concat.attributes["axis"] = int_attribute(axis);
  nodes.push_back(std::move(concat));
}

// Unrolling beyond this many iterations would make headers nobody wants to compile.
constexpr int64_t kMaxUnroll = 4096;

}  // namespace

bool unroll_scan(Graph& g, std::size_t index) {
  if (g.nodes[index].op_type != "Scan" || !g.nodes[index].domain.empty()) return false;
  const Node node = g.nodes[index];
  if (g.opset() < 9) throw UnsupportedError(fmt::format("{}: Scan before opset 9 (batched form)", node.describe()));
  const Attribute* body_attr = node.attr("body");
  if (!body_attr || body_attr->kind != Attribute::Kind::Graph || !body_attr->g)
    throw Error(fmt::format("{}: the body graph is missing", node.describe()));
  const Graph& body = *body_attr->g;
  const int64_t m = node.require_attr("num_scan_inputs", Attribute::Kind::Int).i;
  const int64_t n_states = int64_t(body.inputs.size()) - m;
  const int64_t n_outputs = int64_t(body.outputs.size()) - n_states;
  if (m < 1 || n_states < 0 || n_outputs < 0 || int64_t(node.inputs.size()) != n_states + m ||
      node.outputs.size() != body.outputs.size())
    throw Error(fmt::format("{}: inputs, outputs and body do not match", node.describe()));
  const auto input_axes = node.attr_ints("scan_input_axes", std::vector<int64_t>(std::size_t(m), 0));
  const auto input_dirs = node.attr_ints("scan_input_directions", std::vector<int64_t>(std::size_t(m), 0));
  const auto output_axes = node.attr_ints("scan_output_axes", std::vector<int64_t>(std::size_t(n_outputs), 0));
  const auto output_dirs = node.attr_ints("scan_output_directions", std::vector<int64_t>(std::size_t(n_outputs), 0));
  int64_t steps = -1;
  std::vector<int64_t> axes;
  for (int64_t j = 0; j < m; ++j) {
    const ValueInfo& v = g.value(node.inputs[std::size_t(n_states + j)]);
    if (!v.has_shape || !is_static(v.shape))
      throw UnsupportedError(fmt::format("{}: the scan inputs' shapes must be known to unroll it", node.describe()));
    const int64_t rank = int64_t(v.shape.size());
    int64_t axis = input_axes.at(std::size_t(j));
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) throw Error(fmt::format("{}: scan input axis out of range", node.describe()));
    axes.push_back(axis);
    const int64_t len = v.shape[std::size_t(axis)].value;
    if (steps >= 0 && len != steps) throw Error(fmt::format("{}: scan inputs of different lengths", node.describe()));
    steps = len;
  }
  if (steps < 1 || steps > kMaxUnroll)
    throw UnsupportedError(
        fmt::format("{}: unrolling {} iterations (1 to {} supported)", node.describe(), steps, kMaxUnroll));
  const std::string prefix = node.name + "/";
  std::vector<Node> nodes;
  std::vector<std::string> states(node.inputs.begin(), node.inputs.begin() + n_states);
  std::vector<std::vector<std::string>> slices(static_cast<std::size_t>(n_outputs));
  for (int64_t s = 0; s < steps; ++s) {
    const std::string iter = fmt::format("{}iter{}/", prefix, s);
    std::map<std::string, std::string> bound;
    for (int64_t i = 0; i < n_states; ++i) bound[body.inputs[std::size_t(i)]] = states[std::size_t(i)];
    for (int64_t j = 0; j < m; ++j) {
      const int64_t t = input_dirs.at(std::size_t(j)) ? steps - 1 - s : s;
      const std::string index_name =
          add_fresh_constant(g, fmt::format("{}index{}", iter, j), Tensor::from<int64_t>({}, {t}));
      Node gather =
          make_node(fmt::format("{}gather{}", iter, j), "Gather", {node.inputs[std::size_t(n_states + j)], index_name},
                    {fmt::format("{}slice{}", iter, j)});
      gather.attributes["axis"] = int_attribute(axes[std::size_t(j)]);
      bound[body.inputs[std::size_t(n_states + j)]] = gather.outputs[0];
      nodes.push_back(std::move(gather));
    }
    const std::vector<std::string> outs = splice_subgraph(g, body, iter, bound, nodes);
    for (int64_t i = 0; i < n_states; ++i) states[std::size_t(i)] = outs[std::size_t(i)];
    for (int64_t k = 0; k < n_outputs; ++k) slices[std::size_t(k)].push_back(outs[std::size_t(n_states + k)]);
  }
  for (int64_t i = 0; i < n_states; ++i)
    if (!node.outputs[std::size_t(i)].empty())
      nodes.push_back(make_node(fmt::format("{}state{}", prefix, i), "Identity", {states[std::size_t(i)]},
                                {node.outputs[std::size_t(i)]}));
  for (int64_t k = 0; k < n_outputs; ++k) {
    const std::string& target = node.outputs[std::size_t(n_states + k)];
    if (target.empty()) continue;
    auto parts = slices[std::size_t(k)];
    if (output_dirs.at(std::size_t(k))) std::reverse(parts.begin(), parts.end());
    stack_slices(g, fmt::format("{}output{}", prefix, k), parts, output_axes.at(std::size_t(k)), target, nodes);
  }
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(index));
  g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(index), nodes.begin(), nodes.end());
  return true;
}

bool unroll_loop(Graph& g, std::size_t index, const Analysis& a) {
  if (g.nodes[index].op_type != "Loop" || !g.nodes[index].domain.empty()) return false;
  const Node node = g.nodes[index];
  const Attribute* body_attr = node.attr("body");
  if (!body_attr || body_attr->kind != Attribute::Kind::Graph || !body_attr->g)
    throw Error(fmt::format("{}: the body graph is missing", node.describe()));
  const Graph& body = *body_attr->g;
  const std::size_t n_carried = node.inputs.size() < 2 ? 0 : node.inputs.size() - 2;
  if (body.inputs.size() != n_carried + 2 || body.outputs.size() < n_carried + 1 ||
      node.outputs.size() != body.outputs.size() - 1)
    throw Error(fmt::format("{}: inputs, outputs and body do not match", node.describe()));
  const std::size_t n_scan = body.outputs.size() - 1 - n_carried;
  // The iteration count must be known here; the condition may only be passed through.
  const NodeView view(node, g, &a.known);
  if (!view.has_input(0)) throw UnsupportedError(fmt::format("{}: a Loop without a trip count", node.describe()));
  const Tensor& trips = view.known_input(0, "trip count");
  if (trips.size() != 1) throw Error(fmt::format("{}: the trip count must hold one value", node.describe()));
  bool running = !view.has_input(1) || view.known_input(1, "condition").int_at(0) != 0;
  const std::string& cond_out = body.outputs[0];
  bool passes_condition = cond_out == body.inputs[1];
  for (const Node& n : body.nodes)
    if (n.op_type == "Identity" && n.outputs == std::vector<std::string>{cond_out} &&
        n.inputs == std::vector<std::string>{body.inputs[1]})
      passes_condition = true;
  if (!passes_condition)
    throw UnsupportedError(fmt::format("{}: a Loop whose body computes its condition", node.describe()));
  const int64_t steps = running ? std::max<int64_t>(trips.int_at(0), 0) : 0;
  if (steps > kMaxUnroll)
    throw UnsupportedError(
        fmt::format("{}: unrolling {} iterations (at most {} supported)", node.describe(), steps, kMaxUnroll));
  if (steps == 0 && n_scan > 0)
    throw UnsupportedError(fmt::format("{}: a Loop that runs no iteration has empty scan outputs", node.describe()));
  const std::string prefix = node.name + "/";
  std::vector<Node> nodes;
  std::vector<std::string> carried(node.inputs.begin() + 2, node.inputs.end());
  std::vector<std::vector<std::string>> slices(n_scan);
  const std::string condition = add_fresh_constant(g, prefix + "condition", Tensor::from<bool>({}, {true}));
  for (int64_t s = 0; s < steps; ++s) {
    const std::string iter = fmt::format("{}iter{}/", prefix, s);
    std::map<std::string, std::string> bound{
        {body.inputs[0], add_fresh_constant(g, iter + "count", Tensor::from<int64_t>({}, {s}))},
        {body.inputs[1], condition}};
    for (std::size_t i = 0; i < n_carried; ++i) bound[body.inputs[i + 2]] = carried[i];
    const std::vector<std::string> outs = splice_subgraph(g, body, iter, bound, nodes);
    for (std::size_t i = 0; i < n_carried; ++i) carried[i] = outs[i + 1];
    for (std::size_t k = 0; k < n_scan; ++k) slices[k].push_back(outs[1 + n_carried + k]);
  }
  for (std::size_t i = 0; i < n_carried; ++i)
    if (!node.outputs[i].empty())
      nodes.push_back(make_node(fmt::format("{}state{}", prefix, i), "Identity", {carried[i]}, {node.outputs[i]}));
  for (std::size_t k = 0; k < n_scan; ++k)
    if (!node.outputs[n_carried + k].empty())
      stack_slices(g, fmt::format("{}output{}", prefix, k), slices[k], 0, node.outputs[n_carried + k], nodes);
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(index));
  g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(index), nodes.begin(), nodes.end());
  return true;
}

namespace {

// A position operand (SequenceAt, SequenceInsert, SequenceErase) known at generation time.
int64_t known_position(const NodeView& v, std::size_t input, int64_t fallback) {
  if (!v.has_input(input)) return fallback;
  const Tensor& t = v.known_input(input, "position");
  if (t.size() != 1) v.fail("the position must hold one value");
  return t.int_at(0);
}

}  // namespace

bool resolve_sequence_op(Graph& g, std::size_t index, const Analysis& a, SequenceLists& lists) {
  static const std::set<std::string> ops = {"SequenceEmpty",      "SequenceConstruct", "SequenceInsert",
                                            "SequenceErase",      "SequenceAt",        "SequenceLength",
                                            "ConcatFromSequence", "SplitToSequence"};
  const Node node = g.nodes[index];
  if (!node.domain.empty() || !ops.count(node.op_type)) return false;
  const NodeView view(node, g, &a.known);
  const std::size_t inputs_needed = node.op_type == "SequenceInsert"                                         ? 2
                                    : node.op_type == "SequenceEmpty" || node.op_type == "SequenceConstruct" ? 0
                                                                                                             : 1;
  if (node.inputs.size() < inputs_needed || node.outputs.empty() || node.outputs[0].empty())
    throw Error(
        fmt::format("{}: has {} inputs and {} outputs", node.describe(), node.inputs.size(), node.outputs.size()));
  auto list_of = [&](std::size_t i) -> const std::vector<std::string>& {
    auto it = lists.find(node.inputs.at(i));
    if (it == lists.end())
      throw UnsupportedError(
          fmt::format("{}: the sequence '{}' is not known at generation time", node.describe(), node.inputs[i]));
    return it->second;
  };
  auto normalize = [&](int64_t pos, std::size_t size, bool insert) {
    const int64_t n = int64_t(size);
    if (pos < 0) pos += n;
    if (pos < 0 || pos > n || (!insert && pos == n))
      throw Error(fmt::format("{}: position {} is out of range for a sequence of {}", node.describe(), pos, n));
    return std::size_t(pos);
  };
  std::vector<Node> replacement;
  const std::string& out = node.outputs.at(0);
  const std::string& op = node.op_type;
  if (op == "SequenceEmpty") {
    lists[out] = {};
  } else if (op == "SequenceConstruct") {
    lists[out] = node.inputs;
  } else if (op == "SequenceInsert") {
    auto l = list_of(0);
    l.insert(l.begin() + std::ptrdiff_t(normalize(known_position(view, 2, int64_t(l.size())), l.size(), true)),
             node.inputs.at(1));
    lists[out] = l;
  } else if (op == "SequenceErase") {
    auto l = list_of(0);
    l.erase(l.begin() + std::ptrdiff_t(normalize(known_position(view, 1, -1), l.size(), false)));
    lists[out] = l;
  } else if (op == "SequenceAt") {
    const auto& l = list_of(0);
    replacement.push_back(
        make_node(node.name, "Identity", {l[normalize(known_position(view, 1, 0), l.size(), false)]}, {out}));
  } else if (op == "SequenceLength") {
    // The output itself becomes the constant (its readers keep the name).
    set_constant(g, out, Tensor::from<int64_t>({}, {int64_t(list_of(0).size())}));
  } else if (op == "ConcatFromSequence") {
    const auto& l = list_of(0);
    if (l.empty()) throw Error(fmt::format("{}: the sequence is empty", node.describe()));
    const int64_t axis = node.require_attr("axis", Attribute::Kind::Int).i;
    std::vector<std::string> parts = l;
    if (node.attr_int("new_axis", 0) != 0) {
      for (std::size_t i = 0; i < l.size(); ++i) {
        const std::string name = fmt::format("{}/part{}", node.name, i);
        Node unsqueeze = make_node(name, "Unsqueeze", {l[i]}, {name});
        unsqueeze.inputs.push_back(add_fresh_constant(g, name + "/axes", Tensor::from<int64_t>({1}, {axis})));
        if (g.opset() < 13) {
          unsqueeze.inputs.pop_back();
          unsqueeze.attributes["axes"] = ints_attribute({axis});
        }
        parts[i] = name;
        replacement.push_back(std::move(unsqueeze));
      }
    }
    Node concat = make_node(node.name, "Concat", parts, {out});
    concat.attributes["axis"] = int_attribute(axis);
    replacement.push_back(std::move(concat));
  } else {  // SplitToSequence
    const ValueInfo& x = g.value(node.inputs.at(0));
    if (!x.has_shape || !is_static(x.shape))
      throw UnsupportedError(fmt::format("{}: the input's shape must be known", node.describe()));
    const auto dims = static_dims(x.shape);
    int64_t axis = node.attr_int("axis", 0);
    if (axis < 0) axis += int64_t(dims.size());
    if (axis < 0 || axis >= int64_t(dims.size())) throw Error(fmt::format("{}: axis out of range", node.describe()));
    const int64_t len = dims[std::size_t(axis)];
    // Each part becomes a tensor of the sequence, as many as a Loop's unrolled iterations at most
    // (a dim of 2^31 split into ones would ask for 15 GB of sizes).
    const auto check_parts = [&](int64_t parts) {
      if (parts > kMaxUnroll)
        throw UnsupportedError(
            fmt::format("{}: splitting into {} parts (at most {} supported)", node.describe(), parts, kMaxUnroll));
    };
    std::vector<int64_t> sizes;
    bool squeeze = false;
    if (!node.has_input(1)) {
      check_parts(len);
      sizes.assign(std::size_t(len), 1);
      squeeze = node.attr_int("keepdims", 1) == 0;
    } else {
      const Tensor* split = &view.known_input(1, "split");
      if (split->dims.empty()) {
        const int64_t chunk = split->int_at(0);
        if (chunk < 1) throw Error(fmt::format("{}: split must be positive", node.describe()));
        check_parts(len / chunk + (len % chunk != 0));
        for (int64_t at = 0; at < len; at += chunk) sizes.push_back(std::min(chunk, len - at));
      } else {
        sizes = split->as_ints();
      }
    }
    // Split and Squeeze took their sizes and axes as attributes before opset 13.
    const bool attributes = g.opset() < 13;
    Node split = make_node(node.name, "Split", {node.inputs[0]}, {});
    split.attributes["axis"] = int_attribute(axis);
    if (attributes) {
      split.attributes["split"] = ints_attribute(sizes);
    } else {
      split.inputs.push_back(
          add_fresh_constant(g, node.name + "/sizes", Tensor::from<int64_t>({int64_t(sizes.size())}, sizes)));
    }
    std::vector<std::string> names;
    for (std::size_t i = 0; i < sizes.size(); ++i) split.outputs.push_back(fmt::format("{}/part{}", node.name, i));
    names = split.outputs;
    replacement.push_back(std::move(split));
    if (squeeze) {
      for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string name = names[i] + "/squeezed";
        Node squeeze_node = make_node(name, "Squeeze", {names[i]}, {name});
        if (attributes) {
          squeeze_node.attributes["axes"] = ints_attribute({axis});
        } else {
          squeeze_node.inputs.push_back(add_fresh_constant(g, name + "/axes", Tensor::from<int64_t>({1}, {axis})));
        }
        replacement.push_back(std::move(squeeze_node));
        names[i] = name;
      }
    }
    lists[out] = names;
  }
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(index));
  g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(index), replacement.begin(), replacement.end());
  return true;
}

bool inline_known_if(Graph& g, std::size_t index, const Analysis& a) {
  const Node node = g.nodes[index];
  if (node.op_type != "If" || !node.domain.empty() || node.inputs.empty()) return false;
  const std::string& cond_name = node.inputs[0];
  const Tensor* cond = g.constant(cond_name);
  if (!cond) {
    auto it = a.known.find(cond_name);
    if (it == a.known.end()) return false;
    cond = &it->second;
  }
  if (cond->size() != 1) throw Error(fmt::format("{}: the condition must hold one value", node.describe()));
  const bool take_then = cond->float_at(0) != 0;
  const Attribute* branch_attr = node.attr(take_then ? "then_branch" : "else_branch");
  if (!branch_attr || branch_attr->kind != Attribute::Kind::Graph || !branch_attr->g)
    throw Error(fmt::format("{}: the {} graph is missing", node.describe(), take_then ? "then_branch" : "else_branch"));
  const Graph& branch = *branch_attr->g;
  if (branch.outputs.size() != node.outputs.size())
    throw Error(fmt::format("{}: the branch has {} outputs, the node {}", node.describe(), branch.outputs.size(),
                            node.outputs.size()));
  const std::string prefix = node.name + "/";
  std::vector<Node> inlined;
  const std::vector<std::string> outputs = splice_subgraph(g, branch, prefix, {}, inlined);
  for (std::size_t k = 0; k < node.outputs.size(); ++k)
    if (!node.outputs[k].empty())
      inlined.push_back(make_node(fmt::format("{}output{}", prefix, k), "Identity", {outputs[k]}, {node.outputs[k]}));
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(index));
  g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(index), inlined.begin(), inlined.end());
  return true;
}

}  // namespace sofiec
