// Generated code as a function of the run-time dims. The emitters write code for static
// shapes; the same code emitted for several sampled values of the dims differs only in the
// integer literals that are extents, strides, sizes and counts. Lifting fits each such
// literal with a polynomial of the dims (confirmed at points off the fitting grid) and writes
// the expression in its place, so one text serves every value.
#pragma once

#include <string>
#include <vector>

#include "dynamic/polynomial.hpp"

namespace sofiec {

// texts[i] was generated with the dims at grid.points[i]. vars are the C++ int64_t variables
// holding the dims in the lifted code. Throws Error (prefixed with `where` of the place)
// when the texts differ in anything but literals a polynomial explains. Comments that differ
// are dropped. Declarations made constexpr lose it where a lifted literal enters them.
// atoms: floor atoms found so far (see fit_polynomial), shared with the other fits.
std::string lift_code(const SampleGrid& grid, const std::vector<std::string>& texts,
                      const std::vector<std::string>& vars, const std::vector<std::string>& symbol_names,
                      std::vector<std::vector<FloorAtom>>* atoms = nullptr);

}  // namespace sofiec
