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
  friend Fraction operator+(const Fraction& x, const Fraction& y) { return {x.num * y.den + y.num * x.den, x.den * y.den}; }
  friend Fraction operator-(const Fraction& x, const Fraction& y) { return {x.num * y.den - y.num * x.den, x.den * y.den}; }
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
        if (__builtin_mul_overflow(term, at[s], &term)) return std::nullopt;
    if (__builtin_add_overflow(sum, term, &sum)) return std::nullopt;
  }
  return sum;
}

bool Polynomial::non_decreasing_from_one() const {
  // With x = y + 1, every coefficient in y non-negative makes each partial derivative
  // non-negative for y >= 0 (a sufficient condition, exact for the sizes models have).
  std::map<Exponents, Wide> shifted;
  for (const auto& [e, c] : terms_) {
    // (y+1)^p = sum_k binom(p,k) y^k, expanded over every symbol.
    std::vector<std::pair<Exponents, Wide>> partial{{Exponents(e.size(), 0), Wide(c)}};
    for (std::size_t s = 0; s < e.size(); ++s) {
      std::vector<std::pair<Exponents, Wide>> next;
      Wide binom = 1;
      for (int k = 0; k <= e[s]; ++k) {
        for (const auto& [pe, pc] : partial) {
          Exponents ne = pe;
          ne[s] = k;
          next.emplace_back(ne, pc * binom);
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

std::string Polynomial::cpp(const std::vector<std::string>& vars) const { return render(*this, vars, true); }
std::string Polynomial::str(const std::vector<std::string>& names) const { return render(*this, names, false); }

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

std::optional<Polynomial> fit_polynomial(const SampleGrid& grid, const std::vector<int64_t>& values) {
  const std::size_t n = grid.grid_size(), m = grid.symbols;
  std::vector<Fraction> coef(values.begin(), values.begin() + long(n));
  std::size_t stride = 1;
  for (std::size_t s = 0; s < m; ++s, stride *= 3) {
    const int64_t x[3] = {grid.points[0][s], grid.points[stride][s], grid.points[2 * stride][s]};
    for (std::size_t base = 0; base < n; ++base) {
      if ((base / stride) % 3 != 0) continue;
      Fraction y[3] = {coef[base], coef[base + stride], coef[base + 2 * stride]};
      parabola(x, y);
      for (int k = 0; k < 3; ++k) coef[base + std::size_t(k) * stride] = y[k];
    }
  }
  Polynomial p(m);
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

}  // namespace sofiec
