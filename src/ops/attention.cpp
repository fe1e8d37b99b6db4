// Attention-era operators: Attention, RotaryEmbedding (opset 23+) and LinearAttention (27+).
#include <cmath>

#include "emit/emit_context.hpp"
#include "kernels.hpp"
#include "ops/broadcast.hpp"
#include "ops/cuda.hpp"
#include "ops/registry.hpp"

namespace sofiec {
namespace {

// "{1, 2, 3}": an array member of a shape struct in the emitted code.
std::string braced(const std::vector<int64_t>& a) { return fmt::format("{{{}}}", fmt::join(a, ", ")); }

struct AttentionPlan {
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, past_len = 0, head_size = 0, v_head_size = 0;
  std::vector<int64_t> q_strides, k_strides, v_strides, y_strides, mask_strides{0, 0, 0, 0};
  int64_t mask_len = 0;
  std::vector<int64_t> y_dims, present_k_dims, present_v_dims, qk_dims;
};

// Strides (batch, head, position) of a 4-D [batch, heads, seq, size] or 3-D [batch, seq, heads * size] tensor.
std::vector<int64_t> head_strides(bool three_d, int64_t heads, int64_t seq, int64_t size) {
  if (three_d) return {seq * heads * size, size, heads * size};
  return {heads * seq * size, seq * size, size};
}

AttentionPlan plan_attention(const NodeView& v) {
  const auto q = v.input_dims(0), k = v.input_dims(1), val = v.input_dims(2);
  if (q.size() != k.size() || q.size() != val.size() || (q.size() != 3 && q.size() != 4))
    v.fail("Q, K and V must all be 3-D or all 4-D");
  const bool three_d = q.size() == 3;
  AttentionPlan p;
  p.batch = q[0];
  if (three_d) {
    p.q_heads = v.node().require_attr("q_num_heads", Attribute::Kind::Int).i;
    p.kv_heads = v.node().require_attr("kv_num_heads", Attribute::Kind::Int).i;
    if (p.q_heads <= 0 || p.kv_heads <= 0 || q[2] % p.q_heads || k[2] % p.kv_heads || val[2] % p.kv_heads)
      v.fail("hidden sizes do not split into the given numbers of heads");
    p.q_len = q[1];
    p.kv_len = k[1];
    p.head_size = q[2] / p.q_heads;
    p.v_head_size = val[2] / p.kv_heads;
    if (k[2] / p.kv_heads != p.head_size) v.fail("Q and K have different head sizes");
  } else {
    p.q_heads = q[1];
    p.kv_heads = k[1];
    p.q_len = q[2];
    p.kv_len = k[2];
    p.head_size = q[3];
    p.v_head_size = val[3];
    if (k[3] != p.head_size) v.fail("Q and K have different head sizes");
  }
  if (k[0] != p.batch || val[0] != p.batch) v.fail("Q, K and V have different batch sizes");
  if (p.q_heads < 1 || p.kv_heads < 1) v.fail("head counts must be positive ({} and {})", p.q_heads, p.kv_heads);
  if (p.q_heads % p.kv_heads) v.fail("{} query heads do not group over {} key/value heads", p.q_heads, p.kv_heads);
  if (v.has_input(4) != v.has_input(5)) v.fail("past_key and past_value must be given together");
  if (v.has_input(4)) {
    const auto pk = v.input_dims(4), pv = v.input_dims(5);
    if (pk.size() != 4 || pk[0] != p.batch || pk[1] != p.kv_heads || pk[3] != p.head_size || pv.size() != 4 ||
        pv[2] != pk[2] || pv[3] != p.v_head_size)
      v.fail("past_key/past_value have shapes {} and {}", shape_str(to_shape(pk)), shape_str(to_shape(pv)));
    p.past_len = pk[2];
  }
  const int64_t total = p.past_len + p.kv_len;
  p.q_strides = head_strides(three_d, p.q_heads, p.q_len, p.head_size);
  p.k_strides = head_strides(three_d, p.kv_heads, p.kv_len, p.head_size);
  p.v_strides = head_strides(three_d, p.kv_heads, p.kv_len, p.v_head_size);
  p.y_strides = head_strides(three_d, p.q_heads, p.q_len, p.v_head_size);
  p.y_dims = three_d ? std::vector<int64_t>{p.batch, p.q_len, p.q_heads * p.v_head_size}
                     : std::vector<int64_t>{p.batch, p.q_heads, p.q_len, p.v_head_size};
  p.present_k_dims = {p.batch, p.kv_heads, total, p.head_size};
  p.present_v_dims = {p.batch, p.kv_heads, total, p.v_head_size};
  p.qk_dims = {p.batch, p.q_heads, p.q_len, total};
  if (v.has_input(3)) {
    const auto m = v.input_dims(3);
    if (m.empty() || m.size() > 4) v.fail("attn_mask must have rank 1 to 4");
    p.mask_len = m.back();
    p.mask_strides = broadcast_strides(m, {p.batch, p.q_heads, p.q_len, p.mask_len});
    for (std::size_t d = 0; d + 1 < m.size(); ++d) {
      const int64_t target = std::vector<int64_t>{p.batch, p.q_heads, p.q_len}[4 - m.size() + d];
      if (m[d] != 1 && m[d] != target) v.fail("attn_mask of shape {} does not broadcast", shape_str(to_shape(m)));
    }
    if (p.mask_len > total) v.fail("attn_mask covers {} keys, there are {}", p.mask_len, total);
  }
  return p;
}

void add_attention(Registry& r) {
  OpDef d;
  d.op_type = "Attention";
  d.min_opset = 23;
  d.types = "float, double (float16/bfloat16 computed in float); bool or additive mask";
  d.infer = [](const NodeView& v) {
    const DType t = require_float_input(v);
    if (v.input_dtype(1) != t || v.input_dtype(2) != t) v.fail("Q, K and V have different types");
    if (v.has_input(3) && v.input_dtype(3) != DType::Bool && v.input_dtype(3) != t)
      v.unsupported("a mask of type {}", dtype_name(v.input_dtype(3)));
    if (v.has_input(6) && v.input_dtype(6) != DType::Int64) v.fail("nonpad_kv_seqlen must be int64");
    const AttentionPlan p = plan_attention(v);
    const int64_t mode = v.node().attr_int("qk_matmul_output_mode", 0);
    if (mode < 0 || mode > 3) v.fail("qk_matmul_output_mode {} is not 0 to 3", mode);
    InferResult res{{static_value(t, p.y_dims), static_value(t, p.present_k_dims), static_value(t, p.present_v_dims),
                     static_value(t, p.qk_dims)}};
    res.workspace_bytes = 2 * (p.past_len + p.kv_len) * int64_t(dtype_size(t));
    return res;
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("attention");
    const AttentionPlan p = plan_attention(e);
    const std::string t = e.in_type(0);
    const float default_scale = float(1.0 / std::sqrt(double(p.head_size)));
    e.line(
        "static constexpr detail::AttentionShape shape{{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
        "{}, {}, {}, {}, {}}};",
        p.batch, p.q_heads, p.kv_heads, p.q_len, p.kv_len, p.past_len, p.head_size, p.v_head_size, braced(p.q_strides),
        braced(p.k_strides), braced(p.v_strides), braced(p.y_strides), braced(p.mask_strides), p.mask_len,
        e.node().attr_int("is_causal", 0) != 0, e.node().attr_int("left_window_size", -1),
        e.node().attr_int("right_window_size", -1), cpp_float(e.node().attr_float("scale", default_scale)),
        cpp_float(e.node().attr_float("softcap", 0.f)), e.node().attr_int("qk_matmul_output_mode", 0));
    e.line("detail::attention({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, shape, reinterpret_cast<{}*>({}));", e.in(0),
           e.in(1), e.in(2), e.in_or_null(3, e.has_input(3) ? e.in_type(3) : "bool"), e.in_or_null(4, t),
           e.in_or_null(5, t), e.in_or_null(6, "int64_t"), e.out(0), e.out_or_null(1, t), e.out_or_null(2, t),
           e.out_or_null(3, t), t, e.workspace());
  };
  r.add(std::move(d));
}

struct RotaryPlan {
  int64_t batch, heads, seq, head_size, rot;
  std::vector<int64_t> strides;
};

RotaryPlan plan_rotary(const NodeView& v) {
  const auto x = v.input_dims(0);
  RotaryPlan p{};
  if (x.size() == 4) {
    p = {x[0], x[1], x[2], x[3], 0, head_strides(false, x[1], x[2], x[3])};
  } else if (x.size() == 3) {
    const int64_t heads = v.node().require_attr("num_heads", Attribute::Kind::Int).i;
    if (heads <= 0 || x[2] % heads) v.fail("hidden size {} does not split into {} heads", x[2], heads);
    p = {x[0], heads, x[1], x[2] / heads, 0, head_strides(true, heads, x[1], x[2] / heads)};
  } else {
    v.fail("input must be 3-D or 4-D");
  }
  p.rot = v.node().attr_int("rotary_embedding_dim", 0);
  if (p.rot == 0) p.rot = p.head_size;
  if (p.rot % 2 || p.rot > p.head_size) v.fail("rotary_embedding_dim {} is odd or exceeds the head size", p.rot);
  const auto c = v.input_dims(1);
  if (c.empty() || c.back() != p.rot / 2) v.fail("the caches' last dim must be {}", p.rot / 2);
  if (!v.has_input(3) && (c.size() != 3 || c[0] != p.batch || c[1] != p.seq))
    v.fail("without position_ids the caches must have shape [{}, {}, {}]", p.batch, p.seq, p.rot / 2);
  if (v.has_input(3) && v.input_dims(3) != std::vector<int64_t>{p.batch, p.seq})
    v.fail("position_ids must have shape [{}, {}]", p.batch, p.seq);
  return p;
}

void add_rotary_embedding(Registry& r) {
  OpDef d;
  d.op_type = "RotaryEmbedding";
  d.min_opset = 23;
  d.types = "float, double (float16/bfloat16 computed in float)";
  d.infer = [](const NodeView& v) {
    require_float_input(v);
    plan_rotary(v);
    return InferResult{{v.input(0)}};
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("attention");
    const RotaryPlan p = plan_rotary(e);
    e.line("detail::rotary_embedding({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});", e.in(0), e.in(1), e.in(2),
           e.in_or_null(3, "int64_t"), e.out(0), p.batch, p.heads, p.seq, p.head_size, p.rot,
           e.int_array("strides", p.strides), e.node().attr_int("interleaved", 0) != 0);
  };
  r.add(std::move(d));
}

struct LinearAttentionPlan {
  int64_t batch, steps, q_heads, kv_heads, dk, dv, decay_width = 0, beta_width = 0;
  float scale;
};

LinearAttentionPlan plan_linear_attention(const NodeView& v) {
  const auto q = v.input_dims(0), k = v.input_dims(1), val = v.input_dims(2);
  if (q.size() != 3 || k.size() != 3 || val.size() != 3) v.fail("query, key and value must be [batch, steps, hidden]");
  LinearAttentionPlan p{};
  p.q_heads = v.node().require_attr("q_num_heads", Attribute::Kind::Int).i;
  p.kv_heads = v.node().require_attr("kv_num_heads", Attribute::Kind::Int).i;
  if (p.q_heads <= 0 || p.kv_heads <= 0 || p.q_heads % p.kv_heads)
    v.fail("q_num_heads must be a multiple of kv_num_heads");
  p.batch = q[0];
  p.steps = q[1];
  if (q[2] % p.q_heads || val[2] % p.kv_heads) v.fail("hidden sizes do not split into heads");
  p.dk = q[2] / p.q_heads;
  p.dv = val[2] / p.kv_heads;
  if (k != std::vector<int64_t>{p.batch, p.steps, p.kv_heads * p.dk})
    v.fail("key must have shape [{}, {}, {}]", p.batch, p.steps, p.kv_heads * p.dk);
  const std::string rule = v.node().attr_string("update_rule", "gated_delta");
  if (rule != "linear" && rule != "gated" && rule != "delta" && rule != "gated_delta")
    v.fail("unknown update_rule '{}'", rule);
  const bool gating = rule == "gated" || rule == "gated_delta", delta = rule == "delta" || rule == "gated_delta";
  if (gating != v.has_input(4)) v.fail("update_rule '{}' {} a decay input", rule, gating ? "needs" : "forbids");
  if (delta != v.has_input(5)) v.fail("update_rule '{}' {} a beta input", rule, delta ? "needs" : "forbids");
  if (gating) {
    const auto decay = v.input_dims(4);
    if (decay.empty()) v.fail("decay must have rank >= 1");
    p.decay_width = decay.back();
    if (p.decay_width != p.kv_heads && p.decay_width != p.kv_heads * p.dk)
      v.fail("decay's last dim must be kv_num_heads or kv_num_heads * d_k");
  }
  if (delta) {
    const auto beta = v.input_dims(5);
    if (beta.empty()) v.fail("beta must have rank >= 1");
    p.beta_width = beta.back();
    if (p.beta_width != p.kv_heads && p.beta_width != 1) v.fail("beta's last dim must be kv_num_heads or 1");
  }
  if (v.has_input(3) && v.input_dims(3) != std::vector<int64_t>{p.batch, p.kv_heads, p.dk, p.dv})
    v.fail("past_state must have shape [{}, {}, {}, {}]", p.batch, p.kv_heads, p.dk, p.dv);
  const float scale = v.node().attr_float("scale", 0.f);
  p.scale = scale == 0.f ? float(1.0 / std::sqrt(double(p.dk))) : scale;
  return p;
}

void add_linear_attention(Registry& r) {
  OpDef d;
  d.op_type = "LinearAttention";
  d.min_opset = 27;
  d.types = "float, double (float16/bfloat16 computed in float)";
  d.infer = [](const NodeView& v) {
    const DType t = require_float_input(v);
    const LinearAttentionPlan p = plan_linear_attention(v);
    InferResult res{
        {static_value(t, {p.batch, p.steps, p.q_heads * p.dv}), static_value(t, {p.batch, p.kv_heads, p.dk, p.dv})}};
    res.workspace_bytes = (p.batch * p.kv_heads * p.dk * p.dv + p.dv) * int64_t(dtype_size(t));
    return res;
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("attention");
    const LinearAttentionPlan p = plan_linear_attention(e);
    const std::string t = e.in_type(0);
    const bool present = e.num_outputs() > 1 && !e.node().outputs[1].empty();
    const std::string scratch = fmt::format("reinterpret_cast<{}*>({})", t, e.workspace());
    e.line("detail::linear_attention({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} + {});",
           e.in(0), e.in(1), e.in(2), e.in_or_null(3, t), e.in_or_null(4, t), p.decay_width, e.in_or_null(5, t),
           p.beta_width, e.out(0), present ? e.out(1) : scratch, p.batch, p.steps, p.q_heads, p.kv_heads, p.dk, p.dv,
           cpp_float(p.scale), scratch, p.batch * p.kv_heads * p.dk * p.dv);
  };
  r.add(std::move(d));
}

// The compiler's ScaledDotAttention (AttentionFusion): Softmax(Q K^T scaled) V with every
// operand read, and the output written, through strides given as attributes.
struct ScaledDotPlan {
  std::vector<int64_t> batch, sizes, offsets, q_strides, k_strides, v_strides, y_strides, output_shape;
};

ScaledDotPlan plan_scaled_dot(const NodeView& v) {
  const Node& n = v.node();
  ScaledDotPlan p{n.attr_ints("batch"),     n.attr_ints("sizes"),       n.attr_ints("offsets"),
                  n.attr_ints("q_strides"), n.attr_ints("k_strides"),   n.attr_ints("v_strides"),
                  n.attr_ints("y_strides"), n.attr_ints("output_shape")};
  if (p.batch.size() != 4 || p.sizes.size() != 4 || p.offsets.size() != 3 || p.q_strides.size() != 6 ||
      p.k_strides.size() != 6 || p.v_strides.size() != 6 || p.y_strides.size() != 6)
    v.fail("malformed attention layout");
  for (int64_t d : p.batch)
    if (d < 1) v.fail("batch dims must be positive");
  for (int64_t d : p.sizes)
    if (d < 1) v.fail("sizes must be positive");
  // Every element an operand's strides reach must lie inside the tensor it reads or writes.
  auto check = [&](const std::vector<int64_t>& strides, int64_t offset, int64_t rows, int64_t cols, int64_t size,
                   const char* what) {
    int64_t last = offset;
    const int64_t extent[6] = {p.batch[0], p.batch[1], p.batch[2], p.batch[3], rows, cols};
    for (int d = 0; d < 6; ++d) {
      if (strides[std::size_t(d)] < 0) v.fail("{} has a negative stride", what);
      last += strides[std::size_t(d)] * (extent[d] - 1);
    }
    if (offset < 0 || last >= size) v.fail("{} reaches element {} of {}", what, last, size);
  };
  const int64_t q_len = p.sizes[0], kv_len = p.sizes[1], head = p.sizes[2], v_head = p.sizes[3];
  check(p.q_strides, p.offsets[0], q_len, head, element_count(v.input_dims(0)), "Q");
  check(p.k_strides, p.offsets[1], head, kv_len, element_count(v.input_dims(1)), "K^T");
  check(p.v_strides, p.offsets[2], kv_len, v_head, element_count(v.input_dims(2)), "V");
  if (element_count(p.output_shape) != element_count(p.batch) * q_len * v_head) v.fail("output shape does not match");
  check(p.y_strides, 0, q_len, v_head, element_count(p.output_shape), "the output");
  return p;
}

// Declares the node's ScaledDotShape `shape` (the same struct in the CPU and CUDA kernels) and
// returns the kernel's operands before it: "q, kt, v, y".
std::string scaled_dot_operands(EmitContext& e, const ScaledDotPlan& p) {
  e.line("static constexpr detail::ScaledDotShape shape{{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}}};", braced(p.batch),
         p.sizes[0], p.sizes[1], p.sizes[2], p.sizes[3], braced(p.q_strides), braced(p.k_strides), braced(p.v_strides),
         braced(p.y_strides), cpp_float(e.node().attr_float("scale", 1.f)), e.node().attr_int("divide", 0) != 0);
  auto at = [](const std::string& base, int64_t offset) { return offset ? fmt::format("{} + {}", base, offset) : base; };
  return fmt::format("{}, {}, {}, {}", at(e.in(0), p.offsets[0]), at(e.in(1), p.offsets[1]), at(e.in(2), p.offsets[2]),
                     e.out(0));
}

void add_scaled_dot_attention(Registry& r) {
  OpDef d;
  d.op_type = "ScaledDotAttention";
  d.types = "float";
  d.infer = [](const NodeView& v) {
    for (std::size_t i = 0; i < 3; ++i)
      if (v.input_dtype(i) != DType::Float) v.fail("operands must be float");
    const ScaledDotPlan p = plan_scaled_dot(v);
    InferResult res{{static_value(DType::Float, p.output_shape)}};
    res.workspace_bytes = int64_t(sizeof(float)) * rt::scaled_dot_scratch(p.sizes[1], p.sizes[2], p.sizes[3]);
    return res;
  };
  d.emit = [](EmitContext& e) {
    e.use_kernel("attention");
    const ScaledDotPlan p = plan_scaled_dot(e);
    e.line("detail::scaled_dot_attention({}, shape, reinterpret_cast<float*>({}));", scaled_dot_operands(e, p),
           e.workspace());
  };
  d.emit_cuda = [](EmitContext& e) {
    cuda_require_float(e);
    const ScaledDotPlan p = plan_scaled_dot(e);
    // A block's four warps keep each a row of scores and the query row in shared memory,
    // which holds 48 KiB without opting in to more.
    if (4 * (p.sizes[1] + p.sizes[2]) * int64_t(sizeof(float)) > 48 * 1024)
      e.unsupported("{} keys and heads of {} exceed the CUDA kernel's shared memory", p.sizes[1], p.sizes[2]);
    e.use_kernel("attention");
    e.line("detail::scaled_dot_attention({}, shape, stream);", scaled_dot_operands(e, p));
  };
  d.flops = [](const NodeView& v) {
    const ScaledDotPlan p = plan_scaled_dot(v);
    const int64_t per_row = 2 * p.sizes[1] * (p.sizes[2] + p.sizes[3]) + 5 * p.sizes[1];
    return element_count(p.batch) * p.sizes[0] * per_row;
  };
  r.add_internal(std::move(d));
}

}  // namespace

void register_attention_ops(Registry& r) {
  add_linear_attention(r);
  add_attention(r);
  add_rotary_embedding(r);
  add_scaled_dot_attention(r);
}

}  // namespace sofiec
