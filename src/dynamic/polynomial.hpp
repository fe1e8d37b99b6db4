// Integer polynomials in the run-time dims of a model (N, ntracks, seq...): the size of a
// tensor, an extent or a stride in the generated code, as a function of those dims.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sofiec {

// What a polynomial's variable is for one symbol d: floor((d + offset) / divisor); the symbol
// itself when divisor is 1. Strided convolutions and pools over a run-time extent divide it.
struct FloorAtom {
  int64_t divisor = 1, offset = 0;
  int64_t of(int64_t d) const { return divisor == 1 ? d : (d + offset) / divisor; }
  bool operator==(const FloorAtom& o) const { return divisor == o.divisor && offset == o.offset; }
};

class Polynomial {
 public:
  using Exponents = std::vector<int>;  // one power per symbol

  Polynomial() = default;
  explicit Polynomial(std::size_t symbols) : symbols_(symbols), atoms_(symbols) {}
  Polynomial(std::size_t symbols, std::vector<FloorAtom> atoms) : symbols_(symbols), atoms_(std::move(atoms)) {}

  std::size_t symbols() const { return symbols_; }
  const std::map<Exponents, int64_t>& terms() const { return terms_; }
  const std::vector<FloorAtom>& atoms() const { return atoms_; }
  bool is_constant() const;
  int64_t constant_term() const;
  // Value at the given symbol values (d >= 1); nullopt if it overflows 63 bits.
  std::optional<int64_t> eval(const std::vector<int64_t>& at) const;
  // True if the value never decreases when any symbol grows from the given values on (so a
  // buffer sized for the maxima holds every smaller run).
  bool non_decreasing_from(const std::vector<int64_t>& lowest) const;
  bool non_decreasing_from_one() const { return non_decreasing_from(std::vector<int64_t>(symbols_, 1)); }

  // A C++ int64_t expression over the given variable names, parenthesized when compound.
  std::string cpp(const std::vector<std::string>& vars) const;
  // The same for people: "64*N*T", "T - 1".
  std::string str(const std::vector<std::string>& names) const;

  void add_term(const Exponents& e, int64_t c);
  bool operator==(const Polynomial& o) const {
    return symbols_ == o.symbols_ && atoms_ == o.atoms_ && terms_ == o.terms_;
  }

 private:
  std::size_t symbols_ = 0;
  std::vector<FloorAtom> atoms_;        // one per symbol
  std::map<Exponents, int64_t> terms_;  // no zero coefficients, in the atoms
};

// The samples a fit needs: each symbol at 3 values (so up to degree 2 in each symbol), on the
// full grid, then `checks` points off the grid that confirm it. Values are distinct primes,
// different for every symbol, large enough that no kernel takes a size-1 or tiny-size path.
struct SampleGrid {
  std::size_t symbols = 0;
  std::vector<std::vector<int64_t>> points;  // grid points first (index order), then checks
  // Wide: the grid values of a symbol lie more than 64 apart (floor atoms of divisors up to 64
  // tell them apart); three check points and a run of 64 consecutive values per symbol
  // confirm a fit, which may then use floor atoms.
  bool wide = false;
  std::size_t grid_size() const;
};
SampleGrid make_sample_grid(std::size_t symbols, std::size_t checks = 1);
SampleGrid make_wide_sample_grid(std::size_t symbols);

// The polynomial (degree <= 2 in each symbol's atom, integer coefficients) through the values
// at the grid points that also matches the check points; nullopt when there is none. On a
// wide grid, floor atoms (divisors 2 to 8, 16, 32, 64) are tried where the symbols themselves
// do not fit, for up to two symbols at once; `found` (optional) remembers the atoms that
// worked, which are tried first next time.
std::optional<Polynomial> fit_polynomial(const SampleGrid& grid, const std::vector<int64_t>& values,
                                         std::vector<std::vector<FloorAtom>>* found = nullptr);

}  // namespace sofiec
