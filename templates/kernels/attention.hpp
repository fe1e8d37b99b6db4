// Scaled dot-product attention (ONNX Attention): multi-head, grouped-query and multi-query,
// with an optional key/value cache, boolean or additive mask, causal and sliding-window
// masking, padding by per-batch key counts, and softcap. One query row at a time: the row's
// scores and bias live in `scratch` (2 * total_len elements of T).
#pragma once
#include "prelude.hpp"

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
        if (present_k) std::memcpy(present_k + ((b * s.kv_heads + h) * total + j) * s.head_size, key(b, h, j), sizeof(T) * size_t(s.head_size));
        if (present_v) std::memcpy(present_v + ((b * s.kv_heads + h) * total + j) * s.v_head_size, value(b, h, j), sizeof(T) * size_t(s.v_head_size));
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
              const M m = mask[b * s.mask_strides[0] + h * s.mask_strides[1] + i * s.mask_strides[2] + j * s.mask_strides[3]];
              if constexpr (std::is_same<M, bool>::value) { bj = m ? T(0) : neg_inf; }
              else { bj = T(m); }
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
            const T g = std::exp(decay_width == kv_heads ? decay[row * kv_heads + h] : decay[row * decay_width + h * dk + d]);
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
