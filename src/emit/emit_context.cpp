#include "emit/emit_context.hpp"

#include <cmath>
#include <limits>

namespace sofiec {

std::string cpp_float(double v, DType t) {
  const bool single = t != DType::Double;
  const char* type = single ? "float" : "double";
  if (std::isnan(v)) return fmt::format("std::numeric_limits<{}>::quiet_NaN()", type);
  if (std::isinf(v)) return fmt::format("{}std::numeric_limits<{}>::infinity()", v < 0 ? "-" : "", type);
  // Shortest round-trip text; hex-free so the header stays readable.
  std::string s = single ? fmt::format("{}", float(v)) : fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return single ? s + "f" : s;
}

std::string cpp_int(int64_t v, DType t) {
  if (t == DType::Int64 && v == std::numeric_limits<int64_t>::min()) return "std::numeric_limits<int64_t>::min()";
  if (t == DType::Bool) return v ? "true" : "false";
  return fmt::format("{}({})", dtype_cpp(t), v);
}

std::string cpp_element(const Tensor& t, int64_t i) {
  if (t.dtype == DType::Float || t.dtype == DType::Double) return cpp_float(t.float_at(i), t.dtype);
  if (t.dtype == DType::UInt64) return fmt::format("uint64_t({}ull)", t.data<uint64_t>()[i]);
  return cpp_int(t.int_at(i), t.dtype);
}

std::string EmitContext::epilogue() const {
  if (node().epilogue.empty()) return "";
  std::vector<std::string> functors;
  for (const Node& f : node().epilogue) {
    const OpDef* def = Registry::instance().find(f, graph());
    if (!def || !def->unary_functor) fail("internal: {} cannot be fused as an epilogue", f.describe());
    functors.push_back(def->unary_functor(NodeView(f, graph(), nullptr)));
  }
  use_kernel("functors");
  return fmt::format("detail::chain({})", fmt::join(functors, ", "));
}

void EmitContext::apply_epilogue(const std::string& y, int64_t n) {
  const std::string f = epilogue();
  if (f.empty()) return;
  use_kernel("elementwise");
  line("detail::map_unary({0}, {0}, {1}, {2});", y, n, f);
}

std::string EmitContext::dim_var(const Dim& d) const {
  if (dim_vars_)
    if (auto it = dim_vars_->find(d.symbol); it != dim_vars_->end()) return it->second;
  fail("internal: dim {} is not decided by the data", d.str());
}

std::string EmitContext::in(std::size_t i) const { return has_input(i) ? resolve_input_(node().inputs[i]) : "nullptr"; }

const std::string& EmitContext::out(std::size_t i) const { return output_vars_.at(i); }

std::string EmitContext::in_or_null(std::size_t i, const std::string& type) const {
  return has_input(i) ? in(i) : fmt::format("static_cast<const {}*>(nullptr)", type);
}

std::string EmitContext::out_or_null(std::size_t i, const std::string& type) const {
  return i < num_outputs() && !node().outputs[i].empty() ? out(i) : fmt::format("static_cast<{}*>(nullptr)", type);
}

std::string EmitContext::int_array(const std::string& name, const std::vector<int64_t>& values) {
  std::string items;
  for (std::size_t i = 0; i < values.size(); ++i) items += (i ? ", " : "") + std::to_string(values[i]);
  if (values.empty()) items = "0";  // C++ has no zero-length arrays
  line("static constexpr int64_t {}[] = {{{}}};", name, items);
  return name;
}

}  // namespace sofiec
