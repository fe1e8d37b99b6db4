// Graph passes. Each is a small named unit that transforms the graph in place, one file per
// pass (those that follow the target's vector width in layout/); the pipeline for an
// optimization level is a list of them (passes_for_level, in pass_list.cpp).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sofiec/compiler.hpp"
#include "sofiec/ir.hpp"

namespace sofiec {

// What inference learned about the graph beyond types and shapes.
struct Analysis {
  std::map<std::string, Tensor> known;       // values computed at generation time (not yet folded)
  std::map<std::string, int64_t> workspace;  // node name -> scratch bytes its emitter needs
};

struct InferOptions {
  // Values up to this many elements are computed during inference, so that shape
  // arithmetic resolves at every optimization level; folding passes lift the limit.
  int64_t max_known_elements = 1 << 16;
};

// Throws UnsupportedError naming every node whose operator (or operator version) is missing.
void check_supported(const Graph& g);

// Infers every node output's type and shape, in order, and computes what can be computed.
Analysis infer_graph(Graph& g, const InferOptions& options = {});

// Replaces the If node at `index` by the nodes of the branch its condition (known at
// generation time) selects. Returns false, changing nothing, if the node is not such an If.
bool inline_known_if(Graph& g, std::size_t index, const Analysis& a);

// Unrolls the Scan node at `index` (opset 9+) into copies of its body, one per step of its
// scan axes, whose lengths must be static. Returns false if the node is not a Scan.
bool unroll_scan(Graph& g, std::size_t index);
// Replaces the Loop node at `index` by its unrolled body when its trip count is known and its
// condition stays true (the body passes it through); throws UnsupportedError otherwise.
bool unroll_loop(Graph& g, std::size_t index, const Analysis& a);

// Sequences known at generation time: sequence tensor -> the names of its tensors, in order.
using SequenceLists = std::map<std::string, std::vector<std::string>>;
// Replaces the sequence operator at `index` (SequenceConstruct/Empty/Insert/Erase/At/Length,
// ConcatFromSequence, SplitToSequence) by tensor nodes (or nothing), updating `lists`.
// Returns false if the node is not a sequence operator.
bool resolve_sequence_op(Graph& g, std::size_t index, const Analysis& a, SequenceLists& lists);

// Constant folding computes tensors up to this many elements (64 Mi, 256 MiB of floats);
// larger ones are left to the generated code.
constexpr int64_t kMaxFoldedElements = int64_t(1) << 26;

class Pass {
 public:
  virtual ~Pass() = default;
  virtual const char* name() const = 0;
  // Returns how many nodes it changed or removed (for the report).
  virtual int run(Graph& g, Analysis& a) = 0;
};

// Evaluates every node whose inputs are all known and replaces it by constants.
std::unique_ptr<Pass> make_constant_folding();
// Removes nodes none of whose outputs are read by a node or are graph outputs.
std::unique_ptr<Pass> make_dead_node_elimination();
// Removes Identity, inference Dropout, Pad of zeros, and Cast / Expand / Reshape-like nodes that
// change nothing.
std::unique_ptr<Pass> make_noop_elimination();
// Transpose of a Transpose: removed when they cancel, merged into one otherwise.
std::unique_ptr<Pass> make_transpose_pair_elimination();
// Reshape of a Reshape (or Flatten, Squeeze, Unsqueeze): the outer one reads the original.
std::unique_ptr<Pass> make_reshape_chain_elimination();
// x * Sigmoid(x): the compiler's Silu (ai.sofiec domain).
std::unique_ptr<Pass> make_silu_fusion();
// 0.5 * x * (1 + Erf(x / sqrt(2))): the compiler's Gelu (ai.sofiec domain).
std::unique_ptr<Pass> make_gelu_fusion();
// Layer normalization written out (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, then an
// optional Mul and Add of per-feature constants), as exporters before opset 17 write it: one
// LayerNormalization of the compiler's domain.
std::unique_ptr<Pass> make_layer_norm_fusion();
// GroupNorm as torch writes it before opset 18 (Reshape, InstanceNormalization with unit
// scale and zero bias, Reshape back, per-channel Mul and Add): one GroupNormalization of the
// compiler's domain with per-channel scale and bias.
std::unique_ptr<Pass> make_group_norm_fusion();
// Conv followed by inference BatchNormalization: folded into the conv's weights and bias.
std::unique_ptr<Pass> make_conv_batch_norm_fusion();
// Gemm followed by inference BatchNormalization over its columns: folded into its weights and bias.
std::unique_ptr<Pass> make_gemm_batch_norm_fusion();
// Conv followed by an Add of a constant per-channel bias: folded into the conv's bias.
std::unique_ptr<Pass> make_conv_add_fusion();
// EdgeConv's first layer (a 1x1 Conv over Concat'ed centre / neighbour / difference edge
// features, the neighbours gathered by index): a MatMul per point and the compiler's
// EdgeConvGather, K times fewer products.
std::unique_ptr<Pass> make_edge_conv_factorization();
// MatMul followed by an Add of a constant row vector: one Gemm (2-D A), or the compiler's MatMul
// with a bias input (A with batch dims: one product over all rows).
std::unique_ptr<Pass> make_matmul_add_fusion();
// Gemm with a constant B and two rows or more: B stored in the layout its kernel reads, [K, N]
// for the register-blocked kernel, [N, K] for products of at most 4 columns (kDotColumns, A
// not transposed), which gemm_dot_rows computes. One row is SingleRowGemmSkippingZeros's case.
std::unique_ptr<Pass> make_gemm_weight_transpose();
// RNN / GRU / LSTM with constant W and R: both stored transposed (the compiler's form of the
// node), so that a step's product for one sequence needs no horizontal sums.
std::unique_ptr<Pass> make_recurrent_weight_transpose();
// MatMul(Q, K^T) [Div or Mul by a constant] Softmax MatMul(., V): one ScaledDotAttention of the
// compiler's domain, reading Q, K^T and V (and writing its output) through strides in place of
// the Reshape / Transpose / Split / Squeeze / Gather nodes around it.
std::unique_ptr<Pass> make_attention_fusion();
// 3x3 stride-1 Conv with constant weights and enough output tiles: the compiler's
// WinogradConv, F(4x4, 3x3) or F(2x2, 3x3), its filters transformed at generation time.
std::unique_ptr<Pass> make_conv_winograd();
// 2-D Conv of one group with constant weights whose filters fill the lanes, not pointwise
// (unless its few output positions, 4 to 63, fill less than 80% of the lanes): the compiler's
// FilterPanelConv, the filters along the lanes.
std::unique_ptr<Pass> make_conv_filter_panels();
// Gemm or 2-D MatMul of one row by constant finite weights of 16 columns or more: the
// compiler's ZeroSkippingGemm, the weights stored [K, N], skipping A's zeros.
std::unique_ptr<Pass> make_single_row_gemm_skipping_zeros();
// Conv / Gemm / MatMul followed by elementwise unary activations: one kernel with an epilogue.
std::unique_ptr<Pass> make_epilogue_fusion();
// --target cuda: two to eight dense layers of few rows (Gemm / MatMul by constant weights, with
// their activations) whose weights fit a block's shared memory: one DenseChain kernel.
std::unique_ptr<Pass> make_dense_chain_fusion();
// --target cuda: trees of elementwise maps (each output read only by the next) as one
// FusedElementwise kernel.
std::unique_ptr<Pass> make_elementwise_fusion();
// WinogradConv, or a direct Conv (unit strides, few taps), then a 2x2 stride-2 MaxPool: the
// pooled planes computed in registers, after the epilogue (run after EpilogueFusion). A
// FilterPanelConv then any 2-D MaxPool without indices in floor mode: pooled from bands of rows.
std::unique_ptr<Pass> make_conv_max_pool_fusion();

// The passes of an optimization level, in order (empty for -O 0).
// The layout stage is the CPU's (vector widths): the CUDA target runs the graph rewrites only.
std::vector<std::unique_ptr<Pass>> passes_for_level(OptLevel level, Target target = Target::Cpu);

// Tensors that share their input's memory instead of being copied: the outputs of
// reshape-like nodes (Reshape, Flatten, Squeeze, Unsqueeze, Identity) and of a Split into
// contiguous chunks (every dim before the axis is 1) that are not graph outputs, mapped to
// the tensor whose storage they use (chains resolved). offsets, if given, receives where
// each view starts in that tensor, in elements (views at 0 are not listed). Split views keep
// the whole input alive until its last chunk is read, so they are optional: split_views.
std::map<std::string, std::string> find_aliases(const Graph& g, std::map<std::string, int64_t>* offsets = nullptr,
                                                bool split_views = true);

// One piece of the arena: an intermediate tensor (with the tensors that write over it in
// place) or a node's scratch, alive from step `first` to step `last` (node indices).
struct ArenaBlock {
  std::string name;
  bool is_workspace = false;
  int64_t bytes = 0;  // before alignment
  std::size_t first = 0, last = 0;
};

struct MemoryPlan {
  std::map<std::string, std::string> aliases;           // see find_aliases
  std::map<std::string, int64_t> view_offsets;          // see find_aliases
  std::map<std::string, std::string> in_place;          // output -> the input whose memory it reuses
  std::map<std::string, int64_t> tensor_offsets;        // intermediate tensor -> arena offset
  std::map<std::string, int64_t> workspace_offsets;     // node name -> arena offset of its scratch
  std::vector<ArenaBlock> blocks;                       // what the offsets place, in creation order
  std::map<std::string, std::size_t> tensor_blocks;     // intermediate tensor -> its block
  std::map<std::string, std::size_t> workspace_blocks;  // node name -> its scratch block
  int64_t arena_bytes = 0;
  int64_t lower_bound_bytes = 0;  // max over steps of the bytes alive at that step
  int64_t no_reuse_bytes = 0;     // sum of all intermediates and scratch
};

constexpr int64_t kAlignment = 64;

// A topological order of g's nodes (indices into g.nodes) that keeps little arena memory
// alive, built greedily: of the nodes whose producers have run, the next is the one that adds
// the fewest arena bytes (its outputs' and its scratch's, minus those of the arena tensors it
// is the last to read; graph outputs, constants and views of find_aliases count nothing, and
// a view's readers count for the tensor it shares); ties go to the earliest in g's order.
std::vector<std::size_t> memory_aware_order(const Graph& g, const Analysis& a, bool split_views = true);

// Places intermediates and scratch in one arena, in g's node order. Without reuse, each gets
// its own bytes. With reuse, tensors whose lifetimes do not overlap share memory, and a node
// whose OpDef allows it writes over an input of the same shape read for the last time; blocks
// are placed first fit and best fit in several orders (by size, size times lifetime, lifetime,
// first or last step, those alive at the busiest step first), then in size orders jittered by
// a fixed-seed generator while the arena is above lower_bound_bytes, and the smallest arena
// wins. With alias_views, reshape-like nodes (and, with split_views, contiguous Split chunks)
// cost nothing (find_aliases).
MemoryPlan plan_memory(const Graph& g, const Analysis& a, bool reuse, bool alias_views = false,
                       bool split_views = true);

struct CompileOptions;
struct CompileStats;

// -O extended: the file's order is one schedule among many, and Split chunks as views save
// copies but keep their input alive longer. Plans each combination (unless options fix it, as
// the run-time-dims path does), keeps the one that needs the least memory (ties go to the
// file's order and to views), leaves g's nodes in its order and records the choice in stats.
MemoryPlan choose_schedule(Graph& g, const Analysis& analysis, const CompileOptions& options, CompileStats& stats);

}  // namespace sofiec
