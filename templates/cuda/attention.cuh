// The compiler's ScaledDotAttention: softmax(Q K^T * scale) V for every batch index, each
// operand read through its strides (attention.cpp's plan). One warp per query row: the row and
// its scores over every key sit in shared memory, the softmax's max and sum are warp
// reductions, and each lane accumulates some of the output's features. Where a head's K and V
// fit 48 KiB (sizes of physics transformers: tens of tracks or tokens, heads of 16 to 64), a
// block copies them into shared memory once for a tile of query rows.
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

// Batch index b's operands: where Q, K^T, V and Y start.
struct AttentionBases {
  const float *q, *kt, *v;
  float* y;
};

__device__ inline AttentionBases attention_bases(const float* q, const float* kt, const float* v, float* y,
                                                 const ScaledDotShape& s, long long b) {
  AttentionBases a{q, kt, v, y};
  for (int d = 3; d >= 0; --d) {
    const long long at = b % s.batch[d];
    b /= s.batch[d];
    a.q += at * s.q_strides[d];
    a.kt += at * s.k_strides[d];
    a.v += at * s.v_strides[d];
    a.y += at * s.y_strides[d];
  }
  return a;
}

// Query row i of batch index a by one warp: the row into q_row, its scores over every key into
// scores (both the warp's, in shared memory), the softmax by warp reductions, each lane some of
// the output's features. key(j, f) = K[j][f], value(j, c) = V[j][c]: memory or shared memory.
template <class KF, class VF>
__device__ void attention_row(const AttentionBases& a, const ScaledDotShape& s, long long i, float* q_row,
                              float* scores, KF key, VF value) {
  const int lane = threadIdx.x % 32;
  for (long long f = lane; f < s.head_size; f += 32) q_row[f] = a.q[i * s.q_strides[4] + f * s.q_strides[5]];
  __syncwarp();
  float top = -INFINITY;
  for (long long j = lane; j < s.kv_len; j += 32) {
    float dot = 0.f;
    for (long long f = 0; f < s.head_size; ++f) dot = fmaf(q_row[f], key(j, f), dot);
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
    for (long long j = 0; j < s.kv_len; ++j) acc = fmaf(scores[j], value(j, c), acc);
    a.y[i * s.y_strides[4] + c * s.y_strides[5]] = acc * inv;
  }
  __syncwarp();  // the row's query and scores are rewritten by the warp's next row
}

template <int = 0>
__global__ void scaled_dot_attention_kernel(const float* __restrict__ q, const float* __restrict__ kt,
                                            const float* __restrict__ v, float* __restrict__ y, ScaledDotShape s,
                                            long long rows) {
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32;
  const long long row = blockIdx.x * static_cast<long long>(kAttentionWarps) + warp;
  if (row >= rows) return;
  float* scores = shared + warp * (s.kv_len + s.head_size);
  const AttentionBases a = attention_bases(q, kt, v, y, s, row / s.q_len);
  attention_row(
      a, s, row % s.q_len, scores + s.kv_len, scores,
      [&](long long j, long long f) { return a.kt[f * s.k_strides[4] + j * s.k_strides[5]]; },
      [&](long long j, long long c) { return a.v[j * s.v_strides[4] + c * s.v_strides[5]]; });
}

// The same with the batch index's K and V in shared memory: a block takes a tile of query rows
// of one batch index (a head of an event), copies K (as rows of head_size + 1 words: a warp's
// lanes, each on its own key, then read 32 banks) and V once, and its warps take the tile's
// rows. Without it each query row's warp reads all of K and V from L2 (at batch 1024 of a
// tagger, hundreds of MB per attention).
constexpr int kAttentionTileWarps = 8;

inline std::size_t attention_tile_shared_bytes(long long kv_len, long long head_size, long long v_head_size) {
  return static_cast<std::size_t>(kv_len * (head_size + 1 + v_head_size) +
                                  kAttentionTileWarps * (kv_len + head_size)) *
         sizeof(float);
}

template <int = 0>
__global__ void scaled_dot_attention_tile_kernel(const float* __restrict__ q, const float* __restrict__ kt,
                                                 const float* __restrict__ v, float* __restrict__ y, ScaledDotShape s,
                                                 long long tile) {
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32;
  const long long tiles = (s.q_len + tile - 1) / tile;
  const long long i0 = (blockIdx.x % tiles) * tile;
  const long long hs = s.head_size, vhs = s.v_head_size, kv = s.kv_len, krow = hs + 1;
  const AttentionBases a = attention_bases(q, kt, v, y, s, blockIdx.x / tiles);
  float* ks = shared;          // K: [key][feature], rows of hs + 1
  float* vs = ks + kv * krow;  // V: [key][feature]
  float* scores = vs + kv * vhs + warp * (kv + hs);
  for (long long e = threadIdx.x; e < kv * hs; e += blockDim.x) {
    const long long f = e / kv, j = e % kv;  // adjacent threads, adjacent keys (K^T's rows)
    ks[j * krow + f] = a.kt[f * s.k_strides[4] + j * s.k_strides[5]];
  }
  for (long long e = threadIdx.x; e < kv * vhs; e += blockDim.x) {
    const long long j = e / vhs, c = e % vhs;
    vs[e] = a.v[j * s.v_strides[4] + c * s.v_strides[5]];
  }
  __syncthreads();
  const long long end = i0 + tile < s.q_len ? i0 + tile : s.q_len;
  for (long long i = i0 + warp; i < end; i += kAttentionTileWarps)
    attention_row(
        a, s, i, scores + kv, scores, [&](long long j, long long f) { return ks[j * krow + f]; },
        [&](long long j, long long c) { return vs[j * vhs + c]; });
}

// K and V of a batch index in shared memory where they fit the 48 KiB a block gets without
// asking (tiles of query rows sized so that the card has a few hundred blocks); else a warp
// per row reading them from memory.
inline void scaled_dot_attention(const float* q, const float* kt, const float* v, float* y, const ScaledDotShape& s,
                                 cudaStream_t stream) {
  const long long heads = s.batch[0] * s.batch[1] * s.batch[2] * s.batch[3], rows = heads * s.q_len;
  if (rows == 0) return;
  const std::size_t tile_bytes = attention_tile_shared_bytes(s.kv_len, s.head_size, s.v_head_size);
  if (tile_bytes <= 48 * 1024 && s.kv_len > 0) {
    // Rows per block: a multiple of the warps, 8 to 64, enough blocks for about 264 (two per
    // SM of an H100) where the rows allow.
    long long tile = (rows / 264 + kAttentionTileWarps - 1) / kAttentionTileWarps * kAttentionTileWarps;
    tile = tile < kAttentionTileWarps ? kAttentionTileWarps : tile > 64 ? 64 : tile;
    if (tile > s.q_len) tile = s.q_len;
    const long long blocks = heads * ((s.q_len + tile - 1) / tile);
    scaled_dot_attention_tile_kernel<><<<static_cast<unsigned>(blocks), 32 * kAttentionTileWarps, tile_bytes, stream>>>(
        q, kt, v, y, s, tile);
    return;
  }
  const unsigned blocks = static_cast<unsigned>((rows + kAttentionWarps - 1) / kAttentionWarps);
  scaled_dot_attention_kernel<><<<blocks, 32 * kAttentionWarps, attention_shared_bytes(s.kv_len, s.head_size), stream>>>(
      q, kt, v, y, s, rows);
}
