#include "dynamic/lifting.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "sofiec/error.hpp"

namespace sofiec {
namespace {

enum class Kind { Identifier, Integer, Number, String, Comment, Punct };

struct Token {
  Kind kind;
  std::size_t begin, end;  // in the text
};

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    const std::size_t begin = i;
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
      while (i < s.size() && s[i] != '\n') ++i;
      out.push_back({Kind::Comment, begin, i});
    } else if (c == '"' || c == '\'') {
      for (++i; i < s.size() && s[i] != c; ++i)
        if (s[i] == '\\') ++i;
      i = std::min(i + 1, s.size());
      out.push_back({Kind::String, begin, i});
    } else if (ident_start(c)) {
      while (i < s.size() && ident_char(s[i])) ++i;
      out.push_back({Kind::Identifier, begin, i});
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      bool integer = true;
      while (i < s.size() &&
             (ident_char(s[i]) || s[i] == '.' ||
              ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E') && s[begin] != '0'))) {
        if (!std::isdigit(static_cast<unsigned char>(s[i])) && std::string("uUlL").find(s[i]) == std::string::npos)
          integer = false;
        ++i;
      }
      out.push_back({integer ? Kind::Integer : Kind::Number, begin, i});
    } else {
      out.push_back({Kind::Punct, begin, i + 1});
      ++i;
    }
  }
  return out;
}

std::string text_of(const std::string& s, const Token& t) { return s.substr(t.begin, t.end - t.begin); }

// The node a place in the code belongs to: the last "// node '...'" comment before it.
std::string where(const std::string& text, std::size_t pos) {
  const std::size_t at = text.rfind("// node '", pos);
  if (at == std::string::npos) return "the code around the node bodies";
  const std::size_t end = text.find('\n', at);
  return text.substr(at + 3, end - at - 3);
}

std::string digits_suffix(const std::string& literal, std::string& digits) {
  std::size_t k = 0;
  while (k < literal.size() && std::isdigit(static_cast<unsigned char>(literal[k]))) ++k;
  digits = literal.substr(0, k);
  return literal.substr(k);
}

}  // namespace

std::string lift_code(const SampleGrid& grid, const std::vector<std::string>& texts,
                      const std::vector<std::string>& vars, const std::vector<std::string>& symbol_names,
                      std::vector<std::vector<FloorAtom>>* atoms) {
  std::vector<std::vector<Token>> tokens;
  for (const std::string& t : texts) tokens.push_back(tokenize(t));
  const std::string& base = texts[0];
  const std::vector<Token>& t0 = tokens[0];
  auto fail = [&](std::size_t token, const std::string& why) -> Error {
    const std::size_t pos = token < t0.size() ? t0[token].begin : base.size();
    return Error(fmt::format("{}: {} (fix the dims with --dim NAME=VALUE)", where(base, pos), why));
  };
  for (std::size_t k = 1; k < tokens.size(); ++k)
    if (tokens[k].size() != t0.size()) {
      std::size_t i = 0;
      while (i < t0.size() && i < tokens[k].size() && text_of(base, t0[i]) == text_of(texts[k], tokens[k][i])) ++i;
      throw fail(
          i, fmt::format("its code takes a different form for different values of {}", fmt::join(symbol_names, ", ")));
    }

  std::vector<std::string> replacement(t0.size());
  std::vector<bool> replaced(t0.size(), false);
  for (std::size_t i = 0; i < t0.size(); ++i) {
    const std::string first = text_of(base, t0[i]);
    bool same = true;
    for (std::size_t k = 1; k < texts.size() && same; ++k)
      same = tokens[k][i].kind == t0[i].kind && text_of(texts[k], tokens[k][i]) == first;
    if (same) continue;
    replaced[i] = true;
    const Kind kind = t0[i].kind;
    for (std::size_t k = 1; k < texts.size(); ++k)
      if (tokens[k][i].kind != kind) throw fail(i, "its code takes a different form for different values of the dims");
    if (kind == Kind::Comment) continue;  // dropped: a comment must not state one sample's numbers
    std::vector<int64_t> values;
    if (kind == Kind::Integer) {
      std::string digits;
      const std::string suffix = digits_suffix(first, digits);
      for (std::size_t k = 0; k < texts.size(); ++k) {
        std::string d;
        if (digits_suffix(text_of(texts[k], tokens[k][i]), d) != suffix || d.size() > 18)
          throw fail(i, "an integer in its code does not follow the dims");
        values.push_back(std::strtoll(d.c_str(), nullptr, 10));
      }
      const auto p = fit_polynomial(grid, values, atoms);
      if (!p)
        throw fail(i, fmt::format("an extent in its code ({} at {}={}) is not a polynomial of the dims", first,
                                  fmt::join(symbol_names, ","), fmt::join(grid.points[0], ",")));
      const bool is_unsigned = suffix.find_first_of("uU") != std::string::npos;
      const bool is_long = suffix.find_first_of("lL") != std::string::npos;
      const char* cast = is_unsigned ? (is_long ? "unsigned long long" : "unsigned") : is_long ? "long long" : nullptr;
      replacement[i] = cast ? fmt::format("static_cast<{}>({})", cast, p->cpp(vars)) : p->cpp(vars);
    } else if (kind == Kind::Number) {
      // A floating constant that follows the dims: the reciprocal of a size (a mean's 1/n).
      const bool single = first.back() == 'f' || first.back() == 'F';
      for (std::size_t k = 0; k < texts.size(); ++k) {
        const double v = std::strtod(text_of(texts[k], tokens[k][i]).c_str(), nullptr);
        const double n = v != 0 ? std::round(1.0 / v) : 0;
        if (n < 1 || std::fabs(v * n - 1.0) > (single ? 1e-6 : 1e-14))
          throw fail(i, "a constant in its code depends on the dims");
        values.push_back(int64_t(n));
      }
      const auto p = fit_polynomial(grid, values, atoms);
      if (!p) throw fail(i, "a constant in its code depends on the dims");
      replacement[i] = single ? fmt::format("(1.0f / static_cast<float>({}))", p->cpp(vars))
                              : fmt::format("(1.0 / static_cast<double>({}))", p->cpp(vars));
    } else {
      throw fail(i, fmt::format("its code differs for different values of the dims ('{}')", first));
    }
    // A lifted value is known only at run time: the declaration it enters cannot be constexpr.
    for (std::size_t j = i; j-- > 0;) {
      const std::string tj = text_of(base, t0[j]);
      if (t0[j].kind == Kind::Punct && tj == ";") break;
      if (t0[j].kind == Kind::Punct && tj == "}") {
        // An earlier element of the same braced initializer ("{1, 2}, ...") is stepped over;
        // the end of a block ends the search.
        const std::string after = j + 1 < t0.size() ? text_of(base, t0[j + 1]) : "";
        if (after != "," && after != "}") break;
        for (int depth = 0; j > 0; --j) {
          const std::string tk = text_of(base, t0[j]);
          if (tk == "}") ++depth;
          if (tk == "{" && --depth == 0) break;
        }
        continue;
      }
      if (t0[j].kind == Kind::Punct && tj == "{") {
        // A braced initializer ("= {", "x{", "{{", ", {") encloses the value; a block does not.
        const bool opens_initializer = j > 0 && [&] {
          const std::string before = text_of(base, t0[j - 1]);
          if (t0[j - 1].kind == Kind::Identifier) return before != "else" && before != "do" && before != "try";
          return before == "=" || before == "," || before == "{";
        }();
        if (opens_initializer) continue;
        break;
      }
      // A static local would keep the first call's value: it becomes an automatic one.
      if (t0[j].kind == Kind::Identifier && (tj == "constexpr" || tj == "static")) {
        replaced[j] = true;
        replacement[j] = tj == "constexpr" ? "const" : "";
      }
    }
  }
  std::string out;
  std::size_t cursor = 0;
  for (std::size_t i = 0; i < t0.size(); ++i) {
    out += base.substr(cursor, t0[i].begin - cursor);
    out += replaced[i] ? replacement[i] : text_of(base, t0[i]);
    cursor = t0[i].end;
    if (replaced[i] && replacement[i].empty())  // a dropped word takes its space with it
      while (cursor < base.size() && base[cursor] == ' ') ++cursor;
  }
  out += base.substr(cursor);
  return out;
}

}  // namespace sofiec
