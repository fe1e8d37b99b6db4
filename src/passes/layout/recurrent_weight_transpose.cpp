// RecurrentWeightTranspose: an RNN / GRU / LSTM's constant weights stored transposed.
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// RNN / GRU / LSTM with constant float W and R: each direction's matrices stored transposed,
// [input, G*hidden] and [hidden, G*hidden], in the compiler's form of the node: the layout
// that products with few rows read fastest (the output's columns along the vector lanes, as in
// kernels/gemm.hpp's blocks and kernels/recurrent.hpp's LSTM step).
class RecurrentWeightTranspose : public Pass {
 public:
  const char* name() const override { return "RecurrentWeightTranspose"; }
  int run(Graph& g, Analysis&) override {
    int changed = 0;
    for (Node& n : g.nodes) {
      if ((n.op_type != "LSTM" && n.op_type != "GRU" && n.op_type != "RNN") || !n.domain.empty() || n.inputs.size() < 3)
        continue;
      const Tensor* w = float_constant(g, n.inputs[1]);
      const Tensor* r = float_constant(g, n.inputs[2]);
      if (!w || !r || w->dims.size() != 3 || r->dims.size() != 3) continue;
      n.inputs[1] = add_fresh_constant(g, n.name + "/W_transposed", transposed_matrices(*w));
      n.inputs[2] = add_fresh_constant(g, n.name + "/R_transposed", transposed_matrices(*r));
      n.domain = kSofiecDomain;
      ++changed;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_recurrent_weight_transpose() { return std::make_unique<RecurrentWeightTranspose>(); }

}  // namespace sofiec
