// Operators that change only a tensor's shape (the data is copied unchanged, or aliased by
// the planner) and operators that read shapes: Reshape, Flatten, Squeeze, Unsqueeze,
// Identity, Dropout, Shape, Size.
#include <algorithm>
#include <numeric>

#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

using ShapeFn = std::function<Shape(const NodeView&)>;

// A view op: output 0 holds input 0's elements under a new shape.
void add_view(Registry& r, const char* op, ShapeFn shape, int64_t min_opset = 1, int64_t max_opset = kLatestOpset) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.max_opset = max_opset;
  d.types = "any";
  d.infer = [shape](const NodeView& v) {
    if (!dtype_is_supported(v.input_dtype(0)))
      v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    return InferResult{{ValueInfo{v.input_dtype(0), shape(v), true}}};
  };
  d.eval = [](const NodeView&, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y = *in[0];
    y.dims = static_dims(outs[0].shape);
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("elementwise");
    e.line("detail::copy_elements({}, {}, {});", e.in(0), e.out(0), element_count(e.output_dims(0)));
  };
  // (A view the memory plan could not alias: a copy on the GPU too, of any type.)
  d.emit_cuda = [](EmitContext& e) {
    e.line("detail::copy_device({}, {}, {}, stream);", e.out(0), e.in(0),
           element_count(e.output_dims(0)) * int64_t(dtype_size(e.output(0).dtype)));
  };
  r.add(std::move(d));
}

Shape reshape_shape(const NodeView& v) {
  const std::vector<int64_t> target =
      v.opset() < 5 ? v.node().require_attr("shape", Attribute::Kind::Ints).ints : v.constant_ints(1, "target shape");
  const bool allow_zero = v.node().attr_int("allowzero", 0) != 0;
  const Shape& in = v.input(0).shape;
  if (!v.input(0).has_shape) v.fail("the input's rank is unknown");
  Shape out;
  int64_t infer_at = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (infer_at >= 0) v.fail("more than one -1 in the target shape");
      infer_at = int64_t(i);
      out.push_back(Dim(1));
    } else if (target[i] == 0 && !allow_zero) {
      if (i >= in.size()) v.fail("target shape copies dim {} of a rank-{} input", i, in.size());
      out.push_back(in[i]);
    } else if (target[i] < 0) {
      v.fail("invalid target dimension {}", target[i]);
    } else {
      out.push_back(Dim(target[i]));
    }
  }
  if (!is_static(in)) {
    if (infer_at >= 0) v.fail("-1 in the target shape needs a static input shape (fix symbols with --dim)");
    return out;
  }
  const int64_t total = element_count(static_dims(in));
  int64_t known = 1;
  for (std::size_t i = 0; i < out.size(); ++i)
    if (int64_t(i) != infer_at) known = checked_mul(known, out[i].value);
  if (infer_at >= 0) {
    if (known == 0 || total % known) v.fail("cannot reshape {} elements into {}", total, shape_str(out));
    out[std::size_t(infer_at)] = Dim(total / known);
  } else if (known != total) {
    v.fail("cannot reshape {} ({} elements) into {}", shape_str(in), total, shape_str(out));
  }
  return out;
}

Shape flatten_shape(const NodeView& v) {
  const auto x = v.input_dims(0);
  const int64_t rank = int64_t(x.size());
  int64_t axis = v.node().attr_int("axis", 1);
  if (axis < -rank || axis > rank) v.fail("axis {} is out of range for rank {}", axis, rank);
  if (axis < 0) axis += rank;
  const int64_t outer = element_count(std::vector<int64_t>(x.begin(), x.begin() + axis));
  return {Dim(outer), Dim(element_count(std::vector<int64_t>(x.begin() + axis, x.end())))};
}

std::vector<int64_t> axes_of(const NodeView& v, bool from_input) {
  if (from_input) return v.has_input(1) ? v.constant_ints(1, "axes") : std::vector<int64_t>{};
  return v.node().attr_ints("axes");
}

Shape squeeze_shape(const NodeView& v) {
  if (!v.input(0).has_shape) v.fail("the input's rank is unknown");
  const Shape& in = v.input(0).shape;
  const int64_t rank = int64_t(in.size());
  std::vector<bool> drop(in.size(), false);
  const auto axes = axes_of(v, v.opset() >= 13);
  if (axes.empty()) {
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (!in[i].is_static()) v.fail("squeezing without axes needs static dims");
      drop[i] = in[i].value == 1;
    }
  }
  for (int64_t a : axes) {
    const int64_t ax = v.axis(a, rank);
    if (in[ax].is_static() && in[ax].value != 1) v.fail("cannot squeeze axis {} of size {}", a, in[ax].value);
    drop[ax] = true;
  }
  Shape out;
  for (std::size_t i = 0; i < in.size(); ++i)
    if (!drop[i]) out.push_back(in[i]);
  return out;
}

Shape unsqueeze_shape(const NodeView& v) {
  if (!v.input(0).has_shape) v.fail("the input's rank is unknown");
  const Shape& in = v.input(0).shape;
  const bool from_input = v.opset() >= 13;
  if (from_input && !v.has_input(1)) v.fail("axes input is required");
  const auto axes = axes_of(v, from_input);
  const int64_t rank = int64_t(in.size() + axes.size());
  std::vector<bool> inserted(static_cast<std::size_t>(rank), false);
  for (int64_t a : axes) {
    const int64_t ax = v.axis(a, rank);
    if (inserted[ax]) v.fail("axis {} appears twice", a);
    inserted[ax] = true;
  }
  Shape out;
  std::size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? Dim(1) : in[next++]);
  return out;
}

void add_dropout(Registry& r) {
  OpDef d;
  d.op_type = "Dropout";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    if (v.opset() >= 12 && v.has_input(2)) {
      // Training mode drops at random, except with a ratio of 0 where it is the identity.
      const Tensor* mode = &v.known_input(2, "training_mode");
      const bool zero_ratio = v.has_input(1) && v.known_input(1, "ratio").float_at(0) == 0.0;
      if (mode->int_at(0) != 0 && !zero_ratio) v.unsupported("training mode with a nonzero ratio (random)");
    }
    if (v.opset() < 7 && v.node().attr_int("is_test", 0) == 0 && v.node().outputs.size() > 1)
      v.unsupported("training mode");
    InferResult res{{v.input(0)}};
    if (v.node().outputs.size() > 1)
      res.outputs.push_back(ValueInfo{DType::Bool, v.input(0).shape, v.input(0).has_shape});
    return res;
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("elementwise");
    const int64_t n = element_count(e.output_dims(0));
    e.line("detail::copy_elements({}, {}, {});", e.in(0), e.out(0), n);
    if (e.num_outputs() > 1 && !e.node().outputs[1].empty()) e.line("std::fill_n({}, {}, true);", e.out(1), n);
  };
  r.add(std::move(d));
}

// Shape and Size read only the input's shape; they are always computed at generation time.
void add_shape_readers(Registry& r) {
  OpDef shape;
  shape.op_type = "Shape";
  shape.types = "any input, int64 output";
  shape.depends_on_shapes_only = true;
  shape.infer = [](const NodeView& v) {
    const int64_t rank = v.input_rank(0);
    int64_t start = v.opset() >= 15 ? v.node().attr_int("start", 0) : 0;
    int64_t end = v.opset() >= 15 ? v.node().attr_int("end", rank) : rank;
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    return InferResult{{static_value(DType::Int64, {std::max<int64_t>(0, end - start)})}};
  };
  shape.eval = [](const NodeView& v, const std::vector<const Tensor*>&, const std::vector<ValueInfo>& outs) {
    const auto dims = v.input_dims(0);
    const int64_t rank = int64_t(dims.size());
    int64_t start = v.opset() >= 15 ? v.node().attr_int("start", 0) : 0;
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    Tensor y(DType::Int64, static_dims(outs[0].shape));
    for (int64_t i = 0; i < y.size(); ++i) y.data<int64_t>()[i] = dims[std::size_t(start + i)];
    return std::vector<Tensor>{std::move(y)};
  };
  r.add(std::move(shape));

  OpDef size;
  size.op_type = "Size";
  size.types = "any input, int64 output";
  size.depends_on_shapes_only = true;
  size.infer = [](const NodeView&) { return InferResult{{static_value(DType::Int64, {})}}; };
  size.eval = [](const NodeView& v, const std::vector<const Tensor*>&, const std::vector<ValueInfo>&) {
    return std::vector<Tensor>{Tensor::from<int64_t>({}, {element_count(v.input_dims(0))})};
  };
  r.add(std::move(size));
}

// BitCast: the same bytes read as another type of the same width.
void add_bit_cast(Registry& r) {
  OpDef d;
  d.op_type = "BitCast";
  d.min_opset = 26;
  d.types = "numeric, bool, float16, bfloat16 (same bit width)";
  d.infer = [](const NodeView& v) {
    const auto to = static_cast<DType>(v.node().require_attr("to", Attribute::Kind::Int).i);
    const DType from = v.input_dtype(0);
    if (!dtype_is_storable(to) || !dtype_is_storable(from))
      v.unsupported("bit casts between {} and {}", dtype_name(from), dtype_name(to));
    if (dtype_size(to) != dtype_size(from)) v.fail("{} and {} have different widths", dtype_name(from), dtype_name(to));
    ValueInfo y = v.input(0);
    y.dtype = to;
    return InferResult{{y}};
  };
  d.eval = [](const NodeView&, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y = *in[0];
    y.dtype = outs[0].dtype;
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    const int64_t bytes = element_count(e.output_dims(0)) * int64_t(dtype_size(e.output(0).dtype));
    if (bytes > 0)
      e.line("std::memcpy(static_cast<void*>({}), static_cast<const void*>({}), {});", e.out(0), e.in(0), bytes);
  };
  r.add(std::move(d));
}

// If: inference inlines the branch a known condition selects (passes/control_flow.cpp); an If
// that reaches this point has a condition only known at run time.
void add_if(Registry& r) {
  OpDef d;
  d.op_type = "If";
  d.types = "bool condition known at generation time";
  d.infer = [](const NodeView& v) -> InferResult {
    v.known_input(0, "condition");
    v.fail("internal error: an If with a known condition was not inlined");
  };
  r.add(std::move(d));
}

// Scan: unrolled by inference (passes/control_flow.cpp) before it would get here.
void add_scan(Registry& r) {
  OpDef d;
  d.op_type = "Scan";
  d.min_opset = 9;
  d.types = "scan inputs of static length (unrolled)";
  d.infer = [](const NodeView& v) -> InferResult { v.fail("internal error: a Scan was not unrolled"); };
  r.add(std::move(d));
}

// Loop: unrolled by inference (passes/control_flow.cpp) before it would get here.
void add_loop(Registry& r) {
  OpDef d;
  d.op_type = "Loop";
  d.types = "known trip count, condition passed through (unrolled)";
  d.infer = [](const NodeView& v) -> InferResult { v.fail("internal error: a Loop was not unrolled"); };
  r.add(std::move(d));
}

// Sequence operators: resolved into tensor nodes by inference (passes/control_flow.cpp) when
// the sequence's structure is known at generation time.
void add_sequence_ops(Registry& r) {
  for (const char* op : {"SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SequenceAt",
                         "SequenceLength", "ConcatFromSequence", "SplitToSequence"}) {
    OpDef d;
    d.op_type = op;
    d.min_opset = 11;
    d.types = "sequences of tensors whose structure is known at generation time";
    d.infer = [](const NodeView& v) -> InferResult { v.fail("internal error: a sequence operator was not resolved"); };
    r.add(std::move(d));
  }
}

}  // namespace

void register_shape_ops(Registry& r) {
  add_if(r);
  add_scan(r);
  add_loop(r);
  add_sequence_ops(r);
  add_bit_cast(r);
  add_view(r, "Reshape", reshape_shape);
  add_view(r, "Flatten", flatten_shape);
  add_view(r, "Squeeze", squeeze_shape);
  add_view(r, "Unsqueeze", unsqueeze_shape);
  add_view(r, "Identity", [](const NodeView& v) { return v.input(0).shape; });
  add_dropout(r);
  add_shape_readers(r);
}

}  // namespace sofiec
