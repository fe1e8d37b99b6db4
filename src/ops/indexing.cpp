// Indexed reads and writes and generated tensors: GatherElements, ScatterElements (Scatter),
// GatherND, ScatterND, TopK, OneHot, Trilu, EyeLike, ConstantOfShape, Range, Split,
// ReverseSequence.
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

void require_index_type(const NodeView& v, std::size_t i) {
  const DType t = v.input_dtype(i);
  if (t != DType::Int32 && t != DType::Int64) v.fail("indices must be int32 or int64");
}

const char* reduction_enum(const NodeView& v) {
  const std::string r = v.node().attr_string("reduction", "none");
  if (r == "none") return "None";
  if (r == "add") return "Add";
  if (r == "mul") return "Mul";
  if (r == "max") return "Max";
  if (r == "min") return "Min";
  v.fail("unknown reduction '{}'", r);
}

// GatherElements and ScatterElements: indices of the data's rank, each position of which
// reads or writes the same position of the data off the axis, so no wider there than the data.
void require_indices_within_data(const NodeView& v) {
  if (v.input_rank(0) != v.input_rank(1)) v.fail("data and indices have different ranks");
  const Shape& data = v.input(0).shape;
  const Shape& idx = v.input(1).shape;
  if (!v.input(0).has_shape || !v.input(1).has_shape) return;
  const int64_t axis = v.axis(v.node().attr_int("axis", 0), int64_t(data.size()));
  for (std::size_t d = 0; d < data.size(); ++d)
    if (int64_t(d) != axis && idx[d].is_static() && data[d].is_static() && idx[d].value > data[d].value)
      v.fail("indices have {} along axis {}, beyond data's {}", idx[d].value, d, data[d].value);
}

// What both targets' GatherElements and ScatterElements emitters need: the data's dims, the
// indices' dims (ScatterElements: the updates' too), the axis.
struct ElementsPlan {
  std::vector<int64_t> data, idx;
  int64_t axis;
};

ElementsPlan plan_elements(const EmitContext& e, bool scatter) {
  ElementsPlan p{e.input_dims(0), e.input_dims(1), 0};
  if (scatter && p.idx != e.input_dims(2)) e.fail("indices and updates have different shapes");
  p.axis = e.axis(e.node().attr_int("axis", 0), int64_t(p.data.size()));
  if (p.data.size() > 16) e.unsupported("rank above 16");
  return p;
}

// templates/cuda/indexing.cuh's ElementsShape: the indices' dims, the data's strides.
std::string cuda_elements_shape(const ElementsPlan& p) {
  return fmt::format("detail::ElementsShape{{{}, {}, {{{}}}, {{{}}}}}", p.idx.size(), p.axis, fmt::join(p.idx, ", "),
                     fmt::join(contiguous_strides(p.data), ", "));
}

void add_gather_elements(Registry& r) {
  OpDef d;
  d.op_type = "GatherElements";
  d.min_opset = 11;
  d.types = "any data, int32/int64 indices";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    require_index_type(v, 1);
    require_indices_within_data(v);
    return InferResult{{ValueInfo{v.input_dtype(0), v.input(1).shape, true}}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const ElementsPlan p = plan_elements(e, false);
    e.line("detail::gather_elements({}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0), p.idx.size(),
           e.int_array("idx_dims", p.idx), e.int_array("x_strides", contiguous_strides(p.data)), p.axis,
           p.data[std::size_t(p.axis)]);
  };
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float_or_index(e, 1);
    e.use_kernel("indexing");
    const ElementsPlan p = plan_elements(e, false);
    e.line("detail::gather_elements({}, {}, {}, {}, {}, stream);", e.in(0), e.in(1), e.out(0), cuda_elements_shape(p),
           p.data[std::size_t(p.axis)]);
  };
  r.add(std::move(d));
}

void add_scatter_elements(Registry& r, const char* op, int64_t min_opset, int64_t max_opset) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.max_opset = max_opset;
  d.types = "any data, int32/int64 indices";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    require_index_type(v, 1);
    if (v.input_dtype(2) != v.input_dtype(0)) v.fail("updates and data have different types");
    require_indices_within_data(v);
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    e.use_kernel("elementwise");
    const ElementsPlan p = plan_elements(e, true);
    e.line("detail::copy_elements({}, {}, {});", e.in(0), e.out(0), element_count(p.data));
    e.line("detail::scatter_elements({}, {}, {}, {}, {}, {}, {}, {}, detail::ScatterReduction::{});", e.in(2), e.in(1),
           e.out(0), p.idx.size(), e.int_array("idx_dims", p.idx), e.int_array("y_strides", contiguous_strides(p.data)),
           p.axis, p.data[std::size_t(p.axis)], reduction_enum(e));
  };
  // In the updates' order, as on the CPU (templates/cuda/indexing.cuh says how).
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float_or_index(e, 1);
    e.use_kernel("indexing");
    const ElementsPlan p = plan_elements(e, true);
    e.line("detail::scatter_elements({}, {}, {}, {}, {}, {}, {}, detail::ScatterReduction::{}, stream);", e.in(0),
           e.in(2), e.in(1), e.out(0), element_count(p.data), cuda_elements_shape(p), p.data[std::size_t(p.axis)],
           reduction_enum(e));
  };
  r.add(std::move(d));
}

struct NdPlan {
  int64_t batches = 1, batch_stride = 1, tuples = 1, slice = 1;
  std::vector<int64_t> dims, strides;  // the k indexed dims of one batch's data
  std::vector<int64_t> out_dims;
};

NdPlan plan_nd(const NodeView& v, int64_t batch_dims) {
  const auto data = v.input_dims(0);
  const auto idx = v.input_dims(1);
  if (idx.empty()) v.fail("indices must have rank >= 1");
  const int64_t b = batch_dims, k = idx.back();
  if (b < 0 || b >= int64_t(idx.size()) || b > int64_t(data.size())) v.fail("batch_dims {} is out of range", b);
  if (k < 1 || b + k > int64_t(data.size()))
    v.fail("index tuples of length {} do not fit data of rank {}", k, data.size());
  NdPlan p;
  const std::vector<int64_t> strides = contiguous_strides(data);
  for (int64_t d = 0; d < b; ++d) {
    if (idx[std::size_t(d)] != data[std::size_t(d)]) v.fail("batch dims of data and indices differ");
    p.batches *= data[std::size_t(d)];
  }
  p.batch_stride = b < int64_t(data.size()) ? strides[std::size_t(b)] * data[std::size_t(b)] : 1;
  for (std::size_t d = std::size_t(b); d + 1 < idx.size(); ++d) p.tuples *= idx[d];
  for (int64_t j = 0; j < k; ++j) {
    p.dims.push_back(data[std::size_t(b + j)]);
    p.strides.push_back(strides[std::size_t(b + j)]);
  }
  p.out_dims.assign(idx.begin(), idx.end() - 1);
  for (std::size_t d = std::size_t(b + k); d < data.size(); ++d) {
    p.slice *= data[d];
    p.out_dims.push_back(data[d]);
  }
  return p;
}

// templates/cuda/indexing.cuh's TupleShape: the dims and strides the tuples address.
std::string cuda_tuple_shape(const NdPlan& p) {
  return fmt::format("detail::TupleShape{{{}, {{{}}}, {{{}}}}}", p.dims.size(), fmt::join(p.dims, ", "),
                     fmt::join(p.strides, ", "));
}

void add_gather_nd(Registry& r) {
  OpDef d;
  d.op_type = "GatherND";
  d.min_opset = 11;
  d.types = "any data, int64 indices";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    require_index_type(v, 1);
    return InferResult{{static_value(v.input_dtype(0), plan_nd(v, v.node().attr_int("batch_dims", 0)).out_dims)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const NdPlan p = plan_nd(e, e.node().attr_int("batch_dims", 0));
    e.line("detail::gather_nd({}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0), p.batches,
           p.batch_stride, p.tuples, p.dims.size(), e.int_array("dims", p.dims), e.int_array("strides", p.strides),
           p.slice);
  };
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float_or_index(e, 1);
    e.use_kernel("indexing");
    const NdPlan p = plan_nd(e, e.node().attr_int("batch_dims", 0));
    if (p.dims.size() > 16) e.unsupported("index tuples longer than 16");
    e.line("detail::gather_nd({}, {}, {}, {}, {}, {}, {}, {}, stream);", e.in(0), e.in(1), e.out(0), p.batches,
           p.batch_stride, p.tuples, cuda_tuple_shape(p), p.slice);
  };
  r.add(std::move(d));
}

void add_scatter_nd(Registry& r) {
  OpDef d;
  d.op_type = "ScatterND";
  d.min_opset = 11;
  d.types = "any data, int64 indices";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    require_index_type(v, 1);
    if (v.input_dtype(2) != v.input_dtype(0)) v.fail("updates and data have different types");
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    e.use_kernel("elementwise");
    const NdPlan p = plan_nd(e, 0);
    if (element_count(e.input_dims(2)) != p.tuples * p.slice) e.fail("updates do not match indices and data");
    e.line("detail::copy_elements({}, {}, {});", e.in(0), e.out(0), element_count(e.input_dims(0)));
    e.line("detail::scatter_nd({}, {}, {}, {}, {}, {}, {}, {}, detail::ScatterReduction::{});", e.in(2), e.in(1),
           e.out(0), p.tuples, p.dims.size(), e.int_array("dims", p.dims), e.int_array("strides", p.strides), p.slice,
           reduction_enum(e));
  };
  // In the tuples' order, as on the CPU (templates/cuda/indexing.cuh).
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float_or_index(e, 1);
    e.use_kernel("indexing");
    const NdPlan p = plan_nd(e, 0);
    if (element_count(e.input_dims(2)) != p.tuples * p.slice) e.fail("updates do not match indices and data");
    if (p.dims.size() > 16) e.unsupported("index tuples longer than 16");
    e.line("detail::scatter_nd({}, {}, {}, {}, {}, {}, {}, {}, detail::ScatterReduction::{}, stream);", e.in(0),
           e.in(2), e.in(1), e.out(0), element_count(e.input_dims(0)), p.tuples, cuda_tuple_shape(p), p.slice,
           reduction_enum(e));
  };
  r.add(std::move(d));
}

struct TopKPlan {
  int64_t outer = 1, length = 1, inner = 1, k = 0;
  std::vector<int64_t> out_dims;
};

TopKPlan plan_top_k(const NodeView& v) {
  const auto x = v.input_dims(0);
  const int64_t axis = v.axis(v.node().attr_int("axis", -1), int64_t(x.size()));
  TopKPlan p;
  if (v.opset() < 10) {
    p.k = v.node().require_attr("k", Attribute::Kind::Int).i;
  } else {
    const auto k = v.constant_ints(1, "K");
    if (k.size() != 1) v.fail("K must hold one value");
    p.k = k[0];
  }
  for (std::size_t d = 0; d < x.size(); ++d) {
    if (int64_t(d) < axis) p.outer *= x[d];
    else if (int64_t(d) == axis) p.length = x[d];
    else p.inner *= x[d];
  }
  if (p.k < 0 || p.k > p.length) v.fail("K = {} is out of range for an axis of length {}", p.k, p.length);
  p.out_dims = x;
  p.out_dims[std::size_t(axis)] = p.k;
  return p;
}

void add_top_k(Registry& r) {
  OpDef d;
  d.op_type = "TopK";
  d.types = "float, double, int8/16/32/64, uint8/16/32/64";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!dtype_is_integer(t) && t != DType::Float && t != DType::Double)
      v.unsupported("input type {} is not supported", dtype_name(t));
    const TopKPlan p = plan_top_k(v);
    return InferResult{{static_value(t, p.out_dims), static_value(DType::Int64, p.out_dims)}, p.length * 8};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const TopKPlan p = plan_top_k(e);
    const std::string indices = e.num_outputs() > 1 && !e.node().outputs[1].empty() ? e.out(1) : "";
    if (indices.empty()) e.unsupported("TopK without its indices output");
    e.line("detail::top_k({}, {}, {}, reinterpret_cast<int64_t*>({}), {}, {}, {}, {}, {}, {});", e.in(0), e.out(0),
           indices, e.workspace(), p.outer, p.length, p.inner, p.k, e.node().attr_int("largest", 1) != 0,
           e.node().attr_int("sorted", 1) != 0);
  };
  // A warp per row (templates/cuda/select.cuh), always sorted (which unsorted allows).
  d.emit_cuda = [](EmitContext& e) {
    if (e.input_dtype(0) != DType::Float) e.unsupported("input 0 is {}; the CUDA target runs float32", dtype_name(e.input_dtype(0)));
    const TopKPlan p = plan_top_k(e);
    if (p.length >= INT32_MAX) e.unsupported("an axis of {} elements; the CUDA target sorts rows of fewer than 2^31 - 1", p.length);
    e.use_kernel("select");
    const bool values = !e.node().outputs[0].empty();
    const bool indices = e.num_outputs() > 1 && !e.node().outputs[1].empty();
    e.line("detail::top_k({}, {}, {}, {}, {}, {}, {}, {}, stream);", e.in(0),
           values ? e.out(0) : "static_cast<float*>(nullptr)", indices ? e.out(1) : "static_cast<int64_t*>(nullptr)",
           p.outer, p.length, p.inner, p.k, e.node().attr_int("largest", 1) != 0);
  };
  r.add(std::move(d));
}

void add_trilu(Registry& r) {
  OpDef d;
  d.op_type = "Trilu";
  d.min_opset = 14;
  d.types = "any";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    if (v.input_rank(0) < 2) v.fail("input must have rank >= 2");
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const auto x = e.input_dims(0);
    int64_t k = 0;
    if (e.has_input(1)) {
      const auto kv = e.constant_ints(1, "k");
      if (kv.size() != 1) e.fail("k must hold one value");
      k = kv[0];
    }
    const int64_t rows = x[x.size() - 2], cols = x.back();
    const int64_t matrices = rows * cols != 0 ? element_count(x) / (rows * cols) : 0;
    e.line("detail::trilu({}, {}, {}, {}, {}, int64_t({}), {});", e.in(0), e.out(0), matrices, rows, cols, k,
           e.node().attr_int("upper", 1) != 0);
  };
  r.add(std::move(d));
}

struct OneHotPlan {
  int64_t outer = 1, depth = 0, inner = 1;
  std::vector<int64_t> out_dims;
};

OneHotPlan plan_one_hot(const NodeView& v) {
  const auto idx = v.input_dims(0);
  const Tensor* depth = &v.known_input(1, "depth");
  if (depth->size() != 1) v.fail("depth must hold one value");
  OneHotPlan p;
  p.depth = int64_t(depth->float_at(0));
  if (p.depth < 1) v.fail("depth must be positive");
  const int64_t rank = int64_t(idx.size()) + 1;
  const int64_t axis = v.axis(v.node().attr_int("axis", -1), rank);
  for (int64_t d = 0; d < int64_t(idx.size()); ++d) (d < axis ? p.outer : p.inner) *= idx[std::size_t(d)];
  p.out_dims = idx;
  p.out_dims.insert(p.out_dims.begin() + axis, p.depth);
  return p;
}

void add_one_hot(Registry& r) {
  OpDef d;
  d.op_type = "OneHot";
  d.min_opset = 9;
  d.types = "numeric indices, any values";
  d.infer = [](const NodeView& v) {
    require_storable(v, 2);
    if (!dtype_is_integer(v.input_dtype(0)) && !dtype_is_float(v.input_dtype(0))) v.fail("indices must be numeric");
    return InferResult{{static_value(v.input_dtype(2), plan_one_hot(v).out_dims)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const OneHotPlan p = plan_one_hot(e);
    e.line("detail::one_hot({0}, {1}, {2}, {3}, {4}, {5}[0], {5}[1]);", e.in(0), e.out(0), p.outer, p.depth, p.inner,
           e.in(2));
  };
  r.add(std::move(d));
}

void add_eye_like(Registry& r) {
  OpDef d;
  d.op_type = "EyeLike";
  d.min_opset = 9;
  d.types = "numeric, bool";
  d.infer = [](const NodeView& v) {
    const auto x = v.input_dims(0);
    if (x.size() != 2) v.fail("input must be 2-D");
    const DType t = v.node().has_attr("dtype") ? static_cast<DType>(v.node().attr_int("dtype", 1)) : v.input_dtype(0);
    if (!dtype_is_supported(t)) v.unsupported("type {} is not supported", dtype_name(t));
    return InferResult{{static_value(t, x)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const auto x = e.input_dims(0);
    e.line("detail::eye({}, {}, {}, int64_t({}));", e.out(0), x[0], x[1], e.node().attr_int("k", 0));
  };
  r.add(std::move(d));
}

Tensor constant_of_shape_value(const NodeView& v) {
  if (const Attribute* a = v.node().attr("value")) {
    if (a->kind != Attribute::Kind::Tensor || a->t.size() != 1) v.fail("value must be a one-element tensor");
    return a->t;
  }
  return Tensor(DType::Float, {1});
}

void add_constant_of_shape(Registry& r) {
  OpDef d;
  d.op_type = "ConstantOfShape";
  d.min_opset = 9;
  d.types = "int64 shape; numeric or bool value";
  d.infer = [](const NodeView& v) {
    const Tensor value = constant_of_shape_value(v);
    if (!dtype_is_supported(value.dtype)) v.unsupported("value type {} is not supported", dtype_name(value.dtype));
    const auto shape = v.constant_ints(0, "shape");
    for (int64_t s : shape)
      if (s < 0) v.fail("negative dimension {}", s);
    return InferResult{{static_value(value.dtype, shape)}};
  };
  d.eval = [](const NodeView& v, const std::vector<const Tensor*>&, const std::vector<ValueInfo>& outs) {
    const Tensor value = constant_of_shape_value(v);
    Tensor y(value.dtype, static_dims(outs[0].shape));
    const std::size_t size = dtype_size(value.dtype);
    for (int64_t i = 0; i < y.size(); ++i)
      std::memcpy(y.bytes.data() + std::size_t(i) * size, value.bytes.data(), size);
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("elementwise");
    e.line("detail::fill({}, {}, {});", e.out(0), element_count(e.output_dims(0)),
           cpp_element(constant_of_shape_value(e), 0));
  };
  r.add(std::move(d));
}

// Range: folded when its inputs are known; otherwise its length must come from the model's
// declared output shape, and the values are computed at run time.
void add_range(Registry& r) {
  OpDef d;
  d.op_type = "Range";
  d.min_opset = 11;
  d.types = "float, double, int16/32/64";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!dtype_is_integer(t) && t != DType::Float && t != DType::Double)
      v.unsupported("input type {} is not supported", dtype_name(t));
    const Tensor* start = v.constant_input(0);
    const Tensor* limit = v.constant_input(1);
    const Tensor* delta = v.constant_input(2);
    if (!start || !limit || !delta) {
      auto declared = v.graph().values.find(v.node().outputs[0]);
      if (declared != v.graph().values.end() && declared->second.has_shape && is_static(declared->second.shape))
        return InferResult{{ValueInfo{t, declared->second.shape, true}}};
      for (std::size_t i = 0; i < 3; ++i) v.known_input(i, i == 0 ? "start" : i == 1 ? "limit" : "delta");
    }
    const double s = start->float_at(0), l = limit->float_at(0), dl = delta->float_at(0);
    if (dl == 0) v.fail("delta is 0");
    const int64_t n = std::max<int64_t>(0, int64_t(std::ceil((l - s) / dl)));
    return InferResult{{static_value(t, {n})}};
  };
  d.eval = [](const NodeView&, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y(outs[0].dtype, static_dims(outs[0].shape));
    visit_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool>)
        rt::range(in[0]->data<T>()[0], in[2]->data<T>()[0], y.data<T>(), y.size());
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const ValueInfo& out = e.output(0);
    if (!out.has_shape || !is_static(out.shape))
      e.unsupported(
          "the length of Range's output depends on input values; declare the output's shape or fix the inputs");
    e.line("detail::range({}[0], {}[0], {}, {});", e.in(0), e.in(2), e.out(0), element_count(e.output_dims(0)));
  };
  r.add(std::move(d));
}

// Split into the node's outputs: sizes from the `split` attribute (before 13) or input, or
// equal parts (the last one smaller when num_outputs does not divide the axis, opset 18).
std::vector<int64_t> split_sizes(const NodeView& v, int64_t axis_len) {
  const std::size_t n = v.node().outputs.size();
  if (n == 0) v.fail("has no outputs");
  std::vector<int64_t> sizes;
  if (v.opset() < 13) sizes = v.node().attr_ints("split");
  else if (v.has_input(1)) sizes = v.constant_ints(1, "split");
  if (sizes.empty()) {
    const int64_t part = (axis_len + int64_t(n) - 1) / int64_t(n);
    if (v.opset() < 18 && axis_len % int64_t(n))
      v.fail("axis of length {} does not split into {} equal parts", axis_len, n);
    for (std::size_t i = 0; i < n; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(part, axis_len - int64_t(i) * part)));
  }
  if (sizes.size() != n) v.fail("{} split sizes for {} outputs", sizes.size(), n);
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0 || s > axis_len) v.fail("split size {} is out of range for an axis of length {}", s, axis_len);
    total += s;  // at most n * axis_len: no overflow
  }
  if (total != axis_len) v.fail("split sizes add up to {}, the axis has {}", total, axis_len);
  return sizes;
}

void add_split(Registry& r) {
  OpDef d;
  d.op_type = "Split";
  d.min_opset = 2;
  d.types = "any";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    const auto x = v.input_dims(0);
    const int64_t axis = v.axis(v.node().attr_int("axis", 0), int64_t(x.size()));
    InferResult res;
    for (int64_t s : split_sizes(v, x[std::size_t(axis)])) {
      auto dims = x;
      dims[std::size_t(axis)] = s;
      res.outputs.push_back(static_value(v.input_dtype(0), dims));
    }
    return res;
  };
  d.eval = [](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    const auto x = in[0]->dims;
    const int64_t axis = v.axis(v.node().attr_int("axis", 0), int64_t(x.size()));
    const int64_t outer = element_count(std::vector<int64_t>(x.begin(), x.begin() + axis));
    const int64_t inner = element_count(std::vector<int64_t>(x.begin() + axis + 1, x.end()));
    std::vector<Tensor> ys;
    int64_t offset = 0;
    for (std::size_t i = 0; i < outs.size(); ++i) {
      Tensor y(outs[i].dtype, static_dims(outs[i].shape));
      const int64_t part = y.dims[std::size_t(axis)] * inner;
      visit_storage(y.dtype, [&](auto tag) {
        using T = decltype(tag);
        rt::copy_columns(in[0]->data<T>(), y.data<T>(), outer, x[std::size_t(axis)] * inner, part, offset);
      });
      offset += part;
      ys.push_back(std::move(y));
    }
    return ys;
  };
  // Each written output, a block of columns of the input seen as outer x pitch (both targets'
  // copy_columns): rows, pitch, width and offset of the block, and the statement's tail.
  auto emit_blocks = [](EmitContext& e, const char* tail) {
    e.use_kernel("movement");
    const auto x = e.input_dims(0);
    const int64_t axis = e.axis(e.node().attr_int("axis", 0), int64_t(x.size()));
    const int64_t outer = element_count(std::vector<int64_t>(x.begin(), x.begin() + axis));
    const int64_t inner = element_count(std::vector<int64_t>(x.begin() + axis + 1, x.end()));
    int64_t offset = 0;
    const auto sizes = split_sizes(e, x[std::size_t(axis)]);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (!e.node().outputs[i].empty() && sizes[i] > 0)
        e.line("detail::copy_columns({}, {}, {}, {}, {}, {}{});", e.in(0), e.out(i), outer,
               x[std::size_t(axis)] * inner, sizes[i] * inner, offset, tail);
      offset += sizes[i] * inner;
    }
  };
  d.emit = [emit_blocks](EmitContext& e) { emit_blocks(e, ""); };
  d.emit_cuda = [emit_blocks](EmitContext& e) {
    cuda_require_float_or_index(e, 1);
    emit_blocks(e, ", stream");
  };
  r.add(std::move(d));
}

void add_reverse_sequence(Registry& r) {
  OpDef d;
  d.op_type = "ReverseSequence";
  d.min_opset = 10;
  d.types = "any";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    require_index_type(v, 1);
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const auto x = e.input_dims(0);
    const int64_t batch_axis = e.node().attr_int("batch_axis", 1), time_axis = e.node().attr_int("time_axis", 0);
    if (x.size() < 2 || !((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0)))
      e.fail("batch_axis and time_axis must be 0 and 1");
    const int64_t inner = element_count(std::vector<int64_t>(x.begin() + 2, x.end()));
    const int64_t batch_stride = batch_axis == 0 ? x[1] * inner : inner;
    const int64_t time_stride = time_axis == 0 ? x[1] * inner : inner;
    e.line("detail::reverse_sequence({}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0),
           x[std::size_t(batch_axis)], x[std::size_t(time_axis)], batch_stride, time_stride, inner);
  };
  r.add(std::move(d));
}

// TensorScatter (opset 24): writes a KV-cache update at per-batch positions.
void add_tensor_scatter(Registry& r) {
  OpDef d;
  d.op_type = "TensorScatter";
  d.min_opset = 24;
  d.types = "any cache, int64 write_indices";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    if (v.input_dtype(1) != v.input_dtype(0)) v.fail("past_cache and update have different types");
    const auto past = v.input_dims(0), update = v.input_dims(1);
    const int64_t axis = v.axis(v.node().attr_int("axis", -2), int64_t(past.size()));
    if (update.size() != past.size() || axis == 0) v.fail("update must have the cache's rank and the axis cannot be 0");
    for (std::size_t d = 0; d < past.size(); ++d)
      if (int64_t(d) == axis ? update[d] > past[d] : update[d] != past[d])
        v.fail("update of shape {} does not fit the cache {}", shape_str(to_shape(update)), shape_str(to_shape(past)));
    const std::string mode = v.node().attr_string("mode", "linear");
    if (mode != "linear" && mode != "circular") v.fail("unknown mode '{}'", mode);
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("indexing");
    const auto past = e.input_dims(0), update = e.input_dims(1);
    const auto axis = std::size_t(e.axis(e.node().attr_int("axis", -2), int64_t(past.size())));
    const int64_t prefix = element_count(std::vector<int64_t>(past.begin(), past.begin() + std::ptrdiff_t(axis)));
    const int64_t inner = element_count(std::vector<int64_t>(past.begin() + std::ptrdiff_t(axis) + 1, past.end()));
    e.line("detail::tensor_scatter({}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1),
           e.in_or_null(2, "int64_t"), e.out(0), prefix, past[0] ? prefix / past[0] : 1, past[axis], update[axis],
           inner, e.node().attr_string("mode", "linear") == "circular");
  };
  r.add(std::move(d));
}

}  // namespace

void register_indexing_ops(Registry& r) {
  add_tensor_scatter(r);
  add_gather_elements(r);
  add_scatter_elements(r, "Scatter", 9, 10);
  add_scatter_elements(r, "ScatterElements", 11, kLatestOpset);
  add_gather_nd(r);
  add_scatter_nd(r);
  add_top_k(r);
  add_trilu(r);
  add_one_hot(r);
  add_eye_like(r);
  add_constant_of_shape(r);
  add_range(r);
  add_split(r);
  add_reverse_sequence(r);
}

}  // namespace sofiec
