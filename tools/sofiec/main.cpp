// sofiec: compiles an ONNX model into a self-contained C++ header.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "file_util.hpp"
#include "model_runner.hpp"
#include "ops/registry.hpp"
#include "python_build.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"
#include "sofiec/python_module.hpp"
#include "frontends.hpp"
#include "sofiec/keras.hpp"
#include "torch_frontend.hpp"

namespace {

// All operators, or (cuda) those --target cuda runs.
void list_operators(bool cuda) {
  for (const auto& [op, defs] : sofiec::Registry::instance().all())
    for (const auto& d : defs)
      if (!cuda || d.emit_cuda)
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

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// sofiec --python: the header, the module's source and (unless source_only) the module itself in
// `dir`, and <stem>.py there, which imports it under the model's plain name.
void write_python_module(const std::string& model_path, const std::string& dir, sofiec::Model model,
                         sofiec::CompileOptions options, const std::string& module, bool source_only,
                         const sofiec::PythonBuild& build) {
  namespace fs = std::filesystem;
  // Before anything is written: an interpreter that cannot take the module stops here.
  const sofiec::PythonToolchain toolchain = source_only ? sofiec::PythonToolchain{} : sofiec::probe_python(build);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw sofiec::Error(fmt::format("--python: cannot create the folder '{}': {}", dir, ec.message()));
  const std::string stem = fs::path(model_path).stem().string();
  const std::string header = module + ".hxx";
  if (options.namespace_name.empty()) options.namespace_name = module;
  options.weights_file_name = header + ".dat";
  const sofiec::CompiledModel compiled = sofiec::compile_model(std::move(model), options);
  sofiec::PythonModuleSpec spec;
  spec.module_name = module;
  spec.header_file = header;
  spec.model_name = stem;
  spec.weights_file = options.weights_file_name;
  const std::string source = sofiec::python_module_source(compiled, spec);
  const fs::path out(dir);
  if (options.weights == sofiec::WeightsMode::File)
    sofiec::write_file_atomically((out / (header + ".dat")).string(),
                                  std::string(compiled.weights.begin(), compiled.weights.end()));
  // A module already built from the same header and source (and flags) is kept: rebuilding takes
  // seconds, and a process may have it loaded.
  const fs::path library_path = out / (module + toolchain.suffix);
  const std::string flags_file = (out / ("." + module + ".flags")).string();
  const std::string flags = build.cxx + "\n" + build.cxxflags + "\n" + build.python + "\n";
  const bool up_to_date = !source_only && fs::exists(library_path) &&
                          read_bytes((out / header).string()) == compiled.header &&
                          read_bytes((out / (module + ".cpp")).string()) == source && read_bytes(flags_file) == flags;
  sofiec::write_file_atomically((out / header).string(), compiled.header);
  sofiec::write_file_atomically((out / (module + ".cpp")).string(), source);
  if (source_only) return;
  const std::string library =
      up_to_date ? library_path.string() : sofiec::build_python_module(dir, module, toolchain, build);
  sofiec::write_file_atomically(flags_file, flags);
  const std::string alias = sofiec::sanitize_identifier(stem);
  sofiec::write_file_atomically(
      (out / (alias + ".py")).string(),
      fmt::format("# Written by sofiec --python: the model {} under its plain name; the module itself is\n"
                  "# {}, named with a hash of the model and options so that two builds never clash.\n"
                  "from {} import *  # noqa: F401,F403\nfrom {} import __doc__  # noqa: F401\n",
                  fs::path(model_path).filename().string(), module, module, module));
  std::cout << fmt::format("{} (import {} or {})\n", library, alias, module);
}

// The options profile and verify share.
void add_run_options(CLI::App& sub, sofiec::RunArgs& a, std::vector<std::string>& dim_specs) {
  sub.add_option("model", a.model, "the model (.onnx, Keras, PyTorch: as for sofiec itself)")->required();
  sub.add_option("--inputs", a.inputs,
                 "a folder of inputs: input_<i>.pb (ONNX test data), input_<i>.npy or <input name>.npy, or "
                 "test_data_set_*/ folders of them (default: random inputs)");
  sub.add_option("--dim", dim_specs, "with random inputs: the value of a run-time dim, NAME=VALUE (repeatable)");
  sub.add_option("-O,--optimize", a.level, "optimization level: 0, basic or extended")->capture_default_str();
  sub.add_option("--cxx", a.cxx, "the C++ compiler (default: $CXX, else c++)");
  sub.add_option("--cxxflags", a.cxxflags, "flags for the build")->capture_default_str();
  sub.add_option("--work", a.work, "keep the generated headers and the driver in this folder (default: a temporary one)");
  sub.add_option("--seed", a.seed, "the seed of the random inputs")->capture_default_str();
  sub.add_flag("--json", a.json, "print JSON");
  sub.add_option("--input-shape", a.input_shapes, "for a PyTorch model: NAME=SHAPE[:DTYPE] of an input of forward()");
  sub.add_option("--python-exe", a.python, "for a PyTorch model: the interpreter whose torch exports it")
      ->capture_default_str();
  sub.add_option("--keras-weights", a.keras_weights, "for a Keras architecture (.json): its weights (.h5)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sofiec: compiles an ONNX, Keras or PyTorch model into one self-contained C++17 header (or CUDA "
                "header) with a Session class."};
  std::string model_path, output, level = "extended", ns, weights = "embed", report_format, dispatch = "none",
                            target = "cpu";
  std::vector<std::string> dim_specs, freeze_specs;
  bool show_version = false, show_operators = false, show_table = false, python = false, python_source = false;
  std::string python_name;
  sofiec::PythonBuild python_build;
  app.add_option("model", model_path,
                 "the model to compile: .onnx; a Keras model (.h5 Keras 2, .keras Keras 3, or an architecture .json "
                 "with --keras-weights); or a PyTorch file (.pt/.pth/.ts TorchScript, .pt2 exported program) with "
                 "--input-shape");
  std::vector<std::string> input_shapes;
  app.add_option("--input-shape", input_shapes,
                 "for a PyTorch model: an input of forward(), NAME=SHAPE[:DTYPE] (repeatable); a dim is a number, a "
                 "name (a run-time dim) or ?; exported to ONNX by the torch of --python-exe");
  std::string keras_weights;
  app.add_option("--keras-weights", keras_weights,
                 "for a Keras architecture (.json, from model.to_json()): the weights save_weights() wrote (.h5)");
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
  app.add_option("--target", target,
                 "cpu: a C++17 header; cuda: a CUDA C++ header for NVIDIA GPUs (nvcc, cuBLAS), default output "
                 "<model stem>.cuh")
      ->check(CLI::IsMember({"cpu", "cuda"}))
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
  app.add_flag("--python", python,
               "build a Python extension module (pybind11) in the folder -o names (default: the current one)");
  app.add_flag("--python-source", python_source,
               "with --python: write the module's C++ source and header only (for CMake's "
               "sofiec_add_python_module)");
  app.add_option("--python-name", python_name, "with --python: the module's name (default: <model stem>_<hash>)");
  app.add_option("--python-exe", python_build.python,
                 "with --python: the interpreter that will import the module; for a PyTorch model: the one whose "
                 "torch exports it")
      ->capture_default_str();
  app.add_option("--cxx", python_build.cxx, "with --python: the C++ compiler (default: $CXX, else c++)");
  app.add_option("--cxxflags", python_build.cxxflags,
                 "with --python: flags for the module's build (the target CPU: -march=x86-64-v3 for a cluster "
                 "of mixed machines)")
      ->capture_default_str();
  bool tf32 = false;
  app.add_flag("--tf32", tf32,
               "with --target cuda: matrix products and convolutions on the tensor cores in TF32 (inputs rounded "
               "to 10-bit mantissas, float32 sums), as torch's allow_tf32; default: full float32");
  bool profile_header = false;
  app.add_flag("--profile", profile_header,
               "time each node in infer(): Session::profile() gives per node calls, total and median time, FLOPs "
               "and bytes (with --target cuda: events on the stream, the kernels launched one by one; see also: "
               "sofiec profile)");
  sofiec::ProfileArgs profile_args;
  CLI::App* profile = app.add_subcommand(
      "profile", "compile the model with --profile, run it, and print where the time goes, node by node");
  std::vector<std::string> profile_dims, verify_dims;
  add_run_options(*profile, profile_args, profile_dims);
  profile->add_option("--iters", profile_args.iters, "timed infer() calls (at most 20 s of them)")
      ->capture_default_str();
  sofiec::VerifyArgs verify_args;
  CLI::App* verify = app.add_subcommand(
      "verify",
      "compile the model at -O LEVEL and at -O 0, run both, compare (and with stored outputs); exit 0 only if all "
      "agree, else name the first node that differs");
  add_run_options(*verify, verify_args, verify_dims);
  verify->add_option("--outputs", verify_args.outputs,
                     "a folder of expected outputs, laid out as --inputs (default: output_<i> files beside the inputs)");
  verify->add_option("--draws", verify_args.draws, "with random inputs: how many sets")->capture_default_str();
  verify->add_option("--rtol", verify_args.rtol, "relative tolerance")->capture_default_str();
  verify->add_option("--atol", verify_args.atol, "absolute tolerance")->capture_default_str();
  // (For sofiec's own tests: makes a node of the optimized build compute wrongly.)
  verify->add_option("--debug-perturb", verify_args.perturb_node)->group("");
  app.add_flag("--version", show_version, "print the version and exit");
  app.add_flag("--list-operators", show_operators,
               "print the supported operators and exit (with --target cuda: those the CUDA target runs)");
  app.add_flag("--operator-table", show_table, "print the supported operators as a markdown table and exit");
  bool show_keras_table = false;
  app.add_flag("--keras-layer-table", show_keras_table,
               "print the Keras layers the Keras front-end reads as a markdown table and exit");
  CLI11_PARSE(app, argc, argv);

  if (show_version) {
    std::cout << "sofiec " << sofiec::version() << "\n";
    return 0;
  }
  if (show_operators) {
    list_operators(target == "cuda");
    return 0;
  }
  if (show_table) {
    operator_table();
    return 0;
  }
  if (show_keras_table) {
    std::cout << "| Keras layer | becomes |\n|---|---|\n";
    for (const auto& row : sofiec::keras_layer_table())
      std::cout << "| " << row.class_name << " | " << row.translation << " |\n";
    return 0;
  }
  try {
    if (profile->parsed()) {
      profile_args.dims = parse_dims(profile_dims);
      return sofiec::profile_command(profile_args);
    }
    if (verify->parsed()) {
      verify_args.dims = parse_dims(verify_dims);
      return sofiec::verify_command(verify_args);
    }
    if (model_path.empty()) throw sofiec::Error("no model given (sofiec model.onnx -o model.hxx; see --help)");
    namespace fs = std::filesystem;
    if (python_source && !python) throw sofiec::Error("--python-source goes with --python");
    if (!python && !python_name.empty()) throw sofiec::Error("--python-name goes with --python");
    if (python && target != "cpu") throw sofiec::Error("--python builds CPU modules: leave out --target cuda");
    if (output.empty())
      output = python ? "." : fs::path(model_path).stem().string() + (target == "cuda" ? ".cuh" : ".hxx");
    sofiec::CompileOptions options;
    options.level = sofiec::parse_opt_level(level);
    options.weights = weights == "file" ? sofiec::WeightsMode::File : sofiec::WeightsMode::Embed;
    options.namespace_name = ns.empty() ? fs::path(output).stem().string() : ns;
    options.weights_file_name = fs::path(output).filename().string() + ".dat";
    options.fixed_dims = parse_dims(dim_specs);
    options.dispatch_avx512 = dispatch == "avx512";
    options.target = target == "cuda" ? sofiec::Target::Cuda : sofiec::Target::Cpu;
    options.profile = profile_header;
    if (tf32 && options.target != sofiec::Target::Cuda) throw sofiec::Error("--tf32 goes with --target cuda");
    options.tf32 = tf32;
    sofiec::Model model = sofiec::load_model_file({model_path, input_shapes, python_build.python, keras_weights});
    for (const auto& spec : freeze_specs) {
      auto [name, values] = sofiec::parse_freeze(spec);
      options.frozen_inputs[name] = sofiec::frozen_value(model.graph, name, values);
    }
    if (python && report_option->count() == 0) {
      // What goes into the module's name besides the model: every option that changes the code.
      std::string options_text = fmt::format("-O {} --weights {} --dispatch {} --namespace {}", level, weights,
                                             dispatch, ns);
      for (const auto& [name, value] : options.fixed_dims) options_text += fmt::format(" --dim {}={}", name, value);
      for (const auto& spec : freeze_specs) options_text += " --freeze " + spec;
      if (profile_header) options_text += " --profile";
      for (const auto& spec : input_shapes) options_text += " --input-shape " + spec;
      // and how the module is built: another CPU target is another module.
      options_text += " --cxx " + python_build.cxx + " --cxxflags " + python_build.cxxflags;
      const std::string module =
          python_name.empty()
              ? sofiec::python_module_name(fs::path(model_path).stem().string(), read_bytes(model_path), options_text)
              : sofiec::sanitize_identifier(python_name);
      options.namespace_name = ns;
      write_python_module(model_path, output, std::move(model), options, module, python_source, python_build);
      return 0;
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
