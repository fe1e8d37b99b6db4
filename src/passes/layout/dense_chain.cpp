// DenseChainFusion (--target cuda, `extended`): runs of small dense layers into one DenseChain.
#include <cstring>
#include <optional>

#include "ops/dense_chain.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// A product by constant weights that can be a layer of a chain: Gemm (A not transposed,
// alpha 1, a bias row of beta 1) or MatMul (either domain) by a constant matrix, with a bias
// row or none, on float rows whose last axis is the product's K.
struct Layer {
  std::size_t node;
  int64_t k = 0, n = 0;
  const Tensor* w = nullptr;
  bool w_transposed = false;  // W stored [N, K]
  const Tensor* bias = nullptr;
};

std::optional<Layer> as_layer(const Graph& g, std::size_t i) {
  const Node& n = g.nodes[i];
  const bool gemm = n.op_type == "Gemm" && n.domain.empty();
  const bool matmul = n.op_type == "MatMul" && (n.domain.empty() || n.domain == kSofiecDomain);
  if ((!gemm && !matmul) || n.inputs.size() < 2 || n.outputs.size() != 1) return std::nullopt;
  const ValueInfo& a = g.value(n.inputs[0]);
  if (a.dtype != DType::Float || !a.has_shape || a.shape.empty() || !is_static(a.shape)) return std::nullopt;
  if (gemm && (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.f) != 1.f || a.shape.size() != 2))
    return std::nullopt;
  Layer l;
  l.node = i;
  l.w = float_constant(g, n.inputs[1]);
  if (!l.w || l.w->dtype != DType::Float || l.w->dims.size() != 2) return std::nullopt;
  l.w_transposed = gemm && n.attr_int("transB", 0) != 0;
  l.k = l.w->dims[l.w_transposed ? 1 : 0];
  l.n = l.w->dims[l.w_transposed ? 0 : 1];
  if (a.shape.back().value != l.k) return std::nullopt;
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    l.bias = float_constant(g, n.inputs[2]);
    if (!l.bias || l.bias->dtype != DType::Float || l.bias->size() != l.n ||
        (l.bias->dims != std::vector<int64_t>{l.n} && l.bias->dims != std::vector<int64_t>{1, l.n}) ||
        (gemm && n.attr_float("beta", 1.f) != 1.f))
      return std::nullopt;
  }
  return l;
}

// The chain's widths: K of the first layer, then N of each.
std::vector<int64_t> widths_of(const std::vector<Layer>& layers) {
  std::vector<int64_t> w{layers.front().k};
  for (const Layer& l : layers) w.push_back(l.n);
  return w;
}

// Bytes of a block's shared memory at 8 rows a block, the most the kernel puts in one.
int64_t shared_bytes(const std::vector<Layer>& layers) {
  return dense_chain_shared_floats(widths_of(layers), 8) * int64_t(sizeof(float));
}

// Gemm / MatMul (constant weights, a bias row or none, any fused activations) -> Gemm / MatMul
// reading only the first's output -> ...: one DenseChain node (templates/cuda/dense_chain.cuh)
// where the chain has two layers or more (at most 8), at most kMaxRows rows, and its weights
// fit a block's shared memory (kSharedBudget bytes: the opt-in limit of a Volta card; on a
// card with less the node throws when it first runs). Its weights become one constant: each
// layer's W as [K][N padded to 4] and its bias row, the image the kernel copies into shared
// memory. Each layer's activations go into the node's epilogue, tagged with the layer.
// A cuBLAS product of such sizes is a launch for a few thousand multiply-adds; a chain is one.
class DenseChainFusion : public Pass {
 public:
  static constexpr int64_t kMaxRows = 1024, kMaxLayers = 8, kSharedBudget = 96 * 1024;
  const char* name() const override { return "DenseChainFusion"; }
  int run(Graph& g, Analysis&) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      std::optional<Layer> first = as_layer(g, i);
      if (!first) continue;
      const Shape& x = g.value(g.nodes[i].inputs[0]).shape;
      int64_t rows = 1;
      for (std::size_t d = 0; d + 1 < x.size(); ++d) rows *= x[d].value;
      if (rows < 1 || rows > kMaxRows) continue;
      std::vector<Layer> layers{*first};
      while (int64_t(layers.size()) < kMaxLayers) {
        const int next = sole_consumer(g, g.nodes[layers.back().node].outputs[0]);
        if (next < 0 || std::size_t(next) < layers.back().node) break;
        std::optional<Layer> l = as_layer(g, std::size_t(next));
        if (!l || g.nodes[std::size_t(next)].inputs[0] != g.nodes[layers.back().node].outputs[0]) break;
        layers.push_back(*l);
        if (shared_bytes(layers) > kSharedBudget) {
          layers.pop_back();
          break;
        }
      }
      if (layers.size() < 2 || shared_bytes(layers) > kSharedBudget) continue;
      fuse(g, layers);
      ++fused;
    }
    return fused;
  }

 private:
  static void fuse(Graph& g, const std::vector<Layer>& layers) {
    const std::vector<int64_t> widths = widths_of(layers);
    Tensor blob(DType::Float, {dense_chain_blob_floats(widths)});
    float* out = blob.data<float>();
    Node chain;
    Node& head = g.nodes[layers.front().node];
    chain.name = head.name + "/dense_chain";
    chain.op_type = "DenseChain";
    chain.domain = kSofiecDomain;
    chain.inputs = {head.inputs[0]};
    chain.outputs = {g.nodes[layers.back().node].outputs[0]};
    for (std::size_t li = 0; li < layers.size(); ++li) {
      const Layer& l = layers[li];
      const int64_t p = dense_chain_padded(l.n);
      const float* w = l.w->data<float>();
      for (int64_t k = 0; k < l.k; ++k)
        for (int64_t n = 0; n < l.n; ++n) out[k * p + n] = l.w_transposed ? w[n * l.k + k] : w[k * l.n + n];
      if (l.bias) std::memcpy(out + l.k * p, l.bias->data<float>(), std::size_t(l.n) * sizeof(float));
      out += dense_chain_layer_floats(l.k, l.n);
      for (Node f : g.nodes[l.node].epilogue) {
        f.attributes["layer"] = int_attribute(int64_t(li));
        chain.epilogue.push_back(std::move(f));
      }
    }
    chain.attributes["widths"] = ints_attribute(widths);
    chain.inputs.push_back(add_fresh_constant(g, chain.name + "/weights", std::move(blob)));
    // The chain takes the first layer's place; the others go (last first: indices stay valid).
    const std::size_t at = layers.front().node;
    for (std::size_t li = layers.size(); li-- > 1;) g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(layers[li].node));
    g.nodes[at] = std::move(chain);
  }
};

}  // namespace

std::unique_ptr<Pass> make_dense_chain_fusion() { return std::make_unique<DenseChainFusion>(); }

}  // namespace sofiec
