// EdgeConvFactorization: the first linear layer of an EdgeConv (DGCNN, ParticleNet) applied
// per point instead of per edge. Exporters write the edge features of point i and its k
// neighbours j as
//   T [B, P, C] (the points' features)
//   centre    = Expand(Unsqueeze(T, 2), [B, P, K, C])
//   neighbour = Reshape(Gather(Reshape(T, [B * P, C]), indices, axis 0), [B, P, K, C])
//   edges     = Concat of two of {centre, neighbour, neighbour - centre} on axis 3
//   y         = Conv 1x1 (W [F, 2C, 1, 1], bias) of Transpose(edges, [0, 3, 1, 2])
// W splits into the blocks that read each Concat input, so y = C x_i + N x_j + bias with C and
// N sums of those blocks (neighbour - centre adds its block to N and subtracts it from C).
// In its place: a MatMul of T by [C | N]^T (2F values per point, once per point) and the
// compiler's EdgeConvGather, which adds each edge's centre and neighbour values. The products
// shrink by a factor of K: written per edge, ParticleNet's second and third EdgeConv layers
// (K = 16) are a third of its multiply-adds.
#include <algorithm>

#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

const Node* producer(const Graph& g, const std::string& tensor) {
  const int p = producer_of(g, tensor);
  return p < 0 ? nullptr : &g.nodes[std::size_t(p)];
}

bool is_default(const Node* n, const char* op) { return n && n->domain.empty() && n->op_type == op; }

std::vector<int64_t> dims_of(const Graph& g, const std::string& tensor) {
  const ValueInfo& v = g.value(tensor);
  if (v.dtype != DType::Float || !v.has_shape || !is_static(v.shape)) return {};
  return static_dims(v.shape);
}

// The reshape-like node `tensor` comes from, when it only regroups the dims of a [B, P, C]
// tensor; that tensor's name, or "".
std::string regrouped_points(const Graph& g, const std::string& tensor, int64_t b, int64_t p, int64_t c) {
  const Node* n = producer(g, tensor);
  if (!n || !n->domain.empty() || n->inputs.empty()) return "";
  if (n->op_type != "Reshape" && n->op_type != "Unsqueeze" && n->op_type != "Flatten") return "";
  return dims_of(g, n->inputs[0]) == std::vector<int64_t>{b, p, c} ? n->inputs[0] : "";
}

enum class Role { Centre, Neighbour, Difference };

struct EdgeMatch {
  int64_t batch = 0, points = 0, k = 0, channels = 0;
  std::string points_tensor;  // T [B, P, C]
  std::string indices;
  Role roles[2] = {Role::Centre, Role::Centre};
};

class EdgeConvFactorization : public Pass {
 public:
  const char* name() const override { return "EdgeConvFactorization"; }
  int run(Graph& g, Analysis& a) override {
    int changed = 0;
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      EdgeMatch m;
      if (!pointwise_conv(g, g.nodes[i]) || !match(g, g.nodes[i], m)) continue;
      rewrite(g, i, m);
      ++i;  // past the inserted product
      ++changed;
    }
    if (changed) make_dead_node_elimination()->run(g, a);  // the Gather, Expand, Sub, Concat, Transpose
    return changed;
  }

 private:
  static bool pointwise_conv(const Graph& g, const Node& n) {
    if (!unit_stride_dense_conv(n)) return false;
    const Tensor* w = float_constant(g, n.inputs.at(1));
    if (!w || w->dims.size() != 4 || w->dims[2] != 1 || w->dims[3] != 1 || w->dims[1] % 2 != 0) return false;
    if (n.has_input(2) && !float_constant(g, n.inputs[2])) return false;
    const auto pads = n.attr_ints("pads", {0, 0, 0, 0});
    return std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
  }

  // The Transpose, Concat and the two edge-feature inputs behind conv's input.
  static bool match(const Graph& g, const Node& conv, EdgeMatch& m) {
    const Node* transpose = producer(g, conv.inputs[0]);
    if (!is_default(transpose, "Transpose") || transpose->attr_ints("perm") != std::vector<int64_t>{0, 3, 1, 2})
      return false;
    if (sole_consumer(g, conv.inputs[0]) < 0) return false;
    const Node* concat = producer(g, transpose->inputs[0]);
    if (!is_default(concat, "Concat") || concat->inputs.size() != 2 || sole_consumer(g, transpose->inputs[0]) < 0)
      return false;
    const std::vector<int64_t> edges = dims_of(g, concat->outputs[0]);
    if (edges.size() != 4) return false;
    const int64_t axis = concat->attr_int("axis", 0);
    if (axis != 3 && axis != -1) return false;
    m.batch = edges[0], m.points = edges[1], m.k = edges[2], m.channels = edges[3] / 2;
    const std::vector<int64_t> part{m.batch, m.points, m.k, m.channels};
    if (g.constant(conv.inputs[1])->dims[1] != 2 * m.channels) return false;
    bool any_neighbour = false;
    for (int s = 0; s < 2; ++s) {
      const std::string& input = concat->inputs[std::size_t(s)];
      if (dims_of(g, input) != part) return false;
      if (centre(g, input, m)) {
        m.roles[s] = Role::Centre;
      } else if (neighbour(g, input, m)) {
        m.roles[s] = Role::Neighbour;
      } else {
        const Node* sub = producer(g, input);
        if (!is_default(sub, "Sub") || sub->inputs.size() != 2 || !neighbour(g, sub->inputs[0], m) ||
            !centre(g, sub->inputs[1], m))
          return false;
        m.roles[s] = Role::Difference;
      }
      any_neighbour = any_neighbour || m.roles[s] != Role::Centre;
    }
    return any_neighbour;
  }

  // Agrees on T with what m already holds (or sets it).
  static bool same_points(const std::string& t, EdgeMatch& m) {
    if (t.empty() || (!m.points_tensor.empty() && m.points_tensor != t)) return false;
    m.points_tensor = t;
    return true;
  }

  // Expand(regrouped T [B, P, 1, C]) to [B, P, K, C].
  static bool centre(const Graph& g, const std::string& tensor, EdgeMatch& m) {
    const Node* expand = producer(g, tensor);
    if (!is_default(expand, "Expand") || dims_of(g, tensor) != std::vector<int64_t>{m.batch, m.points, m.k, m.channels})
      return false;
    if (dims_of(g, expand->inputs[0]) != std::vector<int64_t>{m.batch, m.points, 1, m.channels}) return false;
    return same_points(regrouped_points(g, expand->inputs[0], m.batch, m.points, m.channels), m);
  }

  // Reshape(Gather(regrouped T [B * P, C], indices, axis 0)) to [B, P, K, C].
  static bool neighbour(const Graph& g, const std::string& tensor, EdgeMatch& m) {
    const Node* reshape = producer(g, tensor);
    if (!is_default(reshape, "Reshape") ||
        dims_of(g, tensor) != std::vector<int64_t>{m.batch, m.points, m.k, m.channels})
      return false;
    const Node* gather = producer(g, reshape->inputs[0]);
    if (!is_default(gather, "Gather") || gather->attr_int("axis", 0) != 0) return false;
    if (dims_of(g, gather->inputs[0]) != std::vector<int64_t>{m.batch * m.points, m.channels}) return false;
    const ValueInfo& idx = g.value(gather->inputs[1]);
    if ((idx.dtype != DType::Int32 && idx.dtype != DType::Int64) || !idx.has_shape || !is_static(idx.shape) ||
        element_count(static_dims(idx.shape)) != m.batch * m.points * m.k)
      return false;
    if (!m.indices.empty() && m.indices != gather->inputs[1]) return false;
    if (!same_points(regrouped_points(g, gather->inputs[0], m.batch, m.points, m.channels), m)) return false;
    m.indices = gather->inputs[1];
    return true;
  }

  // Inserts the per-point product, MatMul(T, [C | N]^T) to [B, P, 2F], before node i, which
  // becomes the EdgeConvGather.
  static void rewrite(Graph& g, std::size_t i, const EdgeMatch& m) {
    const Node conv = g.nodes[i];
    const Tensor& w = *g.constant(conv.inputs[1]);
    const int64_t filters = w.dims[0], c = m.channels;
    Tensor products(DType::Float, {c, 2 * filters});
    for (int64_t o = 0; o < filters; ++o)
      for (int64_t ch = 0; ch < c; ++ch) {
        double centre = 0, neighbour = 0;
        for (int s = 0; s < 2; ++s) {
          const double v = w.data<float>()[o * 2 * c + s * c + ch];
          if (m.roles[s] == Role::Centre) centre += v;
          else neighbour += v;
          if (m.roles[s] == Role::Difference) centre -= v;
        }
        products.data<float>()[ch * 2 * filters + o] = float(centre);
        products.data<float>()[ch * 2 * filters + filters + o] = float(neighbour);
      }
    const std::string per_point = fresh_name(g, conv.outputs[0] + "/per_point");
    g.values[per_point] = ValueInfo{DType::Float, to_shape({m.batch, m.points, 2 * filters}), true};
    Node product;
    product.name = conv.name + "/per_point";
    product.op_type = "MatMul";
    product.inputs = {m.points_tensor, add_fresh_constant(g, conv.name + "/per_point_weights", std::move(products))};
    product.outputs = {per_point};

    Node& gather = g.nodes[i];
    gather.op_type = "EdgeConvGather";
    gather.domain = kSofiecDomain;
    gather.inputs = {per_point, m.indices};
    if (conv.has_input(2)) gather.inputs.push_back(conv.inputs[2]);
    gather.attributes.clear();
    g.nodes.insert(g.nodes.begin() + std::ptrdiff_t(i), std::move(product));
  }
};

}  // namespace

std::unique_ptr<Pass> make_edge_conv_factorization() { return std::make_unique<EdgeConvFactorization>(); }

}  // namespace sofiec
