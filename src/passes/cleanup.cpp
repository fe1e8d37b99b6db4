// Constant folding, dead node elimination and the pass list of each optimization level.
#include <set>

#include "passes/passes.hpp"

namespace sofiec {
namespace {

class ConstantFolding : public Pass {
 public:
  const char* name() const override { return "ConstantFolding"; }
  int run(Graph& g, Analysis& a) override {
    InferOptions unlimited;
    unlimited.max_known_elements = kMaxFoldedElements;
    a = infer_graph(g, unlimited);
    int folded = 0;
    std::vector<Node> kept;
    for (Node& n : g.nodes) {
      bool all_known = true;
      for (const auto& o : n.outputs) all_known = all_known && (o.empty() || a.known.count(o));
      if (!all_known) {
        kept.push_back(std::move(n));
        continue;
      }
      for (const auto& o : n.outputs)
        if (!o.empty()) g.constants[o] = std::move(a.known[o]);
      ++folded;
    }
    g.nodes = std::move(kept);
    a.known.clear();
    return folded;
  }
};

class DeadNodeElimination : public Pass {
 public:
  const char* name() const override { return "DeadNodeElimination"; }
  int run(Graph& g, Analysis&) override {
    std::set<std::string> used(g.outputs.begin(), g.outputs.end());
    std::vector<bool> live(g.nodes.size(), false);
    for (std::size_t i = g.nodes.size(); i-- > 0;) {
      const Node& n = g.nodes[i];
      for (const auto& o : n.outputs) live[i] = live[i] || (!o.empty() && used.count(o));
      if (live[i])
        for (const auto& in : n.inputs) used.insert(in);
    }
    std::vector<Node> kept;
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      if (live[i]) kept.push_back(std::move(g.nodes[i]));
    const int removed = int(g.nodes.size() - kept.size());
    g.nodes = std::move(kept);
    return removed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_constant_folding() { return std::make_unique<ConstantFolding>(); }
std::unique_ptr<Pass> make_dead_node_elimination() { return std::make_unique<DeadNodeElimination>(); }

std::vector<std::unique_ptr<Pass>> passes_for_level(bool optimize) {
  std::vector<std::unique_ptr<Pass>> passes;
  if (!optimize) return passes;
  passes.push_back(make_constant_folding());
  passes.push_back(make_noop_elimination());
  passes.push_back(make_transpose_pair_elimination());
  passes.push_back(make_reshape_chain_elimination());
  passes.push_back(make_silu_fusion());
  passes.push_back(make_gelu_fusion());
  passes.push_back(make_layer_norm_fusion());
  passes.push_back(make_group_norm_fusion());
  passes.push_back(make_conv_batch_norm_fusion());
  passes.push_back(make_gemm_batch_norm_fusion());
  passes.push_back(make_conv_add_fusion());
  passes.push_back(make_edge_conv_factorization());
  passes.push_back(make_matmul_add_fusion());
  passes.push_back(make_gemm_weight_transpose());
  passes.push_back(make_recurrent_weight_transpose());
  passes.push_back(make_attention_fusion());
  passes.push_back(make_conv_winograd());
  passes.push_back(make_conv_filter_panels());
  passes.push_back(make_single_row_gemm_skipping_zeros());
  passes.push_back(make_epilogue_fusion());
  passes.push_back(make_conv_max_pool_fusion());
  passes.push_back(make_dead_node_elimination());
  return passes;
}

}  // namespace sofiec
