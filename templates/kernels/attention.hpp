// Scaled dot-product attention (ONNX Attention): multi-head, grouped-query and multi-query,
// with an optional key/value cache, boolean or additive mask, causal and sliding-window
// masking, padding by per-batch key counts, and softcap. One query row at a time: the row's
// scores and bias live in `scratch` (2 * total_len elements of T).
#pragma once
#include "prelude.hpp"
#include "softmax.hpp"

struct AttentionShape {
  int64_t batch, q_heads, kv_heads, q_len, kv_len, past_len, head_size, v_head_size;
  int64_t q_strides[3], k_strides[3], v_strides[3], y_strides[3];  // batch, head, position
  int64_t mask_strides[4];  // over (batch, q head, query, key); the mask covers keys < mask_len
  int64_t mask_len;
  bool causal;
  int64_t left_window, right_window;  // -1: unbounded
  float scale, softcap;
  int qk_mode;  // what qk_out receives: 0 scores, 1 after softcap, 2 plus bias, 3 probabilities
};

template <class T, class M>
inline void attention(const T* q, const T* k, const T* v, const M* mask, const T* past_k, const T* past_v,
                      const int64_t* nonpad, T* y, T* present_k, T* present_v, T* qk_out, const AttentionShape& s,
                      T* scratch) {
  const int64_t total = s.past_len + s.kv_len;
  const T neg_inf = -std::numeric_limits<T>::infinity();
  auto key = [&](int64_t b, int64_t h, int64_t j) {
    return j < s.past_len ? past_k + ((b * s.kv_heads + h) * s.past_len + j) * s.head_size
                          : k + b * s.k_strides[0] + h * s.k_strides[1] + (j - s.past_len) * s.k_strides[2];
  };
  auto value = [&](int64_t b, int64_t h, int64_t j) {
    return j < s.past_len ? past_v + ((b * s.kv_heads + h) * s.past_len + j) * s.v_head_size
                          : v + b * s.v_strides[0] + h * s.v_strides[1] + (j - s.past_len) * s.v_strides[2];
  };
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.kv_heads; ++h)
      for (int64_t j = 0; j < total; ++j) {
        if (present_k)
          std::memcpy(present_k + ((b * s.kv_heads + h) * total + j) * s.head_size, key(b, h, j),
                      sizeof(T) * size_t(s.head_size));
        if (present_v)
          std::memcpy(present_v + ((b * s.kv_heads + h) * total + j) * s.v_head_size, value(b, h, j),
                      sizeof(T) * size_t(s.v_head_size));
      }
  T* scores = scratch;
  T* bias = scratch + total;
  const int64_t group = s.q_heads / s.kv_heads;
  for (int64_t b = 0; b < s.batch; ++b) {
    const int64_t offset = nonpad && s.past_len == 0 ? nonpad[b] - s.q_len : s.past_len;
    for (int64_t h = 0; h < s.q_heads; ++h) {
      const int64_t kh = h / group;
      for (int64_t i = 0; i < s.q_len; ++i) {
        const T* qi = q + b * s.q_strides[0] + h * s.q_strides[1] + i * s.q_strides[2];
        bool any_allowed = false;
        for (int64_t j = 0; j < total; ++j) {
          T bj = T(0);
          if (mask) {
            if (j >= s.mask_len) {
              bj = neg_inf;
            } else {
              const M m =
                  mask[b * s.mask_strides[0] + h * s.mask_strides[1] + i * s.mask_strides[2] + j * s.mask_strides[3]];
              if constexpr (std::is_same<M, bool>::value) {
                bj = m ? T(0) : neg_inf;
              } else {
                bj = T(m);
              }
            }
          }
          const int64_t p = i + offset;
          if (s.causal && j > p) bj = neg_inf;
          if (s.left_window >= 0 && p - j > s.left_window) bj = neg_inf;
          if (s.right_window >= 0 && j - p > s.right_window) bj = neg_inf;
          if (nonpad && j >= nonpad[b]) bj = neg_inf;
          bias[j] = bj;
          any_allowed = any_allowed || bj != neg_inf;
          const T* kj = key(b, kh, j);
          T dot = T(0);
          for (int64_t d = 0; d < s.head_size; ++d) dot += qi[d] * kj[d];
          T score = dot * T(s.scale);
          if (s.softcap > 0.f) score = T(s.softcap) * std::tanh(score / T(s.softcap));
          scores[j] = score;
        }
        T* qk_row = qk_out ? qk_out + ((b * s.q_heads + h) * s.q_len + i) * total : nullptr;
        if (qk_row && s.qk_mode <= 1)
          for (int64_t j = 0; j < total; ++j) qk_row[j] = scores[j];
        T peak = neg_inf;
        for (int64_t j = 0; j < total; ++j) {
          scores[j] += bias[j];
          peak = std::max(peak, scores[j]);
        }
        if (qk_row && s.qk_mode == 2)
          for (int64_t j = 0; j < total; ++j) qk_row[j] = scores[j];
        T sum = T(0);
        for (int64_t j = 0; j < total; ++j) {
          scores[j] = any_allowed && scores[j] != neg_inf ? std::exp(scores[j] - peak) : T(0);
          sum += scores[j];
        }
        const T inv = sum > T(0) ? T(1) / sum : T(0);
        for (int64_t j = 0; j < total; ++j) scores[j] *= inv;
        if (qk_row && s.qk_mode == 3)
          for (int64_t j = 0; j < total; ++j) qk_row[j] = scores[j];
        T* yi = y + b * s.y_strides[0] + h * s.y_strides[1] + i * s.y_strides[2];
        for (int64_t d = 0; d < s.v_head_size; ++d) yi[d] = T(0);
        for (int64_t j = 0; j < total; ++j) {
          if (scores[j] == T(0)) continue;
          const T* vj = value(b, kh, j);
          for (int64_t d = 0; d < s.v_head_size; ++d) yi[d] += scores[j] * vj[d];
        }
      }
    }
  }
}

// Softmax(Q K^T scaled) V as exporters write it (MatMul, Div or Mul by a constant, Softmax,
// MatMul; nodes fused by AttentionFusion), reading Q, K^T and V through strides so that the
// head split and transposes around it are never copied. Per batch entry (up to 4 batch dims):
// K^T is packed into scratch with rows padded to 16 lanes, V too unless its rows are whole
// vectors (then read in place, as Q's rows), then 4 query rows at a time share every load
// (attention_rows4).
struct ScaledDotShape {
  int64_t batch[4];  // 1 where unused
  int64_t q_len, kv_len, head_size, v_head_size;
  // Per operand, in elements: strides along the 4 batch dims, then rows and columns
  // (Q: query, feature; K^T: feature, key; V: key, feature; Y: query, feature).
  int64_t q_strides[6], k_strides[6], v_strides[6], y_strides[6];
  float scale;
  bool divide;  // scores / scale (an exporter's Div) rather than scores * scale
};

// Scratch floats scaled_dot_attention needs: at most, so that the bound is a polynomial of the sizes.
constexpr int64_t scaled_dot_scratch(int64_t kv_len, int64_t head_size, int64_t v_head_size) {
  return (head_size + 4) * (kv_len + 15) + kv_len * (v_head_size + 15) + 4 * head_size;
}

// Four query rows (q_rows, q_ld apart, zero rows past `rows`) against packed K^T
// [head_size][keys] and V's kv_len rows of cols floats (v_ld apart): scores with their running
// maxima, exp and sums, then the products with V scaled by 1/sum at the end; the four rows
// interleave at every step.
SOFIEC_ALWAYS_INLINE void attention_rows4(const float* q_rows, int64_t q_ld, const float* kt_pack, const float* v_rows,
                                          int64_t v_ld, float* scores, int64_t head_size, int64_t kv_len,
                                          int64_t v_head_size, int64_t keys, int64_t cols, const simd::f32x16& scale,
                                          bool divide, int64_t rows, float* y, int64_t y_row, int64_t y_col) {
  using simd::f32x16;
  using simd::i32x16;
  const f32x16 lowest = f32x16{} - std::numeric_limits<float>::infinity();
  const i32x16 lane = simd::lane_indices<int32_t, 16>();
  f32x16 peak0 = lowest, peak1 = lowest, peak2 = lowest, peak3 = lowest;
  for (int64_t c = 0; c < keys; c += 16) {
    f32x16 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {}, k;
    for (int64_t f = 0; f < head_size; ++f) {
      simd::load(k, kt_pack + f * keys + c);
      acc0 = simd::fma(q_rows[f], k, acc0);
      acc1 = simd::fma(q_rows[q_ld + f], k, acc1);
      acc2 = simd::fma(q_rows[2 * q_ld + f], k, acc2);
      acc3 = simd::fma(q_rows[3 * q_ld + f], k, acc3);
    }
    if (divide) {
      acc0 /= scale, acc1 /= scale, acc2 /= scale, acc3 /= scale;
    } else {
      acc0 *= scale, acc1 *= scale, acc2 *= scale, acc3 *= scale;
    }
    if (c + 16 > kv_len) {  // padding keys take no part
      const auto valid = lane < int32_t(kv_len - c);
      acc0 = simd::select(valid, acc0, lowest), acc1 = simd::select(valid, acc1, lowest),
      acc2 = simd::select(valid, acc2, lowest), acc3 = simd::select(valid, acc3, lowest);
    }
    peak0 = simd::select(acc0 > peak0, acc0, peak0), peak1 = simd::select(acc1 > peak1, acc1, peak1);
    peak2 = simd::select(acc2 > peak2, acc2, peak2), peak3 = simd::select(acc3 > peak3, acc3, peak3);
    simd::store(scores + c, acc0);
    simd::store(scores + keys + c, acc1);
    simd::store(scores + 2 * keys + c, acc2);
    simd::store(scores + 3 * keys + c, acc3);
  }
  const float m0 = max_lanes(peak0), m1 = max_lanes(peak1), m2 = max_lanes(peak2), m3 = max_lanes(peak3);
  f32x16 sum0 = {}, sum1 = {}, sum2 = {}, sum3 = {}, e0, e1, e2, e3;
  for (int64_t c = 0; c < keys; c += 16) {
    simd::load(e0, scores + c);
    simd::load(e1, scores + keys + c);
    simd::load(e2, scores + 2 * keys + c);
    simd::load(e3, scores + 3 * keys + c);
    e0 -= m0, e1 -= m1, e2 -= m2, e3 -= m3;
    exp_poly(e0), exp_poly(e1), exp_poly(e2), exp_poly(e3);
    if (c + 16 > kv_len) {
      const auto valid = lane < int32_t(kv_len - c);
      const f32x16 zero = {};
      e0 = simd::select(valid, e0, zero), e1 = simd::select(valid, e1, zero), e2 = simd::select(valid, e2, zero),
      e3 = simd::select(valid, e3, zero);
    }
    sum0 += e0, sum1 += e1, sum2 += e2, sum3 += e3;
    simd::store(scores + c, e0);
    simd::store(scores + keys + c, e1);
    simd::store(scores + 2 * keys + c, e2);
    simd::store(scores + 3 * keys + c, e3);
  }
  const float inv[4] = {1.f / sum_lanes(sum0), 1.f / sum_lanes(sum1), 1.f / sum_lanes(sum2), 1.f / sum_lanes(sum3)};
  for (int64_t c = 0; c < cols; c += 16) {
    // Even and odd keys in separate sums: 8 chains of multiply-adds instead of 4.
    f32x16 out0 = {}, out1 = {}, out2 = {}, out3 = {}, odd0 = {}, odd1 = {}, odd2 = {}, odd3 = {}, val, next;
    const float *s0 = scores, *s1 = scores + keys, *s2 = scores + 2 * keys, *s3 = scores + 3 * keys;
    int64_t j = 0;
    for (; j + 2 <= kv_len; j += 2) {
      simd::load(val, v_rows + j * v_ld + c);
      simd::load(next, v_rows + (j + 1) * v_ld + c);
      out0 = simd::fma(s0[j], val, out0), out1 = simd::fma(s1[j], val, out1), out2 = simd::fma(s2[j], val, out2),
      out3 = simd::fma(s3[j], val, out3);
      odd0 = simd::fma(s0[j + 1], next, odd0), odd1 = simd::fma(s1[j + 1], next, odd1),
      odd2 = simd::fma(s2[j + 1], next, odd2), odd3 = simd::fma(s3[j + 1], next, odd3);
    }
    if (j < kv_len) {
      simd::load(val, v_rows + j * v_ld + c);
      out0 = simd::fma(s0[j], val, out0), out1 = simd::fma(s1[j], val, out1), out2 = simd::fma(s2[j], val, out2),
      out3 = simd::fma(s3[j], val, out3);
    }
    f32x16 out[4] = {out0 + odd0, out1 + odd1, out2 + odd2, out3 + odd3};
    const int64_t width = std::min<int64_t>(16, v_head_size - c);
    for (int64_t r = 0; r < rows; ++r) {
      out[r] *= inv[r];
      float* yr = y + r * y_row + c * y_col;
      if (y_col == 1) {
        simd::store_first(yr, width, out[r]);
      } else {
        for (int64_t w = 0; w < width; ++w) yr[w * y_col] = out[r][w];
      }
    }
  }
}

inline void scaled_dot_attention(const float* q, const float* kt, const float* v, float* y, const ScaledDotShape& s,
                                 float* scratch) {
  using simd::f32x16;
  const int64_t keys = (s.kv_len + 15) / 16 * 16, cols = (s.v_head_size + 15) / 16 * 16;
  float* kt_pack = scratch;                      // [head_size][keys]
  float* v_pack = kt_pack + s.head_size * keys;  // [kv_len][cols]
  float* scores = v_pack + s.kv_len * cols;      // [4][keys]
  float* q_rows = scores + 4 * keys;             // [4][head_size]
  const f32x16 scale = f32x16{} + s.scale;
  int64_t at[4];
  for (at[0] = 0; at[0] < s.batch[0]; ++at[0])
    for (at[1] = 0; at[1] < s.batch[1]; ++at[1])
      for (at[2] = 0; at[2] < s.batch[2]; ++at[2])
        for (at[3] = 0; at[3] < s.batch[3]; ++at[3]) {
          const float *qb = q, *kb = kt, *vb = v;
          float* yb = y;
          for (int d = 0; d < 4; ++d) {
            qb += at[d] * s.q_strides[d];
            kb += at[d] * s.k_strides[d];
            vb += at[d] * s.v_strides[d];
            yb += at[d] * s.y_strides[d];
          }
          // K^T from K's rows (a key's features contiguous, as a fused QKV product leaves them)
          // by 16x16 tiles in registers, the edges element by element: element-wise strided
          // copies take a good part of a small attention's time (GN2's 8 heads of 40 x 16).
          const int64_t key_tiles = s.k_strides[4] == 1 ? s.kv_len / 16 * 16 : 0;
          const int64_t feature_tiles = s.k_strides[4] == 1 ? s.head_size / 16 * 16 : 0;
          for (int64_t j = 0; j < key_tiles; j += 16)
            for (int64_t f = 0; f < feature_tiles; f += 16)
              transpose_tile16(kb + j * s.k_strides[5] + f, s.k_strides[5], kt_pack + f * keys + j, keys,
                               std::make_index_sequence<16>{});
          for (int64_t f = 0; f < s.head_size; ++f) {
            float* row = kt_pack + f * keys;
            for (int64_t j = f < feature_tiles ? key_tiles : 0; j < s.kv_len; ++j)
              row[j] = kb[f * s.k_strides[4] + j * s.k_strides[5]];
            for (int64_t j = s.kv_len; j < keys; ++j) row[j] = 0.f;
          }
          // V and Q are read in place where their rows are whole vectors of contiguous features
          // (a fused QKV product's), else copied into rows padded with zeros.
          const bool v_in_place = s.v_strides[5] == 1 && s.v_head_size == cols;
          const float* v_rows = v_in_place ? vb : v_pack;
          const int64_t v_ld = v_in_place ? s.v_strides[4] : cols;
          for (int64_t j = 0; j < (v_in_place ? 0 : s.kv_len); ++j) {
            float* row = v_pack + j * cols;
            const float* src = vb + j * s.v_strides[4];
            if (s.v_strides[5] == 1) std::memcpy(row, src, sizeof(float) * std::size_t(s.v_head_size));
            else
              for (int64_t c = 0; c < s.v_head_size; ++c) row[c] = src[c * s.v_strides[5]];
            for (int64_t c = s.v_head_size; c < cols; ++c) row[c] = 0.f;
          }
          for (int64_t i0 = 0; i0 < s.q_len; i0 += 4) {
            const int64_t rows = std::min<int64_t>(4, s.q_len - i0);
            const bool q_in_place = rows == 4 && s.q_strides[5] == 1;
            for (int64_t r = 0; r < (q_in_place ? 0 : 4); ++r) {
              float* qr = q_rows + r * s.head_size;
              const float* src = qb + (i0 + r) * s.q_strides[4];
              if (r >= rows) std::fill(qr, qr + s.head_size, 0.f);
              else if (s.q_strides[5] == 1) std::memcpy(qr, src, sizeof(float) * std::size_t(s.head_size));
              else
                for (int64_t f = 0; f < s.head_size; ++f) qr[f] = src[f * s.q_strides[5]];
            }
            attention_rows4(q_in_place ? qb + i0 * s.q_strides[4] : q_rows, q_in_place ? s.q_strides[4] : s.head_size,
                            kt_pack, v_rows, v_ld, scores, s.head_size, s.kv_len, s.v_head_size, keys, cols, scale,
                            s.divide, rows, yb + i0 * s.y_strides[4], s.y_strides[4], s.y_strides[5]);
          }
        }
}

// Rotary position embedding of x [batch, heads, seq, head_size] addressed through strides
// (batch, head, position), rotating the first `rot` features (halves, or interleaved pairs).
// cos/sin rows come from position_ids (caches [positions, rot/2]) or directly from
// caches [batch, seq, rot/2].
template <class T>
inline void rotary_embedding(const T* x, const T* cos_cache, const T* sin_cache, const int64_t* position_ids, T* y,
                             int64_t batch, int64_t heads, int64_t seq, int64_t head_size, int64_t rot,
                             const int64_t* strides, bool interleaved) {
  const int64_t half = rot / 2;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      const int64_t row = position_ids ? position_ids[b * seq + s] : b * seq + s;
      const T* c = cos_cache + row * half;
      const T* sn = sin_cache + row * half;
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t at = b * strides[0] + h * strides[1] + s * strides[2];
        const T* xs = x + at;
        T* ys = y + at;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
          const T x1 = xs[i1], x2 = xs[i2];
          ys[i1] = c[i] * x1 - sn[i] * x2;
          ys[i2] = sn[i] * x1 + c[i] * x2;
        }
        for (int64_t i = rot; i < head_size; ++i) ys[i] = xs[i];
      }
    }
}

// Linear attention with a recurrent state per (batch, kv head) of [dk, dv]: per step the state
// decays (gating; decay per head or per key feature), takes the delta-rule correction
// (beta * (v - state^T k)) or plain v, adds k v^T, and every query head of the group reads
// scale * q^T state. q, k, v are [batch, steps, heads * size]; state is [batch, kv_heads, dk, dv]
// (present, or scratch when the present state is not wanted); scratch also holds dv values.
template <class T>
inline void linear_attention(const T* q, const T* k, const T* v, const T* past, const T* decay, int64_t decay_width,
                             const T* beta, int64_t beta_width, T* y, T* state, int64_t batch, int64_t steps,
                             int64_t q_heads, int64_t kv_heads, int64_t dk, int64_t dv, float scale, T* scratch) {
  const int64_t group = q_heads / kv_heads;
  T* corrected = scratch;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < kv_heads; ++h) {
      T* s = state + (b * kv_heads + h) * dk * dv;
      for (int64_t i = 0; i < dk * dv; ++i) s[i] = past ? past[(b * kv_heads + h) * dk * dv + i] : T(0);
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t row = b * steps + t;
        if (decay)
          for (int64_t d = 0; d < dk; ++d) {
            const T g =
                std::exp(decay_width == kv_heads ? decay[row * kv_heads + h] : decay[row * decay_width + h * dk + d]);
            for (int64_t m = 0; m < dv; ++m) s[d * dv + m] *= g;
          }
        const T* kt = k + row * kv_heads * dk + h * dk;
        const T* vt = v + row * kv_heads * dv + h * dv;
        for (int64_t m = 0; m < dv; ++m) corrected[m] = vt[m];
        if (beta) {
          const T bt = beta[row * beta_width + (beta_width == 1 ? 0 : h)];
          for (int64_t m = 0; m < dv; ++m) {
            T retrieved = T(0);
            for (int64_t d = 0; d < dk; ++d) retrieved += s[d * dv + m] * kt[d];
            corrected[m] = bt * (vt[m] - retrieved);
          }
        }
        for (int64_t d = 0; d < dk; ++d)
          for (int64_t m = 0; m < dv; ++m) s[d * dv + m] += kt[d] * corrected[m];
        for (int64_t g = 0; g < group; ++g) {
          const int64_t qh = h * group + g;
          const T* qt = q + row * q_heads * dk + qh * dk;
          T* yt = y + row * q_heads * dv + qh * dv;
          for (int64_t m = 0; m < dv; ++m) {
            T acc = T(0);
            for (int64_t d = 0; d < dk; ++d) acc += qt[d] * s[d * dv + m];
            yt[m] = T(scale) * acc;
          }
        }
      }
    }
}
