// GemmWeightTranspose: a Gemm's constant weights stored in the layout its kernel reads.
#include "kernels.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// Gemm with a constant B and two rows or more: B is stored, transposed at generation time where
// it must be, in the layout its kernel reads directly. The register-blocked kernel reads
// [K, N] (given [N, K] it would transpose a panel of B on every call); products of at most
// kDotColumns columns (A not transposed) are dot products of A's rows with B's columns in
// gemm_dot_rows, which reads [N, K] (a classifier's last layer: torch writes it so, Keras's
// MatMul + Add as [K, N]). One row is left as the exporter wrote it: it is
// SingleRowGemmSkippingZeros's case (zero_skipping.cpp), and where that pass does not take
// it, kernels/gemm.hpp's gemv_rows reads [N, K] and [K, N] is read row by row.
class GemmWeightTranspose : public Pass {
 public:
  const char* name() const override { return "GemmWeightTranspose"; }
  int run(Graph& g, Analysis&) override {
    int changed = 0;
    for (Node& n : g.nodes) {
      if (n.op_type != "Gemm" || !n.domain.empty() || n.inputs.size() < 2) continue;
      const Tensor* b = float_constant(g, n.inputs[1]);
      const ValueInfo& a = g.value(n.inputs[0]);
      if (!b || b->dims.size() != 2 || !a.has_shape || a.shape.size() != 2 || !is_static(a.shape)) continue;
      const bool trans_a = n.attr_int("transA", 0) != 0, trans_b = n.attr_int("transB", 0) != 0;
      const int64_t rows = trans_a ? a.shape[1].value : a.shape[0].value;
      const int64_t columns = trans_b ? b->dims[0] : b->dims[1];
      const bool dot_products = !trans_a && columns <= rt::kDotColumns;
      if (rows < 2 || trans_b == dot_products) continue;
      n.inputs[1] = add_fresh_constant(g, n.name + (dot_products ? "/weight_columns" : "/weight_transposed"),
                                       transposed_matrices(*b));
      n.attributes["transB"] = int_attribute(dot_products ? 1 : 0);
      ++changed;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_gemm_weight_transpose() { return std::make_unique<GemmWeightTranspose>(); }

}  // namespace sofiec
