#include "emit/session_interface.hpp"

#include <fmt/format.h>

namespace sofiec {
namespace {

TensorInterface tensor_base(const Graph& g, const std::string& name) {
  TensorInterface t;
  t.name = name;
  t.dtype = g.value(name).dtype;
  return t;
}

// The run-time dim the polynomial is exactly (one symbol to the first power, coefficient 1, not
// divided), or -1.
int exact_symbol(const Polynomial& p) {
  if (p.terms().size() != 1 || p.terms().begin()->second != 1) return -1;
  const Polynomial::Exponents& e = p.terms().begin()->first;
  int found = -1;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e[i] == 0) continue;
    if (e[i] != 1 || found >= 0) return -1;
    found = static_cast<int>(i);
  }
  if (found >= 0 && p.atoms()[static_cast<std::size_t>(found)].divisor != 1) return -1;
  return found;
}

uint32_t symbol_mask(const Polynomial& p) {
  uint32_t mask = 0;
  for (const auto& [e, c] : p.terms())
    for (std::size_t i = 0; i < e.size(); ++i)
      if (e[i] != 0) mask |= 1u << i;
  return mask;
}

}  // namespace

SessionInterface static_interface(const Graph& g, const HeaderSpec& spec) {
  SessionInterface r;
  r.ns = spec.ns;
  r.embed_weights = spec.embed_weights;
  auto add = [&](std::vector<TensorInterface>& list, const std::string& name) {
    TensorInterface t = tensor_base(g, name);
    const Shape& shape = g.value(name).shape;
    const std::vector<int64_t> dims = g.capacity_dims(shape);
    for (std::size_t k = 0; k < dims.size(); ++k) {
      const bool by_data = g.is_data_dependent(shape[k]);
      t.dims_cpp.push_back(std::to_string(dims[k]));
      t.dims_text.push_back((by_data ? "<=" : "") + std::to_string(dims[k]));
      t.dim_index.push_back(-1);
      t.dim_mask.push_back(0);
      t.data_dependent.push_back(by_data);
    }
    list.push_back(std::move(t));
  };
  for (const std::string& i : g.inputs) add(r.inputs, i);
  for (const std::string& o : g.outputs) add(r.outputs, o);
  return r;
}

SessionInterface dynamic_interface(const Graph& g, const DynamicLayout& layout, const HeaderSpec& spec) {
  SessionInterface r;
  r.ns = spec.ns;
  r.embed_weights = spec.embed_weights;
  r.dims = layout.symbols;
  r.dim_min = layout.minima;
  std::vector<std::string> vars;
  for (std::size_t i = 0; i < layout.symbols.size(); ++i) vars.push_back(fmt::format("d[{}]", i));
  auto add = [&](std::vector<TensorInterface>& list, const std::string& name) {
    TensorInterface t = tensor_base(g, name);
    const std::vector<Polynomial>& dims = layout.io_dims.at(name);
    const std::vector<bool>& by_data = layout.data_dependent.at(name);
    for (std::size_t k = 0; k < dims.size(); ++k) {
      t.dims_cpp.push_back(dims[k].is_constant() ? std::to_string(dims[k].constant_term()) : dims[k].cpp(vars));
      t.dims_text.push_back((by_data[k] ? "<=" : "") + dims[k].str(layout.symbols));
      t.dim_index.push_back(by_data[k] ? -1 : exact_symbol(dims[k]));
      t.dim_mask.push_back(symbol_mask(dims[k]));
      t.data_dependent.push_back(by_data[k]);
    }
    list.push_back(std::move(t));
  };
  for (const std::string& i : g.inputs) add(r.inputs, i);
  for (const std::string& o : g.outputs) add(r.outputs, o);
  return r;
}

}  // namespace sofiec
