#include "sofiec/python_module.hpp"

#include <fmt/format.h>

#include <cstdint>

#include "emit/templates.hpp"
#include "sofiec/error.hpp"

namespace sofiec {
namespace {

std::string quoted(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r + "\"";
}

// The NumPy dtype of a tensor, as a pybind11 expression.
std::string numpy_dtype(const TensorInterface& t, const char* what) {
  if (t.dtype == DType::Float16) return "py::dtype(\"e\")";
  if (t.dtype == DType::BFloat16)
    throw Error(fmt::format("--python: {} '{}' is bfloat16, which NumPy has no dtype for", what, t.name));
  const std::string_view cpp = dtype_cpp(t.dtype);
  if (cpp.empty())
    throw Error(fmt::format("--python: {} '{}' has dtype {}, which the module cannot pass", what, t.name,
                            dtype_name(t.dtype)));
  return fmt::format("py::dtype::of<{}>()", cpp);
}

// The run-time dim that leads every input and output and appears nowhere else (so the arrays can
// be cut into runs along it), or -1.
int chunk_dim(const SessionInterface& s) {
  for (std::size_t j = 0; j < s.dims.size(); ++j) {
    bool ok = !s.inputs.empty();
    for (const auto* list : {&s.inputs, &s.outputs})
      for (const TensorInterface& t : *list) {
        ok = ok && !t.dim_index.empty() && t.dim_index[0] == static_cast<int>(j);
        for (std::size_t k = 0; ok && k < t.dim_index.size(); ++k)
          ok = !t.data_dependent[k] && (k == 0 || !(t.dim_mask[k] & (1u << j)));
      }
    if (ok) return static_cast<int>(j);
  }
  return -1;
}

std::string string_array(const std::string& name, const std::vector<std::string>& items) {
  std::vector<std::string> q;
  for (const std::string& s : items) q.push_back(quoted(s));
  return fmt::format("constexpr std::array<const char*, {}> {}{{{{{}}}}};\n", items.size(), name, fmt::join(q, ", "));
}

template <class T>
std::string value_array(const char* type, const std::string& name, const std::vector<T>& items) {
  return fmt::format("constexpr std::array<{}, {}> {}{{{{{}}}}};\n", type, items.size(), name, fmt::join(items, ", "));
}

// A function of (i, d, out) that writes the dims of tensor i.
std::string dims_function(const std::string& name, const std::vector<TensorInterface>& list) {
  std::string r = fmt::format("inline void {}(std::size_t i, const int64_t* d, int64_t* out) {{\n  (void)d;\n", name);
  r += "  (void)out;\n  switch (i) {\n";
  for (std::size_t i = 0; i < list.size(); ++i) {
    r += fmt::format("    case {}:\n", i);
    for (std::size_t k = 0; k < list[i].dims_cpp.size(); ++k)
      r += fmt::format("      out[{}] = {};\n", k, list[i].dims_cpp[k]);
    r += "      return;\n";
  }
  return r + "    default: return;\n  }\n}\n";
}

std::string dtype_function(const std::string& name, const std::vector<TensorInterface>& list, const char* what) {
  std::string r = fmt::format("inline py::dtype {}(std::size_t i) {{\n  switch (i) {{\n", name);
  for (std::size_t i = 0; i < list.size(); ++i)
    r += fmt::format("    case {}: return {};\n", i, numpy_dtype(list[i], what));
  return r + "    default: return py::dtype::of<float>();\n  }\n}\n";
}

}  // namespace

std::string python_module_name(const std::string& model_stem, const std::string& model_bytes,
                               const std::string& options_text) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;  // a separator no text contains
  };
  mix(model_bytes);
  mix(options_text);
  mix(version());
  mix(kernels_id());  // a sofiec of the same version with other kernels or bindings
  mix(std::string(template_text("python_module.cpp")));
  return fmt::format("{}_{:08x}", sanitize_identifier(model_stem), static_cast<uint32_t>(h ^ (h >> 32)));
}

std::string python_module_source(const CompiledModel& compiled, const PythonModuleSpec& spec) {
  const SessionInterface& s = compiled.interface;
  std::string r = fmt::format("#include {}\n\n#define SOFIEC_PY_MODULE {}\n", quoted(spec.header_file), spec.module_name);
  r += "namespace sofiec_py_model {\n";
  r += fmt::format("namespace model = ::{};\nnamespace py = ::pybind11;\n", s.ns);
  r += fmt::format("constexpr const char* module_name = {};\n", quoted(spec.module_name));
  r += fmt::format("constexpr const char* model_name = {};\n", quoted(spec.model_name));
  r += fmt::format("constexpr const char* weights_file = {};\n", quoted(s.embed_weights ? "" : spec.weights_file));
  r += fmt::format("constexpr std::size_t num_dims = {};\n", s.dims.size());
  r += string_array("dim_names", s.dims);
  r += value_array("int64_t", "dim_min", s.dim_min);
  r += fmt::format("constexpr int chunk_dim = {};\n", chunk_dim(s));
  r += fmt::format("constexpr std::size_t num_inputs = {}, num_outputs = {};\n", s.inputs.size(), s.outputs.size());
  std::vector<std::string> in_names, out_names, in_axes, out_axes;
  std::vector<std::size_t> in_ranks, out_ranks;
  std::vector<int> in_axis_dim;
  std::vector<const char*> by_data;
  for (const TensorInterface& t : s.inputs) {
    in_names.push_back(t.name);
    in_ranks.push_back(t.dims_cpp.size());
    in_axes.insert(in_axes.end(), t.dims_text.begin(), t.dims_text.end());
    in_axis_dim.insert(in_axis_dim.end(), t.dim_index.begin(), t.dim_index.end());
  }
  for (const TensorInterface& t : s.outputs) {
    out_names.push_back(t.name);
    out_ranks.push_back(t.dims_cpp.size());
    out_axes.insert(out_axes.end(), t.dims_text.begin(), t.dims_text.end());
    bool any = false;
    for (bool b : t.data_dependent) any = any || b;
    by_data.push_back(any ? "true" : "false");
  }
  r += string_array("input_names", in_names) + string_array("output_names", out_names);
  r += value_array("std::size_t", "input_ranks", in_ranks) + value_array("std::size_t", "output_ranks", out_ranks);
  r += string_array("input_axes", in_axes) + value_array("int", "input_axis_dim", in_axis_dim);
  r += string_array("output_axes", out_axes) + value_array("bool", "output_by_data", by_data);
  r += dtype_function("input_dtype", s.inputs, "input") + dtype_function("output_dtype", s.outputs, "output");
  r += dims_function("input_dims", s.inputs) + dims_function("output_dims", s.outputs);

  std::vector<std::string> ctor{}, call{};
  if (!s.embed_weights) ctor.push_back("weights");
  for (std::size_t j = 0; j < s.dims.size(); ++j) {
    ctor.push_back(fmt::format("max[{}]", j));
    call.push_back(fmt::format("static_cast<std::size_t>(d[{}])", j));
  }
  for (std::size_t i = 0; i < s.inputs.size(); ++i)
    call.push_back(fmt::format("static_cast<const {}*>(in[{}])", dtype_cpp(s.inputs[i].dtype), i));
  for (std::size_t i = 0; i < s.outputs.size(); ++i)
    call.push_back(fmt::format("static_cast<{}*>(out[{}])", dtype_cpp(s.outputs[i].dtype), i));
  r += "inline std::unique_ptr<model::Session> make_session(const std::string& weights, const std::size_t* max) {\n"
       "  (void)weights;\n  (void)max;\n";
  r += fmt::format("  return std::make_unique<model::Session>({});\n}}\n", fmt::join(ctor, ", "));
  r += "inline void run(const model::Session& s, model::Workspace& w, const int64_t* d, const void* const* in,\n"
       "                void* const* out) {\n"
       "  (void)d;\n  (void)in;\n  (void)out;\n";
  r += fmt::format("  s.infer(w{}{});\n}}\n", call.empty() ? "" : ", ", fmt::join(call, ", "));
  r += "}  // namespace sofiec_py_model\n";

  std::map<std::string, std::string> regions;
  regions["banner"] = fmt::format(
      "// Python extension module {} for {}, generated by sofiec {}. Do not edit.\n// Build: pybind11, "
      "C++17, beside {}.\n",
      spec.module_name, spec.model_name, version(), spec.header_file);
  regions["model"] = r;
  return fill_skeleton(template_text("python_module.cpp"), regions);
}

}  // namespace sofiec
