#include <fmt/format.h>

#include "ops/registry.hpp"
#include "passes/passes.hpp"

namespace sofiec {

void check_supported(const Graph& g) {
  std::map<std::string, std::vector<std::string>> missing;  // op description -> node names
  for (const Node& n : g.nodes) {
    if (!n.domain.empty()) {
      missing[fmt::format("{}::{}", n.domain, n.op_type)].push_back(n.name);
      continue;
    }
    const int64_t opset = g.opset();
    if (opset > kLatestOpset) throw UnsupportedError(fmt::format("the model uses opset {}, newer than the {} this compiler knows", opset, kLatestOpset));
    if (!Registry::instance().find(n.op_type, opset))
      missing[Registry::instance().all().count(n.op_type) ? fmt::format("{} (opset {})", n.op_type, opset) : n.op_type]
          .push_back(n.name);
  }
  if (missing.empty()) return;
  std::string list;
  for (const auto& [op, nodes] : missing) {
    std::string names;
    for (std::size_t i = 0; i < nodes.size() && i < 5; ++i) names += (i ? "', '" : "'") + nodes[i];
    names += nodes.size() > 5 ? fmt::format("' and {} more", nodes.size() - 5) : "'";
    list += fmt::format("{}{} (node{} {})", list.empty() ? "" : "; ", op, nodes.size() > 1 ? "s" : "", names);
  }
  throw UnsupportedError(fmt::format("unsupported operator{}: {}", missing.size() > 1 ? "s" : "", list));
}

namespace {

// A declared type (value_info, graph output) fills what inference left unknown and must not
// contradict what it found.
ValueInfo merge_declared(const Node& n, const std::string& name, const ValueInfo& inferred, const ValueInfo* declared) {
  if (!declared) return inferred;
  if (declared->dtype != DType::Undefined && inferred.dtype != declared->dtype)
    throw Error(fmt::format("{}: output '{}' is declared {} but computes {}", n.describe(), name,
                            dtype_name(declared->dtype), dtype_name(inferred.dtype)));
  if (!inferred.has_shape) return declared->has_shape ? ValueInfo{inferred.dtype, declared->shape, true} : inferred;
  if (!declared->has_shape) return inferred;
  if (declared->shape.size() != inferred.shape.size())
    throw Error(fmt::format("{}: output '{}' is declared with shape {} but computes {}", n.describe(), name,
                            shape_str(declared->shape), shape_str(inferred.shape)));
  ValueInfo out = inferred;
  for (std::size_t i = 0; i < out.shape.size(); ++i) {
    const Dim& d = declared->shape[i];
    if (out.shape[i].is_static() && d.is_static() && out.shape[i] != d)
      throw Error(fmt::format("{}: output '{}' is declared with shape {} but computes {}", n.describe(), name,
                              shape_str(declared->shape), shape_str(inferred.shape)));
    if (!out.shape[i].is_static() && d.is_static()) out.shape[i] = d;
  }
  return out;
}

bool all_inputs_known(const NodeView& v) {
  for (std::size_t i = 0; i < v.node().inputs.size(); ++i)
    if (v.has_input(i) && !v.constant_input(i)) return false;
  return true;
}

bool all_input_shapes_static(const NodeView& v) {
  for (std::size_t i = 0; i < v.node().inputs.size(); ++i)
    if (v.has_input(i) && (!v.input(i).has_shape || !is_static(v.input(i).shape))) return false;
  return true;
}

}  // namespace

Analysis infer_graph(Graph& g, const InferOptions& options) {
  check_supported(g);
  Analysis a;
  const Registry& registry = Registry::instance();
  for (const Node& n : g.nodes) {
    const OpDef& def = *registry.find(n.op_type, g.opset(n.domain));
    NodeView view(n, g, &a.known);
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      if (!n.inputs[i].empty() && !g.values.count(n.inputs[i]))
        throw Error(fmt::format("{}: the type of input '{}' is unknown", n.describe(), n.inputs[i]));
    InferResult res = def.infer(view);
    if (res.outputs.size() < n.outputs.size())
      throw Error(fmt::format("{}: has {} outputs, the operator defines {}", n.describe(), n.outputs.size(),
                              res.outputs.size()));
    for (std::size_t i = 0; i < n.outputs.size(); ++i) {
      if (n.outputs[i].empty()) continue;
      auto it = g.values.find(n.outputs[i]);
      g.values[n.outputs[i]] = merge_declared(n, n.outputs[i], res.outputs[i], it == g.values.end() ? nullptr : &it->second);
    }
    if (res.workspace_bytes > 0) a.workspace[n.name] = res.workspace_bytes;

    const bool computable = def.eval && (def.depends_on_shapes_only ? all_input_shapes_static(view) : all_inputs_known(view));
    if (!computable) continue;
    std::vector<ValueInfo> outs;
    int64_t elements = 0;
    bool static_outputs = true;
    for (std::size_t i = 0; i < res.outputs.size(); ++i) {
      const ValueInfo& o = i < n.outputs.size() && !n.outputs[i].empty() ? g.values[n.outputs[i]] : res.outputs[i];
      static_outputs = static_outputs && o.has_shape && is_static(o.shape);
      if (static_outputs) elements += element_count(static_dims(o.shape));
      outs.push_back(o);
    }
    if (!static_outputs || elements > options.max_known_elements) continue;
    std::vector<const Tensor*> inputs;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) inputs.push_back(view.constant_input(i));
    std::vector<Tensor> values = def.eval(view, inputs, outs);
    for (std::size_t i = 0; i < n.outputs.size() && i < values.size(); ++i)
      if (!n.outputs[i].empty()) a.known[n.outputs[i]] = std::move(values[i]);
  }
  for (const std::string& o : g.outputs) {
    const ValueInfo& v = g.value(o);
    if (!dtype_is_supported(v.dtype))
      throw UnsupportedError(fmt::format("graph output '{}' has type {}, which is not supported", o, dtype_name(v.dtype)));
  }
  return a;
}

}  // namespace sofiec
