// GemmBatchNormFusion: an inference BatchNormalization after a Gemm folded into its weights
// and bias.
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// Gemm -> BatchNormalization (inference) over its columns, as torch writes Linear +
// BatchNorm1d: y = (alpha A op(B) + beta C - mean) k + beta_bn, so op(B)'s column n is scaled
// by alpha k[n] and the bias becomes (beta C[n] - mean[n]) k[n] + beta_bn[n].
class GemmBatchNormFusion : public Pass {
 public:
  const char* name() const override { return "GemmBatchNormFusion"; }
  int run(Graph& g, Analysis&) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& gemm = g.nodes[i];
      if (gemm.op_type != "Gemm" || !gemm.domain.empty() || !gemm.epilogue.empty() || gemm.inputs.size() < 2) continue;
      const Tensor* b = float_constant(g, gemm.inputs[1]);
      const Tensor* c = gemm.has_input(2) ? float_constant(g, gemm.inputs[2]) : nullptr;
      if (!b || b->dims.size() != 2 || (gemm.has_input(2) && !c)) continue;
      const bool trans_b = gemm.attr_int("transB", 0) != 0;
      const int64_t n_out = trans_b ? b->dims[0] : b->dims[1], k_in = trans_b ? b->dims[1] : b->dims[0];
      if (c && c->size() != n_out && c->size() != 1) continue;
      const auto bn = foldable_batch_norm(g, gemm.outputs[0], n_out);
      if (!bn) continue;
      const double alpha = gemm.attr_float("alpha", 1.f), beta = gemm.attr_float("beta", 1.f);
      Tensor w = *b;
      Tensor bias(DType::Float, {n_out});
      for (int64_t n = 0; n < n_out; ++n) {
        const double k = bn->scale[std::size_t(n)];
        for (int64_t e = 0; e < k_in; ++e) {
          float& x = trans_b ? w.data<float>()[n * k_in + e] : w.data<float>()[e * n_out + n];
          x = float(x * alpha * k);
        }
        const double cn = c ? double(c->data<float>()[c->size() == 1 ? 0 : n]) : 0.0;
        bias.data<float>()[n] = float(beta * cn * k + bn->shift[std::size_t(n)]);
      }
      const std::string output = g.nodes[bn->index].outputs[0];
      Node& target = g.nodes[i];
      target.inputs.resize(3);
      target.inputs[1] = add_fresh_constant(g, target.name + "/fused_weight", std::move(w));
      target.inputs[2] = add_fresh_constant(g, target.name + "/fused_bias", std::move(bias));
      target.attributes.erase("alpha");
      target.attributes.erase("beta");
      target.outputs[0] = output;
      g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(bn->index));
      ++fused;
    }
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_gemm_batch_norm_fusion() { return std::make_unique<GemmBatchNormFusion>(); }

}  // namespace sofiec
