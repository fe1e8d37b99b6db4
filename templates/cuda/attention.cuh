// The compiler's ScaledDotAttention: softmax(Q K^T * scale) V for every batch index, each
// operand read through its strides (attention.cpp's plan). One warp per query row: the row and
// its scores over every key sit in shared memory, the softmax's max and sum are warp
// reductions, and each lane accumulates some of the output's features. Sizes of physics
// transformers (tens of tracks or tokens, heads of 16 to 64) keep all of it on chip.
#pragma once

#include "rows.cuh"

struct ScaledDotShape {
  long long batch[4];  // 1 where unused
  long long q_len, kv_len, head_size, v_head_size;
  // Per operand, in elements: strides along the 4 batch dims, then rows and columns
  // (Q: query, feature; K^T: feature, key; V: key, feature; Y: query, feature).
  long long q_strides[6], k_strides[6], v_strides[6], y_strides[6];
  float scale;
  bool divide;  // scores / scale rather than scores * scale
};

constexpr int kAttentionWarps = 4;

// The shared memory one block needs: per warp, the scores of a row and the query row.
inline std::size_t attention_shared_bytes(long long kv_len, long long head_size) {
  return static_cast<std::size_t>(kAttentionWarps * (kv_len + head_size)) * sizeof(float);
}

template <int = 0>
__global__ void scaled_dot_attention_kernel(const float* __restrict__ q, const float* __restrict__ kt,
                                            const float* __restrict__ v, float* __restrict__ y, ScaledDotShape s,
                                            long long rows) {
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long row = blockIdx.x * static_cast<long long>(kAttentionWarps) + warp;
  if (row >= rows) return;
  float* scores = shared + warp * (s.kv_len + s.head_size);
  float* q_row = scores + s.kv_len;
  long long b = row / s.q_len;
  const long long i = row % s.q_len;
  const float *qb = q + i * s.q_strides[4], *kb = kt, *vb = v;
  float* yb = y + i * s.y_strides[4];
  for (int d = 3; d >= 0; --d) {
    const long long at = b % s.batch[d];
    b /= s.batch[d];
    qb += at * s.q_strides[d];
    kb += at * s.k_strides[d];
    vb += at * s.v_strides[d];
    yb += at * s.y_strides[d];
  }
  for (long long f = lane; f < s.head_size; f += 32) q_row[f] = qb[f * s.q_strides[5]];
  __syncwarp();
  float top = -INFINITY;
  for (long long j = lane; j < s.kv_len; j += 32) {
    float dot = 0.f;
    for (long long f = 0; f < s.head_size; ++f) dot = fmaf(q_row[f], kb[f * s.k_strides[4] + j * s.k_strides[5]], dot);
    dot = s.divide ? dot / s.scale : dot * s.scale;
    scores[j] = dot;
    top = fmaxf(top, dot);
  }
  top = warp_max(top);
  float sum = 0.f;
  for (long long j = lane; j < s.kv_len; j += 32) {
    const float e = expf(scores[j] - top);
    scores[j] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  __syncwarp();
  const float inv = 1.f / sum;
  for (long long c = lane; c < s.v_head_size; c += 32) {
    float acc = 0.f;
    for (long long j = 0; j < s.kv_len; ++j) acc = fmaf(scores[j], vb[j * s.v_strides[4] + c * s.v_strides[5]], acc);
    yb[c * s.y_strides[5]] = acc * inv;
  }
}

inline void scaled_dot_attention(const float* q, const float* kt, const float* v, float* y, const ScaledDotShape& s,
                                 cudaStream_t stream) {
  const long long rows = s.batch[0] * s.batch[1] * s.batch[2] * s.batch[3] * s.q_len;
  if (rows == 0) return;
  const unsigned blocks = static_cast<unsigned>((rows + kAttentionWarps - 1) / kAttentionWarps);
  scaled_dot_attention_kernel<><<<blocks, 32 * kAttentionWarps, attention_shared_bytes(s.kv_len, s.head_size), stream>>>(
      q, kt, v, y, s, rows);
}
