// The layout of a DenseChain's weights (templates/cuda/dense_chain.cuh reads the same): per
// layer W as [K][N padded to 4], then the bias row [N padded to 4], so that each layer starts
// on 16 bytes for the kernel's asynchronous copies. widths: K of the first layer, then N of each.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sofiec {

inline int64_t dense_chain_padded(int64_t n) { return (n + 3) / 4 * 4; }

// Floats of layer k -> n in the weights blob.
inline int64_t dense_chain_layer_floats(int64_t k, int64_t n) { return (k + 1) * dense_chain_padded(n); }

inline int64_t dense_chain_blob_floats(const std::vector<int64_t>& widths) {
  int64_t total = 0;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) total += dense_chain_layer_floats(widths[l], widths[l + 1]);
  return total;
}

// Floats of shared memory a block of `rows` rows takes: the weights and two activation buffers
// (dense_chain_shared_bytes of the kernel).
inline int64_t dense_chain_shared_floats(const std::vector<int64_t>& widths, int64_t rows) {
  return dense_chain_blob_floats(widths) + 2 * rows * *std::max_element(widths.begin(), widths.end());
}

}  // namespace sofiec
