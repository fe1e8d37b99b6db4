// SingleRowGemmSkippingZeros: the product of one event through a layer (a Gemm or 2-D MatMul of
// one row by constant weights) becomes the compiler's ZeroSkippingGemm. The weights are stored
// [K, N] in column panels of 16 (rt::pack_column_panels), and the kernel adds only the rows of B
// that A's nonzeros select (templates/kernels/sparse_gemm.hpp): a layer after a ReLU reads
// about half its weights. Even with no zeros, broadcasting A's values over B's rows beats the
// dot products of gemv_rows, each of which ends in a sum across the lanes. Fewer than 16
// columns keep gemv_rows: a vector of B would be mostly empty. The panels hold no padding:
// rows padded to whole vectors are no faster, and would add 12 KiB to the SOFIE MLP's
// weights, a tenth of its resident memory.
#include <cmath>
#include <limits>

#include "kernels.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

bool all_finite(const Tensor& t) {
  const float* p = t.data<float>();
  return std::all_of(p, p + t.size(), [](float x) { return std::isfinite(x); });
}

class SingleRowGemmSkippingZeros : public Pass {
 public:
  const char* name() const override { return "SingleRowGemmSkippingZeros"; }
  int run(Graph& g, Analysis&) override {
    int changed = 0;
    for (Node& n : g.nodes) {
      const bool gemm = n.op_type == "Gemm", matmul = n.op_type == "MatMul" && n.inputs.size() == 2;
      if ((!gemm && !matmul) || !n.domain.empty() || !n.epilogue.empty()) continue;
      const ValueInfo& a = g.value(n.inputs[0]);
      const Tensor* b = float_constant(g, n.inputs[1]);
      if (a.dtype != DType::Float || !a.has_shape || a.shape.size() != 2 || !is_static(a.shape) || !b ||
          b->dims.size() != 2)
        continue;
      // (A given transposed, a column, would need a Reshape: exporters write A as it is.)
      if (gemm && n.attr_int("transA", 0) != 0) continue;
      const bool trans_b = gemm && n.attr_int("transB", 0) != 0;
      const int64_t rows = a.shape[0].value;
      const int64_t k = trans_b ? b->dims[1] : b->dims[0], cols = trans_b ? b->dims[0] : b->dims[1];
      if (rows != 1 || cols < 16 || k * cols > std::numeric_limits<int32_t>::max() || !all_finite(*b)) continue;
      std::string bias;
      if (gemm && n.has_input(2)) {
        bias = bias_row(g, n, cols);
        if (bias.empty()) continue;
      }
      const Tensor transposed = trans_b ? transposed_matrices(*b) : Tensor();
      Tensor panels(DType::Float, {k, cols});
      rt::pack_column_panels((trans_b ? transposed : *b).data<float>(), cols, k, cols, panels.data<float>());
      n.inputs = {n.inputs[0], add_fresh_constant(g, n.name + "/weight_panels", std::move(panels))};
      if (!bias.empty()) n.inputs.push_back(bias);
      const float alpha = gemm ? n.attr_float("alpha", 1.f) : 1.f;
      n.attributes.clear();
      n.attributes["alpha"] = float_attribute(alpha);
      n.op_type = "ZeroSkippingGemm";
      n.domain = kSofiecDomain;
      ++changed;
    }
    return changed;
  }

 private:
  // Gemm's C as the kernel's bias row of `cols`: as it is when it is a row and beta is 1, else
  // beta * C broadcast to a row when it is a constant; "" when neither.
  static std::string bias_row(Graph& g, const Node& n, int64_t cols) {
    const ValueInfo& c = g.value(n.inputs[2]);
    if (c.dtype != DType::Float || !c.has_shape || !is_static(c.shape)) return "";
    std::vector<int64_t> dims;
    for (const Dim& d : c.shape) dims.push_back(d.value);
    const float beta = n.attr_float("beta", 1.f);
    const bool row = dims == std::vector<int64_t>{cols} || dims == std::vector<int64_t>{1, cols};
    if (row && beta == 1.f) return n.inputs[2];
    const Tensor* t = float_constant(g, n.inputs[2]);
    if (!t || (t->size() != 1 && t->size() != cols)) return "";
    Tensor out(DType::Float, {cols});
    for (int64_t j = 0; j < cols; ++j) out.data<float>()[j] = beta * t->data<float>()[t->size() == 1 ? 0 : j];
    return add_fresh_constant(g, n.name + "/bias_row", std::move(out));
  }
};

}  // namespace

std::unique_ptr<Pass> make_single_row_gemm_skipping_zeros() { return std::make_unique<SingleRowGemmSkippingZeros>(); }

}  // namespace sofiec
