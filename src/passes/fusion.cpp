// Fusion: BatchNormalization and bias Adds folded into the weights of the Conv before them,
// MatMul + bias Add into Gemm, and chains of elementwise activations into the epilogue of the
// Conv / Gemm / MatMul that produces their input.
#include <algorithm>
#include <cmath>
#include <optional>

#include "kernels.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

bool is_plain_conv(const Graph& g, const Node& n) {
  return n.op_type == "Conv" && n.domain.empty() && n.epilogue.empty() && float_constant(g, n.inputs.at(1)) &&
         (!n.has_input(2) || float_constant(g, n.inputs[2]));
}

// The conv's bias as doubles (zeros when it has none).
std::vector<double> conv_bias(const Graph& g, const Node& conv, int64_t filters) {
  std::vector<double> b(std::size_t(filters), 0.0);
  if (conv.has_input(2))
    for (int64_t m = 0; m < filters; ++m) b[std::size_t(m)] = g.constant(conv.inputs[2])->data<float>()[m];
  return b;
}

// The BatchNormalization that alone reads `tensor` (inference mode, constant float parameters
// for `channels` channels, no extra outputs) as y = x * scale[c] + shift[c].
struct AffineBatchNorm {
  std::size_t index;
  std::vector<double> scale, shift;
};

std::optional<AffineBatchNorm> foldable_batch_norm(const Graph& g, const std::string& tensor, int64_t channels) {
  const int j = sole_consumer(g, tensor);
  if (j < 0) return std::nullopt;
  const Node& bn = g.nodes[std::size_t(j)];
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.attr_int("training_mode", 0) != 0 ||
      bn.attr_int("spatial", 1) == 0 || bn.inputs.size() < 5 || bn.inputs[0] != tensor)
    return std::nullopt;
  for (std::size_t k = 1; k < bn.outputs.size(); ++k)
    if (!bn.outputs[k].empty()) return std::nullopt;
  const Tensor *gamma = float_constant(g, bn.inputs[1]), *beta = float_constant(g, bn.inputs[2]),
               *mean = float_constant(g, bn.inputs[3]), *var = float_constant(g, bn.inputs[4]);
  if (!gamma || !beta || !mean || !var || gamma->size() != channels || beta->size() != channels ||
      mean->size() != channels || var->size() != channels)
    return std::nullopt;
  const double eps = bn.attr_float("epsilon", 1e-5f);
  AffineBatchNorm a{std::size_t(j), {}, {}};
  for (int64_t c = 0; c < channels; ++c) {
    const double k = double(gamma->data<float>()[c]) / std::sqrt(double(var->data<float>()[c]) + eps);
    a.scale.push_back(k);
    a.shift.push_back(double(beta->data<float>()[c]) - double(mean->data<float>()[c]) * k);
  }
  return a;
}

// Gives the conv new weights and bias (new constants: the old ones may be shared) and makes it
// write `output`, removing the node at `absorbed`.
void rewrite_conv(Graph& g, std::size_t conv_index, Tensor w, const std::vector<double>& bias, std::size_t absorbed,
                  const std::string& output) {
  Node& conv = g.nodes[conv_index];
  Tensor b(DType::Float, {int64_t(bias.size())});
  for (std::size_t m = 0; m < bias.size(); ++m) b.data<float>()[m] = float(bias[m]);
  conv.inputs.resize(3);
  conv.inputs[1] = add_fresh_constant(g, conv.name + "/fused_weight", std::move(w));
  conv.inputs[2] = add_fresh_constant(g, conv.name + "/fused_bias", std::move(b));
  conv.outputs[0] = output;
  g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(absorbed));
}

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
        for (int64_t e = 0; e < per_filter; ++e) w.data<float>()[m * per_filter + e] = float(w.data<float>()[m * per_filter + e] * k);
        bias[std::size_t(m)] = bias[std::size_t(m)] * k + bn->shift[std::size_t(m)];
      }
      const std::string output = g.nodes[bn->index].outputs[0];
      rewrite_conv(g, i, std::move(w), bias, bn->index, output);
      ++fused;
    }
    return fused;
  }
};

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
      if (!c || c->size() != n || (c->dims != std::vector<int64_t>{n} && c->dims != std::vector<int64_t>{1, n})) continue;
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

// Gemm with a constant B and two rows or more: B is stored, transposed at generation time where
// it must be, in the layout its kernel reads directly. The register-blocked kernel reads
// [K, N] (given [N, K] it would transpose a panel of B on every call); products of at most
// kDotColumns columns (A not transposed) are dot products of A's rows with B's columns in
// gemm_dot_rows, which reads [N, K] (a classifier's last layer: torch writes it so, Keras's
// MatMul + Add as [K, N]). One row is left as the exporter wrote it: it is
// SingleRowGemmSkippingZeros's case (zero_skipping.cpp), and where that pass does not take
// it, kernels/gemm.hpp's gemv_rows reads [N, K] and [K, N] is read row by row.
class GemmWeightTranspose : public Pass {
 public:
  const char* name() const override { return "GemmWeightTranspose"; }
  int run(Graph& g, Analysis&) override {
    int changed = 0;
    for (Node& n : g.nodes) {
      if (n.op_type != "Gemm" || !n.domain.empty() || n.inputs.size() < 2) continue;
      const Tensor* b = float_constant(g, n.inputs[1]);
      const ValueInfo& a = g.value(n.inputs[0]);
      if (!b || b->dims.size() != 2 || !a.has_shape || a.shape.size() != 2 || !is_static(a.shape)) continue;
      const bool trans_a = n.attr_int("transA", 0) != 0, trans_b = n.attr_int("transB", 0) != 0;
      const int64_t rows = trans_a ? a.shape[1].value : a.shape[0].value;
      const int64_t columns = trans_b ? b->dims[0] : b->dims[1];
      const bool dot_products = !trans_a && columns <= rt::kDotColumns;
      if (rows < 2 || trans_b == dot_products) continue;
      n.inputs[1] = add_fresh_constant(g, n.name + (dot_products ? "/weight_columns" : "/weight_transposed"),
                                       transposed_matrices(*b));
      n.attributes["transB"] = int_attribute(dot_products ? 1 : 0);
      ++changed;
    }
    return changed;
  }
};

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
        if (!next_def || !next_def->unary_functor || next.outputs.size() != 1 || g.value(next.outputs[0]).dtype != t) break;
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

std::unique_ptr<Pass> make_conv_batch_norm_fusion() { return std::make_unique<ConvBatchNormFusion>(); }
std::unique_ptr<Pass> make_gemm_batch_norm_fusion() { return std::make_unique<GemmBatchNormFusion>(); }
std::unique_ptr<Pass> make_conv_add_fusion() { return std::make_unique<ConvAddFusion>(); }
std::unique_ptr<Pass> make_matmul_add_fusion() { return std::make_unique<MatMulAddFusion>(); }
std::unique_ptr<Pass> make_gemm_weight_transpose() { return std::make_unique<GemmWeightTranspose>(); }
std::unique_ptr<Pass> make_recurrent_weight_transpose() { return std::make_unique<RecurrentWeightTranspose>(); }
std::unique_ptr<Pass> make_epilogue_fusion() { return std::make_unique<EpilogueFusion>(); }

}  // namespace sofiec
