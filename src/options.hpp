// Option helpers used inside the library; the public ones (parse_opt_level,
// sanitize_identifier, frozen_value) are declared in include/sofiec/compiler.hpp.
#pragma once

#include "sofiec/compiler.hpp"

namespace sofiec {

// The -O spelling of a level ("0", "basic", "extended"), for the header's banner.
const char* level_name(OptLevel l);

}  // namespace sofiec
