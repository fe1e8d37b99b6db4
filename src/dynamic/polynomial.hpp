// Integer polynomials in the run-time dims of a model (N, ntracks, seq...): the size of a
// tensor, an extent or a stride in the generated code, as a function of those dims.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sofiec {

class Polynomial {
 public:
  using Exponents = std::vector<int>;  // one power per symbol

  Polynomial() = default;
  explicit Polynomial(std::size_t symbols) : symbols_(symbols) {}

  std::size_t symbols() const { return symbols_; }
  const std::map<Exponents, int64_t>& terms() const { return terms_; }
  bool is_constant() const;
  int64_t constant_term() const;
  // Value at the given symbol values; nullopt if it overflows 63 bits.
  std::optional<int64_t> eval(const std::vector<int64_t>& at) const;
  // True if the value never decreases when any symbol grows, for symbols >= 1 (so a buffer
  // sized for the maxima holds every smaller run).
  bool non_decreasing_from_one() const;

  // A C++ int64_t expression over the given variable names, parenthesized when compound.
  std::string cpp(const std::vector<std::string>& vars) const;
  // The same for people: "64*N*T", "T - 1".
  std::string str(const std::vector<std::string>& names) const;

  void add_term(const Exponents& e, int64_t c);
  bool operator==(const Polynomial& o) const { return symbols_ == o.symbols_ && terms_ == o.terms_; }

 private:
  std::size_t symbols_ = 0;
  std::map<Exponents, int64_t> terms_;  // no zero coefficients
};

// The samples a fit needs: each symbol at 3 values (so up to degree 2 in each symbol), on the
// full grid, then `checks` points off the grid that confirm it. Values are distinct primes,
// different for every symbol, large enough that no kernel takes a size-1 or tiny-size path.
struct SampleGrid {
  std::size_t symbols = 0;
  std::vector<std::vector<int64_t>> points;  // grid points first (index order), then checks
  std::size_t grid_size() const;
};
SampleGrid make_sample_grid(std::size_t symbols, std::size_t checks = 1);

// The polynomial (degree <= 2 in each symbol, integer coefficients) through the values at the
// grid points that also matches the check points; nullopt when there is none.
std::optional<Polynomial> fit_polynomial(const SampleGrid& grid, const std::vector<int64_t>& values);

}  // namespace sofiec
