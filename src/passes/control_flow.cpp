// If nodes whose condition is known at generation time are replaced by the nodes of the
// branch they take (renamed under the If node's name), so that the rest of the compiler only
// ever sees straight-line graphs.
#include <fmt/format.h>

#include <set>

#include "passes/passes.hpp"
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

}  // namespace

bool inline_known_if(Graph& g, std::size_t index, const Analysis& a) {
  const Node& node = g.nodes[index];
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
  Graph branch = *branch_attr->g;
  if (branch.outputs.size() != node.outputs.size())
    throw Error(fmt::format("{}: the branch has {} outputs, the node {}", node.describe(), branch.outputs.size(),
                            node.outputs.size()));
  const std::string prefix = node.name + "/";
  std::map<std::string, std::string> renamed;
  for (const auto& kv : branch.constants) renamed[kv.first] = prefix + kv.first;
  for (const Node& n : branch.nodes)
    for (const std::string& o : n.outputs)
      if (!o.empty()) renamed[o] = prefix + o;
  for (auto& [name, value] : branch.constants) {
    g.values[renamed[name]] = ValueInfo{value.dtype, to_shape(value.dims), true};
    g.constants[renamed[name]] = value;
  }
  std::vector<Node> inlined;
  for (Node& n : branch.nodes) {
    n.name = prefix + n.name;
    for (std::string& in : n.inputs)
      if (auto it = renamed.find(in); it != renamed.end()) in = it->second;
    for (std::string& o : n.outputs)
      if (!o.empty()) o = renamed[o];
    for (auto& [name, attr] : n.attributes)
      if (attr.kind == Attribute::Kind::Graph && attr.g) rename_free_references(*attr.g, renamed);
    inlined.push_back(std::move(n));
  }
  for (std::size_t k = 0; k < node.outputs.size(); ++k) {
    if (node.outputs[k].empty()) continue;
    Node copy;
    copy.name = fmt::format("{}output{}", prefix, k);
    copy.op_type = "Identity";
    const std::string& source = branch.outputs[k];
    copy.inputs = {renamed.count(source) ? renamed[source] : source};
    copy.outputs = {node.outputs[k]};
    inlined.push_back(std::move(copy));
  }
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(index));
  g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(index), inlined.begin(), inlined.end());
  return true;
}

}  // namespace sofiec
