// EpilogueFusion: chains of elementwise activations into the epilogue of the Conv / Gemm /
// MatMul that produces their input.
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// Conv / Gemm / MatMul -> elementwise unary activations (Relu, LeakyRelu, Sigmoid, Tanh,
// Elu, Gelu, ...): the activations move into the producer's epilogue, applied to each output
// block as the kernel writes it, so the intermediate tensor and its extra pass vanish.
class EpilogueFusion : public Pass {
 public:
  const char* name() const override { return "EpilogueFusion"; }
  int run(Graph& g, Analysis&) override {
    const Registry& registry = Registry::instance();
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      Node& anchor = g.nodes[i];
      const OpDef* def = registry.find(anchor, g);
      if (!def || !def->accepts_epilogue) continue;
      for (;;) {
        const std::string out = g.nodes[i].outputs[0];
        const DType t = g.value(out).dtype;
        if (t != DType::Float && t != DType::Double) break;
        const int j = sole_consumer(g, out);
        if (j < 0) break;
        const Node& next = g.nodes[std::size_t(j)];
        const OpDef* next_def = registry.find(next, g);
        if (!next_def || !next_def->unary_functor || next.outputs.size() != 1 || g.value(next.outputs[0]).dtype != t)
          break;
        Node follower = next;
        g.nodes[i].outputs[0] = follower.outputs[0];
        g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(j));
        if (std::size_t(j) < i) --i;
        g.nodes[i].epilogue.push_back(std::move(follower));
        ++fused;
      }
    }
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_epilogue_fusion() { return std::make_unique<EpilogueFusion>(); }

}  // namespace sofiec
