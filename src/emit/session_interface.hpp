// The interface of a generated Session (inputs, outputs, their dtypes and shapes as functions of
// the run-time dims), for code sofiec writes around the header: the Python module.
#pragma once

#include <string>

#include "emit/header_writer.hpp"
#include "sofiec/compiler.hpp"

namespace sofiec {

SessionInterface static_interface(const Graph& g, const HeaderSpec& spec);
SessionInterface dynamic_interface(const Graph& g, const DynamicLayout& layout, const HeaderSpec& spec);

}  // namespace sofiec
