#include "dynamic/polynomial.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace sofiec {
namespace {

using Wide = __int128;

// Exact fractions for the interpolation; the sample values are small enough that 128 bits
// never overflow (values below 2^62, denominators products of differences of small primes).
struct Fraction {
  Wide num = 0, den = 1;
  Fraction() = default;
  Fraction(Wide n, Wide d = 1) : num(n), den(d) { normalize(); }  // NOLINT
  void normalize() {
    if (den < 0) num = -num, den = -den;
    Wide a = num < 0 ? -num : num, b = den;
    while (b != 0) {
      const Wide t = a % b;
      a = b;
      b = t;
    }
    if (a > 1) num /= a, den /= a;
  }
  friend Fraction operator+(const Fraction& x, const Fraction& y) {
    return {x.num * y.den + y.num * x.den, x.den * y.den};
  }
  friend Fraction operator-(const Fraction& x, const Fraction& y) {
    return {x.num * y.den - y.num * x.den, x.den * y.den};
  }
  friend Fraction operator*(const Fraction& x, const Fraction& y) { return {x.num * y.num, x.den * y.den}; }
  friend Fraction operator/(const Fraction& x, const Fraction& y) { return {x.num * y.den, x.den * y.num}; }
};

// Coefficients (c0, c1, c2) of the parabola through (x[i], y[i]), by divided differences.
void parabola(const int64_t x[3], Fraction y[3]) {
  const Fraction b = (y[1] - y[0]) / Fraction(x[1] - x[0]);
  const Fraction b2 = (y[2] - y[1]) / Fraction(x[2] - x[1]);
  const Fraction c = (b2 - b) / Fraction(x[2] - x[0]);
  const Fraction a = y[0];
  y[2] = c;
  y[1] = b - c * Fraction(x[0] + x[1]);
  y[0] = a - b * Fraction(x[0]) + c * Fraction(Wide(x[0]) * x[1]);
}

constexpr int64_t kGridPrimes[] = {53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127};
constexpr int64_t kCheckPrimes[] = {131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191};
// Wide grid: per symbol three values more than 128 apart; then three check points.
constexpr int64_t kWidePrimes[4][3] = {{503, 643, 787}, {509, 647, 797}, {521, 653, 809}, {523, 659, 811}};
constexpr int64_t kWideCheckPrimes[] = {919, 929, 937, 941, 947, 953, 967, 971, 977, 983, 991, 997};

}  // namespace

void Polynomial::add_term(const Exponents& e, int64_t c) {
  if (c == 0) return;
  int64_t& slot = terms_[e];
  slot += c;
  if (slot == 0) terms_.erase(e);
}

bool Polynomial::is_constant() const {
  for (const auto& [e, c] : terms_)
    for (int p : e)
      if (p != 0) return false;
  return true;
}

int64_t Polynomial::constant_term() const {
  auto it = terms_.find(Exponents(symbols_, 0));
  return it == terms_.end() ? 0 : it->second;
}

std::optional<int64_t> Polynomial::eval(const std::vector<int64_t>& at) const {
  int64_t sum = 0;
  for (const auto& [e, c] : terms_) {
    int64_t term = c;
    for (std::size_t s = 0; s < e.size(); ++s)
      for (int k = 0; k < e[s]; ++k)
        if (__builtin_mul_overflow(term, atoms_[s].of(at[s]), &term)) return std::nullopt;
    if (__builtin_add_overflow(sum, term, &sum)) return std::nullopt;
  }
  return sum;
}

bool Polynomial::non_decreasing_from(const std::vector<int64_t>& lowest) const {
  // Atoms never decrease as their symbols grow. With atom x = y + x0 (x0 its value at the
  // lowest symbol value), every coefficient in y non-negative makes each partial derivative
  // non-negative for y >= 0 (a sufficient condition, exact for the sizes models have).
  std::map<Exponents, Wide> shifted;
  for (const auto& [e, c] : terms_) {
    // (y+x0)^p = sum_k binom(p,k) x0^(p-k) y^k, expanded over every symbol.
    std::vector<std::pair<Exponents, Wide>> partial{{Exponents(e.size(), 0), Wide(c)}};
    for (std::size_t s = 0; s < e.size(); ++s) {
      const Wide x0 = atoms_[s].of(lowest[s]);
      std::vector<std::pair<Exponents, Wide>> next;
      Wide binom = 1;
      for (int k = 0; k <= e[s]; ++k) {
        Wide power = 1;
        for (int j = 0; j < e[s] - k; ++j) power *= x0;
        for (const auto& [pe, pc] : partial) {
          Exponents ne = pe;
          ne[s] = k;
          next.emplace_back(ne, pc * binom * power);
        }
        binom = binom * (e[s] - k) / (k + 1);
      }
      partial = std::move(next);
    }
    for (const auto& [pe, pc] : partial) shifted[pe] += pc;
  }
  for (const auto& [e, c] : shifted) {
    bool is_const = true;
    for (int p : e) is_const = is_const && p == 0;
    if (!is_const && c < 0) return false;
  }
  return true;
}

namespace {
// The names of the atoms: the symbol, or its floor division ("((rt_L + 1) / 2)" in code,
// "floor((L+1)/2)" for people).
std::vector<std::string> atom_names(const Polynomial& p, const std::vector<std::string>& names, bool code) {
  std::vector<std::string> out;
  for (std::size_t s = 0; s < names.size(); ++s) {
    const FloorAtom& a = p.atoms()[s];
    if (a.divisor == 1) out.push_back(names[s]);
    else if (code)
      out.push_back(a.offset ? fmt::format("(({} + {}) / {})", names[s], a.offset, a.divisor)
                             : fmt::format("({} / {})", names[s], a.divisor));
    else
      out.push_back(a.offset ? fmt::format("floor(({}+{})/{})", names[s], a.offset, a.divisor)
                             : fmt::format("floor({}/{})", names[s], a.divisor));
  }
  return out;
}

std::string render(const Polynomial& p, const std::vector<std::string>& names, bool parenthesize) {
  if (p.terms().empty()) return "0";
  std::string out;
  // Highest total degree first, then by exponents: deterministic and readable.
  std::vector<std::pair<Polynomial::Exponents, int64_t>> terms(p.terms().rbegin(), p.terms().rend());
  std::stable_sort(terms.begin(), terms.end(), [](const auto& a, const auto& b) {
    return std::accumulate(a.first.begin(), a.first.end(), 0) > std::accumulate(b.first.begin(), b.first.end(), 0);
  });
  for (std::size_t t = 0; t < terms.size(); ++t) {
    const auto& [e, c] = terms[t];
    std::string factors;
    for (std::size_t s = 0; s < e.size(); ++s)
      for (int k = 0; k < e[s]; ++k) factors += (factors.empty() ? "" : "*") + names[s];
    const int64_t mag = c < 0 ? -c : c;
    std::string term = factors.empty() ? std::to_string(mag) : mag == 1 ? factors : fmt::format("{}*{}", mag, factors);
    if (t == 0) out = (c < 0 ? "-" : "") + term;
    else out += (c < 0 ? " - " : " + ") + term;
  }
  if (parenthesize && (terms.size() > 1 || out[0] == '-' || out.find('*') != std::string::npos)) out = "(" + out + ")";
  return out;
}
}  // namespace

std::string Polynomial::cpp(const std::vector<std::string>& vars) const {
  return render(*this, atom_names(*this, vars, true), true);
}
std::string Polynomial::str(const std::vector<std::string>& names) const {
  return render(*this, atom_names(*this, names, false), false);
}

std::size_t SampleGrid::grid_size() const {
  std::size_t n = 1;
  for (std::size_t s = 0; s < symbols; ++s) n *= 3;
  return n;
}

SampleGrid make_sample_grid(std::size_t symbols, std::size_t checks) {
  SampleGrid g;
  g.symbols = symbols;
  const std::size_t n = g.grid_size();
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<int64_t> point(symbols);
    std::size_t rest = i;
    for (std::size_t s = 0; s < symbols; ++s, rest /= 3) point[s] = kGridPrimes[3 * s + rest % 3];
    g.points.push_back(point);
  }
  for (std::size_t c = 0; c < checks; ++c) {
    std::vector<int64_t> point(symbols);
    for (std::size_t s = 0; s < symbols; ++s) point[s] = kCheckPrimes[(c * symbols + s) % 12];
    g.points.push_back(point);
  }
  return g;
}

SampleGrid make_wide_sample_grid(std::size_t symbols) {
  SampleGrid g;
  g.symbols = symbols;
  g.wide = true;
  const std::size_t n = g.grid_size();
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<int64_t> point(symbols);
    std::size_t rest = i;
    for (std::size_t s = 0; s < symbols; ++s, rest /= 3) point[s] = kWidePrimes[s][rest % 3];
    g.points.push_back(point);
  }
  for (std::size_t c = 0; c < 3; ++c) {
    std::vector<int64_t> point(symbols);
    for (std::size_t s = 0; s < symbols; ++s) point[s] = kWideCheckPrimes[(c * symbols + s) % 12];
    g.points.push_back(point);
  }
  // Far-apart samples cannot tell floor((d + r) / S) from floor((d + r') / S) (they may fall in
  // the same residue classes); a run of 64 consecutive values of each symbol, the others at
  // the first grid point, crosses a multiple of every candidate divisor at every offset.
  for (std::size_t s = 0; s < symbols; ++s)
    for (int64_t k = 1; k <= 64; ++k) {
      std::vector<int64_t> point = g.points[0];
      point[s] += k;
      g.points.push_back(point);
    }
  return g;
}

namespace {

// The fit for one choice of atoms: interpolation on the grid in the atoms' values, then every
// point (checks included) confirmed.
std::optional<Polynomial> fit_with_atoms(const SampleGrid& grid, const std::vector<int64_t>& values,
                                         const std::vector<FloorAtom>& atoms) {
  const std::size_t n = grid.grid_size(), m = grid.symbols;
  std::vector<Fraction> coef(values.begin(), values.begin() + long(n));
  std::size_t stride = 1;
  for (std::size_t s = 0; s < m; ++s, stride *= 3) {
    const int64_t x[3] = {atoms[s].of(grid.points[0][s]), atoms[s].of(grid.points[stride][s]),
                          atoms[s].of(grid.points[2 * stride][s])};
    if (x[0] == x[1] || x[1] == x[2] || x[0] == x[2]) return std::nullopt;
    for (std::size_t base = 0; base < n; ++base) {
      if ((base / stride) % 3 != 0) continue;
      Fraction y[3] = {coef[base], coef[base + stride], coef[base + 2 * stride]};
      parabola(x, y);
      for (int k = 0; k < 3; ++k) coef[base + std::size_t(k) * stride] = y[k];
    }
  }
  Polynomial p(m, atoms);
  for (std::size_t i = 0; i < n; ++i) {
    if (coef[i].den != 1) return std::nullopt;
    if (coef[i].num > INT64_MAX || coef[i].num < -INT64_MAX) return std::nullopt;
    Polynomial::Exponents e(m);
    std::size_t rest = i;
    for (std::size_t s = 0; s < m; ++s, rest /= 3) e[s] = int(rest % 3);
    p.add_term(e, int64_t(coef[i].num));
  }
  for (std::size_t i = 0; i < grid.points.size(); ++i) {
    const std::optional<int64_t> v = p.eval(grid.points[i]);
    if (!v || *v != values[i]) return std::nullopt;
  }
  return p;
}

std::vector<FloorAtom> candidate_atoms() {
  std::vector<FloorAtom> out;
  for (int64_t d : {2, 3, 4, 5, 6, 7, 8, 16, 32, 64})
    for (int64_t r = 0; r < d; ++r) out.push_back({d, r});
  return out;
}

}  // namespace

std::optional<Polynomial> fit_polynomial(const SampleGrid& grid, const std::vector<int64_t>& values,
                                         std::vector<std::vector<FloorAtom>>* found) {
  const std::size_t m = grid.symbols;
  std::vector<FloorAtom> atoms(m);
  if (auto p = fit_with_atoms(grid, values, atoms)) return p;
  if (!grid.wide) return std::nullopt;
  std::vector<std::vector<FloorAtom>> local(m);
  std::vector<std::vector<FloorAtom>>& seen = found ? *found : local;
  seen.resize(m);
  auto remember = [&](const Polynomial& p) {
    for (std::size_t s = 0; s < m; ++s)
      if (p.atoms()[s].divisor != 1 && std::find(seen[s].begin(), seen[s].end(), p.atoms()[s]) == seen[s].end())
        seen[s].push_back(p.atoms()[s]);
    return p;
  };
  // Atoms that worked before, then every candidate: one symbol divided, then two.
  const std::vector<FloorAtom> all = candidate_atoms();
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t s = 0; s < m; ++s)
      for (const FloorAtom& a : pass == 0 ? seen[s] : all) {
        atoms.assign(m, FloorAtom{});
        atoms[s] = a;
        if (auto p = fit_with_atoms(grid, values, atoms)) return remember(*p);
      }
    for (std::size_t s = 0; s < m; ++s)
      for (std::size_t t = s + 1; t < m; ++t)
        for (const FloorAtom& a : pass == 0 ? seen[s] : all)
          for (const FloorAtom& b : pass == 0 ? seen[t] : all) {
            atoms.assign(m, FloorAtom{});
            atoms[s] = a;
            atoms[t] = b;
            if (auto p = fit_with_atoms(grid, values, atoms)) return remember(*p);
          }
  }
  return std::nullopt;
}

}  // namespace sofiec
