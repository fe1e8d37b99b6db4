// AttentionFusion: Softmax(Q K^T scaled) V, as exporters write attention out of primitive
// nodes, becomes one node of the compiler's domain (kernels/attention.hpp). The head split
// before it (Reshape, Transpose, Split, Squeeze, Gather of one head...) and the Transpose
// that merges heads after it become strides of that node, so none of them copies any more.
#include <algorithm>
#include <numeric>
#include <optional>

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// An operand read in place from another tensor: element idx (over the operand's dims) is
// base[offset + sum_i strides[i] * idx[i]].
struct StridedView {
  std::string base;
  int64_t offset = 0;
  std::vector<int64_t> strides;
};

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (std::size_t d = dims.size(); d-- > 1;) s[d - 1] = s[d] * dims[d];
  return s;
}

std::optional<std::vector<int64_t>> dims_of(const Graph& g, const std::string& t) {
  const ValueInfo& v = g.value(t);
  if (!v.has_shape || !is_static(v.shape)) return std::nullopt;
  return static_dims(v.shape);
}

// Index of `tensor` in base tensor coordinates: base_idx = A * idx + b, one row per base dim.
struct AffineIndex {
  std::vector<std::vector<int64_t>> a;
  std::vector<int64_t> b;
};

// Follows `tensor` back through nodes that only move elements, while each tensor on the way
// is read by one node only (so the nodes die once the view replaces them).
StridedView resolve_view(const Graph& g, const std::string& tensor) {
  const std::vector<int64_t> x_dims = *dims_of(g, tensor);
  const std::size_t rank = x_dims.size();
  AffineIndex m;
  for (std::size_t r = 0; r < rank; ++r) {
    m.a.emplace_back(rank, 0);
    m.a[r][r] = 1;
  }
  m.b.assign(rank, 0);
  std::string current = tensor;
  for (;;) {
    const int p = producer_of(g, current);
    if (p < 0 || sole_consumer(g, current) < 0) break;
    const Node& n = g.nodes[std::size_t(p)];
    if (!n.domain.empty() || !n.epilogue.empty() || n.inputs.empty() || n.inputs[0].empty()) break;
    const auto out_dims = dims_of(g, current), in_dims = dims_of(g, n.inputs[0]);
    if (!out_dims || !in_dims || g.value(n.inputs[0]).dtype != g.value(current).dtype) break;
    AffineIndex next;
    if (n.op_type == "Transpose") {
      std::vector<int64_t> perm = n.attr_ints("perm");
      if (perm.empty())
        for (std::size_t d = in_dims->size(); d-- > 0;) perm.push_back(int64_t(d));
      next.a.assign(in_dims->size(), {});
      next.b.assign(in_dims->size(), 0);
      for (std::size_t j = 0; j < perm.size(); ++j) {
        next.a[std::size_t(perm[j])] = m.a[j];
        next.b[std::size_t(perm[j])] = m.b[j];
      }
    } else if (n.op_type == "Split") {
      int64_t axis = n.attr_int("axis", 0);
      if (axis < 0) axis += int64_t(in_dims->size());
      int64_t start = 0;
      for (const std::string& o : n.outputs) {
        if (o == current) break;
        const auto od = dims_of(g, o);
        if (!od) return {};
        start += (*od)[std::size_t(axis)];
      }
      next = m;
      next.b[std::size_t(axis)] += start;
    } else if (n.op_type == "Gather" && n.inputs.size() == 2) {
      const Tensor* index = g.constant(n.inputs[1]);
      if (!index || !index->dims.empty() || index->dtype != DType::Int64) break;
      int64_t axis = n.attr_int("axis", 0);
      if (axis < 0) axis += int64_t(in_dims->size());
      int64_t i = index->data<int64_t>()[0];
      if (i < 0) i += (*in_dims)[std::size_t(axis)];
      next = m;
      next.a.insert(next.a.begin() + axis, std::vector<int64_t>(rank, 0));
      next.b.insert(next.b.begin() + axis, i);
    } else if (n.op_type == "Reshape" || n.op_type == "Flatten" || n.op_type == "Squeeze" || n.op_type == "Unsqueeze" ||
               n.op_type == "Identity") {
      // Same elements in the same order: dims of the output that split one input dim are
      // digits of that dim; an output dim that merges input dims stops the walk.
      const std::vector<int64_t>& od = *out_dims;
      const std::vector<int64_t>& id = *in_dims;
      next.a.assign(id.size(), std::vector<int64_t>(rank, 0));
      next.b.assign(id.size(), 0);
      std::size_t o = 0;
      bool linear = true;
      for (std::size_t i = 0; i < id.size() && linear; ++i) {
        if (id[i] == 1) continue;
        while (o < od.size() && od[o] == 1) ++o;
        std::vector<std::size_t> group;
        int64_t product = 1;
        while (o < od.size() && product < id[i]) {
          if (od[o] != 1) group.push_back(o), product *= od[o];
          ++o;
        }
        if (product != id[i]) {
          linear = false;
          break;
        }
        int64_t weight = 1;
        for (std::size_t k = group.size(); k-- > 0;) {
          for (std::size_t c = 0; c < rank; ++c) next.a[i][c] += weight * m.a[group[k]][c];
          next.b[i] += weight * m.b[group[k]];
          weight *= od[group[k]];
        }
      }
      if (!linear) break;
    } else {
      break;
    }
    m = std::move(next);
    current = n.inputs[0];
  }
  const std::vector<int64_t> base_strides = row_major_strides(*dims_of(g, current));
  StridedView v{current, 0, std::vector<int64_t>(rank, 0)};
  for (std::size_t r = 0; r < base_strides.size(); ++r) {
    v.offset += base_strides[r] * m.b[r];
    for (std::size_t c = 0; c < rank; ++c) v.strides[c] += base_strides[r] * m.a[r][c];
  }
  return v;
}

// The scale of scores -> (Div or Mul by a one-element float constant), if `n` is that.
std::optional<std::pair<float, bool>> score_scale(const Graph& g, const Node& n, const std::string& scores) {
  if (!n.domain.empty() || (n.op_type != "Div" && n.op_type != "Mul") || n.inputs.size() != 2) return std::nullopt;
  const bool divide = n.op_type == "Div";
  if (divide && n.inputs[0] != scores) return std::nullopt;
  const std::string& other = n.inputs[0] == scores ? n.inputs[1] : n.inputs[0];
  const Tensor* c = float_constant(g, other);
  if (!c || c->size() != 1 || other == scores) return std::nullopt;
  return std::make_pair(c->data<float>()[0], divide);
}

std::vector<int64_t> batch_then(const std::vector<int64_t>& strides, std::size_t batch_rank) {
  std::vector<int64_t> s(4 - batch_rank, 0);
  s.insert(s.end(), strides.begin(), strides.end());
  return s;
}

class AttentionFusion : public Pass {
 public:
  const char* name() const override { return "AttentionFusion"; }
  int run(Graph& g, Analysis&) override {
    int fused = 0;
    for (std::size_t i = 0; i < g.nodes.size();) {
      if (fuse_at(g, i)) {
        ++fused;  // node i is gone: look at its successor, now at i
      } else {
        ++i;
      }
    }
    return fused;
  }

 private:
  // Fuses the chain whose first MatMul (Q x K^T) is node i.
  static bool fuse_at(Graph& g, std::size_t i) {
    const Node& qk = g.nodes[i];
    if (qk.op_type != "MatMul" || !qk.domain.empty() || !qk.epilogue.empty() || qk.inputs.size() != 2) return false;
    const auto q = dims_of(g, qk.inputs[0]), kt = dims_of(g, qk.inputs[1]);
    if (!q || !kt || q->size() < 2 || q->size() > 6 || kt->size() != q->size() ||
        g.value(qk.inputs[0]).dtype != DType::Float)
      return false;
    const std::size_t batch_rank = q->size() - 2;
    if (!std::equal(q->begin(), q->begin() + std::ptrdiff_t(batch_rank), kt->begin())) return false;
    std::string scores = qk.outputs[0];
    int next = sole_consumer(g, scores);
    float scale = 1.f;
    bool divide = false;
    std::vector<std::size_t> chain = {i};
    if (next >= 0) {
      if (auto s = score_scale(g, g.nodes[std::size_t(next)], scores)) {
        std::tie(scale, divide) = *s;
        chain.push_back(std::size_t(next));
        scores = g.nodes[std::size_t(next)].outputs[0];
        next = sole_consumer(g, scores);
      }
    }
    if (next < 0) return false;
    const Node& softmax = g.nodes[std::size_t(next)];
    const int64_t rank = int64_t(q->size());
    int64_t axis = softmax.attr_int("axis", g.opset() >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    if (softmax.op_type != "Softmax" || !softmax.domain.empty() || !softmax.epilogue.empty() || axis != rank - 1)
      return false;
    chain.push_back(std::size_t(next));
    const std::string probs = softmax.outputs[0];
    const int pv_index = sole_consumer(g, probs);
    if (pv_index < 0) return false;
    const Node& pv = g.nodes[std::size_t(pv_index)];
    if (pv.op_type != "MatMul" || !pv.domain.empty() || !pv.epilogue.empty() || pv.inputs.size() != 2 ||
        pv.inputs[0] != probs || pv.inputs[1] == probs)
      return false;
    const auto v = dims_of(g, pv.inputs[1]), y = dims_of(g, pv.outputs[0]);
    if (!v || !y || v->size() != q->size() ||
        !std::equal(q->begin(), q->begin() + std::ptrdiff_t(batch_rank), v->begin()) ||
        (*v)[batch_rank] != (*kt)[batch_rank + 1] || g.value(pv.inputs[1]).dtype != DType::Float)
      return false;
    if (batch_rank > 4) return false;
    for (const auto* dims : {&*q, &*kt, &*v})
      if (std::find(dims->begin(), dims->end(), 0) != dims->end()) return false;  // empty: nothing to fuse

    // The output: in place of the Transpose that merges heads, when one follows.
    std::string out = pv.outputs[0];
    std::vector<int64_t> y_strides = row_major_strides(*y);
    const int t = sole_consumer(g, out);
    std::optional<std::size_t> merge;
    if (t >= 0 && g.nodes[std::size_t(t)].op_type == "Transpose" && g.nodes[std::size_t(t)].domain.empty() &&
        g.nodes[std::size_t(t)].epilogue.empty()) {
      const Node& tr = g.nodes[std::size_t(t)];
      std::vector<int64_t> perm = tr.attr_ints("perm");
      if (perm.empty())
        for (std::size_t d = y->size(); d-- > 0;) perm.push_back(int64_t(d));
      if (const auto z = dims_of(g, tr.outputs[0])) {
        const std::vector<int64_t> zs = row_major_strides(*z);
        for (std::size_t j = 0; j < perm.size(); ++j) y_strides[std::size_t(perm[j])] = zs[j];
        out = tr.outputs[0];
        merge = std::size_t(t);
      }
    }

    const StridedView qv = resolve_view(g, qk.inputs[0]), kv = resolve_view(g, qk.inputs[1]),
                      vv = resolve_view(g, pv.inputs[1]);
    if (qv.base.empty() || kv.base.empty() || vv.base.empty()) return false;
    Node fused;
    fused.name = pv.name + "/attention";
    fused.op_type = "ScaledDotAttention";
    fused.domain = kSofiecDomain;
    fused.inputs = {qv.base, kv.base, vv.base};
    fused.outputs = {out};
    std::vector<int64_t> batch(4 - batch_rank, 1);
    batch.insert(batch.end(), q->begin(), q->begin() + std::ptrdiff_t(batch_rank));
    fused.attributes["batch"] = ints_attribute(batch);
    fused.attributes["sizes"] =
        ints_attribute({(*q)[batch_rank], (*kt)[batch_rank + 1], (*q)[batch_rank + 1], (*v)[batch_rank + 1]});
    fused.attributes["offsets"] = ints_attribute({qv.offset, kv.offset, vv.offset});
    fused.attributes["q_strides"] = ints_attribute(batch_then(qv.strides, batch_rank));
    fused.attributes["k_strides"] = ints_attribute(batch_then(kv.strides, batch_rank));
    fused.attributes["v_strides"] = ints_attribute(batch_then(vv.strides, batch_rank));
    fused.attributes["y_strides"] = ints_attribute(batch_then(y_strides, batch_rank));
    fused.attributes["output_shape"] = ints_attribute(*dims_of(g, out));
    fused.attributes["scale"] = float_attribute(scale);
    fused.attributes["divide"] = int_attribute(divide);

    // The fused node takes the place of the second MatMul; the rest of the chain goes.
    std::vector<std::size_t> gone = chain;
    if (merge) gone.push_back(*merge);
    g.nodes[std::size_t(pv_index)] = std::move(fused);
    std::sort(gone.rbegin(), gone.rend());
    for (std::size_t k : gone) g.nodes.erase(g.nodes.begin() + std::ptrdiff_t(k));
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> make_attention_fusion() { return std::make_unique<AttentionFusion>(); }

}  // namespace sofiec
