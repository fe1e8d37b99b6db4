// Matrix products: Gemm and MatMul (numpy semantics, batched with broadcasting).
#include <cctype>
#include <functional>

#include "ops/cuda.hpp"
#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/linalg.hpp"
#include "ops/registry.hpp"

namespace sofiec {

MatMulPlan plan_matmul(const NodeView& v, std::size_t a_input, std::size_t b_input) {
  auto a = v.input_dims(a_input), b = v.input_dims(b_input);
  if (a.empty() || b.empty()) v.fail("MatMul operands must have rank >= 1");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  if (b[b.size() - 2] != p.k) v.fail("inner dimensions differ: {} and {}", p.k, b[b.size() - 2]);
  const std::vector<int64_t> a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  const Shape batch_shape = broadcast_shapes(v, to_shape(a_batch), to_shape(b_batch));
  const std::vector<int64_t> batch = static_dims(batch_shape);
  const auto sa = broadcast_strides(a_batch, batch), sb = broadcast_strides(b_batch, batch);
  const int64_t batches = element_count(batch);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t oa = 0, ob = 0;
    for (int64_t d = int64_t(batch.size()) - 1, rest = i; d >= 0; --d) {
      const int64_t idx = rest % batch[d];
      rest /= batch[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    p.a_offsets.push_back(oa * p.m * p.k);
    p.b_offsets.push_back(ob * p.k * p.n);
  }
  p.batch = batch;
  for (std::size_t d = 0; d < batch.size(); ++d) {
    p.a_strides.push_back(sa[d] * p.m * p.k);
    p.b_strides.push_back(sb[d] * p.k * p.n);
  }
  p.out_dims = batch;
  if (!a_vec) p.out_dims.push_back(p.m);
  if (!b_vec) p.out_dims.push_back(p.n);
  return p;
}

namespace {

struct GemmDims {
  int64_t m, n, k;
};

GemmDims gemm_dims(const NodeView& v) {
  const auto a = v.input_dims(0), b = v.input_dims(1);
  if (a.size() != 2 || b.size() != 2) v.fail("A and B must be matrices, got ranks {} and {}", a.size(), b.size());
  const bool ta = v.node().attr_int("transA", 0) != 0, tb = v.node().attr_int("transB", 0) != 0;
  const GemmDims g{ta ? a[1] : a[0], tb ? b[0] : b[1], ta ? a[0] : a[1]};
  const int64_t kb = tb ? b[1] : b[0];
  if (kb != g.k) v.fail("inner dimensions differ: A gives {}, B gives {}", g.k, kb);
  return g;
}

// The [M,N] strides through which C is read (C broadcasts to [M,N]).
std::pair<int64_t, int64_t> bias_strides(const NodeView& v, const GemmDims& g) {
  const auto c = v.input_dims(2);
  if (c.size() > 2) v.fail("C has rank {}, at most 2 allowed", c.size());
  const auto s = broadcast_strides(c, {g.m, g.n});
  const std::vector<int64_t> padded = [&] {
    std::vector<int64_t> p(2 - c.size(), 1);
    p.insert(p.end(), c.begin(), c.end());
    return p;
  }();
  if ((padded[0] != 1 && padded[0] != g.m) || (padded[1] != 1 && padded[1] != g.n))
    v.fail("C of shape {} does not broadcast to [{},{}]", shape_str(to_shape(c)), g.m, g.n);
  return {s[0], s[1]};
}

// Adds input 2 (a row of n) to every row of the product and applies the epilogue, one pass.
void emit_bias_rows(EmitContext& e, int64_t rows, int64_t n) {
  const std::string f = e.epilogue();
  e.use_kernel("elementwise");
  e.line("detail::add_bias_rows({}, {}, {}, {}, {});", e.out(0), e.in(2), rows, n, f.empty() ? "detail::chain()" : f);
}

// A product of the CUDA target through cuBLASLt (templates/cuda/runtime.cuh's LtGemm), with the
// bias row (a constant's expression, or "" for none) and the node's epilogue in cuBLASLt's
// epilogue where the epilogue is nothing or a ReLU; `fallback` emits the cuBLAS path, taken where the
// epilogue is anything else, and at run time where cuBLASLt had no algorithm or the operands
// are less aligned than on the first call. The plan is the Session's, one per graph node.
void emit_cuda_lt_product(EmitContext& e, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const std::string& alpha,
                          const std::string& bias, const std::function<void()>& fallback) {
  const auto& nodes = e.graph().nodes;
  const std::ptrdiff_t index = &e.node() - nodes.data();
  const auto& epilogue = e.node().epilogue;
  const bool relu = epilogue.size() == 1 && epilogue[0].op_type == "Relu";
  // The plan holds the bias's address: only a constant's (weights do not move). A product
  // with nothing to multiply (k = 0) or to write goes the cuBLAS way, which handles it.
  const bool constant_bias = bias.empty() || (e.node().inputs.size() > 2 && e.graph().is_constant(e.node().inputs[2]));
  if (!(epilogue.empty() || relu) || !constant_bias || m == 0 || n == 0 || k == 0 || index < 0 ||
      index >= std::ptrdiff_t(nodes.size()))
    return fallback();
  cuda_int_dim(e, m);
  cuda_int_dim(e, n);
  cuda_int_dim(e, k);
  e.line("detail::LtGemm& lt = rt_.lt_gemm({}, {}, {}, {});", index, m, n, k);
  e.line("if (!lt.planned())");
  e.line("  lt.plan(rt_.lt(), {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, detail::Runtime::kBlasWorkspace, rt_.tf32());", ta, tb, m, n, k,
         bias.empty() ? "static_cast<const float*>(nullptr)" : bias, relu, e.in(0), e.in(1), e.out(0));
  e.line("if (lt.usable() && lt.aligned({}, {}, {})) {{", e.in(0), e.in(1), e.out(0));
  e.line("  lt.run(rt_.lt(), {}, {}, {}, {}, rt_.blas_workspace(), detail::Runtime::kBlasWorkspace, stream);", alpha,
         e.in(0), e.in(1), e.out(0));
  e.line("}} else {{");
  fallback();
  e.line("}}");
}

void add_gemm(Registry& r) {
  OpDef d;
  d.op_type = "Gemm";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float_input(v, 0);
    if (v.input_dtype(1) != v.input_dtype(0)) v.fail("A and B have different types");
    const GemmDims g = gemm_dims(v);
    if (v.has_input(2)) bias_strides(v, g);
    return InferResult{{static_value(v.input_dtype(0), {g.m, g.n})}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("gemm");
    const GemmDims g = gemm_dims(e);
    const bool ta = e.node().attr_int("transA", 0) != 0, tb = e.node().attr_int("transB", 0) != 0;
    const DType t = e.input_dtype(0);
    const std::string alpha = cpp_float(e.node().attr_float("alpha", 1.f), t);
    const std::string beta = cpp_float(e.node().attr_float("beta", 1.f), t);
    e.line("detail::gemm_rowmajor({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", ta, tb, g.m, g.n, g.k, alpha,
           e.in(0), ta ? g.m : g.k, e.in(1), tb ? g.k : g.n, cpp_float(0, t), e.out(0), g.n);
    if (e.has_input(2)) {
      const auto [rs, cs] = bias_strides(e, g);
      if (rs == 0 && cs == 1 && e.node().attr_float("beta", 1.f) == 1.f) {
        emit_bias_rows(e, g.m, g.n);
        return;
      }
      e.line("detail::add_bias_2d({}, {}, {}, {}, {}, {}, {});", e.out(0), e.in(2), g.m, g.n, rs, cs, beta);
    }
    e.apply_epilogue(e.out(0), g.m * g.n);
  };
  // cuBLASLt's product with the bias row and a ReLU in its epilogue where that is all there is;
  // else (and where cuBLASLt has no algorithm) cuBLAS's product, then the bias and the epilogue
  // in one elementwise pass.
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e);
    e.use_kernel("gemm");
    e.use_kernel("elementwise");
    const GemmDims g = gemm_dims(e);
    const bool ta = e.node().attr_int("transA", 0) != 0, tb = e.node().attr_int("transB", 0) != 0;
    const std::string alpha = cpp_float(e.node().attr_float("alpha", 1.f));
    auto sgemm = [&] {
      e.line("detail::gemm(blas, {}, {}, {}, {}, {}, {}, {}, {}, 0.0f, {});", ta, tb, cuda_int_dim(e, g.m),
             cuda_int_dim(e, g.n), cuda_int_dim(e, g.k), alpha, e.in(0), e.in(1), e.out(0));
      const std::string epilogue = cuda_epilogue(e);
      if (e.has_input(2)) {
        const auto [rs, cs] = bias_strides(e, g);
        e.line("detail::bias_epilogue({}, {}, {}, {}, {}, {}, {}, {}, stream);", e.out(0), g.m, g.n, e.in(2), rs, cs,
               cpp_float(e.node().attr_float("beta", 1.f)), epilogue);
      } else if (!e.node().epilogue.empty()) {
        e.line("detail::bias_epilogue({}, {}, {}, static_cast<const float*>(nullptr), 0, 0, 0.0f, {}, stream);",
               e.out(0), g.m, g.n, epilogue);
      }
    };
    std::string bias;
    bool row_bias = true;
    if (e.has_input(2)) {
      const auto [rs, cs] = bias_strides(e, g);
      row_bias = rs == 0 && cs == 1 && e.node().attr_float("beta", 1.f) == 1.f;
      bias = e.in(2);
    }
    if (row_bias) emit_cuda_lt_product(e, ta, tb, g.m, g.n, g.k, alpha, bias, sgemm);
    else sgemm();
  };
  d.accepts_epilogue = true;
  d.flops = [](const NodeView& v) {
    const GemmDims g = gemm_dims(v);
    return 2 * g.m * g.n * g.k + (v.has_input(2) ? g.m * g.n : 0);
  };
  r.add(std::move(d));
}

// MatMul of [..., M, K] x [..., K, N] with numpy's rules for rank-1 operands and batch dims.

Shape matmul_symbolic_shape(const NodeView& v) {
  Shape a = v.input(0).shape, b = v.input(1).shape;
  if (a.empty() || b.empty()) v.fail("MatMul operands must have rank >= 1");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), Dim(1));
  if (b_vec) b.push_back(Dim(1));
  const Dim& ka = a.back();
  const Dim& kb = b[b.size() - 2];
  if (ka.is_static() && kb.is_static() && ka != kb) v.fail("inner dimensions differ: {} and {}", ka.str(), kb.str());
  Shape out = broadcast_shapes(v, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b.back());
  return out;
}

// One product of [batches * M, K] x [K, N]: B is one matrix (its batch dims all broadcast)
// and A's batches follow one another, as do the output's.
bool single_gemm(const NodeView& v, const MatMulPlan& p) {
  if (p.a_offsets.size() == 1) return true;
  if (v.input_rank(0) < 2) return false;
  for (std::size_t d = 0; d < p.batch.size(); ++d)
    if (p.batch[d] != 1 && (p.b_strides[d] != 0 || p.a_strides[d] == 0)) return false;
  return v.input_rank(0) == int64_t(p.out_dims.size());
}

void add_matmul(Registry& r) {
  OpDef d;
  d.op_type = "MatMul";
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float_input(v, 0);
    if (v.input_dtype(1) != v.input_dtype(0)) v.fail("A and B have different types");
    if (!v.input(0).has_shape || !v.input(1).has_shape) v.fail("operand ranks must be known");
    if (v.num_inputs() > 2) {
      if (v.node().domain.empty()) v.fail("MatMul takes 2 inputs, not {}", v.num_inputs());
      const MatMulPlan p = plan_matmul(v);
      const auto bias = v.input_dims(2);
      if (!single_gemm(v, p) || v.input_dtype(2) != v.input_dtype(0) || element_count(bias) != p.n ||
          (bias.size() != 1 && (bias.size() != 2 || bias[0] != 1)))
        v.fail("the fused bias must be a row of {} for one product", p.n);
    }
    return InferResult{{ValueInfo{v.input_dtype(0), matmul_symbolic_shape(v), true}}};
  };
  d.eval = [](const NodeView& v, const std::vector<const Tensor*>& in, const std::vector<ValueInfo>& outs) {
    const MatMulPlan p = plan_matmul(v);
    Tensor y(outs[0].dtype, p.out_dims);
    visit_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
        rt::matmul_batched(in[0]->data<T>(), in[1]->data<T>(), y.data<T>(), int64_t(p.batch.size()), p.batch.data(),
                           p.a_strides.data(), p.b_strides.data(), p.m, p.n, p.k);
    });
    return std::vector<Tensor>{std::move(y)};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("gemm");
    const MatMulPlan p = plan_matmul(e);
    if (single_gemm(e, p)) {
      const int64_t rows = int64_t(p.a_offsets.size()) * p.m;
      e.line("detail::gemm_rowmajor(false, false, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", rows, p.n, p.k,
             cpp_float(1, e.input_dtype(0)), e.in(0), p.k, e.in(1), p.n, cpp_float(0, e.input_dtype(0)), e.out(0), p.n);
      if (e.has_input(2)) {
        emit_bias_rows(e, rows, p.n);
        return;
      }
    } else {
      e.line("detail::matmul_batched({}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.out(0),
             p.batch.size(), e.int_array("batch", p.batch), e.int_array("a_strides", p.a_strides),
             e.int_array("b_strides", p.b_strides), p.m, p.n, p.k);
    }
    e.apply_epilogue(e.out(0), element_count(p.out_dims));
  };
  // One cuBLAS product where B is shared (A's batches folded into its rows), a strided batch
  // where both operands step evenly; then the fused bias and epilogue.
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e);
    e.use_kernel("gemm");
    e.use_kernel("elementwise");
    const MatMulPlan p = plan_matmul(e);
    int64_t rows = p.m;
    auto bias_and_epilogue = [&] {
      const std::string epilogue = cuda_epilogue(e);
      if (e.has_input(2))
        e.line("detail::bias_epilogue({}, {}, {}, {}, 0, 1, 1.0f, {}, stream);", e.out(0), rows, p.n, e.in(2), epilogue);
      else if (!e.node().epilogue.empty())
        e.line("detail::bias_epilogue({}, {}, {}, static_cast<const float*>(nullptr), 0, 0, 0.0f, {}, stream);",
               e.out(0), rows, p.n, epilogue);
    };
    if (single_gemm(e, p)) {
      rows = int64_t(p.a_offsets.size()) * p.m;
      emit_cuda_lt_product(e, false, false, rows, p.n, p.k, "1.0f", e.has_input(2) ? e.in(2) : "", [&] {
        e.line("detail::gemm(blas, false, false, {}, {}, {}, 1.0f, {}, {}, 0.0f, {});", cuda_int_dim(e, rows),
               cuda_int_dim(e, p.n), cuda_int_dim(e, p.k), e.in(0), e.in(1), e.out(0));
        bias_and_epilogue();
      });
      return;
    } else {
      const std::size_t batch = p.a_offsets.size();
      auto step = [&](const std::vector<int64_t>& offsets) -> int64_t {
        const int64_t s = batch > 1 ? offsets[1] - offsets[0] : 0;
        for (std::size_t i = 0; i < batch; ++i)
          if (offsets[i] != int64_t(i) * s) e.unsupported("MatMul whose batches are not evenly strided");
        return s;
      };
      const int64_t sa = step(p.a_offsets), sb = step(p.b_offsets);
      e.line("detail::gemm_batched(blas, {}, {}, {}, {}, {}, {}, {}, {}, {});", cuda_int_dim(e, int64_t(batch)),
             cuda_int_dim(e, p.m), cuda_int_dim(e, p.n), cuda_int_dim(e, p.k), e.in(0), sa, e.in(1), sb, e.out(0));
      rows = int64_t(batch) * p.m;
    }
    bias_and_epilogue();
  };
  d.accepts_epilogue = true;
  d.flops = [](const NodeView& v) {
    const MatMulPlan p = plan_matmul(v);
    return 2 * int64_t(p.a_offsets.size()) * p.m * p.n * p.k +
           (v.has_input(2) ? int64_t(p.a_offsets.size()) * p.m * p.n : 0);
  };
  // The compiler's MatMul also takes a bias row (MatMulAddFusion) added with the epilogue.
  r.add_internal(d);
  r.add(std::move(d));
}

// Einsum's equation resolved against the operands' shapes: labels split into output and summed
// ones, with each operand's stride along every label.
struct EinsumPlan {
  std::vector<int64_t> out_dims, sum_dims, out_strides, sum_strides;
};

EinsumPlan plan_einsum(const NodeView& v) {
  std::string eq;
  for (char c : v.node().require_attr("equation", Attribute::Kind::String).s)
    if (c != ' ') eq += c;
  const auto arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (std::size_t start = 0;;) {
    const auto comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != v.num_inputs()) v.fail("the equation has {} operands, the node {}", terms.size(), v.num_inputs());
  // Ellipsis dims become the labels 'A', 'B', ... (right-aligned across operands).
  std::map<char, int64_t> size;
  std::vector<std::vector<char>> labels(terms.size());
  std::size_t ellipsis_rank = 0;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    const auto dims = v.input_dims(k);
    const auto dots = terms[k].find("...");
    const std::size_t named = terms[k].size() - (dots == std::string::npos ? 0 : 3);
    if (dims.size() < named || (dots == std::string::npos && dims.size() != named))
      v.fail("operand {} has rank {}, the equation names {} dims", k, dims.size(), named);
    if (dots != std::string::npos) ellipsis_rank = std::max(ellipsis_rank, dims.size() - named);
  }
  for (std::size_t k = 0; k < terms.size(); ++k) {
    const auto dims = v.input_dims(k);
    const auto dots = terms[k].find("...");
    const std::size_t own = dots == std::string::npos ? 0 : dims.size() - (terms[k].size() - 3);
    std::size_t d = 0;
    for (std::size_t i = 0; i < terms[k].size(); ++i) {
      if (i == dots) {
        for (std::size_t e = 0; e < own; ++e) labels[k].push_back(char('A' + (ellipsis_rank - own + e)));
        i += 2;
        continue;
      }
      if (!std::isalpha(static_cast<unsigned char>(terms[k][i])) ||
          std::isupper(static_cast<unsigned char>(terms[k][i])))
        v.unsupported("einsum label '{}'", terms[k][i]);
      labels[k].push_back(terms[k][i]);
    }
    for (char l : labels[k]) {
      const int64_t n = dims[d++];
      auto it = size.find(l);
      if (it == size.end()) size[l] = n;
      else if (it->second != n && n != 1 && it->second != 1)
        v.fail("label '{}' has extents {} and {}", l, it->second, n);
      else it->second = std::max(it->second, n);
    }
  }
  std::vector<char> out;
  if (arrow != std::string::npos) {
    const std::string rhs = eq.substr(arrow + 2);
    for (std::size_t i = 0; i < rhs.size(); ++i) {
      if (rhs.compare(i, 3, "...") == 0) {
        for (std::size_t e = 0; e < ellipsis_rank; ++e) out.push_back(char('A' + e));
        i += 2;
      } else {
        if (!size.count(rhs[i])) v.fail("output label '{}' names no input dim", rhs[i]);
        out.push_back(rhs[i]);
      }
    }
  } else {  // implicit: ellipsis dims, then labels used once, in alphabetical order
    std::map<char, int> uses;
    for (const auto& ls : labels)
      for (char l : ls) ++uses[l];
    for (std::size_t e = 0; e < ellipsis_rank; ++e) out.push_back(char('A' + e));
    for (const auto& [l, n] : uses)
      if (n == 1 && std::islower(static_cast<unsigned char>(l))) out.push_back(l);
  }
  std::vector<char> summed;
  for (const auto& [l, n] : size)
    if (std::find(out.begin(), out.end(), l) == out.end()) summed.push_back(l);
  if (out.size() > 16 || summed.size() > 16 || terms.size() > 16)
    v.unsupported("einsum with more than 16 labels or operands");
  EinsumPlan p;
  for (char l : out) p.out_dims.push_back(size[l]);
  for (char l : summed) p.sum_dims.push_back(size[l]);
  for (std::size_t k = 0; k < terms.size(); ++k) {
    const auto dims = v.input_dims(k);
    const auto strides = contiguous_strides(dims);
    auto stride_of = [&](char l) {
      int64_t s = 0;
      for (std::size_t d = 0; d < labels[k].size(); ++d)
        if (labels[k][d] == l && dims[d] != 1) s += strides[d];
      return s;
    };
    for (char l : out) p.out_strides.push_back(stride_of(l));
    for (char l : summed) p.sum_strides.push_back(stride_of(l));
  }
  return p;
}

void add_einsum(Registry& r) {
  OpDef d;
  d.op_type = "Einsum";
  d.min_opset = 12;
  d.types = "float, double, int32, int64";
  d.infer = [](const NodeView& v) {
    const DType t = v.input_dtype(0);
    if (t != DType::Float && t != DType::Double && t != DType::Int32 && t != DType::Int64)
      v.unsupported("input type {} is not supported", dtype_name(t));
    for (std::size_t i = 1; i < v.num_inputs(); ++i)
      if (v.input_dtype(i) != t) v.fail("operands have different types");
    return InferResult{{static_value(t, plan_einsum(v).out_dims)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("linalg");
    const EinsumPlan p = plan_einsum(e);
    std::string operands;
    for (std::size_t i = 0; i < e.num_inputs(); ++i) operands += (i ? ", " : "") + e.in(i);
    e.line("const {}* const operands[] = {{{}}};", e.in_type(0), operands);
    e.line("detail::einsum(operands, {}, {}, {}, {}, {}, {}, {}, {});", e.num_inputs(), e.out(0), p.out_dims.size(),
           e.int_array("out_dims", p.out_dims), e.int_array("out_strides", p.out_strides), p.sum_dims.size(),
           e.int_array("sum_dims", p.sum_dims), e.int_array("sum_strides", p.sum_strides));
  };
  r.add(std::move(d));
}

void add_det(Registry& r) {
  OpDef d;
  d.op_type = "Det";
  d.min_opset = 11;
  d.types = "float, double";
  d.infer = [](const NodeView& v) {
    require_float_input(v, 0);
    const auto x = v.input_dims(0);
    if (x.size() < 2 || x[x.size() - 1] != x[x.size() - 2]) v.fail("input must hold square matrices");
    const int64_t n = x.back();
    return InferResult{{static_value(v.input_dtype(0), std::vector<int64_t>(x.begin(), x.end() - 2))}, n * n * 8};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("linalg");
    const auto x = e.input_dims(0);
    const int64_t n = x.back();
    e.line("detail::determinant({}, {}, {}, {}, reinterpret_cast<double*>({}));", e.in(0), e.out(0),
           n ? element_count(x) / (n * n) : 0, n, e.workspace());
  };
  r.add(std::move(d));
}

}  // namespace

void register_linalg_ops(Registry& r) {
  add_det(r);
  add_einsum(r);
  add_gemm(r);
  add_matmul(r);
}

}  // namespace sofiec
