// The pass list of each optimization level: the one place that fixes which passes run and in
// what order.
#include "passes/passes.hpp"

namespace sofiec {

std::vector<std::unique_ptr<Pass>> passes_for_level(OptLevel level, Target target) {
  std::vector<std::unique_ptr<Pass>> passes;
  if (level == OptLevel::O0) return passes;
  // `-O basic` keeps to the target-independent rewrites: the header it writes is the same
  // graph, whatever vector width it is built for. `extended` adds the layout stage.
  const bool layouts = level == OptLevel::Extended && target == Target::Cpu;

  // Graph rewrites, the same for every target: simplification, the patterns exporters spell
  // out that become one node, and folding into weights.
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

  // The layout stage (src/passes/layout/, `extended` only): weight layouts and kernel choices
  // that follow the target's vector width, run once the graph rewrites have made the products
  // and convolutions they look at. AttentionFusion, a graph rewrite that runs at `basic` too,
  // sits between the weight transposes and the convolutions: it matches the attention's
  // MatMuls, which no layout pass touches, and keeps the order the report lists.
  if (layouts) passes.push_back(make_gemm_weight_transpose());
  // R stored [hidden, G*hidden] serves both targets: the CPU's vector lanes and the GPU's warps
  // (adjacent units, adjacent addresses) run along its rows.
  if (level == OptLevel::Extended) passes.push_back(make_recurrent_weight_transpose());
  passes.push_back(make_attention_fusion());
  if (layouts) {
    passes.push_back(make_conv_winograd());
    passes.push_back(make_conv_filter_panels());
    passes.push_back(make_single_row_gemm_skipping_zeros());
  }

  // Final: activations into the kernels the layout stage chose, pooling into the convolutions
  // before it (after EpilogueFusion, so that the pool follows the activation), and the nodes
  // the rewrites left unread.
  passes.push_back(make_epilogue_fusion());
  // The GPU's layout stage, once the products carry their activations: small MLPs as one
  // kernel, then the elementwise maps left as trees of one kernel each (on the GPU a launch
  // costs more than the few thousand elements most of them map).
  if (level == OptLevel::Extended && target == Target::Cuda) {
    passes.push_back(make_dense_chain_fusion());
    passes.push_back(make_elementwise_fusion());
  }
  // (The fused conv-and-pool kernel is the CPU's: the CUDA target pools in a kernel of its own.)
  if (target == Target::Cpu) passes.push_back(make_conv_max_pool_fusion());
  passes.push_back(make_dead_node_elimination());
  return passes;
}

}  // namespace sofiec
