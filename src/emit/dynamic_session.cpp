#include "emit/dynamic_session.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "sofiec/compiler.hpp"

namespace sofiec {
namespace {

std::string shape_text(const std::vector<Polynomial>& dims, const std::vector<bool>& by_data,
                       const std::vector<std::string>& names) {
  std::vector<std::string> parts;
  for (std::size_t k = 0; k < dims.size(); ++k) parts.push_back((by_data[k] ? "<=" : "") + dims[k].str(names));
  return fmt::format("[{}]", fmt::join(parts, ","));
}

}  // namespace

std::string infer_functions(const std::vector<std::string>& params, const std::vector<std::string>& args,
                            const std::string& check) {
  std::string r = fmt::format("  void infer({}) {{\n{}    run_(own_workspace_(), {});\n  }}\n", fmt::join(params, ", "),
                              check, fmt::join(args, ", "));
  r += "\n  // The same on the caller's Workspace, made for this Session (or one of the same\n"
       "  // workspace_bytes()): const, so one Session serves any number of threads, each with a\n"
       "  // Workspace of its own. Throws std::invalid_argument if the Workspace is too small.\n";
  r += fmt::format("  void infer(Workspace& workspace, {}) const {{\n    check_workspace_(workspace);\n{}    run_(workspace, {});\n"
                   "  }}\n",
                   fmt::join(params, ", "), check, fmt::join(args, ", "));
  return r;
}

std::string run_function(const std::vector<std::string>& params, const std::string& body) {
  return fmt::format("\n private:\n  void run_(Workspace& workspace, {}) const {{\n    (void)workspace;\n{}  }}\n\n public:\n",
                     fmt::join(params, ", "), body);
}

std::vector<std::string> DynamicSessionParts::dim_params() const {
  std::vector<std::string> names;
  for (const std::string& s : layout.symbols) {
    std::string n = sanitize_identifier(s);
    while (n == "arena" || n == "workspace" || std::find(names.begin(), names.end(), n) != names.end()) n += '_';
    names.push_back(n);
  }
  return names;
}

std::string DynamicSessionParts::dim_locals(bool checked) const {
  std::string r;
  const std::vector<std::string> params = dim_params();
  for (std::size_t i = 0; i < layout.vars.size(); ++i) {
    if (checked)
      r += fmt::format("    const detail::CheckedSize {} = detail::CheckedSize::dim(dim_max_[{}]);\n", layout.vars[i],
                       i);
    else
      r += fmt::format("    const int64_t {0} = static_cast<int64_t>({1});\n    (void){0};\n", layout.vars[i],
                       params[i]);
  }
  return r;
}

std::string DynamicSessionParts::size_of(const std::string& tensor, const std::vector<std::string>& vars) const {
  std::string expr;
  for (const Polynomial& d : layout.io_dims.at(tensor)) expr += (expr.empty() ? "" : " * ") + d.cpp(vars);
  return expr.empty() ? "1" : expr;
}

std::string DynamicSessionParts::shape_metadata() const {
  std::string r;
  auto shapes = [&](const char* what, const char* prefix, const std::vector<std::string>& list) {
    std::string items, texts;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::vector<Polynomial>& dims = layout.io_dims.at(list[i]);
      std::vector<std::string> d;
      for (const Polynomial& p : dims) d.push_back(std::to_string(p.is_constant() ? p.constant_term() : -1));
      if (!dims.empty())
        r += fmt::format("  static constexpr int64_t {}{}_dims[] = {{{}}};\n", prefix, i, fmt::join(d, ", "));
      items += fmt::format("{}{{{}, {}}}", i ? ", " : "",
                           dims.empty() ? "nullptr" : fmt::format("{}{}_dims", prefix, i), dims.size());
      texts +=
          fmt::format("{}\"{}\"", i ? ", " : "", shape_text(dims, layout.data_dependent.at(list[i]), layout.symbols));
    }
    r += fmt::format("  static constexpr std::array<TensorShape, {}> {}_shapes{{{{{}}}}};\n", list.size(), what, items);
    r += fmt::format("  static constexpr std::array<const char*, {}> {}_shape_names{{{{{}}}}};\n", list.size(), what,
                     texts);
  };
  r += "  // The run-time dims: the constructor takes their maxima, infer() their values, in this order.\n";
  r += fmt::format("  static constexpr std::size_t num_dims = {};\n", layout.symbols.size());
  std::vector<std::string> quoted;
  for (const std::string& s : layout.symbols) quoted.push_back("\"" + s + "\"");
  r += fmt::format("  static constexpr std::array<const char*, {}> dim_names{{{{{}}}}};\n", quoted.size(),
                   fmt::join(quoted, ", "));
  // The smallest values the model accepts (a strided convolution needs a window's worth).
  r += fmt::format("  static constexpr std::array<std::size_t, {}> dim_min{{{{{}}}}};\n", layout.minima.size(),
                   fmt::join(layout.minima, ", "));
  r += "  // Shapes: a run-time dim (or an expression of them) reads -1; *_shape_names spell them out.\n";
  shapes("input", "input", graph.inputs);
  shapes("output", "output", graph.outputs);
  return r;
}

std::string DynamicSessionParts::constructor() const {
  std::vector<std::string> params, max_names;
  if (!embed_weights) params.push_back("const std::string& weights_path");
  for (const std::string& p : dim_params()) {
    params.push_back(fmt::format("std::size_t {}_max", p));
    max_names.push_back(p + "_max");
  }
  std::string init = fmt::format("workspace_(std::size_t(0)), dim_max_{{{{{}}}}}", fmt::join(max_names, ", "));
  if (has_weights)
    init += embed_weights ? ", weights_(detail::weights_blob)"
                          : ", weights_storage_(detail::weights_bytes), weights_(weights_storage_.data())";
  std::string r = fmt::format(
      "  // Takes the largest value each run-time dim ({}) will be given{}; the arena is sized\n"
      "  // and laid out for them here, once. Throws std::invalid_argument if a maximum is 0 or\n"
      "  // above detail::kMaxRuntimeDim, or makes a buffer too large{}.\n",
      fmt::join(layout.symbols, ", "), embed_weights ? "" : ", after the weights file written beside this header",
      embed_weights
          ? ""
          : "; std::runtime_error if the weights file is missing, has the wrong size or belongs to another model");
  r += fmt::format("  {}Session({})\n      : {} {{\n{}    place_arena();\n  }}\n\n",
                   params.size() == 1 ? "explicit " : "", fmt::join(params, ", "), init, weights_check);
  r += "  std::size_t max_dim(std::size_t i) const { return dim_max_[i]; }\n";
  r += "  std::size_t arena_bytes() const { return arena_bytes_; }\n";
  r += "  // The bytes a Workspace for this Session holds (the arena for the maxima).\n";
  r += "  std::size_t workspace_bytes() const { return arena_bytes_; }\n\n";
  r += " private:\n  void place_arena() {\n";
  r += maxima_checks() + dim_locals(true);
  // Inputs and outputs too, so that no size infer() computes can overflow.
  for (const auto& list : {graph.inputs, graph.outputs})
    for (const std::string& t : list)
      r += fmt::format("    (void)detail::CheckedSize({} * {}).bytes();  // {}\n", size_of(t, layout.vars),
                       dtype_size(graph.value(t).dtype), t);
  r += arena_blocks("arena_bytes_ = ");
  r += "    workspace_ = Workspace(arena_bytes_);\n  }\n\n";
  return r + check_dims_function() + " public:\n";
}

std::string DynamicSessionParts::maxima_checks() const {
  return "    for (std::size_t i = 0; i < num_dims; ++i)\n"
         "      if (dim_max_[i] < dim_min[i] || dim_max_[i] > detail::kMaxRuntimeDim)\n"
         "        throw std::invalid_argument(std::string(\"Session: the maximum of \") + dim_names[i] + \" must be "
         "between \" +\n"
         "                                    std::to_string(dim_min[i]) + \" and 2^31\");\n";
}

std::string DynamicSessionParts::arena_blocks(const std::string& result) const {
  const std::vector<ArenaBlock>& blocks = plan.blocks;
  if (blocks.empty()) return "    " + result + "0;\n";
  std::string r = fmt::format("    const detail::ArenaBlockSize blocks[{}] = {{\n", blocks.size());
  for (std::size_t i = 0; i < blocks.size(); ++i)
    r += fmt::format("        {{detail::CheckedSize({}).bytes(), {}, {}}},  // {}\n",
                     layout.block_bytes[i].cpp(layout.vars), blocks[i].first, blocks[i].last,
                     blocks[i].is_workspace ? "scratch of " + blocks[i].name : blocks[i].name);
  r += "    };\n";
  return r + fmt::format("    {}detail::place_arena_blocks(blocks, {}, offsets_.data());\n", result, blocks.size());
}

std::string DynamicSessionParts::check_dims_function() const {
  std::vector<std::string> args;
  for (const std::string& p : dim_params()) args.push_back("std::size_t " + p);
  std::string r = fmt::format("  void check_dims({}) const {{\n", fmt::join(args, ", "));
  r += fmt::format("    const std::size_t values[] = {{{}}};\n", fmt::join(dim_params(), ", "));
  r += "    for (std::size_t i = 0; i < num_dims; ++i)\n"
       "      if (values[i] < dim_min[i] || values[i] > dim_max_[i])\n"
       "        throw std::out_of_range(std::string(\"infer: \") + dim_names[i] + \" = \" + std::to_string(values[i]) "
       "+ \" is outside \" +\n"
       "                                std::to_string(dim_min[i]) + \"..\" + std::to_string(dim_max_[i]) + \", the "
       "maximum given to the Session\");\n"
       "  }\n\n";
  return r;
}

bool DynamicSessionParts::sized_by_data(const std::string& output) const {
  const std::vector<bool>& d = layout.data_dependent.at(output);
  return std::find(d.begin(), d.end(), true) != d.end();
}

std::string DynamicSessionParts::infer() const {
  const std::vector<std::string> dims = dim_params();
  std::vector<std::string> params, in_only;
  for (const std::string& d : dims) params.push_back("std::size_t " + d);
  for (std::size_t i = 0; i < graph.inputs.size(); ++i)
    params.push_back(fmt::format("const {}* {}", dtype_cpp(graph.value(graph.inputs[i]).dtype), input_params[i]));
  in_only = params;
  for (std::size_t i = 0; i < graph.outputs.size(); ++i)
    params.push_back(fmt::format("{}* {}", dtype_cpp(graph.value(graph.outputs[i]).dtype), output_params[i]));
  std::string record;  // the outputs' actual dims
  std::size_t offset = 0;
  for (const std::string& o : graph.outputs) {
    const std::vector<Polynomial>& d = layout.io_dims.at(o);
    for (std::size_t k = 0; k < d.size(); ++k)  // (dims the data decides: the body records them)
      if (!d[k].is_constant() && !layout.data_dependent.at(o)[k])
        record += fmt::format("    workspace.output_dims_[{}] = {};\n", offset + k, d[k].cpp(layout.vars));
    offset += d.size();
  }
  const std::string check = fmt::format("    check_dims({});\n", fmt::join(dims, ", "));
  std::string r = fmt::format(
      "  // Runs the model for the given values of the run-time dims ({}), each between dim_min\n"
      "  // and its maximum (std::out_of_range otherwise, before anything is read or written); then\n"
      "  // inputs and outputs, each a contiguous row-major buffer of the shape those values give,\n"
      "  // owned by the caller. Allocates nothing.\n",
      fmt::join(layout.symbols, ", "));
  std::vector<std::string> args = dims;
  args.insert(args.end(), input_params.begin(), input_params.end());
  args.insert(args.end(), output_params.begin(), output_params.end());
  r += infer_functions(params, args, check);
  const std::string run = run_function(params, dim_locals(false) + record + unused_inputs + layout.infer_body);
  if (graph.outputs.size() == 1) {
    const ValueInfo& v = graph.value(graph.outputs[0]);
    std::string call_args = fmt::format("{}", fmt::join(dims, ", "));
    for (const auto& p : input_params) call_args += ", " + p;
    const std::string count = fmt::format("static_cast<std::size_t>({})", size_of(graph.outputs[0], layout.vars));
    r += "\n  // The single output, returned as a vector (allocates it).\n";
    if (v.dtype == DType::Bool)
      r += fmt::format(
          "  std::vector<bool> infer({0}) {{\n{1}{2}    std::unique_ptr<bool[]> out(new bool[{3} + 1]);\n"
          "    infer({4}, out.get());\n    return std::vector<bool>(out.get(), out.get() + {5});\n  }}\n",
          fmt::join(in_only, ", "), check, dim_locals(false), count, call_args,
          sized_by_data(graph.outputs[0]) ? "std::size_t(output_shape(0).size())" : count);
    else
      r += fmt::format(
          "  std::vector<{0}> infer({1}) {{\n{2}{3}    std::vector<{0}> out({4});\n    infer({5}, out.data());\n"
          "{6}    return out;\n  }}\n",
          dtype_cpp(v.dtype), fmt::join(in_only, ", "), check, dim_locals(false), count, call_args,
          sized_by_data(graph.outputs[0]) ? "    out.resize(std::size_t(output_shape(0).size()));\n" : "");
  }
  return r + run;
}

std::string DynamicSessionParts::workspace_members() const {
  std::vector<int64_t> dims;
  for (const std::string& o : graph.outputs)
    for (const Polynomial& p : layout.io_dims.at(o)) dims.push_back(p.is_constant() ? p.constant_term() : 0);
  return fmt::format("  std::array<int64_t, {}> output_dims_{{{{{}}}}};\n", dims.size(), fmt::join(dims, ", "));
}

std::string DynamicSessionParts::members() const {
  std::string r = fmt::format("  std::array<std::size_t, {}> dim_max_;\n", layout.symbols.size());
  r += fmt::format("  std::array<std::size_t, {}> offsets_{{}};  // of each block in the arena\n",
                   std::max<std::size_t>(plan.blocks.size(), 1));
  r += "  std::size_t arena_bytes_ = 0;\n";
  return r;
}

}  // namespace sofiec
