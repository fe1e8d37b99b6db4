// The kernels of templates/kernels, compiled into the compiler itself for constant folding:
// values computed at generation time come from the same code the generated header runs.
#pragma once

#include "kernels/prelude.hpp"

namespace sofiec::rt {
// The kernels name the vector layer through this alias, as in a generated header's kernel
// namespaces (the header writer declares it there).
namespace simd = ::sofiec::SOFIEC_VEC_NAMESPACE;
#include "kernels/functors.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/gemm.hpp"
#include "kernels/linalg.hpp"
#include "kernels/sparse_gemm.hpp"
#include "kernels/conv.hpp"
#include "kernels/pool.hpp"
#include "kernels/filter_lane_conv.hpp"
#include "kernels/softmax.hpp"
#include "kernels/reduce.hpp"
#include "kernels/indexing.hpp"
#include "kernels/attention.hpp"
#include "kernels/resize.hpp"
#include "kernels/quantize.hpp"
#include "kernels/signal.hpp"
#include "kernels/recurrent.hpp"
#include "kernels/normalization.hpp"
#include "kernels/movement.hpp"
#include "kernels/selection.hpp"
#include "kernels/winograd.hpp"
#include "kernels/edge_conv.hpp"
}  // namespace sofiec::rt
