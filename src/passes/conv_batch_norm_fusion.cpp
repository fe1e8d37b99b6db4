// ConvBatchNormFusion: an inference BatchNormalization after a Conv folded into the conv's
// weights and bias.
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// Conv -> BatchNormalization (inference): y = (conv(x) + b - mean) * k + beta with
// k = scale / sqrt(var + eps), so W' = W * k per filter and b' = (b - mean) * k + beta.
class ConvBatchNormFusion : public Pass {
 public:
  const char* name() const override { return "ConvBatchNormFusion"; }
  int run(Graph& g, Analysis&) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (!is_plain_conv(g, g.nodes[i])) continue;
      Tensor w = *g.constant(g.nodes[i].inputs[1]);
      const int64_t filters = w.dims[0], per_filter = filters ? w.size() / filters : 0;
      const auto bn = foldable_batch_norm(g, g.nodes[i].outputs[0], filters);
      if (!bn) continue;
      std::vector<double> bias = conv_bias(g, g.nodes[i], filters);
      for (int64_t m = 0; m < filters; ++m) {
        const double k = bn->scale[std::size_t(m)];
        for (int64_t e = 0; e < per_filter; ++e)
          w.data<float>()[m * per_filter + e] = float(w.data<float>()[m * per_filter + e] * k);
        bias[std::size_t(m)] = bias[std::size_t(m)] * k + bn->shift[std::size_t(m)];
      }
      const std::string output = g.nodes[bn->index].outputs[0];
      rewrite_conv(g, i, std::move(w), bias, bn->index, output);
      ++fused;
    }
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_batch_norm_fusion() { return std::make_unique<ConvBatchNormFusion>(); }

}  // namespace sofiec
