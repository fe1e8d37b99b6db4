// The options' spellings: -O levels, --freeze values, and the identifiers made from names.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <set>

#include "kernels/prelude.hpp"
#include "options.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"

namespace sofiec {

OptLevel parse_opt_level(const std::string& s) {
  if (s == "0" || s == "O0") return OptLevel::O0;
  if (s == "basic" || s == "1" || s == "O1") return OptLevel::Basic;
  if (s == "extended" || s == "2" || s == "O2") return OptLevel::Extended;
  throw Error(fmt::format("unknown optimization level '{}' (use 0, basic or extended)", s));
}

std::string sanitize_identifier(const std::string& name) {
  static const std::set<std::string> keywords = {
      "alignas",      "alignof",  "and",       "and_eq",   "asm",       "auto",
      "bitand",       "bitor",    "bool",      "break",    "case",      "catch",
      "char",         "class",    "compl",     "const",    "constexpr", "const_cast",
      "continue",     "decltype", "default",   "delete",   "do",        "double",
      "dynamic_cast", "else",     "enum",      "explicit", "export",    "extern",
      "false",        "float",    "for",       "friend",   "goto",      "if",
      "inline",       "int",      "long",      "mutable",  "namespace", "new",
      "noexcept",     "not",      "not_eq",    "nullptr",  "operator",  "or",
      "or_eq",        "private",  "protected", "public",   "register",  "reinterpret_cast",
      "return",       "short",    "signed",    "sizeof",   "static",    "static_assert",
      "static_cast",  "struct",   "switch",    "template", "this",      "thread_local",
      "throw",        "true",     "try",       "typedef",  "typeid",    "typename",
      "union",        "unsigned", "using",     "virtual",  "void",      "volatile",
      "wchar_t",      "while",    "xor",       "xor_eq",   "std",       "detail"};
  std::string out;
  for (unsigned char c : name) out += std::isalnum(c) ? char(c) : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "m_" + out;
  // Identifiers with a double underscore or a leading underscore + capital are reserved.
  for (std::size_t p; (p = out.find("__")) != std::string::npos;) out.erase(p, 1);
  if (out[0] == '_') out = "m" + out;
  if (keywords.count(out)) out += '_';
  return out;
}

const char* level_name(OptLevel l) {
  switch (l) {
    case OptLevel::O0: return "0";
    case OptLevel::Basic: return "basic";
    default: return "extended";
  }
}

// NAME=v0,v1,... for --freeze; NAME= alone gives an empty tensor (ReduceL1's empty axes).
std::pair<std::string, std::vector<double>> parse_freeze(const std::string& s) {
  const auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) throw Error(fmt::format("--freeze '{}': expected NAME=V0,V1,...", s));
  std::vector<double> values;
  std::string rest = s.substr(eq + 1);
  for (std::size_t start = 0; !rest.empty() && start <= rest.size();) {
    const std::size_t comma = std::min(rest.find(',', start), rest.size());
    try {
      std::size_t used = 0;
      const std::string item = rest.substr(start, comma - start);
      values.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw Error(fmt::format("--freeze '{}': values must be numbers separated by commas", s));
    }
    start = comma + 1;
  }
  return {s.substr(0, eq), values};
}

Tensor frozen_value(const Graph& g, const std::string& input, const std::vector<double>& values) {
  if (std::find(g.inputs.begin(), g.inputs.end(), input) == g.inputs.end())
    throw Error(fmt::format("--freeze {}: the model has no graph input of that name", input));
  const ValueInfo& v = g.value(input);
  std::vector<int64_t> dims{int64_t(values.size())};
  if (v.has_shape && is_static(v.shape)) dims = static_dims(v.shape);
  Tensor t(v.dtype, dims);
  if (t.size() != int64_t(values.size()))
    throw Error(fmt::format("--freeze {}: {} values given, the input holds {}", input, values.size(), t.size()));
  // float16 and bfloat16 are stored as their bit patterns, rounded to nearest even as the
  // generated code rounds them.
  if (v.dtype == DType::Float16 || v.dtype == DType::BFloat16) {
    for (std::size_t i = 0; i < values.size(); ++i)
      t.data<uint16_t>()[i] = v.dtype == DType::Float16 ? float16_t::from_float(float(values[i]))
                                                        : bfloat16_t::from_float(float(values[i]));
    return t;
  }
  const bool ok = visit_dtype(v.dtype, [&](auto tag) {
    using T = decltype(tag);
    for (std::size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = static_cast<T>(values[i]);
  });
  if (!ok) throw Error(fmt::format("--freeze {}: inputs of type {} cannot be frozen", input, dtype_name(v.dtype)));
  return t;
}

}  // namespace sofiec
