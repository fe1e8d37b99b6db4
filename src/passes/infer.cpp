#include <algorithm>
#include <fmt/format.h>

#include "ops/registry.hpp"
#include "passes/passes.hpp"

namespace sofiec {

void check_supported(const Graph& g) {
  std::map<std::string, std::vector<std::string>> missing;  // op description -> node names
  for (const Node& n : g.nodes) {
    if (n.domain == kSofiecDomain && Registry::instance().find(n, g)) continue;
    if (!n.domain.empty()) {
      missing[fmt::format("{}::{}", n.domain, n.op_type)].push_back(n.name);
      continue;
    }
    const int64_t opset = g.opset();
    if (opset > kLatestOpset)
      throw UnsupportedError(
          fmt::format("the model uses opset {}, newer than the {} this compiler knows", opset, kLatestOpset));
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
ValueInfo merge_declared(const Graph& g, const Node& n, const std::string& name, const ValueInfo& inferred,
                         const ValueInfo* declared) {
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
    // A declared extent of a data-dependent dim holds only for the data the model was
    // exported with; the dim stays decided at run time.
    if (!out.shape[i].is_static() && d.is_static() && !g.is_data_dependent(out.shape[i])) out.shape[i] = d;
  }
  return out;
}

void check_countable(const std::string& what, const ValueInfo& v) {
  if (!v.has_shape) return;
  int64_t count = 1;
  for (const Dim& d : v.shape)
    if (d.is_static()) {
      if (d.value != 0 && count > (INT64_MAX / 64) / d.value)
        throw Error(fmt::format("{}: a tensor of shape {} is too large", what, shape_str(v.shape)));
      count *= d.value;
    }
}

bool all_inputs_known(const NodeView& v, const OpDef& def) {
  for (std::size_t i = 0; i < v.node().inputs.size(); ++i)
    if (v.has_input(i) && !v.constant_input(i) &&
        std::find(def.type_only_inputs.begin(), def.type_only_inputs.end(), i) == def.type_only_inputs.end())
      return false;
  return true;
}

bool all_input_shapes_static(const NodeView& v) {
  for (std::size_t i = 0; i < v.node().inputs.size(); ++i)
    if (v.has_input(i) && (!v.input(i).has_shape || !is_static(v.input(i).shape))) return false;
  return true;
}

bool is_half(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

// float16 and bfloat16 are storage types: a node (other than Cast) that reads them reads
// float copies, and its float outputs are rounded back. This inserts the Cast nodes before
// node `index` and renames its outputs; finish_lowering adds the casts after it once its
// output types are known. Returns the half type found, or Undefined if there was none.
DType lower_half_inputs(Graph& g, std::size_t index, std::vector<std::string>& original_outputs) {
  Node& n = g.nodes[index];
  if (n.op_type == "Cast" || n.op_type == "CastLike" || n.op_type == "BitCast" || !n.domain.empty())
    return DType::Undefined;
  DType half = DType::Undefined;
  std::vector<Node> casts;
  for (std::size_t i = 0; i < n.inputs.size(); ++i) {
    if (n.inputs[i].empty() || !g.values.count(n.inputs[i]) || !is_half(g.values.at(n.inputs[i]).dtype)) continue;
    half = g.values.at(n.inputs[i]).dtype;
    Node cast;
    cast.name = fmt::format("{}/input{}_to_float", n.name, i);
    cast.op_type = "Cast";
    cast.inputs = {n.inputs[i]};
    cast.outputs = {fmt::format("{}/input{}_float", n.name, i)};
    cast.attributes["to"].kind = Attribute::Kind::Int;
    cast.attributes["to"].i = int64_t(DType::Float);
    n.inputs[i] = cast.outputs[0];
    casts.push_back(std::move(cast));
  }
  if (half == DType::Undefined) return half;
  original_outputs = n.outputs;
  for (std::string& o : n.outputs) {
    if (o.empty()) continue;
    const std::string renamed = fmt::format("{}/{}_float", n.name, o);
    // A declared shape still applies to the float result (its type does not).
    if (auto declared = g.values.find(o); declared != g.values.end() && declared->second.has_shape)
      g.values[renamed] = ValueInfo{DType::Undefined, declared->second.shape, true};
    o = renamed;
  }
  g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(index), casts.begin(), casts.end());
  return half;
}

// Float outputs of a lowered node are cast back to the half type under their original names;
// others (indices, masks) take their original names back.
void finish_lowering(Graph& g, Analysis& a, std::size_t index, DType half, const std::vector<std::string>& original) {
  std::vector<Node> casts;
  for (std::size_t k = 0; k < original.size(); ++k) {
    std::string& current = g.nodes[index].outputs[k];
    if (current.empty()) continue;
    if (g.values.at(current).dtype == DType::Float) {
      Node cast;
      cast.name = fmt::format("{}/output{}_to_{}", g.nodes[index].name, k, dtype_name(half));
      cast.op_type = "Cast";
      cast.inputs = {current};
      cast.outputs = {original[k]};
      cast.attributes["to"].kind = Attribute::Kind::Int;
      cast.attributes["to"].i = int64_t(half);
      casts.push_back(std::move(cast));
      continue;
    }
    auto declared = g.values.find(original[k]);
    ValueInfo computed = g.values.at(current);
    if (declared != g.values.end() && declared->second.dtype != DType::Undefined &&
        declared->second.dtype != computed.dtype)
      throw Error(fmt::format("{}: output '{}' is declared {} but computes {}", g.nodes[index].describe(), original[k],
                              dtype_name(declared->second.dtype), dtype_name(computed.dtype)));
    g.values.erase(current);
    g.values[original[k]] = computed;
    if (auto known = a.known.find(current); known != a.known.end()) {
      a.known[original[k]] = std::move(known->second);
      a.known.erase(current);
    }
    current = original[k];
  }
  g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(index) + 1, casts.begin(), casts.end());
}

}  // namespace

Analysis infer_graph(Graph& g, const InferOptions& options) {
  check_supported(g);
  g.data_dependent_dims.clear();
  for (const std::string& in : g.inputs) check_countable(fmt::format("graph input '{}'", in), g.value(in));
  Analysis a;
  const Registry& registry = Registry::instance();
  auto infer_node = [&](std::size_t index) {
    const Node& n = g.nodes[index];
    const OpDef* found = registry.find(n, g);
    if (!found) throw UnsupportedError(fmt::format("unsupported operator: {} ({})", n.op_type, n.describe()));
    const OpDef& def = *found;
    NodeView view(n, g, &a.known);
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      if (n.inputs[i].empty()) continue;
      if (!g.values.count(n.inputs[i]))
        throw Error(fmt::format("{}: the type of input '{}' is unknown", n.describe(), n.inputs[i]));
      const ValueInfo& in = g.values.at(n.inputs[i]);
      if (in.has_shape && g.has_data_dependent_dims(in.shape))
        throw UnsupportedError(
            fmt::format("{}: input '{}' has a shape decided by the data at run time ({}); such a "
                        "tensor can only be a graph output",
                        n.describe(), n.inputs[i], shape_str(in.shape)));
    }
    InferResult res = def.infer(view);
    g.data_dependent_dims.insert(res.data_dependent_dims.begin(), res.data_dependent_dims.end());
    // Every shape stays countable in bytes, so that products of one tensor's dims (which
    // kernels and emitters form freely) cannot overflow.
    for (const ValueInfo& o : res.outputs) check_countable(n.describe(), o);
    if (res.outputs.size() < n.outputs.size())
      throw Error(fmt::format("{}: has {} outputs, the operator defines {}", n.describe(), n.outputs.size(),
                              res.outputs.size()));
    for (std::size_t i = 0; i < n.outputs.size(); ++i) {
      if (n.outputs[i].empty()) continue;
      auto it = g.values.find(n.outputs[i]);
      g.values[n.outputs[i]] =
          merge_declared(g, n, n.outputs[i], res.outputs[i], it == g.values.end() ? nullptr : &it->second);
    }
    if (res.workspace_bytes > 0) a.workspace[n.name] = res.workspace_bytes;

    // A node with a fused epilogue computes more than its eval does.
    const bool computable = def.eval && n.epilogue.empty() &&
                            (def.depends_on_shapes_only ? all_input_shapes_static(view) : all_inputs_known(view, def));
    if (!computable) return;
    std::vector<ValueInfo> outs;
    int64_t elements = 0;
    bool static_outputs = true;
    for (std::size_t i = 0; i < res.outputs.size(); ++i) {
      const ValueInfo& o = i < n.outputs.size() && !n.outputs[i].empty() ? g.values[n.outputs[i]] : res.outputs[i];
      static_outputs = static_outputs && o.has_shape && is_static(o.shape);
      if (static_outputs) elements += element_count(static_dims(o.shape));
      outs.push_back(o);
    }
    if (!static_outputs || elements > options.max_known_elements) return;
    std::vector<const Tensor*> inputs;
    for (std::size_t i = 0; i < view.num_inputs(); ++i) inputs.push_back(view.constant_input(i));
    std::vector<Tensor> values = def.eval(view, inputs, outs);
    for (std::size_t i = 0; i < n.outputs.size() && i < values.size(); ++i)
      if (!n.outputs[i].empty()) a.known[n.outputs[i]] = std::move(values[i]);
  };
  std::map<std::string, std::pair<DType, std::vector<std::string>>> lowered;  // node -> its half type and outputs
  SequenceLists sequences;
  for (std::size_t index = 0; index < g.nodes.size(); ++index) {
    if (inline_known_if(g, index, a) || unroll_scan(g, index) || unroll_loop(g, index, a) ||
        resolve_sequence_op(g, index, a, sequences)) {
      --index;  // infer the inlined branch from its first node
      continue;
    }
    std::vector<std::string> original;
    const std::string name = g.nodes[index].name;
    const DType half = lower_half_inputs(g, index, original);
    if (half != DType::Undefined) {
      lowered[name] = {half, original};
      --index;  // infer the inserted casts first (unsigned wrap-around is undone by ++index)
      continue;
    }
    infer_node(index);
    if (auto it = lowered.find(name); it != lowered.end()) {
      finish_lowering(g, a, index, it->second.first, it->second.second);
      lowered.erase(it);
    }
  }
  for (const std::string& o : g.outputs) {
    const ValueInfo& v = g.value(o);
    if (!dtype_is_storable(v.dtype))
      throw UnsupportedError(
          fmt::format("graph output '{}' has type {}, which is not supported", o, dtype_name(v.dtype)));
  }
  return a;
}

}  // namespace sofiec
