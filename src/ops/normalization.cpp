// Normalizations: BatchNormalization, LayerNormalization, RMSNormalization,
// GroupNormalization, InstanceNormalization, LRN.
#include "ops/cuda.hpp"
#include "emit/emit_context.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

// Inference mode normalizes with the given statistics; training mode (opset 14+) with the
// batch's, and can output the updated running statistics.
void add_batch_norm(Registry& r) {
  OpDef d;
  d.op_type = "BatchNormalization";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    const DType t = require_float_input(v);
    const bool training = v.node().attr_int("training_mode", 0) != 0;
    if (v.node().attr_int("spatial", 1) == 0) v.unsupported("spatial=0 (per-activation statistics)");
    if (!training)
      for (std::size_t i = 1; i < v.node().outputs.size(); ++i)
        if (!v.node().outputs[i].empty())
          v.unsupported("the training outputs (running statistics) outside training mode");
    for (std::size_t i = 3; i < v.node().outputs.size(); ++i)
      if (!v.node().outputs[i].empty()) v.unsupported("the saved mean and variance outputs of opsets before 14");
    const auto x = v.input_dims(0);
    if (x.size() < 2) v.fail("input must have rank >= 2");
    for (std::size_t i = 1; i <= 4; ++i) {
      if (v.input_dtype(i) != t) v.unsupported("parameters of a type other than the input's");
      if (v.input_dims(i) != std::vector<int64_t>{x[1]}) v.fail("parameter {} must have shape [{}]", i, x[1]);
    }
    return InferResult{{v.input(0), v.input(3), v.input(4)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("normalization");
    const auto x = e.input_dims(0);
    const int64_t spatial = element_count(std::vector<int64_t>(x.begin() + 2, x.end()));
    const std::string epsilon = cpp_float(e.node().attr_float("epsilon", 1e-5f));
    if (e.node().attr_int("training_mode", 0) != 0)
      e.line("detail::batch_norm_training({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1),
             e.in(2), e.in(3), e.in(4), e.out(0), e.out_or_null(1, e.in_type(0)), e.out_or_null(2, e.in_type(0)), x[0],
             x[1], spatial, epsilon, cpp_float(e.node().attr_float("momentum", 0.9f)));
    else
      e.line("detail::batch_norm({}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.in(2), e.in(3), e.in(4),
             e.out(0), x[0], x[1], spatial, epsilon);
  };
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e);
    if (e.node().attr_int("training_mode", 0) != 0) e.unsupported("training mode on the CUDA target");
    e.use_kernel("rows");
    const auto x = e.input_dims(0);
    const int64_t spatial = element_count(std::vector<int64_t>(x.begin() + 2, x.end()));
    e.line("detail::batch_norm({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, stream);", e.in(0), e.in(1), e.in(2),
           e.in(3), e.in(4), e.out(0), element_count(x), x[1], spatial,
           cpp_float(e.node().attr_float("epsilon", 1e-5f)), cuda_epilogue(e));
  };
  r.add(std::move(d));
}

bool is_float(DType t) { return t == DType::Float || t == DType::Double; }

// The step of a scale or bias along a normalized row of `inner` elements: 1 when it holds the
// row's shape, 0 when it is one value.
int64_t row_step(const NodeView& v, std::size_t input, int64_t inner) {
  const int64_t n = element_count(v.input_dims(input));
  if (n == inner) return 1;
  if (n == 1) return 0;
  v.unsupported("input {} broadcasts over part of the normalized axes", input);
}

// LayerNormalization and RMSNormalization: rows are the dims from `axis` on.
void add_row_norm(Registry& r, const char* op, int64_t min_opset, bool rms) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.in_place = true;  // kernels/normalization.hpp reads a row for its statistics before writing it
  d.types = "float, double";
  auto extent = [](const NodeView& v) {
    const auto x = v.input_dims(0);
    const int64_t axis = v.axis(v.node().attr_int("axis", -1), int64_t(x.size()));
    return std::pair<int64_t, int64_t>{element_count(std::vector<int64_t>(x.begin(), x.begin() + axis)),
                                       element_count(std::vector<int64_t>(x.begin() + axis, x.end()))};
  };
  d.infer = [rms](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!is_float(t)) v.unsupported("input type {} is not supported", dtype_name(t));
    const auto x = v.input_dims(0);
    const int64_t axis = v.axis(v.node().attr_int("axis", -1), int64_t(x.size()));
    std::vector<int64_t> stats = x;
    for (std::size_t i = std::size_t(axis); i < stats.size(); ++i) stats[i] = 1;
    if (rms) return InferResult{{v.input(0)}};
    return InferResult{{v.input(0), static_value(t, stats), static_value(t, stats)}};
  };
  if (!rms)
    d.emit_cuda = [extent](EmitContext& e) {
      cuda_require_float(e);
      if (e.num_outputs() > 1 && !e.node().outputs[1].empty()) e.unsupported("the Mean output on the CUDA target");
      if (e.num_outputs() > 2 && !e.node().outputs[2].empty()) e.unsupported("the InvStdDev output on the CUDA target");
      const auto [outer, inner] = extent(e);
      for (std::size_t i = 1; i < 3; ++i)
        if (e.has_input(i) && element_count(e.input_dims(i)) != inner)
          e.unsupported("a scale or bias that is not one value per normalized element");
      e.use_kernel("rows");
      e.line("detail::layer_norm({}, {}, {}, {}, {}, {}, {}, stream);", e.in(0), e.in(1),
             e.in_or_null(e.has_input(2) ? 2 : kAbsent, "float"), e.out(0), outer, inner,
             cpp_float(e.node().attr_float("epsilon", 1e-5f)));
    };
  d.emit = [extent, rms](EmitContext& e) {
    e.use_kernel("normalization");
    const auto [outer, inner] = extent(e);
    const bool has_bias = !rms && e.has_input(2);
    e.line("detail::layer_norm({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1),
           row_step(e, 1, inner), e.in_or_null(has_bias ? 2 : kAbsent, e.in_type(1)),
           has_bias ? row_step(e, 2, inner) : 0, e.out(0), e.out_or_null(1, e.in_type(0)),
           e.out_or_null(2, e.in_type(0)), outer, inner, cpp_float(e.node().attr_float("epsilon", 1e-5f)), rms);
  };
  r.add(std::move(d));
}

// GroupNormalization (scale per group before opset 21, per channel from 21) and
// InstanceNormalization (one group per channel). The compiler's GroupNormalization
// (GroupNormFusion writes it for torch's Reshape / InstanceNormalization / Reshape / Mul / Add)
// has per-channel scale and bias at every opset and takes a fused epilogue.
OpDef group_norm_def(const char* op, int64_t min_opset, int64_t max_opset, bool internal) {
  const bool instance = std::string(op) == "InstanceNormalization";
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.max_opset = max_opset;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!is_float(t)) v.unsupported("input type {} is not supported", dtype_name(t));
    if (v.input_dims(0).size() < 2) v.fail("input must have rank >= 2");
    return InferResult{{v.input(0)}};
  };
  // The arguments both targets' group_norm take after the tensors: batch, channels, spatial
  // size, groups, epsilon and whether scale and bias are per group.
  auto group_args = [instance, internal](const EmitContext& e) {
    const auto x = e.input_dims(0);
    const int64_t channels = x[1];
    const int64_t groups = instance ? channels : e.node().require_attr("num_groups", Attribute::Kind::Int).i;
    if (groups <= 0 || channels % groups) e.fail("{} channels do not split into {} groups", channels, groups);
    const bool per_group = !instance && !internal && e.opset() < 21;
    const int64_t params = per_group ? groups : channels;
    if (element_count(e.input_dims(1)) != params || element_count(e.input_dims(2)) != params)
      e.fail("scale and bias must hold {} values", params);
    return fmt::format("{}, {}, {}, {}, {}, {}", x[0], channels,
                       element_count(std::vector<int64_t>(x.begin() + 2, x.end())), groups,
                       cpp_float(e.node().attr_float("epsilon", 1e-5f)), per_group);
  };
  d.emit = [group_args](EmitContext& e) {
    e.use_kernel("normalization");
    const std::string epilogue = e.epilogue();
    e.line("detail::group_norm({}, {}, {}, {}, {}{});", e.in(0), e.in(1), e.in(2), e.out(0), group_args(e),
           epilogue.empty() ? "" : ", " + epilogue);
  };
  d.emit_cuda = [group_args](EmitContext& e) {
    cuda_require_float(e);
    e.use_kernel("rows");
    e.line("detail::group_norm({}, {}, {}, {}, {}, {}, stream);", e.in(0), e.in(1), e.in(2), e.out(0), group_args(e),
           cuda_epilogue(e));
  };
  d.accepts_epilogue = internal;
  d.in_place = true;  // kernels/normalization.hpp reads a group for its statistics before writing it
  return d;
}

void add_lrn(Registry& r) {
  OpDef d;
  d.op_type = "LRN";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    if (!is_float(v.input_dtype(0))) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    if (v.input_dims(0).size() < 2) v.fail("input must have rank >= 2");
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("normalization");
    const auto x = e.input_dims(0);
    const int64_t size = e.node().require_attr("size", Attribute::Kind::Int).i;
    if (size <= 0) e.fail("size must be positive");
    e.line("detail::lrn({}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.out(0), x[0], x[1],
           element_count(std::vector<int64_t>(x.begin() + 2, x.end())), size,
           cpp_float(e.node().attr_float("alpha", 1e-4f)), cpp_float(e.node().attr_float("beta", 0.75f)),
           cpp_float(e.node().attr_float("bias", 1.f)));
  };
  r.add(std::move(d));
}

}  // namespace

void register_normalization_ops(Registry& r) {
  add_batch_norm(r);
  add_row_norm(r, "LayerNormalization", 17, false);
  // LayerNormFusion writes it for the primitive nodes of exporters before opset 17.
  r.add_internal(*r.find("LayerNormalization", 17));
  add_row_norm(r, "RMSNormalization", 23, true);
  r.add(group_norm_def("GroupNormalization", 18, kLatestOpset, false));
  r.add_internal(group_norm_def("GroupNormalization", 1, kLatestOpset, true));
  r.add(group_norm_def("InstanceNormalization", 1, kLatestOpset, false));
  add_lrn(r);
}

}  // namespace sofiec
