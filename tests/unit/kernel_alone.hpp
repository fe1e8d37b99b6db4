// What the header writer and src/kernels.hpp put around every kernel file, for the tests that
// compile each kernel file on its own (template_compiles.*): the vector layer, and the alias
// through which the kernels name it.
#pragma once
#include "../../templates/kernels/prelude.hpp"

namespace simd = ::sofiec::SOFIEC_VEC_NAMESPACE;
