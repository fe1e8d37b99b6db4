// What the operators' CUDA emitters (OpDef::emit_cuda, --target cuda) share: the target's type
// (float32), the functions templates/cuda/functors.cuh defines, the fused epilogue.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "emit/emit_context.hpp"

namespace sofiec {

// Every input the node reads (or its first data_inputs, the others being shapes, axes or
// indices known at generation time) and every output it writes is float32, else unsupported().
void cuda_require_float(const EmitContext& e, std::size_t data_inputs = SIZE_MAX);
// The same for nodes that move or combine index tensors too (views, Concat, Add): float32,
// int64 or int32, all of one type.
void cuda_require_float_or_index(const EmitContext& e, std::size_t data_inputs = SIZE_MAX);

// Masks and casts: every input the node reads (its first data_inputs) is one type of
// `allowed`, all the same; every output is `output`, or the inputs' type when it is Undefined.
void cuda_require_types(const EmitContext& e, std::initializer_list<DType> allowed, DType output,
                        std::size_t data_inputs = SIZE_MAX);

// The functor expression f (as the CPU emitter writes it: "detail::op_elu{1.f}"), checked
// against the structs of templates/cuda/functors.cuh: unsupported() for a function it lacks.
std::string cuda_functor(EmitContext& e, const std::string& f);

// Whether templates/cuda/functors.cuh has every function a functor expression names.
bool cuda_has_functors(const std::string& f);

// The node's fused epilogue as a device functor ("detail::chain()" when there is none).
std::string cuda_epilogue(EmitContext& e);

// Refuses a size cuBLAS's int dims cannot hold.
int64_t cuda_int_dim(const EmitContext& e, int64_t v);

}  // namespace sofiec
