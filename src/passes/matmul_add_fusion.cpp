// MatMulAddFusion: MatMul + bias Add into Gemm (or the compiler's MatMul with a bias).
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// MatMul([M,K], [K,N]) -> Add(constant [N] or [1,N]) is Gemm with C.
class MatMulAddFusion : public Pass {
 public:
  const char* name() const override { return "MatMulAddFusion"; }
  int run(Graph& g, Analysis&) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      Node& mm = g.nodes[i];
      if (mm.op_type != "MatMul" || !mm.domain.empty() || !mm.epilogue.empty()) continue;
      const ValueInfo &a = g.value(mm.inputs[0]), &b = g.value(mm.inputs[1]), &y = g.value(mm.outputs[0]);
      if (a.dtype != DType::Float || !a.has_shape || !b.has_shape || a.shape.size() < 2 || b.shape.size() != 2 ||
          !is_static(y.shape))
        continue;
      const int j = sole_consumer(g, mm.outputs[0]);
      if (j < 0) continue;
      const Node& add = g.nodes[std::size_t(j)];
      if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2) continue;
      const std::string& other = add.inputs[0] == mm.outputs[0] ? add.inputs[1] : add.inputs[0];
      const Tensor* c = float_constant(g, other);
      const int64_t n = y.shape.back().value;
      if (!c || c->size() != n || (c->dims != std::vector<int64_t>{n} && c->dims != std::vector<int64_t>{1, n}))
        continue;
      if (g.value(add.outputs[0]).shape != y.shape) continue;
      // Batched A: the compiler's MatMul, one product of all rows, adds the bias row itself.
      if (a.shape.size() > 2) mm.domain = kSofiecDomain;
      else mm.op_type = "Gemm";
      mm.inputs.push_back(other);
      mm.outputs[0] = add.outputs[0];
      g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(j));
      ++fused;
    }
    return fused;
  }
};

}  // namespace

std::unique_ptr<Pass> make_matmul_add_fusion() { return std::make_unique<MatMulAddFusion>(); }

}  // namespace sofiec
