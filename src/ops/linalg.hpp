// MatMul's batching plan, shared by MatMul, MatMulInteger and QLinearMatMul.
#pragma once

#include <vector>

#include "ops/registry.hpp"

namespace sofiec {

struct MatMulPlan {
  int64_t m = 1, n = 1, k = 1;
  std::vector<int64_t> out_dims;
  std::vector<int64_t> a_offsets, b_offsets;  // per output batch, in elements
  // The same as a strided walk: the output's batch dims and each operand's stride along them
  // (in elements, 0 where it is broadcast), for code whose batch count is known only at run time.
  std::vector<int64_t> batch, a_strides, b_strides;
};

// numpy matmul of inputs a_input and b_input (1-D operands promoted, batch dims broadcast).
MatMulPlan plan_matmul(const NodeView& v, std::size_t a_input = 0, std::size_t b_input = 1);

}  // namespace sofiec
