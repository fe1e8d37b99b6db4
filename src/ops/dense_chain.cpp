// DenseChain (the compiler's domain, made by DenseChainFusion for --target cuda): a run of
// dense layers in one kernel (templates/cuda/dense_chain.cuh). Inputs: x [..., widths[0]] and
// the layers' weights as one float blob (per layer W [K][N padded to 4], then its bias row);
// attribute `widths` = [K of the first layer, N of each layer]; each epilogue node carries
// `layer`, the layer whose outputs it maps. Output [..., widths.back()].
#include <fmt/ranges.h>

#include "emit/emit_context.hpp"
#include "ops/cuda.hpp"
#include "ops/dense_chain.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

std::vector<int64_t> chain_widths(const NodeView& v) {
  const std::vector<int64_t> w = v.node().attr_ints("widths");
  if (w.size() < 2 || w.size() > 9) v.fail("a chain of 1 to 8 layers has 2 to 9 widths, got {}", w.size());
  for (int64_t n : w)
    if (n < 1 || n > (1 << 20)) v.fail("layer width {} is out of range", n);
  return w;
}

}  // namespace

void register_dense_chain_ops(Registry& r) {
  OpDef d;
  d.op_type = "DenseChain";
  d.types = "float";
  d.infer = [](const NodeView& v) {
    const std::vector<int64_t> w = chain_widths(v);
    const ValueInfo& x = v.input(0);
    if (x.dtype != DType::Float || v.input_dtype(1) != DType::Float) v.unsupported("the chain runs float32");
    if (!x.has_shape || x.shape.empty() || !x.shape.back().is_static() || x.shape.back().value != w[0])
      v.fail("input 0 must end in an axis of {}", w[0]);
    if (v.input_dims(1) != std::vector<int64_t>{dense_chain_blob_floats(w)}) v.fail("the weights must hold {} floats", dense_chain_blob_floats(w));
    ValueInfo y = x;
    y.shape.back() = Dim(w.back());
    return InferResult{{y}};
  };
  // One block per few rows, every layer (templates/cuda/dense_chain.cuh); each layer's
  // activations as its functor.
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e);
    const std::vector<int64_t> w = chain_widths(e);
    const auto x = e.input_dims(0);
    int64_t rows = 1;
    for (std::size_t d = 0; d + 1 < x.size(); ++d) rows *= x[d];
    const std::size_t layers = w.size() - 1;
    std::vector<std::vector<std::string>> functors(layers);
    for (const Node& f : e.node().epilogue) {
      const OpDef* def = Registry::instance().find(f, e.graph());
      const int64_t l = f.attr_int("layer", -1);
      if (!def || !def->unary_functor || l < 0 || l >= int64_t(layers))
        e.fail("internal: {} is no activation of a layer of the chain", f.describe());
      functors[std::size_t(l)].push_back(def->unary_functor(NodeView(f, e.graph(), nullptr)));
    }
    e.use_kernel("functors");
    e.use_kernel("dense_chain");
    std::string args;
    for (const auto& f : functors)
      args += ", " + (f.empty() ? std::string("detail::chain()") : cuda_functor(e, fmt::format("detail::chain({})", fmt::join(f, ", "))));
    e.line("static constexpr detail::DenseChainShape shape{{{}, {{{}}}}};", layers, fmt::join(w, ", "));
    e.line("detail::dense_chain({}, {}, {}, {}, shape, rt_.shared_memory_optin(), stream{});", e.in(0), e.in(1),
           e.out(0), rows, args);
  };
  // (Its epilogue is the layers', set by the pass: EpilogueFusion, which runs before it, never adds to it.)
  d.flops = [](const NodeView& v) {
    const std::vector<int64_t> w = chain_widths(v);
    const auto x = v.input_dims(0);
    int64_t rows = 1, per_row = 0;
    for (std::size_t d = 0; d + 1 < x.size(); ++d) rows *= x[d];
    for (std::size_t l = 0; l + 1 < w.size(); ++l) per_row += 2 * w[l] * w[l + 1] + w[l + 1];
    return rows * per_row;
  };
  r.add_internal(std::move(d));
}

}  // namespace sofiec
