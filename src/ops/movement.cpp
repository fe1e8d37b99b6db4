// Data movement: Concat, Gather, Pad — for any element type.
#include <numeric>

#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

// Concat: each input is a block of [outer, dims[axis] * inner] copied side by side.
// Concat's axis: an optional attribute (default 1) before opset 4, required since.
int64_t concat_axis(const NodeView& v) {
  if (v.opset() < 4) return v.node().attr_int("axis", 1);
  return v.node().require_attr("axis", Attribute::Kind::Int).i;
}

void add_concat(Registry& r) {
  OpDef d;
  d.op_type = "Concat";
  d.types = "any";
  d.infer = [](const NodeView& v) {
    if (v.num_inputs() == 0) v.fail("no inputs");
    require_storable(v, 0);
    Shape out = v.input(0).shape;
    const int64_t rank = v.input_rank(0);
    const int64_t axis = v.axis(concat_axis(v), rank);
    for (std::size_t i = 1; i < v.num_inputs(); ++i) {
      const ValueInfo& in = v.input(i);
      if (in.dtype != v.input_dtype(0)) v.fail("inputs have different types");
      if (int64_t(in.shape.size()) != rank) v.fail("inputs have different ranks");
      for (int64_t a = 0; a < rank; ++a) {
        if (a == axis) continue;
        if (in.shape[a].is_static() && out[a].is_static() && in.shape[a] != out[a])
          v.fail("input {} has dim {} = {}, expected {}", i, a, in.shape[a].str(), out[a].str());
      }
      if (out[axis].is_static() && in.shape[axis].is_static()) out[axis] = Dim(out[axis].value + in.shape[axis].value);
      else out[axis] = Dim();  // the sum of symbols is not representable yet
    }
    return InferResult{{ValueInfo{v.input_dtype(0), out, true}}};
  };
  auto blocks = [](const NodeView& v, const std::vector<int64_t>& out_dims, std::size_t i) {
    const int64_t axis = v.axis(concat_axis(v), int64_t(out_dims.size()));
    const int64_t outer = element_count(std::vector<int64_t>(out_dims.begin(), out_dims.begin() + axis));
    const int64_t inner = element_count(std::vector<int64_t>(out_dims.begin() + axis + 1, out_dims.end()));
    int64_t offset = 0;
    for (std::size_t j = 0; j < i; ++j) offset += v.input_dims(j)[axis] * inner;
    return std::array<int64_t, 4>{outer, v.input_dims(i)[axis] * inner, out_dims[axis] * inner, offset};
  };
  d.eval = [blocks](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    Tensor y(outs[0].dtype, static_dims(outs[0].shape));
    visit_storage(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      for (std::size_t i = 0; i < in.size(); ++i) {
        const auto b = blocks(v, y.dims, i);
        rt::copy_blocks(in[i]->data<T>(), y.data<T>(), b[0], b[1], b[2], b[3]);
      }
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [blocks](EmitContext& e) {
    e.use_kernel("movement");
    for (std::size_t i = 0; i < e.num_inputs(); ++i) {
      const auto b = blocks(e, e.output_dims(0), i);
      e.line("detail::copy_blocks({}, {}, {}, {}, {}, {});", e.in(i), e.out(0), b[0], b[1], b[2], b[3]);
    }
  };
  d.emit_cuda = [blocks](EmitContext& e) {
    cuda_require_float_or_index(e);
    e.use_kernel("movement");
    for (std::size_t i = 0; i < e.num_inputs(); ++i) {
      const auto b = blocks(e, e.output_dims(0), i);
      e.line("detail::copy_rows({}, {} + {}, {}, {}, {}, stream);", e.in(i), e.out(0), b[3], b[0], b[1], b[2]);
    }
  };
  r.add(std::move(d));
}

struct GatherPlan {
  int64_t outer, axis_len, inner, count;
};

GatherPlan plan_gather(const NodeView& v, const std::vector<int64_t>& data, const std::vector<int64_t>& indices) {
  const int64_t axis = v.axis(v.node().attr_int("axis", 0), int64_t(data.size()));
  return {element_count(std::vector<int64_t>(data.begin(), data.begin() + axis)), data[axis],
          element_count(std::vector<int64_t>(data.begin() + axis + 1, data.end())), element_count(indices)};
}

void add_gather(Registry& r) {
  OpDef d;
  d.op_type = "Gather";
  d.types = "any data, int32/int64 indices";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    const DType it = v.input_dtype(1);
    if (it != DType::Int32 && it != DType::Int64) v.fail("indices must be int32 or int64");
    const Shape& data = v.input(0).shape;
    if (!v.input(0).has_shape || data.empty()) v.fail("data must have rank >= 1");
    const int64_t axis = v.axis(v.node().attr_int("axis", 0), int64_t(data.size()));
    Shape out(data.begin(), data.begin() + axis);
    const Shape& idx = v.input(1).shape;
    out.insert(out.end(), idx.begin(), idx.end());
    out.insert(out.end(), data.begin() + axis + 1, data.end());
    if (const Tensor* c = v.constant_input(1); c && data[axis].is_static())
      for (int64_t i = 0; i < c->size(); ++i)
        if (c->int_at(i) < -data[axis].value || c->int_at(i) >= data[axis].value)
          v.fail("index {} is out of range for an axis of length {}", c->int_at(i), data[axis].value);
    return InferResult{{ValueInfo{v.input_dtype(0), out, true}}};
  };
  d.eval = [](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    const GatherPlan p = plan_gather(v, in[0]->dims, in[1]->dims);
    Tensor y(outs[0].dtype, static_dims(outs[0].shape));
    visit_storage(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if (in[1]->dtype == DType::Int64)
        rt::gather(in[0]->data<T>(), in[1]->data<int64_t>(), y.data<T>(), p.outer, p.axis_len, p.inner, p.count);
      else rt::gather(in[0]->data<T>(), in[1]->data<int32_t>(), y.data<T>(), p.outer, p.axis_len, p.inner, p.count);
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("movement");
    const GatherPlan p = plan_gather(e, e.input_dims(0), e.input_dims(1));
    e.line("detail::gather({}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0), p.outer, p.axis_len, p.inner,
           p.count);
  };
  // A thread per output element (templates/cuda/movement.cuh).
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float_or_index(e, 1);
    e.use_kernel("movement");
    const GatherPlan p = plan_gather(e, e.input_dims(0), e.input_dims(1));
    e.line("detail::gather({}, {}, {}, {}, {}, {}, {}, stream);", e.in(0), e.in(1), e.out(0), p.outer, p.axis_len,
           p.inner, p.count);
  };
  r.add(std::move(d));
}

struct PadPlan {
  std::vector<int64_t> in_dims, out_dims, pad_begin;
  std::string mode;
  double value = 0;
  bool runtime_value = false;
};

// Pad's pads and value moved from attributes (opset < 11) to inputs; axes came in opset 18.
PadPlan plan_pad(const NodeView& v) {
  PadPlan p;
  p.in_dims = v.input_dims(0);
  const int64_t rank = int64_t(p.in_dims.size());
  p.mode = v.node().attr_string("mode", "constant");
  if (p.mode != "constant" && p.mode != "reflect" && p.mode != "edge" && p.mode != "wrap")
    v.fail("unknown mode '{}'", p.mode);
  std::vector<int64_t> pads;
  if (v.opset() < 11) {
    pads = v.node().attr_ints(v.opset() < 2 ? "paddings" : "pads");
    p.value = v.node().attr_float("value", 0.f);
  } else {
    pads = v.constant_ints(1, "pads");
    if (v.has_input(2)) {
      // A value known only at run time is read from the input by the generated code.
      if (const Tensor* c = v.constant_input(2)) {
        if (c->size() > 0) p.value = c->float_at(0);
      } else {
        p.runtime_value = element_count(v.input_dims(2)) > 0;
      }
    }
  }
  std::vector<int64_t> axes(static_cast<std::size_t>(rank));
  std::iota(axes.begin(), axes.end(), 0);
  if (v.opset() >= 18 && v.has_input(3)) {
    axes = v.constant_ints(3, "axes");
    for (int64_t& a : axes) a = v.axis(a, rank);
  }
  if (pads.size() != 2 * axes.size()) v.fail("pads has {} values, {} expected", pads.size(), 2 * axes.size());
  p.pad_begin.assign(std::size_t(rank), 0);
  std::vector<int64_t> pad_end(std::size_t(rank), 0);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    p.pad_begin[axes[i]] = pads[i];
    pad_end[axes[i]] = pads[i + axes.size()];
  }
  for (int64_t d = 0; d < rank; ++d) {
    p.out_dims.push_back(p.in_dims[d] + p.pad_begin[d] + pad_end[d]);
    if (p.out_dims.back() < 0) v.fail("pads crop more than axis {} holds", d);
    if (p.mode != "constant" && p.in_dims[d] == 0 && p.out_dims[d] > 0) v.fail("cannot {}-pad an empty axis", p.mode);
  }
  return p;
}

const char* pad_mode_enum(const std::string& mode) {
  return mode == "reflect" ? "Reflect" : mode == "edge" ? "Edge" : mode == "wrap" ? "Wrap" : "Constant";
}

// Pad and CenterCropPad on the device: a thread per output element (templates/cuda/movement.cuh);
// value_at names the fill value's tensor when the model gives it at run time (device memory).
void emit_cuda_pad(EmitContext& e, const PadPlan& p, const std::string& value, const std::string& value_at) {
  cuda_require_float_or_index(e, 1);
  e.use_kernel("movement");
  e.line("detail::pad({}, {}, detail::PadShape{{{}, {{{}}}, {{{}}}, {{{}}}}}, detail::PadMode::{}, static_cast<{}>({}), "
         "{}, stream);",
         e.in(0), e.out(0), p.in_dims.size(), fmt::join(p.in_dims, ", "), fmt::join(p.out_dims, ", "),
         fmt::join(p.pad_begin, ", "), pad_mode_enum(p.mode), e.in_type(0), value, value_at);
}

void add_pad(Registry& r) {
  OpDef d;
  d.op_type = "Pad";
  d.types = "numeric, bool";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    const PadPlan p = plan_pad(v);
    if (p.in_dims.size() > 16) v.unsupported("rank above 16");
    return InferResult{{static_value(v.input_dtype(0), p.out_dims)}};
  };
  d.eval = [](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>&) {
    const PadPlan p = plan_pad(v);
    Tensor y(in[0]->dtype, p.out_dims);
    const rt::PadMode mode = p.mode == "reflect" ? rt::PadMode::Reflect
                             : p.mode == "edge"  ? rt::PadMode::Edge
                             : p.mode == "wrap"  ? rt::PadMode::Wrap
                                                 : rt::PadMode::Constant;
    visit_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      rt::pad(in[0]->data<T>(), y.data<T>(), int(p.in_dims.size()), p.in_dims.data(), p.out_dims.data(),
              p.pad_begin.data(), mode, static_cast<T>(p.value));
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("movement");
    const PadPlan p = plan_pad(e);
    const DType t = e.input_dtype(0);
    std::string value = dtype_is_float(t) ? cpp_float(p.value, t) : cpp_int(int64_t(p.value), t);
    if (p.runtime_value) value = fmt::format("{}[0]", e.in(2));
    e.line("detail::pad({}, {}, {}, {}, {}, {}, detail::PadMode::{}, {});", e.in(0), e.out(0), p.in_dims.size(),
           e.int_array("in_dims", p.in_dims), e.int_array("out_dims", p.out_dims),
           e.int_array("pad_begin", p.pad_begin), pad_mode_enum(p.mode), value);
  };
  d.emit_cuda = [](EmitContext& e) {
    const PadPlan p = plan_pad(e);
    const DType t = e.input_dtype(0);
    if (p.runtime_value && e.input_dtype(2) != t)
      e.fail("constant_value is {}, data {}", dtype_name(e.input_dtype(2)), dtype_name(t));
    emit_cuda_pad(e, p, dtype_is_float(t) ? cpp_float(p.value, t) : cpp_int(int64_t(p.value), t),
                  p.runtime_value ? e.in(2) : fmt::format("static_cast<const {}*>(nullptr)", e.in_type(0)));
  };
  r.add(std::move(d));
}

// CenterCropPad: per axis, a centered crop (negative pad) or zero padding, through Pad's kernel.
PadPlan plan_center_crop_pad(const NodeView& v) {
  PadPlan p;
  p.in_dims = v.input_dims(0);
  const int64_t rank = int64_t(p.in_dims.size());
  const auto shape = v.constant_ints(1, "shape");
  std::vector<int64_t> axes(static_cast<std::size_t>(rank));
  std::iota(axes.begin(), axes.end(), 0);
  if (v.node().has_attr("axes")) axes = v.node().attr_ints("axes");
  if (shape.size() != axes.size()) v.fail("shape has {} values for {} axes", shape.size(), axes.size());
  p.mode = "constant";
  p.out_dims = p.in_dims;
  p.pad_begin.assign(std::size_t(rank), 0);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const auto a = std::size_t(v.axis(axes[i], rank));
    const int64_t in = p.in_dims[a], target = shape[i];
    if (target < 0) v.fail("negative target size {}", target);
    p.out_dims[a] = target;
    p.pad_begin[a] = in >= target ? -((in - target) / 2) : (target - in) / 2;
  }
  return p;
}

void add_center_crop_pad(Registry& r) {
  OpDef d;
  d.op_type = "CenterCropPad";
  d.min_opset = 18;
  d.types = "numeric, bool";
  d.infer = [](const NodeView& v) {
    require_storable(v, 0);
    const PadPlan p = plan_center_crop_pad(v);
    if (p.in_dims.size() > 16) v.unsupported("rank above 16");
    return InferResult{{static_value(v.input_dtype(0), p.out_dims)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("movement");
    const PadPlan p = plan_center_crop_pad(e);
    e.line("detail::pad({}, {}, {}, {}, {}, {}, detail::PadMode::Constant, {}(0));", e.in(0), e.out(0),
           p.in_dims.size(), e.int_array("in_dims", p.in_dims), e.int_array("out_dims", p.out_dims),
           e.int_array("pad_begin", p.pad_begin), e.in_type(0));
  };
  d.emit_cuda = [](EmitContext& e) {
    emit_cuda_pad(e, plan_center_crop_pad(e), "0", fmt::format("static_cast<const {}*>(nullptr)", e.in_type(0)));
  };
  r.add(std::move(d));
}

}  // namespace

void register_data_movement_ops(Registry& r) {
  add_center_crop_pad(r);
  add_pad(r);
  add_concat(r);
  add_gather(r);
}

}  // namespace sofiec
