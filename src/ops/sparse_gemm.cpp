// ZeroSkippingGemm (the compiler's domain, made by the SingleRowGemmSkippingZeros pass):
// Y[M, N] = alpha * A[M, K] B[K, N] + bias, where B is a constant without Inf or NaN, so that the
// zeros of A can be skipped (templates/kernels/sparse_gemm.hpp). Inputs: A, B (of shape [K, N],
// its values in the kernel's column panels: pack_column_panels), optional bias [N] or [1, N];
// attribute `alpha`.
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

struct SparseGemmDims {
  int64_t m, n, k;
};

SparseGemmDims sparse_gemm_dims(const NodeView& v) {
  const auto a = v.input_dims(0), b = v.input_dims(1);
  if (a.size() != 2 || b.size() != 2) v.fail("A and B must be matrices, got ranks {} and {}", a.size(), b.size());
  const int64_t n = b[1];
  const SparseGemmDims d{a[0], n, a[1]};
  if (b[0] != d.k) v.fail("inner dimensions differ: A gives {}, B gives {}", d.k, b[0]);
  if (v.has_input(2) && v.input_dims(2) != std::vector<int64_t>{n} && v.input_dims(2) != std::vector<int64_t>{1, n})
    v.fail("bias must have shape [{0}] or [1, {0}]", n);
  return d;
}

}  // namespace

void register_sparse_gemm_ops(Registry& r) {
  OpDef d;
  d.op_type = "ZeroSkippingGemm";
  d.types = "float";
  d.infer = [](const NodeView& v) {
    for (std::size_t i = 0; i < v.num_inputs(); ++i)
      if (v.has_input(i) && v.input_dtype(i) != DType::Float)
        v.unsupported("input type {} is not supported", dtype_name(v.input_dtype(i)));
    const SparseGemmDims g = sparse_gemm_dims(v);
    return InferResult{{static_value(DType::Float, {g.m, g.n})}};
  };
  d.eval = [](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>&) {
    const SparseGemmDims g = sparse_gemm_dims(v);
    Tensor y(DType::Float, {g.m, g.n});
    const float* bias = in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
    rt::gemm_skipping_zeros(g.m, g.n, g.k, v.node().attr_float("alpha", 1.f), in[0]->data<float>(), g.k,
                            in[1]->data<float>(), bias, y.data<float>(), g.n, rt::chain());
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("sparse_gemm");
    const SparseGemmDims g = sparse_gemm_dims(e);
    const std::string f = e.epilogue();
    e.line("detail::gemm_skipping_zeros({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", g.m, g.n, g.k,
           cpp_float(e.node().attr_float("alpha", 1.f), DType::Float), e.in(0), g.k, e.in(1), e.in_or_null(2, "float"),
           e.out(0), g.n, f.empty() ? "detail::chain()" : f);
  };
  d.accepts_epilogue = true;
  d.flops = [](const NodeView& v) {
    const SparseGemmDims g = sparse_gemm_dims(v);
    return 2 * g.m * g.n * g.k + (v.has_input(2) ? g.m * g.n : 0);
  };
  r.add_internal(std::move(d));
}

}  // namespace sofiec
