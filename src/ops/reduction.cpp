// Reductions: Reduce* over any set of axes, ArgMax/ArgMin, cumulative sums and products, and
// the normalizations along one axis (Softmax, LogSoftmax, Hardmax, LpNormalization).
#include "ops/cuda.hpp"
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

// The input's dims split into kept and reduced ones, each with its input strides; adjacent
// dims of one kind are merged and dims of extent 1 dropped.
struct ReducePlan {
  std::vector<int64_t> out_dims;
  std::vector<int64_t> kept_dims, kept_strides, red_dims, red_strides;
  bool identity = false;  // nothing to reduce: the output is a copy
};

ReducePlan plan_reduce(const std::vector<int64_t>& dims, const std::vector<bool>& reduced, bool keepdims) {
  ReducePlan p;
  std::vector<int64_t> strides(dims.size(), 1);
  for (std::size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
  int last_kind = -1;  // 0 kept, 1 reduced
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (!reduced[d] || keepdims) p.out_dims.push_back(reduced[d] ? 1 : dims[d]);
    if (dims[d] == 1) continue;
    auto& ds = reduced[d] ? p.red_dims : p.kept_dims;
    auto& ss = reduced[d] ? p.red_strides : p.kept_strides;
    if (last_kind == int(reduced[d]) && !ds.empty()) {
      ds.back() *= dims[d];
      ss.back() = strides[d];
    } else {
      ds.push_back(dims[d]);
      ss.push_back(strides[d]);
    }
    last_kind = int(reduced[d]);
  }
  return p;
}

// Which axes a Reduce* node reduces: the `axes` attribute, or from `axes_input_opset` on the
// optional second input; none given means all, unless noop_with_empty_axes.
std::vector<bool> reduced_axes(const NodeView& v, int64_t axes_input_opset, bool& noop) {
  const int64_t rank = v.input_rank(0);
  std::vector<int64_t> axes;
  if (v.opset() >= axes_input_opset) {
    if (v.has_input(1)) axes = v.constant_ints(1, "axes");
  } else {
    axes = v.node().attr_ints("axes");
  }
  noop = axes.empty() && v.node().attr_int("noop_with_empty_axes", 0) != 0;
  std::vector<bool> reduced(std::size_t(rank), axes.empty() && !noop);
  for (int64_t a : axes) {
    const int64_t axis = v.axis(a, rank);
    if (reduced[std::size_t(axis)]) v.fail("axis {} is repeated", a);
    reduced[std::size_t(axis)] = true;
  }
  return reduced;
}

bool is_float(DType t) { return t == DType::Float || t == DType::Double; }
bool is_numeric(DType t) { return is_float(t) || dtype_is_integer(t); }

template <template <class> class R, bool integers, bool with_bool = false>
void add_reduce(Registry& r, const char* op, const char* reducer, int64_t axes_input_opset) {
  OpDef d;
  d.op_type = op;
  d.types = integers ? "float, double, int8/16/32/64, uint8/16/32/64" : "float, double";
  d.infer = [axes_input_opset](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!(integers ? is_numeric(t) || (with_bool && t == DType::Bool) : is_float(t)))
      v.unsupported("input type {} is not supported", dtype_name(t));
    bool noop = false;
    const std::vector<bool> reduced = reduced_axes(v, axes_input_opset, noop);
    if (noop) return InferResult{{v.input(0)}};
    const bool keepdims = v.node().attr_int("keepdims", 1) != 0;
    Shape out;
    const Shape& in = v.input(0).shape;
    for (std::size_t d = 0; d < in.size(); ++d)
      if (!reduced[d] || keepdims) out.push_back(reduced[d] ? Dim(1) : in[d]);
    return InferResult{{ValueInfo{t, out, true}}};
  };
  auto plan = [axes_input_opset](const NodeView& v) {
    bool noop = false;
    const std::vector<bool> reduced = reduced_axes(v, axes_input_opset, noop);
    ReducePlan p = plan_reduce(v.input_dims(0), reduced, v.node().attr_int("keepdims", 1) != 0);
    p.identity = noop;
    return p;
  };
  d.eval = [plan](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    const ReducePlan p = plan(v);
    if (p.identity) return std::vector<Tensor>{*in[0]};
    Tensor y(outs[0].dtype, static_dims(outs[0].shape));
    visit_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      constexpr bool allowed = std::is_floating_point_v<T> || (integers && !std::is_same_v<T, bool>) ||
                               (with_bool && std::is_same_v<T, bool>);
      if constexpr (allowed)
        rt::reduce_axes(in[0]->data<T>(), y.data<T>(), int(p.kept_dims.size()), p.kept_dims.data(),
                        p.kept_strides.data(), int(p.red_dims.size()), p.red_dims.data(), p.red_strides.data(), R<T>{});
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [plan, reducer](EmitContext& e) {
    e.use_kernel("reduce");
    const ReducePlan p = plan(e);
    if (p.identity) {
      e.use_kernel("elementwise");
      e.line("detail::copy_elements({}, {}, {});", e.in(0), e.out(0), element_count(e.output_dims(0)));
      return;
    }
    if (p.kept_dims.size() > 16 || p.red_dims.size() > 16) e.unsupported("more than 16 dimensions");
    e.line("detail::reduce_axes({}, {}, {}, {}, {}, {}, {}, {}, detail::{}<{}>{{}});", e.in(0), e.out(0),
           p.kept_dims.size(), e.int_array("kept_dims", p.kept_dims), e.int_array("kept_strides", p.kept_strides),
           p.red_dims.size(), e.int_array("red_dims", p.red_dims), e.int_array("red_strides", p.red_strides), reducer,
           e.in_type(0));
  };
  d.emit_cuda = [plan, reducer](EmitContext& e) {
    cuda_require_float(e, 1);
    const ReducePlan p = plan(e);
    const int64_t n = element_count(e.output_dims(0));
    if (p.identity) {
      e.line("detail::copy_device({}, {}, {}, stream);", e.out(0), e.in(0), n * int64_t(sizeof(float)));
      return;
    }
    if (p.kept_dims.size() > 8 || p.red_dims.size() > 8) e.unsupported("more than 8 kept or reduced dimensions on the CUDA target");
    static const std::map<std::string, const char*> ops{
        {"reduce_sum", "Sum"}, {"reduce_mean", "Mean"}, {"reduce_max", "Max"}, {"reduce_min", "Min"},
        {"reduce_prod", "Prod"}, {"reduce_l1", "L1"}, {"reduce_l2", "L2"}, {"reduce_sum_square", "SumSquare"},
        {"reduce_log_sum", "LogSum"}, {"reduce_log_sum_exp", "LogSumExp"}};
    e.use_kernel("reduce");
    auto padded = [](const std::vector<int64_t>& v) {
      std::vector<int64_t> out = v;
      out.resize(8, 1);
      return fmt::format("{{{}}}", fmt::join(out, ", "));
    };
    e.line("detail::reduce({}, {}, {}, detail::ReduceLayout{{{}, {}, {}, {}, {}, {}, {}}}, detail::ReduceOp::{}, stream);",
           e.in(0), e.out(0), n, p.kept_dims.size(), p.red_dims.size(), padded(p.kept_dims), padded(p.kept_strides),
           padded(p.red_dims), padded(p.red_strides), element_count(p.red_dims), ops.at(reducer));
  };
  r.add(std::move(d));
}

// ArgMax / ArgMin along one axis; ties go to the first index unless select_last_index.
void add_arg(Registry& r, const char* op, bool max) {
  OpDef d;
  d.op_type = op;
  d.types = "float, double, int8/16/32/64, uint8/16/32/64";
  auto plan = [](const NodeView& v) {
    const auto dims = v.input_dims(0);
    const int64_t axis = v.axis(v.node().attr_int("axis", 0), int64_t(dims.size()));
    std::vector<bool> reduced(dims.size(), false);
    reduced[std::size_t(axis)] = true;
    return plan_reduce(dims, reduced, v.node().attr_int("keepdims", 1) != 0);
  };
  d.infer = [plan](const NodeView& v) {
    if (!is_numeric(v.input_dtype(0))) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    return InferResult{{static_value(DType::Int64, plan(v).out_dims)}};
  };
  d.emit = [plan, max](EmitContext& e) {
    e.use_kernel("reduce");
    ReducePlan p = plan(e);
    if (p.red_dims.empty()) {  // an axis of extent 1: every index is 0
      p.red_dims = {1};
      p.red_strides = {1};
    }
    const bool last = e.node().attr_int("select_last_index", 0) != 0;
    e.line("detail::reduce_axes({}, {}, {}, {}, {}, {}, {}, {}, detail::reduce_arg<{}, {}, {}>{{}});", e.in(0),
           e.out(0), p.kept_dims.size(), e.int_array("kept_dims", p.kept_dims),
           e.int_array("kept_strides", p.kept_strides), p.red_dims.size(), e.int_array("red_dims", p.red_dims),
           e.int_array("red_strides", p.red_strides), e.in_type(0), max, last);
  };
  r.add(std::move(d));
}

struct AxisExtent {
  int64_t outer = 1, length = 1, inner = 1;
};

AxisExtent axis_extent(const std::vector<int64_t>& x, int64_t axis, bool coerce_2d) {
  AxisExtent s;
  for (int64_t d = 0; d < int64_t(x.size()); ++d) {
    if (d < axis) s.outer *= x[std::size_t(d)];
    else if (d == axis || coerce_2d) s.length *= x[std::size_t(d)];
    else s.inner *= x[std::size_t(d)];
  }
  return s;
}

// Before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13 on, the
// operator runs along the single axis (default -1).
AxisExtent softmax_extent(const NodeView& v) {
  const auto x = v.input_dims(0);
  const int64_t rank = int64_t(x.size());
  const bool legacy = v.opset() < 13;
  if (rank == 0) return {};
  return axis_extent(x, v.axis(v.node().attr_int("axis", legacy ? 1 : -1), rank), legacy);
}

// Softmax, LogSoftmax, Hardmax, LpNormalization: float operators along one axis.
void add_along_axis(Registry& r, const char* op, std::function<void(EmitContext&)> emit, bool in_place = false) {
  OpDef d;
  d.op_type = op;
  d.in_place = in_place;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!is_float(t)) v.unsupported("input type {} is not supported", dtype_name(t));
    return InferResult{{v.input(0)}};
  };
  d.emit = std::move(emit);
  r.add(std::move(d));
}

void add_cumulative(Registry& r, const char* op, bool product, int64_t min_opset) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.types = "float, double, int32/64, uint32/64";
  d.infer = [](const NodeView& v) {
    if (!is_numeric(v.input_dtype(0))) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    return InferResult{{v.input(0)}};
  };
  d.emit = [product](EmitContext& e) {
    e.use_kernel("reduce");
    const auto x = e.input_dims(0);
    const std::vector<int64_t> axis = e.constant_ints(1, "axis");
    if (axis.size() != 1) e.fail("axis must be a single value");
    const AxisExtent s = axis_extent(x, e.axis(axis[0], int64_t(x.size())), false);
    e.line("detail::cumulate<{}, {}>({}, {}, {}, {}, {}, {}, {});", e.in_type(0), product, e.in(0), e.out(0), s.outer,
           s.length, s.inner, e.node().attr_int("exclusive", 0) != 0, e.node().attr_int("reverse", 0) != 0);
  };
  r.add(std::move(d));
}

// MeanVarianceNormalization: statistics over `axes` (default 0, 2, 3) by reduce_axes, then a
// broadcast map.
void add_mean_variance_normalization(Registry& r) {
  OpDef d;
  d.op_type = "MeanVarianceNormalization";
  d.min_opset = 9;
  d.types = "float, double";
  auto plan = [](const NodeView& v) {
    const auto x = v.input_dims(0);
    std::vector<bool> reduced(x.size(), false);
    for (int64_t a : v.node().attr_ints("axes", {0, 2, 3})) reduced[std::size_t(v.axis(a, int64_t(x.size())))] = true;
    return plan_reduce(x, reduced, true);
  };
  d.infer = [plan](const NodeView& v) {
    if (!is_float(v.input_dtype(0))) v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(0)));
    const ReducePlan p = plan(v);
    return InferResult{{v.input(0)}, element_count(p.out_dims) * 2 * int64_t(dtype_size(v.input_dtype(0)))};
  };
  d.emit = [plan](EmitContext& e) {
    e.use_kernel("reduce");
    e.use_kernel("elementwise");
    const ReducePlan p = plan(e);
    const auto x = e.input_dims(0);
    const std::string t = e.in_type(0);
    const std::string stats = fmt::format("reinterpret_cast<detail::moments<{}>*>({})", t, e.workspace());
    e.line("detail::reduce_axes({}, {}, {}, {}, {}, {}, {}, {}, detail::reduce_moments<{}>{{}});", e.in(0), stats,
           p.kept_dims.size(), e.int_array("kept_dims", p.kept_dims), e.int_array("kept_strides", p.kept_strides),
           p.red_dims.size(), e.int_array("red_dims", p.red_dims), e.int_array("red_strides", p.red_strides), t);
    const BroadcastLayout l = plan_broadcast({x, p.out_dims}, x);
    e.line(
        "detail::map_strided({}, {}, {}, {}, detail::op_standardize{{}}, {}, static_cast<const "
        "detail::moments<{}>*>({}));",
        e.out(0), l.dims.size(), e.int_array("dims", l.dims), e.int_array("strides", l.flat_strides()), e.in(0), t,
        stats);
  };
  r.add(std::move(d));
}

const char* loss_reduction(const NodeView& v) {
  const std::string r = v.node().attr_string("reduction", "mean");
  if (r == "none") return "None";
  if (r == "sum") return "Sum";
  if (r == "mean") return "Mean";
  v.fail("unknown reduction '{}'", r);
}

// NegativeLogLikelihoodLoss, and SoftmaxCrossEntropyLoss (its log-softmax over the class axis first).
void add_loss(Registry& r, const char* op, int64_t min_opset, bool softmax_first) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.types = "float, double; int32/int64 targets";
  d.infer = [softmax_first](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (!is_float(t)) v.unsupported("input type {} is not supported", dtype_name(t));
    if (v.input_dtype(1) != DType::Int32 && v.input_dtype(1) != DType::Int64) v.fail("targets must be int32 or int64");
    const auto x = v.input_dims(0);
    const auto target = v.input_dims(1);
    if (x.size() < 2) v.fail("input must have rank >= 2");
    std::vector<int64_t> expected = x;
    expected.erase(expected.begin() + 1);
    if (target != expected) v.fail("targets must have shape {}", shape_str(to_shape(expected)));
    if (v.has_input(2) && v.input_dims(2) != std::vector<int64_t>{x[1]}) v.fail("weights must have shape [{}]", x[1]);
    InferResult res;
    res.outputs.push_back(static_value(t, std::string(loss_reduction(v)) == "None" ? target : std::vector<int64_t>{}));
    if (softmax_first) {
      res.outputs.push_back(v.input(0));
      res.workspace_bytes = element_count(x) * int64_t(dtype_size(t));
    }
    return res;
  };
  d.emit = [softmax_first](EmitContext& e) {
    e.use_kernel("softmax");
    const auto x = e.input_dims(0);
    const int64_t inner = element_count(std::vector<int64_t>(x.begin() + 2, x.end()));
    std::string logp = e.in(0);
    if (softmax_first) {
      logp = e.num_outputs() > 1 && !e.node().outputs[1].empty()
                 ? e.out(1)
                 : fmt::format("reinterpret_cast<{}*>({})", e.in_type(0), e.workspace());
      e.line("detail::softmax({}, {}, {}, {}, {}, true);", e.in(0), logp, x[0], x[1], inner);
    }
    const bool has_ignore = e.node().has_attr("ignore_index");
    e.line("detail::nll_loss({}, {}, {}, {}, {}, {}, {}, {}, int64_t({}), detail::LossReduction::{});", logp, e.in(1),
           e.in_or_null(2, e.in_type(0)), e.out(0), x[0], x[1], inner, has_ignore, e.node().attr_int("ignore_index", 0),
           loss_reduction(e));
  };
  r.add(std::move(d));
}

}  // namespace

void register_reduction_ops(Registry& r) {
  add_reduce<rt::reduce_sum, true>(r, "ReduceSum", "reduce_sum", 13);
  add_reduce<rt::reduce_mean, true>(r, "ReduceMean", "reduce_mean", 18);
  add_reduce<rt::reduce_prod, true>(r, "ReduceProd", "reduce_prod", 18);
  add_reduce<rt::reduce_max, true, true>(r, "ReduceMax", "reduce_max", 18);
  add_reduce<rt::reduce_min, true, true>(r, "ReduceMin", "reduce_min", 18);
  add_reduce<rt::reduce_l1, true>(r, "ReduceL1", "reduce_l1", 18);
  add_reduce<rt::reduce_l2, true>(r, "ReduceL2", "reduce_l2", 18);
  add_reduce<rt::reduce_sum_square, true>(r, "ReduceSumSquare", "reduce_sum_square", 18);
  add_reduce<rt::reduce_log_sum, false>(r, "ReduceLogSum", "reduce_log_sum", 18);
  add_reduce<rt::reduce_log_sum_exp, false>(r, "ReduceLogSumExp", "reduce_log_sum_exp", 18);
  add_arg(r, "ArgMax", true);
  add_arg(r, "ArgMin", false);
  add_cumulative(r, "CumSum", false, 11);
  add_cumulative(r, "CumProd", true, 26);
  add_mean_variance_normalization(r);
  add_loss(r, "NegativeLogLikelihoodLoss", 12, false);
  add_loss(r, "SoftmaxCrossEntropyLoss", 12, true);

  add_along_axis(
      r, "Softmax",
      [](EmitContext& e) {
        e.use_kernel("softmax");
        const AxisExtent s = softmax_extent(e);
        e.line("detail::softmax({}, {}, {}, {}, {}, false);", e.in(0), e.out(0), s.outer, s.length, s.inner);
      },
      true);
  add_along_axis(
      r, "LogSoftmax",
      [](EmitContext& e) {
        e.use_kernel("softmax");
        const AxisExtent s = softmax_extent(e);
        e.line("detail::softmax({}, {}, {}, {}, {}, true);", e.in(0), e.out(0), s.outer, s.length, s.inner);
      },
      true);
  for (const char* op : {"Softmax", "LogSoftmax"})
    r.set_emit_cuda(op, [log = std::string(op) == "LogSoftmax"](EmitContext& e) {
      cuda_require_float(e);
      e.use_kernel("rows");
      const AxisExtent s = softmax_extent(e);
      e.line("detail::softmax({}, {}, {}, {}, {}, {}, stream);", e.in(0), e.out(0), s.outer, s.length, s.inner, log);
    });
  add_along_axis(r, "Hardmax", [](EmitContext& e) {
    e.use_kernel("softmax");
    const AxisExtent s = softmax_extent(e);
    e.line("detail::hardmax({}, {}, {}, {}, {});", e.in(0), e.out(0), s.outer, s.length, s.inner);
  });
  add_along_axis(r, "LpNormalization", [](EmitContext& e) {
    e.use_kernel("softmax");
    const auto x = e.input_dims(0);
    const int64_t p = e.node().attr_int("p", 2);
    if (p != 1 && p != 2) e.fail("p must be 1 or 2");
    const AxisExtent s = axis_extent(x, e.axis(e.node().attr_int("axis", -1), int64_t(x.size())), false);
    e.line("detail::lp_normalize({}, {}, {}, {}, {}, {});", e.in(0), e.out(0), s.outer, s.length, s.inner, p);
  });
}

}  // namespace sofiec
