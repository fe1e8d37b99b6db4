// Matrix products: Gemm and MatMul (numpy semantics, batched with broadcasting).
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/linalg.hpp"
#include "ops/registry.hpp"

namespace sofiec {

MatMulPlan plan_matmul(const NodeView& v, std::size_t a_input, std::size_t b_input) {
  auto a = v.input_dims(a_input), b = v.input_dims(b_input);
  if (a.empty() || b.empty()) v.fail("MatMul operands must have rank >= 1");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  if (b[b.size() - 2] != p.k) v.fail("inner dimensions differ: {} and {}", p.k, b[b.size() - 2]);
  const std::vector<int64_t> a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  const Shape batch_shape = broadcast_shapes(v, to_shape(a_batch), to_shape(b_batch));
  const std::vector<int64_t> batch = static_dims(batch_shape);
  const auto sa = broadcast_strides(a_batch, batch), sb = broadcast_strides(b_batch, batch);
  const int64_t batches = element_count(batch);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t oa = 0, ob = 0;
    for (int64_t d = int64_t(batch.size()) - 1, rest = i; d >= 0; --d) {
      const int64_t idx = rest % batch[d];
      rest /= batch[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    p.a_offsets.push_back(oa * p.m * p.k);
    p.b_offsets.push_back(ob * p.k * p.n);
  }
  p.out_dims = batch;
  if (!a_vec) p.out_dims.push_back(p.m);
  if (!b_vec) p.out_dims.push_back(p.n);
  return p;
}

namespace {

void require_float(const NodeView& v, DType t) {
  if (t != DType::Float && t != DType::Double) v.unsupported("input type {} is not supported", dtype_name(t));
}

struct GemmDims {
  int64_t m, n, k;
};

GemmDims gemm_dims(const NodeView& v) {
  const auto a = v.input_dims(0), b = v.input_dims(1);
  if (a.size() != 2 || b.size() != 2) v.fail("A and B must be matrices, got ranks {} and {}", a.size(), b.size());
  const bool ta = v.node().attr_int("transA", 0) != 0, tb = v.node().attr_int("transB", 0) != 0;
  const GemmDims g{ta ? a[1] : a[0], tb ? b[0] : b[1], ta ? a[0] : a[1]};
  const int64_t kb = tb ? b[1] : b[0];
  if (kb != g.k) v.fail("inner dimensions differ: A gives {}, B gives {}", g.k, kb);
  return g;
}

// The [M,N] strides through which C is read (C broadcasts to [M,N]).
std::pair<int64_t, int64_t> bias_strides(const NodeView& v, const GemmDims& g) {
  const auto c = v.input_dims(2);
  if (c.size() > 2) v.fail("C has rank {}, at most 2 allowed", c.size());
  const auto s = broadcast_strides(c, {g.m, g.n});
  const std::vector<int64_t> padded = [&] {
    std::vector<int64_t> p(2 - c.size(), 1);
    p.insert(p.end(), c.begin(), c.end());
    return p;
  }();
  if ((padded[0] != 1 && padded[0] != g.m) || (padded[1] != 1 && padded[1] != g.n))
    v.fail("C of shape {} does not broadcast to [{},{}]", shape_str(to_shape(c)), g.m, g.n);
  return {s[0], s[1]};
}

void add_gemm(Registry& r) {
  OpDef d;
  d.op_type = "Gemm";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float(v, v.input_dtype(0));
    if (v.input_dtype(1) != v.input_dtype(0)) v.fail("A and B have different types");
    const GemmDims g = gemm_dims(v);
    if (v.has_input(2)) bias_strides(v, g);
    return InferResult{{static_value(v.input_dtype(0), {g.m, g.n})}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("gemm");
    const GemmDims g = gemm_dims(e);
    const bool ta = e.node().attr_int("transA", 0) != 0, tb = e.node().attr_int("transB", 0) != 0;
    const DType t = e.input_dtype(0);
    const std::string alpha = cpp_float(e.node().attr_float("alpha", 1.f), t);
    const std::string beta = cpp_float(e.node().attr_float("beta", 1.f), t);
    e.line("detail::gemm_rowmajor({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", ta, tb, g.m, g.n, g.k,
           alpha, e.in(0), ta ? g.m : g.k, e.in(1), tb ? g.k : g.n, cpp_float(0, t), e.out(0), g.n);
    if (e.has_input(2)) {
      const auto [rs, cs] = bias_strides(e, g);
      e.line("detail::add_bias_2d({}, {}, {}, {}, {}, {}, {});", e.out(0), e.in(2), g.m, g.n, rs, cs, beta);
    }
  };
  r.add(std::move(d));
}

// MatMul of [..., M, K] x [..., K, N] with numpy's rules for rank-1 operands and batch dims.

Shape matmul_symbolic_shape(const NodeView& v) {
  Shape a = v.input(0).shape, b = v.input(1).shape;
  if (a.empty() || b.empty()) v.fail("MatMul operands must have rank >= 1");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), Dim(1));
  if (b_vec) b.push_back(Dim(1));
  const Dim& ka = a.back();
  const Dim& kb = b[b.size() - 2];
  if (ka.is_static() && kb.is_static() && ka != kb) v.fail("inner dimensions differ: {} and {}", ka.str(), kb.str());
  Shape out = broadcast_shapes(v, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b.back());
  return out;
}

void add_matmul(Registry& r) {
  OpDef d;
  d.op_type = "MatMul";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float(v, v.input_dtype(0));
    if (v.input_dtype(1) != v.input_dtype(0)) v.fail("A and B have different types");
    if (!v.input(0).has_shape || !v.input(1).has_shape) v.fail("operand ranks must be known");
    return InferResult{{ValueInfo{v.input_dtype(0), matmul_symbolic_shape(v), true}}};
  };
  d.eval = [](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    const MatMulPlan p = plan_matmul(v);
    Tensor y(outs[0].dtype, p.out_dims);
    visit_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
        rt::matmul_batched(in[0]->data<T>(), in[1]->data<T>(), y.data<T>(), int64_t(p.a_offsets.size()),
                           p.a_offsets.data(), p.b_offsets.data(), p.m, p.n, p.k);
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("gemm");
    const MatMulPlan p = plan_matmul(e);
    if (p.a_offsets.size() == 1) {
      e.line("detail::gemm_rowmajor(false, false, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", p.m, p.n, p.k,
             cpp_float(1, e.input_dtype(0)), e.in(0), p.k, e.in(1), p.n, cpp_float(0, e.input_dtype(0)), e.out(0), p.n);
      return;
    }
    e.line("detail::matmul_batched({}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0),
           p.a_offsets.size(), e.int_array("a_offsets", p.a_offsets), e.int_array("b_offsets", p.b_offsets), p.m,
           p.n, p.k);
  };
  r.add(std::move(d));
}

}  // namespace

void register_linalg_ops(Registry& r) {
  add_gemm(r);
  add_matmul(r);
}

}  // namespace sofiec
