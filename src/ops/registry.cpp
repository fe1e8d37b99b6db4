#include <algorithm>
#include <set>

#include "ops/registry.hpp"

namespace sofiec {

const ValueInfo& NodeView::input(std::size_t i) const {
  if (!has_input(i)) fail("input {} is required but missing", i);
  return graph_.value(node_.inputs[i]);
}

std::vector<int64_t> NodeView::input_dims(std::size_t i) const {
  const ValueInfo& v = input(i);
  if (!v.has_shape || !is_static(v.shape))
    fail("the shape of input '{}' is {} and must be known here (fix symbols with --dim NAME=VALUE)", node_.inputs[i],
         v.has_shape ? shape_str(v.shape) : "unknown");
  return static_dims(v.shape);
}

int64_t NodeView::input_rank(std::size_t i) const {
  const ValueInfo& v = input(i);
  if (!v.has_shape) fail("the rank of input '{}' is unknown", node_.inputs[i]);
  return int64_t(v.shape.size());
}

const Tensor* NodeView::constant_input(std::size_t i) const {
  if (!has_input(i)) return nullptr;
  if (const Tensor* t = graph_.constant(node_.inputs[i])) return t;
  if (known_) {
    auto it = known_->find(node_.inputs[i]);
    if (it != known_->end()) return &it->second;
  }
  return nullptr;
}

namespace {

// The graph inputs a tensor is computed from.
std::vector<std::string> upstream_inputs(const Graph& g, const std::string& tensor) {
  std::map<std::string, const Node*> producer;
  for (const Node& n : g.nodes)
    for (const std::string& o : n.outputs) producer[o] = &n;
  std::vector<std::string> found, stack{tensor};
  std::set<std::string> seen;
  while (!stack.empty()) {
    const std::string t = stack.back();
    stack.pop_back();
    if (t.empty() || !seen.insert(t).second || g.is_constant(t)) continue;
    if (std::find(g.inputs.begin(), g.inputs.end(), t) != g.inputs.end()) found.push_back(t);
    auto it = producer.find(t);
    if (it == producer.end()) continue;
    // Shape and Size read only their input's shape, which is known: their inputs do not count.
    const OpDef* def = Registry::instance().find(*it->second, g);
    if (def && def->depends_on_shapes_only) continue;
    stack.insert(stack.end(), it->second->inputs.begin(), it->second->inputs.end());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

const Tensor& NodeView::known_input(std::size_t i, const char* what) const {
  if (!has_input(i)) fail("the {} (input {}) is required but missing", what, i);
  const Tensor* t = constant_input(i);
  if (t) return *t;
  std::vector<std::string> inputs = upstream_inputs(graph_, node_.inputs[i]);
  const std::string message =
      fmt::format("{}: the {} (input '{}') must be known at generation time{}", node_.describe(), what, node_.inputs[i],
                  inputs.empty() ? "" : " (freeze the graph input '" + inputs[0] + "' with --freeze NAME=VALUES)");
  throw NeedsValueError(message, std::move(inputs));
}

std::vector<int64_t> NodeView::constant_ints(std::size_t i, const char* what) const {
  const Tensor& t = known_input(i, what);
  if (!dtype_is_integer(t.dtype)) fail("the {} must be integers", what);
  return t.as_ints();
}

int64_t NodeView::axis(int64_t a, int64_t rank) const {
  if (a < -rank || a >= rank) fail("axis {} is out of range for rank {}", a, rank);
  return a < 0 ? a + rank : a;
}

const Registry& Registry::instance() {
  static const Registry registry = [] {
    Registry r;
    register_elementwise_ops(r);
    register_linalg_ops(r);
    register_conv_ops(r);
    register_normalization_ops(r);
    register_shape_ops(r);
    register_data_movement_ops(r);
    register_reduction_ops(r);
    register_view_ops(r);
    register_indexing_ops(r);
    register_attention_ops(r);
    register_resize_ops(r);
    register_quantization_ops(r);
    register_signal_ops(r);
    register_recurrent_ops(r);
    register_selection_ops(r);
    register_internal_ops(r);
    register_winograd_ops(r);
    register_edge_conv_ops(r);
    register_filter_panel_conv_ops(r);
    register_conv_max_pool_ops(r);
    register_sparse_gemm_ops(r);
    register_dense_chain_ops(r);
    register_fused_elementwise_ops(r);
    return r;
  }();
  return registry;
}

void Registry::add(OpDef def) { ops_[def.op_type].push_back(std::move(def)); }

void Registry::set_emit_cuda(const std::string& op_type, EmitFn emit) {
  auto it = ops_.find(op_type);
  if (it == ops_.end()) throw Error("internal: set_emit_cuda for unregistered " + op_type);
  for (OpDef& d : it->second) d.emit_cuda = emit;
}

void Registry::add_internal(OpDef def) {
  const std::string name = def.op_type;
  internal_[name] = std::move(def);
}

const OpDef* Registry::find(const Node& n, const Graph& g) const {
  if (n.domain.empty()) return find(n.op_type, g.opset());
  if (n.domain != kSofiecDomain) return nullptr;
  auto it = internal_.find(n.op_type);
  return it == internal_.end() ? nullptr : &it->second;
}

const OpDef* Registry::find(const std::string& op_type, int64_t opset) const {
  auto it = ops_.find(op_type);
  if (it == ops_.end()) return nullptr;
  for (const OpDef& d : it->second)
    if (opset >= d.min_opset && opset <= d.max_opset) return &d;
  return nullptr;
}

void require_storable(const NodeView& v, std::size_t i) {
  if (!dtype_is_supported(v.input_dtype(i)))
    v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(i)));
}

DType require_float_input(const NodeView& v, std::size_t i) {
  const DType t = v.input_dtype(i);
  if (t != DType::Float && t != DType::Double) v.unsupported("input type {} is not supported", dtype_name(t));
  return t;
}

Dim data_dependent_dim(const NodeView& v, InferResult& r, const std::string& what, int64_t bound) {
  const std::string symbol = v.node().name + "." + what;
  r.data_dependent_dims[symbol] = bound;
  return Dim::symbolic(symbol);
}

ValueInfo static_value(DType t, const std::vector<int64_t>& dims) { return ValueInfo{t, to_shape(dims), true}; }

Shape broadcast_shapes(const NodeView& v, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const Dim da = i < rank - a.size() ? Dim(1) : a[i - (rank - a.size())];
    const Dim db = i < rank - b.size() ? Dim(1) : b[i - (rank - b.size())];
    if (da == db || db == Dim(1)) out[i] = da;
    else if (da == Dim(1)) out[i] = db;
    else if (da.is_static() && db.is_static())
      v.fail("shapes {} and {} cannot be broadcast together", shape_str(a), shape_str(b));
    else out[i] = da.is_static() ? db : da;  // a symbol meeting a number: the runtime value must agree
  }
  return out;
}

}  // namespace sofiec
