// FusedElementwise (the compiler's domain, made by ElementwiseFusion for --target cuda): a tree
// of elementwise maps as one kernel (templates/cuda/elementwise.cuh's fused_map). Inputs: the
// tree's leaves (float32, each broadcast to the output); the member nodes, in the order they
// ran, are the node's epilogue list, each reading leaves (by name) or earlier members' outputs;
// the last member writes the node's output.
#include <fmt/ranges.h>

#include <map>

#include "emit/emit_context.hpp"
#include "ops/broadcast.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"

namespace sofiec {

void register_fused_elementwise_ops(Registry& r) {
  OpDef d;
  d.op_type = "FusedElementwise";
  d.types = "float";
  d.infer = [](const NodeView& v) {
    if (v.num_inputs() < 1 || v.num_inputs() > 8) v.fail("a fused map reads 1 to 8 leaves, not {}", v.num_inputs());
    Shape shape;
    for (std::size_t i = 0; i < v.num_inputs(); ++i) {
      const ValueInfo& x = v.input(i);
      if (x.dtype != DType::Float) v.unsupported("leaf {} is {}; fused maps run float32", i, dtype_name(x.dtype));
      if (!x.has_shape) v.fail("leaf {} has no known shape", i);
      shape = i == 0 ? x.shape : broadcast_shapes(v, shape, x.shape);
    }
    if (v.node().epilogue.empty() || v.node().epilogue.back().outputs.at(0) != v.node().outputs.at(0))
      v.fail("internal: the last member must write the fused node's output");
    return InferResult{{ValueInfo{DType::Float, shape, true}}};
  };
  // The members as one expression type (leaf<k>, unary, binary), and each leaf's strides over
  // the output.
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e);
    std::map<std::string, std::string> expr;
    for (std::size_t k = 0; k < e.num_inputs(); ++k) expr.emplace(e.node().inputs[k], fmt::format("detail::leaf<{}>()", k));
    auto operand = [&](const Node& m, std::size_t i) -> const std::string& {
      auto it = expr.find(m.inputs.at(i));
      if (it == expr.end()) e.fail("internal: {} reads '{}', neither a leaf nor a member's output", m.describe(), m.inputs[i]);
      return it->second;
    };
    for (const Node& m : e.node().epilogue) {
      const OpDef* def = Registry::instance().find(m, e.graph());
      const NodeView mv(m, e.graph(), nullptr);
      std::string f;
      if (def && def->binary_functor && m.inputs.size() == 2)
        f = fmt::format("detail::binary({}, {}, {})", cuda_functor(e, def->binary_functor(mv)), operand(m, 0), operand(m, 1));
      else if (def && def->unary_functor && m.inputs.size() == 1)
        f = fmt::format("detail::unary({}, {})", cuda_functor(e, def->unary_functor(mv)), operand(m, 0));
      else
        e.fail("internal: {} is no elementwise map", m.describe());
      for (const Node& q : m.epilogue) {
        const OpDef* qd = Registry::instance().find(q, e.graph());
        if (!qd || !qd->unary_functor) e.fail("internal: {} cannot be fused as an epilogue", q.describe());
        f = fmt::format("detail::unary({}, {})", cuda_functor(e, qd->unary_functor(NodeView(q, e.graph(), nullptr))), f);
      }
      expr[m.outputs.at(0)] = f;
    }
    const std::vector<int64_t> out = e.output_dims(0);
    if (out.size() > 6) e.unsupported("a fused map of rank {}; at most 6", out.size());
    std::vector<std::string> strides;
    bool same = true;
    for (std::size_t k = 0; k < e.num_inputs(); ++k) {
      const std::vector<int64_t> dims = e.input_dims(k), contiguous = contiguous_strides(dims);
      same = same && dims == out;
      std::vector<int64_t> s(6, 0);
      for (std::size_t d = 0; d < out.size(); ++d) {
        const std::ptrdiff_t ld = std::ptrdiff_t(d) - std::ptrdiff_t(out.size() - dims.size());
        if (ld >= 0 && dims[std::size_t(ld)] != 1) s[d] = contiguous[std::size_t(ld)];
      }
      strides.push_back(fmt::format("{{{}}}", fmt::join(s, ", ")));
    }
    std::vector<int64_t> padded_dims = out;
    padded_dims.resize(6, 1);
    std::vector<std::string> leaves;
    for (std::size_t k = 0; k < e.num_inputs(); ++k) leaves.push_back(e.in(k));
    e.use_kernel("functors");
    e.use_kernel("elementwise");
    e.line("static constexpr detail::FusedShape shape{{{}, {{{}}}, {{{}}}}};", out.size(), fmt::join(padded_dims, ", "),
           fmt::join(strides, ", "));
    e.line("detail::fused_map<{}>(detail::FusedLeaves<{}>{{{{{}}}}}, {}, {}, shape, {}, {}, stream);", e.num_inputs(),
           e.num_inputs(), fmt::join(leaves, ", "), e.out(0), element_count(out), same, expr.at(e.node().outputs[0]));
  };
  // Each output element reads only the same position of a leaf of the output's shape.
  d.in_place = true;
  // One operation per member and output element.
  d.flops = [](const NodeView& v) {
    const ValueInfo& y = v.graph().value(v.node().outputs.at(0));
    return int64_t(v.node().epilogue.size()) * (is_static(y.shape) ? element_count(static_dims(y.shape)) : 0);
  };
  r.add_internal(std::move(d));
}

}  // namespace sofiec
