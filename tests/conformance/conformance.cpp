// Conformance runner over the ONNX backend test data: for each case, generate a header,
// compile many cases per compiler invocation, run every stored test data set, and compare
// with the stored outputs (rtol 1e-3, atol 1e-5; float16 rtol 2e-3, bfloat16 1.6e-2; integers
// and bools exact).
//
//   sofiec_conformance --suite DIR [--scope core|all] [--work DIR] [--report FILE]
//                      [-O 0|basic|extended] [--filter TEXT[,TEXT...]] [--batch N] [--jobs N]
//                      [--cxx CXX] [--cxxflags FLAGS] [--libs LIBS] [--runner PREFIX]
//                      [--min-passed N]
// --cxx, --libs and --runner build and run the generated code for another machine, e.g.
// aarch64-linux-gnu-g++ with -static and the runner qemu-aarch64.
// Prints "N passed, N failed" (unsupported cases are neither) and exits non-zero when a case
// fails (wrong numbers, generated code that does not compile or crashes) or fewer than
// --min-passed cases pass.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"

namespace fs = std::filesystem;
using sofiec::DType;
using sofiec::Tensor;

namespace {

enum class Status { Passed, Failed, Unsupported };

struct DataSet {
  std::vector<Tensor> inputs, outputs;
  std::string dir;  // where the raw inputs are written and the outputs read back
};

struct Case {
  std::string name;  // e.g. node/test_abs
  std::string ops;   // operator types of the graph
  std::size_t index = 0;
  Status status = Status::Unsupported;
  std::string reason;
  std::vector<DataSet> sets;
  std::vector<DType> output_types;
  bool generated = false;
  // Graph inputs the compiler needed at generation time (axes, K, pads...), frozen to the
  // test data's value: they are not passed to infer().
  std::vector<std::size_t> frozen;
  std::string frozen_names;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string first_line(const std::string& s, std::size_t max = 300) {
  std::string l = s.substr(0, s.find('\n'));
  return l.size() > max ? l.substr(0, max) + "..." : l;
}

std::vector<Case> list_cases(const fs::path& suite, const std::string& scope, const std::string& filter) {
  std::vector<Case> cases;
  if (scope == "core") {
    std::istringstream in(read_text(suite / "core_scope.txt"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const auto tab = line.find('\t');
      Case c;
      c.name = line.substr(0, tab);
      c.ops = tab == std::string::npos ? "" : line.substr(tab + 1);
      cases.push_back(c);
    }
  } else {
    for (const char* group : {"node", "pytorch-operator", "pytorch-converted", "simple"}) {
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(suite / group))
        if (e.is_directory()) names.push_back(std::string(group) + "/" + e.path().filename().string());
      std::sort(names.begin(), names.end());
      for (auto& n : names) {
        Case c;
        c.name = n;
        cases.push_back(c);
      }
    }
  }
  if (!filter.empty()) {
    // Comma-separated alternatives: a case is kept when its name contains any of them.
    std::vector<std::string> any;
    for (std::size_t at = 0; at <= filter.size();) {
      const std::size_t comma = std::min(filter.find(',', at), filter.size());
      if (comma > at) any.push_back(filter.substr(at, comma - at));
      at = comma + 1;
    }
    cases.erase(std::remove_if(cases.begin(), cases.end(),
                               [&](const Case& c) {
                                 return std::none_of(any.begin(), any.end(), [&](const std::string& f) {
                                   return c.name.find(f) != std::string::npos;
                                 });
                               }),
                cases.end());
  }
  for (std::size_t i = 0; i < cases.size(); ++i) cases[i].index = i;
  return cases;
}

void write_raw(const fs::path& p, const Tensor& t) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
}

// Loads the model and data, generates the header. Leaves status Unsupported with a reason if
// the compiler refuses the model.
void generate(Case& c, const fs::path& suite, const fs::path& work, sofiec::OptLevel level, bool dispatch) {
  const fs::path dir = suite / c.name;
  try {
    sofiec::Model model = sofiec::load_model((dir / "model.onnx").string());
    if (c.ops.empty()) {
      std::set<std::string> ops;
      for (const auto& n : model.graph.nodes) ops.insert(n.op_type);
      for (const auto& o : ops) c.ops += (c.ops.empty() ? "" : ",") + o;
    }
    std::vector<fs::path> set_dirs;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
        set_dirs.push_back(e.path());
    std::sort(set_dirs.begin(), set_dirs.end());
    if (set_dirs.empty()) throw sofiec::UnsupportedError("the case has no test data");
    const auto& g = model.graph;
    for (const auto& o : g.outputs) c.output_types.push_back(g.value(o).dtype);
    for (const auto& sd : set_dirs) {
      DataSet ds;
      for (std::size_t k = 0; fs::exists(sd / fmt::format("input_{}.pb", k)); ++k)
        ds.inputs.push_back(sofiec::load_tensor_file((sd / fmt::format("input_{}.pb", k)).string()));
      for (std::size_t k = 0; fs::exists(sd / fmt::format("output_{}.pb", k)); ++k)
        ds.outputs.push_back(sofiec::load_tensor_file((sd / fmt::format("output_{}.pb", k)).string()));
      if (ds.inputs.size() != g.inputs.size() || ds.outputs.size() != g.outputs.size())
        throw sofiec::UnsupportedError(fmt::format("test data has {} inputs/{} outputs, the graph {}/{}",
                                                   ds.inputs.size(), ds.outputs.size(), g.inputs.size(),
                                                   g.outputs.size()));
      for (std::size_t k = 0; k < ds.inputs.size(); ++k) {
        const auto& v = g.value(g.inputs[k]);
        if (ds.inputs[k].dtype != v.dtype) throw sofiec::Error("test input type differs from the graph input type");
        // Fix symbolic input dims to the test data's extents.
        if (v.has_shape && v.shape.size() != ds.inputs[k].dims.size())
          throw sofiec::Error("test input rank differs from the graph input rank");
      }
      c.sets.push_back(std::move(ds));
    }
    // Symbolic dims take the values of the first data set.
    sofiec::CompileOptions options;
    options.level = level;
    options.dispatch_avx512 = dispatch;
    options.namespace_name = fmt::format("case{}", c.index);
    for (std::size_t k = 0; k < g.inputs.size(); ++k) {
      const auto& v = g.value(g.inputs[k]);
      for (std::size_t d = 0; d < v.shape.size(); ++d)
        if (!v.shape[d].is_static() && !v.shape[d].symbol.empty())
          options.fixed_dims[v.shape[d].symbol] = c.sets[0].inputs[k].dims[d];
    }
    // An operator that needs a graph input's value (Reduce axes, TopK's K...) gets it frozen
    // to the test data, when every data set holds the same value.
    sofiec::CompiledModel compiled;
    for (;;) {
      try {
        compiled = sofiec::compile_model(model, options);
        break;
      } catch (const sofiec::NeedsValueError& e) {
        if (e.inputs.empty()) throw;
        for (const std::string& name : e.inputs) {
          if (options.frozen_inputs.count(name)) throw;
          const std::size_t k = std::size_t(std::find(g.inputs.begin(), g.inputs.end(), name) - g.inputs.begin());
          // Only small inputs (axes, sizes, scales, K) are frozen, never the data itself: integers
          // anywhere upstream, scalars (a range's start, limit and step), other types only when
          // the operator reads the input directly.
          const bool direct = e.inputs.size() == 1;
          const bool scalar = c.sets[0].inputs[k].size() == 1;
          if ((!sofiec::dtype_is_integer(c.sets[0].inputs[k].dtype) && !direct && !scalar) ||
              c.sets[0].inputs[k].size() > 16)
            throw;
          for (const DataSet& ds : c.sets)
            if (ds.inputs[k].bytes != c.sets[0].inputs[k].bytes || ds.inputs[k].dims != c.sets[0].inputs[k].dims) throw;
          // Frozen through the CLI's route: the value written as --freeze NAME=v0,v1,... and read
          // back by the same parser and converter as sofiec's, which must give the data's bytes.
          const sofiec::Tensor& data = c.sets[0].inputs[k];
          std::string spec = name + "=";
          for (int64_t i = 0; i < data.size(); ++i) spec += fmt::format("{}{}", i ? "," : "", data.float_at(i));
          const auto [frozen_name, values] = sofiec::parse_freeze(spec);
          sofiec::Tensor frozen = sofiec::frozen_value(g, frozen_name, values);
          if (frozen.bytes != data.bytes || frozen.dims != data.dims)
            throw sofiec::Error(fmt::format("--freeze {} cannot give the test data's value", spec));
          options.frozen_inputs[name] = std::move(frozen);
          c.frozen.push_back(k);
          c.frozen_names += (c.frozen_names.empty() ? "" : ", ") + name;
        }
      }
    }
    std::sort(c.frozen.begin(), c.frozen.end());
    std::ofstream(work / fmt::format("case{}.hxx", c.index)) << compiled.header;
    for (std::size_t s = 0; s < c.sets.size(); ++s) {
      c.sets[s].dir = (work / fmt::format("case{}_set{}", c.index, s)).string();
      fs::create_directories(c.sets[s].dir);
      for (std::size_t k = 0; k < c.sets[s].inputs.size(); ++k)
        write_raw(fs::path(c.sets[s].dir) / fmt::format("in_{}.bin", k), c.sets[s].inputs[k]);
    }
    c.generated = true;
  } catch (const sofiec::UnsupportedError& e) {
    c.reason = std::string("not supported: ") + first_line(e.what());
  } catch (const std::exception& e) {
    c.reason = std::string("refused: ") + first_line(e.what());
  }
}

// The driver for a batch: main(case index, data dir) runs one Session on raw inputs.
// kernels: with --dispatch, the kernels every Session must choose ("avx512" or "target").
std::string driver_source(const std::vector<const Case*>& batch, const std::string& kernels) {
  std::string src =
      "#include <cstdio>\n#include <cstdlib>\n#include <cstring>\n#include <fstream>\n#include <memory>\n"
      "#include <string>\n";
  for (const Case* c : batch) src += fmt::format("#include \"case{}.hxx\"\n", c->index);
  src += R"(
template <class T>
static std::unique_ptr<T[]> load(const std::string& path, int64_t n) {
  std::unique_ptr<T[]> buf(new T[n > 0 ? n : 1]);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(buf.get()), std::streamsize(n * int64_t(sizeof(T))));
  if (!in && n > 0) { std::fprintf(stderr, "cannot read %s\n", path.c_str()); std::exit(3); }
  return buf;
}
template <class T>
static void save(const std::string& path, const T* p, int64_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(p), std::streamsize(n * int64_t(sizeof(T))));
}
template <class Shape>
static void save_dims(const std::string& path, const Shape& shape) {
  std::ofstream out(path);
  for (std::size_t d = 0; d < shape.rank; ++d) out << shape.dims[d] << ' ';
}
template <class T> using Ptr = std::unique_ptr<T[]>;
)";
  for (const Case* c : batch) {
    const std::string ns = fmt::format("case{}", c->index);
    std::string body, args;
    const Tensor* dummy = nullptr;
    (void)dummy;
    for (std::size_t k = 0, j = 0; k < c->sets[0].inputs.size(); ++k) {
      if (std::count(c->frozen.begin(), c->frozen.end(), k)) continue;
      const std::string type(sofiec::dtype_cpp(c->sets[0].inputs[k].dtype));
      body += fmt::format("  auto i{0} = load<{1}>(dir + \"/in_{0}.bin\", {2}::Session::input_shapes[{3}].size());\n",
                          k, type, ns, j++);
      args += fmt::format("i{}.get(), ", k);
    }
    for (std::size_t k = 0; k < c->output_types.size(); ++k) {
      const std::string type(sofiec::dtype_cpp(c->output_types[k]));
      body += fmt::format("  Ptr<{1}> o{0}(new {1}[{2}::Session::output_shapes[{0}].size() + 1]);\n", k, type, ns);
      args += fmt::format("o{}.get(), ", k);
    }
    args.resize(args.size() - 2);
    body += fmt::format("  auto session = std::make_unique<{}::Session>();\n", ns);
    if (!kernels.empty())
      body += fmt::format(
          "  if (std::strcmp(session->kernels(), \"{0}\") != 0) {{\n"
          "    std::fprintf(stderr, \"the Session chose the %s kernels, not {0}\\n\", session->kernels());\n"
          "    return 1;\n  }}\n",
          kernels);
    body += fmt::format("  session->infer({});\n", args);
    // The dims infer() reports (an output's size may depend on the data), then its elements.
    for (std::size_t k = 0; k < c->output_types.size(); ++k)
      body += fmt::format(
          "  save_dims(dir + \"/out_{0}.dims\", session->output_shape({0}));\n"
          "  save(dir + \"/out_{0}.bin\", o{0}.get(), session->output_shape({0}).size());\n",
          k);
    src += fmt::format("static int run_{}(const std::string& dir) {{\n{}  return 0;\n}}\n", ns, body);
  }
  src +=
      "int main(int argc, char** argv) {\n  if (argc != 3) return 2;\n  const std::string dir = argv[2];\n"
      "  switch (std::atoi(argv[1])) {\n";
  for (const Case* c : batch) src += fmt::format("    case {0}: return run_case{0}(dir);\n", c->index);
  src += "  }\n  return 2;\n}\n";
  return src;
}

struct Toolchain {
  std::string cxx = "g++";
  std::string flags = "-std=c++17 -O1 -Wall -Wextra";
  std::string libs = "-lopenblas";
  std::string runner;  // a prefix to the command that runs a binary (an emulator)
  // --dispatch: headers written with sofiec --dispatch avx512, whose Sessions must choose these
  // kernels ("avx512" or "target"; "cpu": avx512 where this CPU has AVX-512).
  std::string kernels;
};

// Compiles; returns "" on success, else the first error line.
std::string compile(const Toolchain& tc, const fs::path& src, const fs::path& exe) {
  const fs::path log = exe.string() + ".log";
  const std::string cmd = fmt::format("{} {} -o '{}' '{}' {} > '{}' 2>&1", tc.cxx, tc.flags, exe.string(), src.string(),
                                      tc.libs, log.string());
  if (std::system(cmd.c_str()) == 0) return "";
  const std::string text = read_text(log);
  const auto at = text.find("error");
  return first_line(at == std::string::npos ? text : text.substr(text.rfind('\n', at) + 1));
}

// Compares an output with the reference; returns "" if it matches.
std::string compare(const Tensor& expected, DType type, const fs::path& file) {
  std::string dims;
  for (int64_t d : expected.dims) dims += std::to_string(d) + ' ';
  fs::path dims_file = file;
  dims_file.replace_extension(".dims");
  if (read_text(dims_file) != dims) return fmt::format("output dims [{}], expected [{}]", read_text(dims_file), dims);
  Tensor actual(type, expected.dims);
  if (type != expected.dtype)
    return fmt::format("output type {} differs from the reference's {}", sofiec::dtype_name(type),
                       sofiec::dtype_name(expected.dtype));
  std::ifstream in(file, std::ios::binary);
  in.read(reinterpret_cast<char*>(actual.bytes.data()), std::streamsize(actual.bytes.size()));
  if (!in && !actual.bytes.empty()) return "output file missing or short";
  if (in.peek() != std::char_traits<char>::eof()) return "output larger than the reference";
  if (!sofiec::dtype_is_float(type)) {
    for (int64_t i = 0; i < actual.size(); ++i)
      if (std::memcmp(actual.bytes.data() + i * sofiec::dtype_size(type),
                      expected.bytes.data() + i * sofiec::dtype_size(type), sofiec::dtype_size(type)) != 0)
        return fmt::format("element {} is {}, expected {}", i, actual.int_at(i), expected.int_at(i));
    return "";
  }
  // Half types: a result computed in float and rounded may differ from the reference by one
  // unit in the last place of the stored type.
  const double rtol = type == DType::Float16 ? 2e-3 : type == DType::BFloat16 ? 1.6e-2 : 1e-3;
  for (int64_t i = 0; i < actual.size(); ++i) {
    const double a = actual.float_at(i), e = expected.float_at(i);
    if (std::isnan(e) && std::isnan(a)) continue;
    if (std::isinf(e) && a == e) continue;
    if (!(std::fabs(a - e) <= 1e-5 + rtol * std::fabs(e))) return fmt::format("element {} is {}, expected {}", i, a, e);
  }
  return "";
}

void parallel_for(std::size_t n, unsigned jobs, const std::function<void(std::size_t)>& f) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned j = 0; j < std::max(1u, jobs); ++j)
    pool.emplace_back([&] {
      for (std::size_t i; (i = next++) < n;) f(i);
    });
  for (auto& t : pool) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runs sofiec over the ONNX backend test suite and reports per case."};
  std::string suite = SOFIEC_BACKEND_TESTS_DEFAULT, scope = "core", work = "conformance-work", report,
              level = "extended", filter;
  std::size_t batch_size = 48, min_passed = 0;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  Toolchain tc;
  app.add_option("--suite", suite, "backend test data folder")->capture_default_str();
  app.add_option("--scope", scope, "core (core_scope.txt) or all")->check(CLI::IsMember({"core", "all"}));
  app.add_option("--work", work, "scratch folder for headers and binaries")->capture_default_str();
  app.add_option("--report", report, "per-case report to write (markdown)");
  app.add_option("-O", level, "optimization level")->capture_default_str();
  app.add_option("--filter", filter, "only cases whose name contains one of these (comma-separated)");
  app.add_option("--batch", batch_size, "cases per compiler invocation")->capture_default_str();
  app.add_option("--jobs", jobs, "parallel compilations")->capture_default_str();
  app.add_option("--cxx", tc.cxx, "C++ compiler")->capture_default_str();
  app.add_option("--cxxflags", tc.flags, "flags for the generated code")->capture_default_str();
  app.add_option("--libs", tc.libs, "libraries to link the generated code with")->capture_default_str();
  app.add_option("--runner", tc.runner, "command prefix that runs the binaries (e.g. qemu-aarch64)");
  app.add_option("--dispatch", tc.kernels,
                 "write the headers with --dispatch avx512; their Sessions must choose these kernels (avx512, "
                 "target, or cpu: avx512 where this CPU has AVX-512)")
      ->check(CLI::IsMember({"avx512", "target", "cpu"}));
  app.add_option("--min-passed", min_passed, "fail if fewer cases pass (regression guard)");
  CLI11_PARSE(app, argc, argv);

  if (std::getenv("SOFIEC_BACKEND_TESTS")) suite = std::getenv("SOFIEC_BACKEND_TESTS");
  if (!fs::is_directory(suite)) {
    std::cerr << "conformance: the backend test data is not at '" << suite
              << "' (set --suite or SOFIEC_BACKEND_TESTS)\n";
    return 2;
  }
  const fs::path wdir = fs::absolute(work);
  fs::remove_all(wdir);
  fs::create_directories(wdir);
  std::vector<Case> cases = list_cases(suite, scope, filter);
  const sofiec::OptLevel opt = sofiec::parse_opt_level(level);

  if (tc.kernels == "cpu") tc.kernels = __builtin_cpu_supports("avx512f") ? "avx512" : "target";
  parallel_for(cases.size(), jobs, [&](std::size_t i) { generate(cases[i], suite, wdir, opt, !tc.kernels.empty()); });

  std::vector<const Case*> ready;
  for (const Case& c : cases)
    if (c.generated) ready.push_back(&c);
  std::vector<std::vector<const Case*>> batches;
  for (std::size_t i = 0; i < ready.size(); i += batch_size)
    batches.emplace_back(ready.begin() + long(i), ready.begin() + long(std::min(ready.size(), i + batch_size)));
  std::map<std::size_t, std::string> exe_of;   // case index -> binary
  std::vector<std::string> together_failures;  // batches whose headers compile only alone
  std::mutex mu;
  parallel_for(batches.size(), jobs, [&](std::size_t b) {
    const fs::path src = wdir / fmt::format("batch{}.cpp", b), exe = wdir / fmt::format("batch{}", b);
    std::ofstream(src) << driver_source(batches[b], tc.kernels);
    if (compile(tc, src, exe).empty()) {
      std::lock_guard<std::mutex> lock(mu);
      for (const Case* c : batches[b]) exe_of[c->index] = exe.string();
      return;
    }
    // Isolate the cases that do not compile. If each compiles alone, the headers do not
    // compile together (one translation unit may include many), which fails the run.
    bool any_alone_failed = false;
    for (const Case* c : batches[b]) {
      const fs::path one_src = wdir / fmt::format("single{}.cpp", c->index),
                     one = wdir / fmt::format("single{}", c->index);
      std::ofstream(one_src) << driver_source({c}, tc.kernels);
      const std::string err = compile(tc, one_src, one);
      std::lock_guard<std::mutex> lock(mu);
      if (err.empty()) exe_of[c->index] = one.string();
      else {
        any_alone_failed = true;
        cases[c->index].status = Status::Failed;
        cases[c->index].reason = "generated code does not compile: " + err;
      }
    }
    if (!any_alone_failed) {
      std::lock_guard<std::mutex> lock(mu);
      together_failures.push_back(src.string());
    }
  });

  parallel_for(cases.size(), jobs, [&](std::size_t i) {
    Case& c = cases[i];
    if (!c.generated || c.status == Status::Failed) return;
    for (std::size_t s = 0; s < c.sets.size(); ++s) {
      const std::string cmd = fmt::format("timeout 60 {} '{}' {} '{}' > '{}/run.log' 2>&1", tc.runner,
                                          exe_of.at(c.index), c.index, c.sets[s].dir, c.sets[s].dir);
      const int rc = std::system(cmd.c_str());
      if (rc != 0) {
        c.status = Status::Failed;
        c.reason = fmt::format("generated code exited with status {} on test_data_set_{}", WEXITSTATUS(rc), s);
        return;
      }
      for (std::size_t k = 0; k < c.sets[s].outputs.size(); ++k) {
        const std::string diff =
            compare(c.sets[s].outputs[k], c.output_types[k], fs::path(c.sets[s].dir) / fmt::format("out_{}.bin", k));
        if (!diff.empty()) {
          c.status = Status::Failed;
          c.reason = fmt::format("wrong result in output {} of test_data_set_{}: {}", k, s, diff);
          return;
        }
      }
    }
    c.status = Status::Passed;
  });

  std::size_t passed = 0, failed = 0, unsupported = 0, passed_frozen = 0;
  std::string table = "| case | result | operators | reason |\n|---|---|---|---|\n";
  for (const Case& c : cases) {
    const char* status = c.status == Status::Passed ? "passed" : c.status == Status::Failed ? "FAILED" : "unsupported";
    (c.status == Status::Passed ? passed : c.status == Status::Failed ? failed : unsupported)++;
    std::string reason = c.reason;
    if (!c.frozen.empty()) {
      reason = "inputs frozen at generation time: " + c.frozen_names + (reason.empty() ? "" : "; " + reason);
      if (c.status == Status::Passed) ++passed_frozen;
    }
    std::replace(reason.begin(), reason.end(), '|', '/');
    table += fmt::format("| {} | {} | {} | {} |\n", c.name, status, c.ops, reason);
    if (c.status == Status::Failed) std::cout << "FAILED " << c.name << ": " << c.reason << "\n";
  }
  if (!report.empty()) {
    std::ofstream out(report);
    out << fmt::format(
        "# sofiec conformance: {} scope, -O {}\n\n{} cases: {} passed, {} failed, {} unsupported ({:.1f}% passed)\n\n"
        "{} of the passed cases have graph inputs that decide shapes (axes, K, pads...) frozen to "
        "the test data's value at generation time (sofiec --freeze).\n\n{}",
        scope, level, cases.size(), passed, failed, unsupported,
        cases.empty() ? 0.0 : 100.0 * double(passed) / double(cases.size()), passed_frozen, table);
  }
  std::cout << fmt::format("conformance ({} scope, -O {}): {} cases, {} unsupported\n", scope, level, cases.size(),
                           unsupported);
  std::cout << fmt::format("{} passed ({} with frozen inputs), {} failed\n", passed, passed_frozen, failed);
  for (const std::string& src : together_failures)
    std::cout << "FAILED " << src << ": its headers compile one at a time but not together\n";
  if (!together_failures.empty()) return 1;
  if (passed < min_passed) {
    std::cout << fmt::format("conformance: only {} cases passed, at least {} expected\n", passed, min_passed);
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
