#include "sofiec/ir.hpp"

#include <algorithm>

#include "kernels/prelude.hpp"

#include <fmt/format.h>

#include "sofiec/error.hpp"

namespace sofiec {

std::string Dim::str() const {
  if (is_static()) return std::to_string(value);
  return symbol.empty() ? "?" : symbol;
}

bool is_static(const Shape& s) {
  for (const Dim& d : s)
    if (!d.is_static()) return false;
  return true;
}

std::vector<int64_t> static_dims(const Shape& s) {
  std::vector<int64_t> out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    if (!d.is_static()) throw Error("internal: static_dims of a non-static shape " + shape_str(s));
    out.push_back(d.value);
  }
  return out;
}

Shape to_shape(const std::vector<int64_t>& dims) { return Shape(dims.begin(), dims.end()); }

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + s[i].str();
  return out + "]";
}

int64_t element_count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error(fmt::format("negative dimension {} in a tensor shape", d));
    if (d != 0 && n > INT64_MAX / d) throw Error("tensor element count overflows 64 bits");
    n *= d;
  }
  return n;
}

int64_t checked_mul(int64_t a, int64_t b) {
  if (a < 0 || b < 0) throw Error(fmt::format("negative extent in {} * {}", a, b));
  if (b != 0 && a > INT64_MAX / b) throw Error("tensor element count overflows 64 bits");
  return a * b;
}

Tensor::Tensor(DType t, std::vector<int64_t> d) : dtype(t), dims(std::move(d)) {
  const std::size_t width = dtype_size(t);
  const int64_t n = element_count(dims);
  if (width == 0) throw Error(fmt::format("tensors of type {} are not supported", dtype_name(t)));
  if (n > (int64_t(1) << 40) / int64_t(width)) throw Error("tensor larger than 1 TiB");
  bytes.assign(std::size_t(n) * width, 0);
}

int64_t Tensor::int_at(int64_t i) const {
  if (i < 0 || i >= size()) throw Error(fmt::format("element {} of a tensor of {} elements", i, size()));
  int64_t v = 0;
  if (!visit_dtype(dtype, [&](auto tag) { v = static_cast<int64_t>(data<decltype(tag)>()[i]); }))
    throw Error(fmt::format("cannot read a {} tensor as integers", dtype_name(dtype)));
  return v;
}

double Tensor::float_at(int64_t i) const {
  if (i < 0 || i >= size()) throw Error(fmt::format("element {} of a tensor of {} elements", i, size()));
  if (dtype == DType::Float16) return float16_t::to_float(data<uint16_t>()[i]);
  if (dtype == DType::BFloat16) return bfloat16_t::to_float(data<uint16_t>()[i]);
  double v = 0;
  if (!visit_dtype(dtype, [&](auto tag) { v = static_cast<double>(data<decltype(tag)>()[i]); }))
    throw Error(fmt::format("cannot read a {} tensor as numbers", dtype_name(dtype)));
  return v;
}

std::vector<int64_t> Tensor::as_ints() const {
  std::vector<int64_t> out(static_cast<std::size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) out[std::size_t(i)] = int_at(i);
  return out;
}

const Attribute* Node::attr(const std::string& n) const {
  auto it = attributes.find(n);
  return it == attributes.end() ? nullptr : &it->second;
}

const Attribute& Node::require_attr(const std::string& n, Attribute::Kind kind) const {
  const Attribute* a = attr(n);
  if (!a) throw Error(fmt::format("{}: required attribute '{}' is missing", describe(), n));
  if (a->kind != kind) throw Error(fmt::format("{}: attribute '{}' has the wrong type", describe(), n));
  return *a;
}

int64_t Node::attr_int(const std::string& n, int64_t fallback) const {
  const Attribute* a = attr(n);
  if (!a) return fallback;
  if (a->kind != Attribute::Kind::Int)
    throw Error(fmt::format("{}: attribute '{}' should be an integer", describe(), n));
  return a->i;
}

float Node::attr_float(const std::string& n, float fallback) const {
  const Attribute* a = attr(n);
  if (!a) return fallback;
  if (a->kind == Attribute::Kind::Int) return float(a->i);
  if (a->kind != Attribute::Kind::Float)
    throw Error(fmt::format("{}: attribute '{}' should be a float", describe(), n));
  return a->f;
}

std::string Node::attr_string(const std::string& n, const std::string& fallback) const {
  const Attribute* a = attr(n);
  if (!a) return fallback;
  if (a->kind != Attribute::Kind::String)
    throw Error(fmt::format("{}: attribute '{}' should be a string", describe(), n));
  return a->s;
}

std::vector<int64_t> Node::attr_ints(const std::string& n, std::vector<int64_t> fallback) const {
  const Attribute* a = attr(n);
  if (!a) return fallback;
  if (a->kind != Attribute::Kind::Ints)
    throw Error(fmt::format("{}: attribute '{}' should be a list of integers", describe(), n));
  return a->ints;
}

std::vector<std::string> Node::attr_strings(const std::string& n) const {
  const Attribute* a = attr(n);
  if (!a) return {};
  if (a->kind != Attribute::Kind::Strings)
    throw Error(fmt::format("{}: attribute '{}' should be a list of strings", describe(), n));
  return a->strings;
}

std::vector<float> Node::attr_floats(const std::string& n) const {
  const Attribute* a = attr(n);
  if (!a) return {};
  if (a->kind != Attribute::Kind::Floats)
    throw Error(fmt::format("{}: attribute '{}' should be a list of floats", describe(), n));
  return a->floats;
}

std::size_t Node::input_count() const {
  std::size_t n = inputs.size();
  while (n > 0 && inputs[n - 1].empty()) --n;
  return n;
}

std::string Node::describe() const { return fmt::format("node '{}' ({})", name, op_type); }

int64_t Graph::opset(const std::string& domain) const {
  auto it = opsets.find(domain);
  if (it == opsets.end() && domain.empty()) it = opsets.find("ai.onnx");
  return it == opsets.end() ? 0 : it->second;
}

const Tensor* Graph::constant(const std::string& n) const {
  auto it = constants.find(n);
  return it == constants.end() ? nullptr : &it->second;
}

bool Graph::has_data_dependent_dims(const Shape& s) const {
  return std::any_of(s.begin(), s.end(), [&](const Dim& d) { return is_data_dependent(d); });
}

std::vector<int64_t> Graph::capacity_dims(const Shape& s) const {
  std::vector<int64_t> dims;
  for (const Dim& d : s) {
    if (d.is_static()) dims.push_back(d.value);
    else if (is_data_dependent(d)) dims.push_back(data_dependent_dims.at(d.symbol));
    else throw Error("internal: capacity of a shape with unknown dims " + shape_str(s));
  }
  return dims;
}

const ValueInfo& Graph::value(const std::string& n) const {
  auto it = values.find(n);
  if (it == values.end()) throw Error(fmt::format("tensor '{}' has no known type", n));
  return it->second;
}

}  // namespace sofiec
