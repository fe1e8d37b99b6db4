// One entry per ONNX operator: its shape/type inference, its evaluation at generation time
// (constant folding) and its emitter, side by side in src/ops/<family>.cpp.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include "sofiec/error.hpp"
#include "sofiec/ir.hpp"

namespace sofiec {

// The newest default-domain opset this compiler knows.
constexpr int64_t kLatestOpset = 28;
// The domain of the compiler's own operators, which passes create for patterns that ONNX
// spells out in primitive nodes (SiLU, erf GELU); not ONNX operators, so never listed.
inline const std::string kSofiecDomain = "ai.sofiec";

// Shared by the three contexts: the node, its graph and what is known of its inputs.
class NodeView {
 public:
  NodeView(const Node& node, const Graph& graph, const std::map<std::string, Tensor>* known)
      : node_(node), graph_(graph), known_(known) {}

  const Node& node() const { return node_; }
  const Graph& graph() const { return graph_; }
  int64_t opset() const { return graph_.opset(node_.domain); }
  std::size_t num_inputs() const { return node_.input_count(); }
  bool has_input(std::size_t i) const { return node_.has_input(i); }
  const ValueInfo& input(std::size_t i) const;
  DType input_dtype(std::size_t i) const { return input(i).dtype; }
  // Dims of input i; throws an Error naming the node if they are not all known.
  std::vector<int64_t> input_dims(std::size_t i) const;
  int64_t input_rank(std::size_t i) const;
  // The value of input i if known at generation time, else nullptr.
  const Tensor* constant_input(std::size_t i) const;
  // Input i's value; it must be known at generation time (throws NeedsValueError otherwise).
  const Tensor& known_input(std::size_t i, const char* what) const;
  // Input i's value as integers; it must be known at generation time (shape-like inputs).
  std::vector<int64_t> constant_ints(std::size_t i, const char* what) const;

  template <class... Args> [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(node_.describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args> [[noreturn]] void unsupported(fmt::format_string<Args...> f, Args&&... args) const {
    throw UnsupportedError(node_.describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
  // Normalizes a possibly negative axis against rank; fails if out of range.
  int64_t axis(int64_t a, int64_t rank) const;

 private:
  const Node& node_;
  const Graph& graph_;
  const std::map<std::string, Tensor>* known_;
};

struct InferResult {
  InferResult() = default;
  InferResult(std::vector<ValueInfo> outs, int64_t workspace = 0)
      : outputs(std::move(outs)), workspace_bytes(workspace) {}  // NOLINT

  std::vector<ValueInfo> outputs;
  int64_t workspace_bytes = 0;  // scratch the emitted code needs while the node runs
  // Dims of the outputs that the data decides (symbol -> upper bound); see data_dependent_dim.
  std::map<std::string, int64_t> data_dependent_dims;
};

// A dim of node v's output decided by the data at run time, at most `bound`: a symbol named
// after the node, recorded in r. The emitter writes its actual value (EmitContext::dim_var).
Dim data_dependent_dim(const NodeView& v, InferResult& r, const std::string& what, int64_t bound);

using InferFn = std::function<InferResult(const NodeView&)>;
// Computes the outputs from inputs that are all known; outputs' types come from inference.
// `inputs` has one entry per input up to num_inputs() (trailing absent inputs dropped, as
// inference sees them), nullptr for an absent one before the last.
using EvalFn = std::function<std::vector<Tensor>(const NodeView&, const std::vector<const Tensor*>& inputs,
                                                 const std::vector<ValueInfo>& outputs)>;

class EmitContext;
using EmitFn = std::function<void(EmitContext&)>;

struct OpDef {
  std::string op_type;
  int64_t min_opset = 1;
  int64_t max_opset = kLatestOpset;
  std::string types;  // human-readable type constraint, for --list-operators
  InferFn infer;
  EvalFn eval;  // optional: without it the node is never folded
  EmitFn emit;  // optional: without it the node must be folded (e.g. Shape)
  // The node as CUDA code (--target cuda), on templates/cuda/ kernels; without it the operator
  // is refused on that target. It may call EmitContext::unsupported for forms it lacks.
  EmitFn emit_cuda;
  // Scratch bytes emit_cuda needs while the node runs (its InferResult::workspace_bytes are the
  // CPU kernels'); without it, none.
  std::function<int64_t(const NodeView&)> cuda_workspace;
  // The outputs depend on the inputs' shapes only (Shape, Size): eval runs as soon as the
  // shapes are static, with null input tensors.
  bool depends_on_shapes_only = false;
  // Inputs whose type alone matters (CastLike's target): eval runs without their values.
  std::vector<std::size_t> type_only_inputs;
  // Elementwise unary operators: the C++ functor expression of a node (e.g.
  // "detail::op_leaky_relu{0.1f}"), so that EpilogueFusion can apply it inside another kernel.
  std::function<std::string(const NodeView&)> unary_functor;
  // Elementwise binary maps: the same for two operands ("detail::op_add{}"), so that
  // ElementwiseFusion (--target cuda) can write a tree of maps as one expression.
  std::function<std::string(const NodeView&)> binary_functor;
  // The emitter applies EmitContext::epilogue() to its first output (Conv, Gemm, MatMul).
  bool accepts_epilogue = false;
  // The kernel may write its output over an input of the same shape read for the last time:
  // each output element depends only on the input elements at the same position (elementwise
  // maps), or the kernel reads each row before writing it (Softmax, LayerNormalization).
  bool in_place = false;
  // The output is a run of consecutive input elements in their memory order (a strided view
  // that is a reshape: a Transpose moving only axes of size 1, a Slice of everything; or one
  // chunk: a Slice of a range of the first axis that is not 1): the input element where it
  // starts. The memory plan may make it a view of its input.
  std::function<std::optional<int64_t>(const NodeView&)> run_start;
  // Floating-point operations of one run (a multiply-add counts 2), for --report; without
  // it, one per output element.
  std::function<int64_t(const NodeView&)> flops;
};

class Registry {
 public:
  static const Registry& instance();
  void add(OpDef def);
  void add_internal(OpDef def);  // in kSofiecDomain
  // Gives every definition of op_type (default domain, all opsets) a CUDA emitter.
  void set_emit_cuda(const std::string& op_type, EmitFn emit);
  // The definition covering (op_type, opset) in the default domain, or nullptr.
  const OpDef* find(const std::string& op_type, int64_t opset) const;
  // The definition for node n: default domain at g's opset, or the compiler's own domain.
  const OpDef* find(const Node& n, const Graph& g) const;
  const std::map<std::string, std::vector<OpDef>>& all() const { return ops_; }

 private:
  std::map<std::string, std::vector<OpDef>> ops_;
  std::map<std::string, OpDef> internal_;
};

// Family registration functions, one per src/ops/<family>.cpp.
void register_elementwise_ops(Registry& r);
void register_linalg_ops(Registry& r);
void register_conv_ops(Registry& r);
void register_normalization_ops(Registry& r);
void register_shape_ops(Registry& r);
void register_data_movement_ops(Registry& r);
void register_reduction_ops(Registry& r);
void register_view_ops(Registry& r);
void register_indexing_ops(Registry& r);
void register_attention_ops(Registry& r);
void register_resize_ops(Registry& r);
void register_quantization_ops(Registry& r);
void register_signal_ops(Registry& r);
void register_recurrent_ops(Registry& r);
void register_selection_ops(Registry& r);
void register_internal_ops(Registry& r);
void register_winograd_ops(Registry& r);
void register_edge_conv_ops(Registry& r);
void register_filter_panel_conv_ops(Registry& r);
void register_conv_max_pool_ops(Registry& r);
void register_sparse_gemm_ops(Registry& r);
void register_dense_chain_ops(Registry& r);
void register_fused_elementwise_ops(Registry& r);

// Helpers shared by inference functions.
void require_storable(const NodeView& v, std::size_t input);
// Input `input` must be float or double (float16/bfloat16 arrive lowered to float); returns its type.
DType require_float_input(const NodeView& v, std::size_t input = 0);
// Calls f(T{}) with the storage type of t (float16 and bfloat16 move as uint16_t).
template <class F> void visit_storage(DType t, F&& f) {
  if (t == DType::Float16 || t == DType::BFloat16) f(uint16_t{});
  else visit_dtype(t, f);
}
ValueInfo static_value(DType t, const std::vector<int64_t>& dims);
// numpy broadcasting of two shapes (symbolic dims kept when they agree or meet a 1).
Shape broadcast_shapes(const NodeView& v, const Shape& a, const Shape& b);

}  // namespace sofiec
