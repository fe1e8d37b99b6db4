// Operators whose output is a strided view of their input, copied by one kernel
// (copy_strided): Transpose, Slice, Expand, Tile, DepthToSpace, SpaceToDepth. Each operator
// only computes its view — the output dims, the view's dims and strides over the input, and
// the offset of the first element — at generation time.
#include <numeric>
#include <optional>

#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

struct View {
  std::vector<int64_t> out_dims;                 // the operator's output
  std::vector<int64_t> view_dims, view_strides;  // row-major over the output, strides over the input
  int64_t offset = 0;                            // input element of the view's origin
};

// Drops extent-1 axes and merges neighbours that the view walks as one run.
void simplify(View& v) {
  std::vector<int64_t> dims, strides;
  for (std::size_t d = 0; d < v.view_dims.size(); ++d) {
    if (v.view_dims[d] == 1) continue;
    if (!dims.empty() && strides.back() == v.view_strides[d] * v.view_dims[d]) {
      dims.back() *= v.view_dims[d];
      strides.back() = v.view_strides[d];
      continue;
    }
    dims.push_back(v.view_dims[d]);
    strides.push_back(v.view_strides[d]);
  }
  v.view_dims = dims;
  v.view_strides = strides;
}

// The view of x (dims `in`) reshaped to `shape` and transposed by perm.
View reshape_transpose(const std::vector<int64_t>& shape, const std::vector<int64_t>& perm) {
  const std::vector<int64_t> strides = contiguous_strides(shape);
  View v;
  for (int64_t a : perm) {
    v.view_dims.push_back(shape[std::size_t(a)]);
    v.view_strides.push_back(strides[std::size_t(a)]);
  }
  v.out_dims = v.view_dims;
  return v;
}

using PlanFn = std::function<View(const NodeView&)>;

// Whether a simplified view walks its input as one contiguous run (a plain copy).
bool one_run(const View& v) { return v.view_dims.empty() || (v.view_dims.size() == 1 && v.view_strides[0] == 1); }

// The node's view as both targets emit it: simplified, with `x` the expression of its first
// input element; nullopt for an empty output. A view that is one contiguous run (a plain copy)
// comes back with no dims.
std::optional<View> emitted_view(const EmitContext& e, const PlanFn& plan, std::string& x) {
  View p = plan(e);
  simplify(p);
  if (element_count(p.out_dims) == 0) return std::nullopt;
  if (p.view_dims.size() > 16) e.unsupported("a view of more than 16 dimensions");
  if (one_run(p)) p.view_dims.clear(), p.view_strides.clear();
  x = p.offset ? fmt::format("{} + {}", e.in(0), p.offset) : e.in(0);
  return p;
}

void add_view(Registry& r, const char* op, int64_t min_opset, PlanFn plan) {
  OpDef d;
  d.op_type = op;
  d.min_opset = min_opset;
  d.types = "any";
  d.infer = [plan](const NodeView& v) {
    require_storable(v, 0);
    return InferResult{{static_value(v.input_dtype(0), plan(v).out_dims)}};
  };
  d.eval = [plan](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>&) {
    View p = plan(v);
    simplify(p);
    Tensor y(in[0]->dtype, p.out_dims);
    visit_storage(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if (y.size() > 0)
        rt::copy_strided(in[0]->data<T>() + p.offset, y.data<T>(), int(p.view_dims.size()), p.view_dims.data(),
                         p.view_strides.data());
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.run_start = [plan](const NodeView& v) -> std::optional<int64_t> {
    View p = plan(v);
    simplify(p);
    if (!one_run(p)) return std::nullopt;
    return p.offset;
  };
  d.emit = [plan](EmitContext& e) {
    std::string x;
    const std::optional<View> p = emitted_view(e, plan, x);
    if (!p) return;
    e.use_kernel("movement");
    if (p->view_dims.empty()) {
      e.use_kernel("elementwise");
      e.line("detail::copy_elements({}, {}, {});", x, e.out(0), element_count(p->out_dims));
      return;
    }
    e.line("detail::copy_strided({}, {}, {}, {}, {});", x, e.out(0), p->view_dims.size(),
           e.int_array("dims", p->view_dims), e.int_array("in_strides", p->view_strides));
  };
  d.emit_cuda = [plan](EmitContext& e) {
    cuda_require_float_or_index(e, 1);
    std::string x;
    const std::optional<View> p = emitted_view(e, plan, x);
    if (!p) return;
    const int64_t n = element_count(p->out_dims);
    if (p->view_dims.empty()) {
      e.line("detail::copy_device({}, {}, {}, stream);", e.out(0), x, n * int64_t(dtype_size(e.output(0).dtype)));
      return;
    }
    e.use_kernel("movement");
    e.line("detail::copy_strided({}, {}, {}, detail::StridedView{{{}, {{{}}}, {{{}}}}}, stream);", x, e.out(0), n,
           p->view_dims.size(), fmt::join(p->view_dims, ", "), fmt::join(p->view_strides, ", "));
  };
  r.add(std::move(d));
}

View plan_transpose(const NodeView& v) {
  const auto in = v.input_dims(0);
  const int64_t rank = int64_t(in.size());
  std::vector<int64_t> perm(static_cast<std::size_t>(rank));
  std::iota(perm.rbegin(), perm.rend(), 0);
  perm = v.node().attr_ints("perm", perm);
  if (int64_t(perm.size()) != rank) v.fail("perm has {} entries for rank {}", perm.size(), rank);
  std::vector<bool> seen(static_cast<std::size_t>(rank), false);
  for (int64_t& p : perm) {
    p = v.axis(p, rank);
    if (seen[std::size_t(p)]) v.fail("perm repeats axis {}", p);
    seen[std::size_t(p)] = true;
  }
  return reshape_transpose(in, perm);
}

// Slice: starts/ends/axes attributes before opset 10, then inputs with optional axes and steps.
View plan_slice(const NodeView& v) {
  const auto in = v.input_dims(0);
  const int64_t rank = int64_t(in.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (v.opset() < 10) {
    starts = v.node().attr_ints("starts");
    ends = v.node().attr_ints("ends");
    axes = v.node().attr_ints("axes");
  } else {
    starts = v.constant_ints(1, "starts");
    ends = v.constant_ints(2, "ends");
    if (v.has_input(3)) axes = v.constant_ints(3, "axes");
    if (v.has_input(4)) steps = v.constant_ints(4, "steps");
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    v.fail("starts, ends, axes and steps have different lengths");
  const std::vector<int64_t> strides = contiguous_strides(in);
  View p;
  p.view_dims = in;
  p.view_strides = strides;
  std::vector<bool> seen(std::size_t(rank), false);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::size_t a = std::size_t(v.axis(axes[i], rank));
    if (seen[a]) v.fail("axis {} is repeated", axes[i]);
    seen[a] = true;
    const int64_t n = in[a], step = steps[i];
    if (step == 0) v.fail("step 0");
    auto clamp = [](int64_t x, int64_t lo, int64_t hi) { return std::max(lo, std::min(hi, x)); };
    int64_t s = starts[i] < 0 ? std::max<int64_t>(starts[i], -n - 1) + n : starts[i];
    int64_t e = ends[i] < 0 ? std::max<int64_t>(ends[i], -n - 1) + n : ends[i];
    int64_t count = 0;
    if (step > 0) {
      s = clamp(s, 0, n);
      e = clamp(e, 0, n);
      count = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = clamp(s, 0, n - 1);
      e = clamp(e, -1, n - 1);
      count = s > e ? (s - e - step - 1) / -step : 0;
    }
    p.view_dims[a] = count;
    p.view_strides[a] = strides[a] * step;
    if (count > 0) p.offset += s * strides[a];
  }
  p.out_dims = p.view_dims;
  return p;
}

View plan_expand(const NodeView& v) {
  const auto in = v.input_dims(0);
  const auto shape = v.constant_ints(1, "shape");
  const std::size_t rank = std::max(in.size(), shape.size());
  View p;
  for (std::size_t i = 0; i < rank; ++i) {
    const int64_t a = i < rank - in.size() ? 1 : in[i - (rank - in.size())];
    const int64_t b = i < rank - shape.size() ? 1 : shape[i - (rank - shape.size())];
    if (a != b && a != 1 && b != 1) v.fail("cannot expand dims {} to {}", a, b);
    p.out_dims.push_back(a == 1 ? b : a);
  }
  p.view_dims = p.out_dims;
  p.view_strides = broadcast_strides(in, p.out_dims);
  return p;
}

// Tile: output axis d, of extent repeats[d] * dims[d], is walked as [repeats[d], dims[d]]
// with stride 0 over the repeats.
View plan_tile(const NodeView& v) {
  const auto in = v.input_dims(0);
  const auto repeats = v.constant_ints(1, "repeats");
  if (repeats.size() != in.size()) v.fail("repeats has {} values for rank {}", repeats.size(), in.size());
  const std::vector<int64_t> strides = contiguous_strides(in);
  View p;
  for (std::size_t d = 0; d < in.size(); ++d) {
    if (repeats[d] < 0) v.fail("negative repeat");
    p.out_dims.push_back(checked_mul(in[d], repeats[d]));
    p.view_dims.insert(p.view_dims.end(), {repeats[d], in[d]});
    p.view_strides.insert(p.view_strides.end(), {0, strides[d]});
  }
  return p;
}

int64_t blocksize(const NodeView& v, const std::vector<int64_t>& in) {
  if (in.size() != 4) v.fail("input must be 4-D");
  const int64_t b = v.node().require_attr("blocksize", Attribute::Kind::Int).i;
  if (b <= 0) v.fail("blocksize must be positive");
  return b;
}

View plan_depth_to_space(const NodeView& v) {
  const auto in = v.input_dims(0);
  const int64_t b = blocksize(v, in);
  const int64_t n = in[0], c = in[1], h = in[2], w = in[3];
  if (c % (b * b)) v.fail("channels {} are not a multiple of blocksize^2", c);
  const bool crd = v.node().attr_string("mode", "DCR") == "CRD";
  View p = crd ? reshape_transpose({n, c / (b * b), b, b, h, w}, {0, 1, 4, 2, 5, 3})
               : reshape_transpose({n, b, b, c / (b * b), h, w}, {0, 3, 4, 1, 5, 2});
  p.out_dims = {n, c / (b * b), h * b, w * b};
  return p;
}

View plan_space_to_depth(const NodeView& v) {
  const auto in = v.input_dims(0);
  const int64_t b = blocksize(v, in);
  const int64_t n = in[0], c = in[1], h = in[2], w = in[3];
  if (h % b || w % b) v.fail("spatial dims are not multiples of blocksize");
  View p = reshape_transpose({n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4});
  p.out_dims = {n, c * b * b, h / b, w / b};
  return p;
}

}  // namespace

void register_view_ops(Registry& r) {
  add_view(r, "Transpose", 1, plan_transpose);
  add_view(r, "Slice", 1, plan_slice);
  add_view(r, "Expand", 8, plan_expand);
  add_view(r, "Tile", 6, plan_tile);
  add_view(r, "DepthToSpace", 1, plan_depth_to_space);
  add_view(r, "SpaceToDepth", 1, plan_space_to_depth);
}

}  // namespace sofiec
