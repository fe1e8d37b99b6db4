// ConvAddFusion: a bias Add folded into the bias of the Conv before it.
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// Conv -> Add of a constant per-channel bias ([C], [C,1,...] or [1,C,1,...]): the bias joins the conv's.
class ConvAddFusion : public Pass {
 public:
  const char* name() const override { return "ConvAddFusion"; }
  int run(Graph& g, Analysis&) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      if (!is_plain_conv(g, g.nodes[i])) continue;
      const std::string conv_out = g.nodes[i].outputs[0];
      const int j = sole_consumer(g, conv_out);
      if (j < 0) continue;
      const Node& add = g.nodes[std::size_t(j)];
      if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2) continue;
      const std::string& other = add.inputs[0] == conv_out ? add.inputs[1] : add.inputs[0];
      const Tensor& w = *g.constant(g.nodes[i].inputs[1]);
      const int64_t filters = w.dims[0];
      const auto c = per_channel_constant(g, other, filters, g.value(conv_out).shape.size());
      if (!c || !same_static(g, conv_out, add.outputs[0])) continue;
      std::vector<double> bias = conv_bias(g, g.nodes[i], filters);
      for (int64_t m = 0; m < filters; ++m) bias[std::size_t(m)] += (*c)[std::size_t(m)];
      const std::string output = add.outputs[0];
      rewrite_conv(g, i, w, bias, std::size_t(j), output);
      ++fused;
    }
    return fused;
  }

 private:
  static bool same_static(const Graph& g, const std::string& a, const std::string& b) {
    return g.value(a).has_shape && g.value(b).has_shape && g.value(a).shape == g.value(b).shape;
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_add_fusion() { return std::make_unique<ConvAddFusion>(); }

}  // namespace sofiec
