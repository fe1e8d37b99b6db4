// sofiec: compiles an ONNX model into a self-contained C++ header.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "file_util.hpp"
#include "ops/registry.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"

namespace {

void list_operators() {
  for (const auto& [op, defs] : sofiec::Registry::instance().all())
    for (const auto& d : defs)
      std::cout << fmt::format("{:<24} opset {:>2}-{:<2}  {}\n", op, d.min_opset, d.max_opset, d.types);
}

// docs/operators.md's table (tools/update_operator_docs.sh keeps it in step).
void operator_table() {
  std::cout << "| operator | opsets | types |\n|---|---|---|\n";
  for (const auto& [op, defs] : sofiec::Registry::instance().all())
    for (const auto& d : defs) std::cout << fmt::format("| {} | {}-{} | {} |\n", op, d.min_opset, d.max_opset, d.types);
}

std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& specs) {
  std::map<std::string, int64_t> dims;
  for (const auto& s : specs) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw sofiec::Error(fmt::format("--dim '{}': expected NAME=VALUE", s));
    try {
      std::size_t used = 0;
      const long long v = std::stoll(s.substr(eq + 1), &used);
      if (used != s.size() - eq - 1 || v < 0) throw std::invalid_argument("");
      dims[s.substr(0, eq)] = v;
    } catch (const std::exception&) {
      throw sofiec::Error(fmt::format("--dim '{}': the value must be a non-negative integer", s));
    }
  }
  return dims;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sofiec: compiles an ONNX model into one self-contained C++17 header with a Session class."};
  std::string model_path, output, level = "extended", ns, weights = "embed", report_format, dispatch = "none";
  std::vector<std::string> dim_specs, freeze_specs;
  bool show_version = false, show_operators = false, show_table = false;
  app.add_option("model", model_path, "the .onnx model to compile");
  app.add_option("-o,--output", output, "header to write (default: <model stem>.hxx in the current folder)");
  app.add_option("-O,--optimize", level, "optimization level: 0, basic or extended")->capture_default_str();
  app.add_option("--namespace", ns, "C++ namespace of the generated code (default: the output file's stem)");
  app.add_option("--weights", weights, "embed: weights inside the header; file: in <output>.dat beside it")
      ->check(CLI::IsMember({"embed", "file"}))
      ->capture_default_str();
  app.add_option("--dispatch", dispatch,
                 "avx512: the header also carries its kernels built for AVX-512 and, built for less on x86-64, "
                 "runs them where the CPU has AVX-512 (chosen once per Session)")
      ->check(CLI::IsMember({"none", "avx512"}))
      ->capture_default_str();
  app.add_option("--dim", dim_specs,
                 "fix a symbolic dimension, NAME=VALUE (repeatable); the others are chosen at run time");
  app.add_option("--freeze", freeze_specs,
                 "give a graph input a value at generation time, NAME=V0,V1,... (repeatable; NAME= for an empty "
                 "tensor); for inputs that "
                 "decide shapes, such as axes or K");
  auto* report_option =
      app.add_option("--report", report_format,
                     "print what compilation does (operators before/after, passes, fusions, FLOPs, weights, arena "
                     "vs lower bound, largest tensors) instead of writing code; --report=json for JSON")
          ->expected(0, 1);
  app.add_flag("--version", show_version, "print the version and exit");
  app.add_flag("--list-operators", show_operators, "print the supported operators and exit");
  app.add_flag("--operator-table", show_table, "print the supported operators as a markdown table and exit");
  CLI11_PARSE(app, argc, argv);

  if (show_version) {
    std::cout << "sofiec " << sofiec::version() << "\n";
    return 0;
  }
  if (show_operators) {
    list_operators();
    return 0;
  }
  if (show_table) {
    operator_table();
    return 0;
  }
  try {
    if (model_path.empty()) throw sofiec::Error("no model given (sofiec model.onnx -o model.hxx; see --help)");
    namespace fs = std::filesystem;
    if (output.empty()) output = fs::path(model_path).stem().string() + ".hxx";
    sofiec::CompileOptions options;
    options.level = sofiec::parse_opt_level(level);
    options.weights = weights == "file" ? sofiec::WeightsMode::File : sofiec::WeightsMode::Embed;
    options.namespace_name = ns.empty() ? fs::path(output).stem().string() : ns;
    options.weights_file_name = fs::path(output).filename().string() + ".dat";
    options.fixed_dims = parse_dims(dim_specs);
    options.dispatch_avx512 = dispatch == "avx512";
    sofiec::Model model = sofiec::load_model(model_path);
    for (const auto& spec : freeze_specs) {
      auto [name, values] = sofiec::parse_freeze(spec);
      options.frozen_inputs[name] = sofiec::frozen_value(model.graph, name, values);
    }
    if (report_option->count() > 0) {
      if (!report_format.empty() && report_format != "text" && report_format != "json")
        throw sofiec::Error(fmt::format("--report={}: expected text or json", report_format));
      options.emit_header = false;
      const sofiec::CompiledModel compiled = sofiec::compile_model(std::move(model), options);
      std::cout << sofiec::format_report(compiled.stats, fs::path(model_path).filename().string(),
                                         report_format == "json");
      return 0;
    }
    sofiec::CompiledModel compiled = sofiec::compile_model(std::move(model), options);
    if (options.weights == sofiec::WeightsMode::File)
      sofiec::write_file_atomically(output + ".dat", std::string(compiled.weights.begin(), compiled.weights.end()));
    sofiec::write_file_atomically(output, compiled.header);
  } catch (const sofiec::Error& e) {
    std::cerr << "sofiec: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sofiec: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
