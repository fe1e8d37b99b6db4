#include "ops/cuda.hpp"

#include <algorithm>
#include <limits>
#include <set>

#include "emit/templates.hpp"

namespace sofiec {
namespace {

const std::set<std::string>& cuda_functors() {
  static const std::set<std::string> names = [] {
    std::set<std::string> r;
    const std::string_view text = template_text("cuda/functors.cuh");
    for (std::size_t p = text.find("\nstruct op_"); p != std::string_view::npos; p = text.find("\nstruct op_", p + 1)) {
      const std::size_t start = p + 8, end = text.find_first_of(" {", start);
      r.insert(std::string(text.substr(start, end - start)));
    }
    return r;
  }();
  return names;
}

}  // namespace

void cuda_require_float(const EmitContext& e, std::size_t data_inputs) {
  for (std::size_t i = 0; i < e.num_inputs() && i < data_inputs; ++i)
    if (e.has_input(i) && e.input_dtype(i) != DType::Float)
      e.unsupported("input {} is {}; the CUDA target runs float32", i, dtype_name(e.input_dtype(i)));
  for (std::size_t i = 0; i < e.num_outputs(); ++i)
    if (!e.node().outputs[i].empty() && e.output(i).dtype != DType::Float)
      e.unsupported("output {} is {}; the CUDA target runs float32", i, dtype_name(e.output(i).dtype));
}

void cuda_require_float_or_index(const EmitContext& e, std::size_t data_inputs) {
  const DType t = e.output(0).dtype;
  if (t != DType::Float && t != DType::Int64 && t != DType::Int32)
    e.unsupported("output 0 is {}; the CUDA target runs float32 (and int64/int32 indices)", dtype_name(t));
  for (std::size_t i = 0; i < e.num_inputs() && i < data_inputs; ++i)
    if (e.has_input(i) && e.input_dtype(i) != t)
      e.unsupported("input {} is {}, output 0 {}", i, dtype_name(e.input_dtype(i)), dtype_name(t));
  for (std::size_t i = 1; i < e.num_outputs(); ++i)
    if (!e.node().outputs[i].empty() && e.output(i).dtype != t)
      e.unsupported("output {} is {}, output 0 {}", i, dtype_name(e.output(i).dtype), dtype_name(t));
}

void cuda_require_types(const EmitContext& e, std::initializer_list<DType> allowed, DType output,
                        std::size_t data_inputs) {
  std::string names;
  for (DType t : allowed) names += (names.empty() ? "" : ", ") + std::string(dtype_name(t));
  const DType first = e.input_dtype(0);
  for (std::size_t i = 0; i < e.num_inputs() && i < data_inputs; ++i) {
    if (!e.has_input(i)) continue;
    const DType t = e.input_dtype(i);
    if (std::find(allowed.begin(), allowed.end(), t) == allowed.end())
      e.unsupported("input {} is {}; the CUDA target runs {} here", i, dtype_name(t), names);
    if (t != first) e.unsupported("input {} is {}, input 0 {}", i, dtype_name(t), dtype_name(first));
  }
  const DType want = output == DType::Undefined ? first : output;
  for (std::size_t i = 0; i < e.num_outputs(); ++i)
    if (!e.node().outputs[i].empty() && e.output(i).dtype != want)
      e.unsupported("output {} is {}; the CUDA target writes {} here", i, dtype_name(e.output(i).dtype),
                    dtype_name(want));
}

// The first function of f that templates/cuda/functors.cuh lacks, or "".
static std::string missing_functor(const std::string& f) {
  for (std::size_t p = f.find("detail::"); p != std::string::npos; p = f.find("detail::", p + 1)) {
    const std::size_t start = p + 8, end = f.find_first_of("{(,)}< ", start);
    const std::string name = f.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (name == "chain" || name == "then") continue;
    if (!cuda_functors().count(name)) return name;
  }
  return "";
}

bool cuda_has_functors(const std::string& f) { return missing_functor(f).empty(); }

std::string cuda_functor(EmitContext& e, const std::string& f) {
  const std::string name = missing_functor(f);
  if (!name.empty())
    e.unsupported("the CUDA target has no kernel for {} yet", name.substr(0, 3) == "op_" ? name.substr(3) : name);
  e.use_kernel("functors");
  return f;
}

std::string cuda_epilogue(EmitContext& e) {
  e.use_kernel("functors");  // chain() too
  const std::string f = e.epilogue();
  return f.empty() ? "detail::chain()" : cuda_functor(e, f);
}

int64_t cuda_int_dim(const EmitContext& e, int64_t v) {
  if (v > std::numeric_limits<int>::max()) e.unsupported("a product dimension of {} is beyond cuBLAS's int", v);
  return v;
}

}  // namespace sofiec
