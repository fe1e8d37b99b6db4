// ConvWinograd: a 3x3 stride-1 convolution with constant weights becomes the compiler's
// WinogradConv (kernels/winograd.hpp): F(4x4, 3x3), 36 products per 4x4 outputs and input
// channel instead of 144, or F(2x2, 3x3), 16 per 2x2 instead of 36. F(4x4)'s transformed
// filters U are stored (transformed here, once) where the weights have room for them, 4 times
// the 3x3 ones; elsewhere its 3x3 taps are stored and U computed at run time, where the
// planes fill F(4x4)'s tiles; F(2x2)'s U (16/9 of the taps) is stored.
#include <algorithm>
#include <set>

#include "kernels.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace sofiec {
namespace {

// Below this many 2x2 output tiles per image the 16 products are too narrow for the BLAS
// and the transformed filters (16/9 of the size) cost more to read than the products save
// (resnet18 at 7x7: 16 tiles).
constexpr int64_t kMinTiles = 32;
// Fewer input channels or filters: the products are too short to pay for the transforms
// (MNIST CNN's 16 -> 32 channels at 14x14 still gains over im2col in F(4x4)).
constexpr int64_t kMinChannels = 16;
constexpr int64_t kMinFilters = 8;

// U = G g G^T for each (filter, channel), laid out [t^2][filters][channels] (t = tile + 2), or
// with `panels` [t^2][filters / 32][channels][32], panels of 32 filters for the products with
// the filters in the lanes. G as the kernel's winograd_g_row, computed in double.
template <int M> Tensor transformed_filters(const Tensor& w, bool panels) {
  constexpr int t = M + 2;
  const int64_t filters = w.dims[0], channels = w.dims[1];
  Tensor u(DType::Float, panels ? std::vector<int64_t>{int64_t(t) * t, filters / 32, channels, 32}
                                : std::vector<int64_t>{int64_t(t) * t, filters, channels});
  for (int64_t f = 0; f < filters; ++f)
    for (int64_t c = 0; c < channels; ++c) {
      const float* g = w.data<float>() + (f * channels + c) * 9;
      double gg[t][3];  // G g
      for (int i = 0; i < t; ++i)
        for (int j = 0; j < 3; ++j)
          rt::winograd_g_row<M, double>(i, double(g[j]), double(g[3 + j]), double(g[6 + j]), gg[i][j]);
      for (int i = 0; i < t; ++i)
        for (int j = 0; j < t; ++j) {
          double v;
          rt::winograd_g_row<M, double>(j, gg[i][0], gg[i][1], gg[i][2], v);
          const int64_t k = t * i + j;
          const int64_t at =
              panels ? ((k * filters + f / 32 * 32) * channels + c * 32 + f % 32) : (k * filters + f) * channels + c;
          u.data<float>()[at] = float(v);
        }
    }
  return u;
}

// The 3x3 taps for U computed at run time, by vectors of U's layout (the vector at offset o of
// one position's U: its 16 values' 9 taps at [o / 16][9][16]): [filters, channels / 16, 9, 16],
// or with `panels` [filters / 32, channels, 2, 9, 16].
Tensor filter_taps(const Tensor& w, bool panels) {
  const int64_t filters = w.dims[0], channels = w.dims[1];
  Tensor taps(DType::Float, panels ? std::vector<int64_t>{filters / 32, channels, 2, 9, 16}
                                   : std::vector<int64_t>{filters, channels / 16, 9, 16});
  for (int64_t f = 0; f < filters; ++f)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t at = panels ? (f / 32 * 32) * channels + c * 32 + f % 32 : f * channels + c;  // in U_k
      for (int k = 0; k < 9; ++k)
        taps.data<float>()[(at / 16 * 9 + k) * 16 + at % 16] = w.data<float>()[(f * channels + c) * 9 + k];
    }
  return taps;
}

// Stored F(4x4) U for the convolutions with the largest planes first (the most products saved
// per byte of filters) while each one's U stays under 3 MiB and the model's weights within 30%
// above their size as written. Its U is 4 times the 3x3 filters (F(2x2): 16/9), and the memory
// target is half of ONNX Runtime's RSS: resnet18 takes it in layers 1 and 2 (not 3, whose U
// would be 9.4 MB per conv; with 25% the last conv of layer 2 would stay in the slower
// F(2x2)); the UNet in its first two 32x32 convolutions, the others computing U from their
// taps.
constexpr int64_t kMaxLargeTileFilterBytes = 3 << 20;
constexpr double kMaxWeightGrowth = 1.3;

class ConvWinograd : public Pass {
 public:
  const char* name() const override { return "ConvWinograd"; }
  int run(Graph& g, Analysis&) override {
    std::vector<std::size_t> convs;
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      if (eligible(g, g.nodes[i])) convs.push_back(i);
    const std::vector<Form> forms = choose_forms(g, convs);
    for (std::size_t c = 0; c < convs.size(); ++c) {
      Node& n = g.nodes[convs[c]];
      const std::vector<int64_t> pads = n.attr_ints("pads", {0, 0, 0, 0});
      const Tensor& w = *g.constant(n.inputs[1]);
      const Form form = forms[c];
      const bool panels = filters_in_lanes(g, n, w, form.tile);
      const std::string u = add_fresh_constant(g, n.name + (form.runtime ? "/winograd_taps" : "/winograd_filters"),
                                               form.runtime     ? filter_taps(w, panels)
                                               : form.tile == 4 ? transformed_filters<4>(w, panels)
                                                                : transformed_filters<2>(w, panels));
      n.op_type = "WinogradConv";
      n.domain = kSofiecDomain;
      n.inputs[1] = u;
      n.attributes.clear();
      n.attributes["pads"] = ints_attribute(pads);
      if (form.runtime) n.attributes["tile"] = int_attribute(form.tile);
    }
    return int(convs.size());
  }

 private:
  // The products' orientation. With the tiles in the lanes a block's products are panels of 32
  // tiles; with the filters in the lanes, panels of 32 filters and blocks of 6 tiles, and the
  // output transform pays a 16x16 transpose per output of 16 tiles and 16 filters. The
  // filters go in the lanes where the block's tiles leave a panel part-filled, and fill their
  // own panels (resnet18's 256 filters at 14x14, 49 tiles; MNIST's 32 at 14x14, 16 tiles, in
  // panels of one vector; 112 tiles of 128 filters); where the tiles fill whole panels (the
  // UNet's 32 and 64 filters over 64 tiles), the tiles in the lanes measured faster.
  static bool filters_in_lanes(const Graph& g, const Node& n, const Tensor& w, int tile) {
    const rt::WinogradGeometry geometry = geometry_of(g, n, w, tile);
    return geometry.filters % 32 == 0 && geometry.block_tiles() % 32 != 0;
  }

  struct Form {
    int tile = 2;
    bool runtime = false;  // U computed from the stored taps
  };

  static rt::WinogradGeometry geometry_of(const Graph& g, const Node& n, const Tensor& w, int tile) {
    const ValueInfo& x = g.value(n.inputs[0]);
    const ValueInfo& y = g.value(n.outputs[0]);
    rt::WinogradGeometry geometry{
        w.dims[1], w.dims[0], x.shape[2].value, x.shape[3].value, y.shape[2].value, y.shape[3].value, 0, 0, tile};
    geometry.batch = x.shape[0].value;
    return geometry;
  }

  // F(4x4) with U computed at run time, where its tiles cover the planes with little waste
  // (at most 0.6 of F(2x2)'s products: 16x16 planes 0.56, 14x14 ones, padded to 16x16, 0.73)
  // and the taps make whole vectors of U. It costs about 2 operations per value of U for each
  // block of tiles: somewhat slower than stored U, well ahead of F(2x2) (the UNet's 32 -> 32
  // channels at 32x32, 64 -> 64 at 16x16).
  static bool runtime_large_tile(const Graph& g, const Node& n, const Tensor& w) {
    const rt::WinogradGeometry small = geometry_of(g, n, w, 2), large = geometry_of(g, n, w, 4);
    const bool whole_vectors = large.channels % 16 == 0 || filters_in_lanes(g, n, w, 4);
    return whole_vectors && 36 * large.tiles() <= 0.6 * 16 * double(small.tiles());
  }

  // Each convolution's fallback is F(4x4) from the taps where that pays (the size of the
  // weights as written), else F(2x2) with its U (7/9 above); then stored F(4x4) for the largest
  // planes first while the weights stay within the budget.
  static std::vector<Form> choose_forms(const Graph& g, const std::vector<std::size_t>& convs) {
    int64_t weights = read_constant_bytes(g);
    const double budget = kMaxWeightGrowth * double(weights);
    std::vector<Form> forms(convs.size());
    std::vector<int64_t> filter_floats(convs.size()), plane(convs.size());
    std::vector<std::size_t> order(convs.size());
    for (std::size_t c = 0; c < convs.size(); ++c) {
      const Node& n = g.nodes[convs[c]];
      const Tensor& w = *g.constant(n.inputs[1]);
      filter_floats[c] = w.dims[0] * w.dims[1];
      const ValueInfo& y = g.value(n.outputs[0]);
      plane[c] = y.shape[2].value * y.shape[3].value;
      if (runtime_large_tile(g, n, w)) forms[c] = Form{4, true};
      else weights += (16 - 9) * filter_floats[c] * int64_t(sizeof(float));
      order[c] = c;
    }
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return plane[a] > plane[b]; });
    for (std::size_t c : order) {
      const int64_t held = (forms[c].runtime ? 9 : 16) * filter_floats[c] * int64_t(sizeof(float));
      const int64_t bytes = 36 * filter_floats[c] * int64_t(sizeof(float)), extra = bytes - held;
      if (bytes > kMaxLargeTileFilterBytes || double(weights + extra) > budget) continue;
      forms[c] = Form{4, false};
      weights += extra;
    }
    return forms;
  }

  // The constants some node or the graph's outputs still read: the weights the code will hold.
  // Earlier rewrites leave the constants they replaced (a Gemm's weights before
  // GemmWeightTranspose) until dead node elimination, and those would inflate the budget
  // (resnet18 at batch 8: its 2 MB classifier twice).
  static int64_t read_constant_bytes(const Graph& g) {
    std::set<std::string> read(g.outputs.begin(), g.outputs.end());
    for (const Node& n : g.nodes) read.insert(n.inputs.begin(), n.inputs.end());
    int64_t bytes = 0;
    for (const auto& [name, t] : g.constants)
      if (read.count(name)) bytes += t.size() * int64_t(dtype_size(t.dtype));
    return bytes;
  }

  static bool eligible(const Graph& g, const Node& n) {
    if (!unit_stride_dense_conv(n)) return false;
    const Tensor* w = float_constant(g, n.inputs.at(1));
    if (!w || w->dims.size() != 4 || w->dims[2] != 3 || w->dims[3] != 3) return false;
    if (n.has_input(2) && !float_constant(g, n.inputs[2])) return false;
    const ValueInfo& x = g.value(n.inputs[0]);
    const ValueInfo& y = g.value(n.outputs[0]);
    if (!x.has_shape || !y.has_shape || !is_static(x.shape) || !is_static(y.shape) || x.shape.size() != 4) return false;
    if (x.dtype != DType::Float) return false;
    const std::vector<int64_t> pads = n.attr_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) return false;
    for (int64_t p : pads)
      if (p < 0 || p > 2) return false;
    const rt::WinogradGeometry geometry{w->dims[1],       w->dims[0],       x.shape[2].value, x.shape[3].value,
                                        y.shape[2].value, y.shape[3].value, pads[0],          pads[1]};
    if (geometry.out_h != geometry.in_h + pads[0] + pads[2] - 2 ||
        geometry.out_w != geometry.in_w + pads[1] + pads[3] - 2)
      return false;
    return geometry.tiles() >= kMinTiles && geometry.channels >= kMinChannels && geometry.filters >= kMinFilters;
  }
};

}  // namespace

std::unique_ptr<Pass> make_conv_winograd() { return std::make_unique<ConvWinograd>(); }

}  // namespace sofiec
