// Operators whose output size the data decides: NonZero, Compress, Unique,
// NonMaxSuppression. Inference gives the decided dim as a data-dependent symbol with an
// upper bound (buffers are sized for it; the Session reports the actual value), except when
// every input is known at generation time: then the operator runs in the compiler and its
// outputs are static (and folded).
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

// Computes the outputs from known inputs with the kernels the generated code runs.
using RunFn = std::vector<Tensor> (*)(const NodeView&, const std::vector<const Tensor*>&);

bool all_given_inputs_known(const NodeView& v) {
  for (std::size_t i = 0; i < v.num_inputs(); ++i)
    if (v.has_input(i) && !v.constant_input(i)) return false;
  return true;
}

std::vector<const Tensor*> known_inputs(const NodeView& v) {
  std::vector<const Tensor*> in;
  for (std::size_t i = 0; i < v.node().inputs.size(); ++i) in.push_back(v.has_input(i) ? v.constant_input(i) : nullptr);
  return in;
}

// Registers d with inference that runs the operator when its inputs are known and otherwise
// calls bounded (which declares the data-dependent dims).
void add_selection(Registry& r, OpDef d, RunFn run, InferFn bounded) {
  d.infer = [run, bounded](const NodeView& v) {
    InferResult res = bounded(v);  // also validates the node
    if (!all_given_inputs_known(v)) return res;
    InferResult known;
    known.workspace_bytes = res.workspace_bytes;
    for (const Tensor& t : run(v, known_inputs(v))) known.outputs.push_back(static_value(t.dtype, t.dims));
    return known;
  };
  d.eval = [run](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>&) {
    return run(v, in);
  };
  r.add(std::move(d));
}

// The leading `count` rows of a tensor computed at capacity: the actual result.
Tensor shrink_dim(Tensor t, std::size_t dim, int64_t count) {
  std::vector<int64_t> dims = t.dims;
  int64_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < dim; ++d) outer *= dims[d];
  for (std::size_t d = dim + 1; d < dims.size(); ++d) inner *= dims[d];
  const int64_t capacity = dims[dim];
  dims[dim] = count;
  Tensor out(t.dtype, dims);
  const std::size_t row = std::size_t(inner) * dtype_size(t.dtype);
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(out.bytes.data() + std::size_t(o * count) * row, t.bytes.data() + std::size_t(o * capacity) * row,
                std::size_t(count) * row);
  return out;
}

// x viewed as [outer, length, inner] around the node's `axis` attribute, or, without one,
// flattened (outer = inner = 1). Compress and Unique select along that middle axis.
struct AxisSplit {
  int64_t outer = 1, length = 1, inner = 1;
  std::size_t axis = 0;       // of the (possibly flattened) output
  std::vector<int64_t> dims;  // x's dims, or [size] when flattened
};

AxisSplit split_at_axis_attr(const NodeView& v, const std::vector<int64_t>& x) {
  AxisSplit s;
  if (!v.node().has_attr("axis")) {
    s.length = element_count(x);
    s.dims = {s.length};
    return s;
  }
  s.axis = std::size_t(v.axis(v.node().attr_int("axis", 0), int64_t(x.size())));
  for (std::size_t d = 0; d < x.size(); ++d) {
    if (d < s.axis) s.outer *= x[d];
    else if (d > s.axis) s.inner *= x[d];
  }
  s.length = x[s.axis];
  s.dims = x;
  return s;
}

// ---- NonZero

InferResult infer_nonzero(const NodeView& v) {
  require_storable(v, 0);
  const auto x = v.input_dims(0);
  if (x.empty()) v.unsupported("a scalar input");
  InferResult r;
  r.outputs.push_back(
      ValueInfo{DType::Int64, {Dim(int64_t(x.size())), data_dependent_dim(v, r, "count", element_count(x))}, true});
  return r;
}

std::vector<Tensor> run_nonzero(const NodeView&, const std::vector<const Tensor*>& in) {
  const Tensor& x = *in[0];
  Tensor y(DType::Int64, {int64_t(x.dims.size()), x.size()});
  int64_t count = 0;
  visit_storage(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    count = rt::nonzero(x.data<T>(), y.data<int64_t>(), int(x.dims.size()), x.dims.data(), x.size());
  });
  // The kernel wrote [rank, count] compactly at the start of the buffer.
  y.dims[1] = count;
  y.bytes.resize(std::size_t(y.size()) * 8);
  return {std::move(y)};
}

void add_nonzero(Registry& r) {
  OpDef d;
  d.op_type = "NonZero";
  d.min_opset = 9;
  d.types = "any";
  d.emit = [](EmitContext& e) {
    e.use_kernel("selection");
    const auto x = e.input_dims(0);
    e.line("{} = detail::nonzero({}, {}, {}, {}, {});", e.dim_var(e.output(0).shape[1]), e.in(0), e.out(0), x.size(),
           e.int_array("x_dims", x), element_count(x));
  };
  add_selection(r, std::move(d), run_nonzero, infer_nonzero);
}

// ---- Compress

struct CompressPlan : AxisSplit {
  int64_t condition_length = 0;
  std::vector<int64_t> out_dims;  // with the compressed dim at its bound
};

CompressPlan plan_compress(const NodeView& v) {
  const auto x = v.input_dims(0);
  const auto cond = v.input_dims(1);
  if (v.input_dtype(1) != DType::Bool || cond.size() != 1) v.fail("condition must be a 1-D bool tensor");
  CompressPlan p;
  static_cast<AxisSplit&>(p) = split_at_axis_attr(v, x);
  p.condition_length = cond[0];
  p.out_dims = p.dims;
  p.out_dims[p.axis] = std::min(p.length, p.condition_length);
  return p;
}

InferResult infer_compress(const NodeView& v) {
  require_storable(v, 0);
  const CompressPlan p = plan_compress(v);
  InferResult r;
  Shape shape = to_shape(p.out_dims);
  shape[p.axis] = data_dependent_dim(v, r, "count", p.out_dims[p.axis]);
  r.outputs.push_back(ValueInfo{v.input_dtype(0), shape, true});
  return r;
}

std::vector<Tensor> run_compress(const NodeView& v, const std::vector<const Tensor*>& in) {
  const CompressPlan p = plan_compress(v);
  Tensor y(in[0]->dtype, p.out_dims);
  int64_t count = 0;
  visit_storage(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    count = rt::compress(in[0]->data<T>(), in[1]->data<bool>(), p.condition_length, y.data<T>(), p.outer, p.length,
                         p.inner);
  });
  // compress writes [outer, count, inner] compactly: reinterpret, then drop the tail.
  y.dims[p.axis] = count;
  y.bytes.resize(std::size_t(y.size()) * dtype_size(y.dtype));
  return {std::move(y)};
}

void add_compress(Registry& r) {
  OpDef d;
  d.op_type = "Compress";
  d.min_opset = 9;
  d.types = "any data, bool condition";
  d.emit = [](EmitContext& e) {
    e.use_kernel("selection");
    const CompressPlan p = plan_compress(e);
    e.line("{} = detail::compress({}, {}, {}, {}, {}, {}, {});", e.dim_var(e.output(0).shape[p.axis]), e.in(0), e.in(1),
           p.condition_length, e.out(0), p.outer, p.length, p.inner);
  };
  add_selection(r, std::move(d), run_compress, infer_compress);
}

// ---- Unique

AxisSplit plan_unique(const NodeView& v) { return split_at_axis_attr(v, v.input_dims(0)); }

InferResult infer_unique(const NodeView& v) {
  require_storable(v, 0);
  const AxisSplit p = plan_unique(v);
  InferResult r;
  const Dim count = data_dependent_dim(v, r, "count", p.length);
  Shape y = to_shape(p.dims);
  y[p.axis] = count;
  r.outputs = {ValueInfo{v.input_dtype(0), y, true}, ValueInfo{DType::Int64, {count}, true},
               static_value(DType::Int64, {p.length}), ValueInfo{DType::Int64, {count}, true}};
  // Scratch: the sort's 4 arrays, and room for the outputs the node does not use.
  r.workspace_bytes = 7 * p.length * 8 + element_count(p.dims) * int64_t(dtype_size(v.input_dtype(0))) + 64;
  return r;
}

std::vector<Tensor> run_unique(const NodeView& v, const std::vector<const Tensor*>& in) {
  const AxisSplit p = plan_unique(v);
  const bool sorted = v.node().attr_int("sorted", 1) != 0;
  Tensor y(in[0]->dtype, p.dims), first(DType::Int64, {p.length}), inverse(DType::Int64, {p.length}),
      counts(DType::Int64, {p.length});
  std::vector<int64_t> scratch(std::size_t(4 * p.length));
  int64_t count = 0;
  visit_storage(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    count = rt::unique_slices(in[0]->data<T>(), p.outer, p.length, p.inner, sorted, y.data<T>(), first.data<int64_t>(),
                              inverse.data<int64_t>(), counts.data<int64_t>(), scratch.data());
  });
  y.dims[p.axis] = count;
  y.bytes.resize(std::size_t(y.size()) * dtype_size(y.dtype));
  return {std::move(y), shrink_dim(std::move(first), 0, count), std::move(inverse),
          shrink_dim(std::move(counts), 0, count)};
}

void add_unique(Registry& r) {
  OpDef d;
  d.op_type = "Unique";
  d.min_opset = 11;
  d.types = "any";
  d.emit = [](EmitContext& e) {
    e.use_kernel("selection");
    const AxisSplit p = plan_unique(e);
    const std::string type = e.in_type(0);
    e.line("int64_t* const scratch = reinterpret_cast<int64_t*>({});", e.workspace());
    // Outputs the node does not produce go to scratch after the sort's 4 arrays.
    const int64_t n = p.length;
    auto output = [&](std::size_t i, const std::string& cast, int64_t at) {
      return i < e.num_outputs() && !e.node().outputs[i].empty()
                 ? e.out(i)
                 : fmt::format("reinterpret_cast<{}*>(scratch + {})", cast, at);
    };
    e.line("{} = detail::unique_slices({}, {}, {}, {}, {}, {}, {}, {}, {}, scratch);",
           e.dim_var(e.output(0).shape[p.axis]), e.in(0), p.outer, n, p.inner, e.node().attr_int("sorted", 1) != 0,
           output(0, type, 7 * n), output(1, "int64_t", 4 * n), output(2, "int64_t", 5 * n),
           output(3, "int64_t", 6 * n));
  };
  add_selection(r, std::move(d), run_unique, infer_unique);
}

// ---- NonMaxSuppression

struct NmsPlan {
  int64_t batches = 0, classes = 0, boxes = 0, capacity = 0;
};

NmsPlan plan_nms(const NodeView& v) {
  const auto boxes = v.input_dims(0);
  const auto scores = v.input_dims(1);
  if (v.input_dtype(0) != DType::Float || v.input_dtype(1) != DType::Float)
    v.unsupported("boxes and scores must be float");
  if (boxes.size() != 3 || boxes[2] != 4) v.fail("boxes must be [batches, boxes, 4]");
  if (scores.size() != 3 || scores[0] != boxes[0] || scores[2] != boxes[1])
    v.fail("scores must be [batches, classes, boxes]");
  if (v.has_input(2) && v.input_dtype(2) != DType::Int64) v.fail("max_output_boxes_per_class must be int64");
  for (std::size_t i = 2; i < 5; ++i)
    if (v.has_input(i) && element_count(v.input_dims(i)) != 1) v.fail("input {} must hold one value", i);
  for (std::size_t i = 3; i < 5; ++i)
    if (v.has_input(i) && v.input_dtype(i) != DType::Float) v.fail("input {} must be float", i);
  NmsPlan p{boxes[0], scores[1], boxes[1], 0};
  int64_t per_class = p.boxes;
  if (!v.has_input(2)) per_class = 0;
  else if (const Tensor* max = v.constant_input(2)) per_class = std::clamp<int64_t>(max->int_at(0), 0, p.boxes);
  p.capacity = p.batches * p.classes * per_class;
  return p;
}

InferResult infer_nms(const NodeView& v) {
  const NmsPlan p = plan_nms(v);
  InferResult r;
  r.outputs.push_back(ValueInfo{DType::Int64, {data_dependent_dim(v, r, "selected", p.capacity), Dim(3)}, true});
  r.workspace_bytes = 2 * p.boxes * 8;
  return r;
}

std::vector<Tensor> run_nms(const NodeView& v, const std::vector<const Tensor*>& in) {
  const NmsPlan p = plan_nms(v);
  Tensor y(DType::Int64, {p.capacity, 3});
  std::vector<int64_t> scratch(std::size_t(2 * p.boxes));
  auto ptr = [&](std::size_t i) { return i < in.size() && in[i] ? in[i]->bytes.data() : nullptr; };
  const int64_t count =
      rt::non_max_suppression(in[0]->data<float>(), in[1]->data<float>(), p.batches, p.classes, p.boxes,
                              reinterpret_cast<const int64_t*>(ptr(2)), reinterpret_cast<const float*>(ptr(3)),
                              reinterpret_cast<const float*>(ptr(4)), v.node().attr_int("center_point_box", 0) != 0,
                              y.data<int64_t>(), scratch.data());
  return {shrink_dim(std::move(y), 0, count)};
}

void add_nms(Registry& r) {
  OpDef d;
  d.op_type = "NonMaxSuppression";
  d.min_opset = 10;
  d.types = "float boxes and scores";
  d.emit = [](EmitContext& e) {
    e.use_kernel("selection");
    const NmsPlan p = plan_nms(e);
    e.line("{} = detail::non_max_suppression({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, reinterpret_cast<int64_t*>({}));",
           e.dim_var(e.output(0).shape[0]), e.in(0), e.in(1), p.batches, p.classes, p.boxes, e.in_or_null(2, "int64_t"),
           e.in_or_null(3, "float"), e.in_or_null(4, "float"), e.node().attr_int("center_point_box", 0) != 0, e.out(0),
           e.workspace());
  };
  add_selection(r, std::move(d), run_nms, infer_nms);
}

}  // namespace

void register_selection_ops(Registry& r) {
  add_nonzero(r);
  add_compress(r);
  add_unique(r);
  add_nms(r);
}

}  // namespace sofiec
