// Index arithmetic for numpy broadcasting, computed once at generation time.
#pragma once

#include <cstdint>
#include <vector>

namespace sofiec {

struct BinaryLayout {
  enum class Kind { Same, ScalarA, ScalarB, Strided };
  Kind kind = Kind::Same;
  int64_t count = 0;               // output elements
  std::vector<int64_t> dims;       // output dims after merging compatible neighbours
  std::vector<int64_t> a_strides;  // in elements, 0 where a is broadcast
  std::vector<int64_t> b_strides;
};

// Any number of operands broadcast to out: neighbouring dims are merged where every operand
// steps through them as one run, so the innermost loop is as long as possible.
struct BroadcastLayout {
  int64_t count = 0;                          // output elements
  std::vector<int64_t> dims;                  // merged output dims, at least one
  std::vector<std::vector<int64_t>> strides;  // per operand, in elements, 0 where repeated
  // All operands' strides, operand after operand (the layout map_strided reads).
  std::vector<int64_t> flat_strides() const;
};
BroadcastLayout plan_broadcast(const std::vector<std::vector<int64_t>>& operands, const std::vector<int64_t>& out);

// a and b broadcast to out (out is their broadcast shape).
BinaryLayout plan_binary(const std::vector<int64_t>& a, const std::vector<int64_t>& b, const std::vector<int64_t>& out);

// Row-major strides of dims.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& dims);

// Strides of a tensor with dims `in` read as if it had dims `out` (broadcast, 0 where repeated).
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out);

}  // namespace sofiec
