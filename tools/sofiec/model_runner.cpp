#include "model_runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "file_util.hpp"
#include "process.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"
#include "frontends.hpp"

namespace sofiec {
namespace {

namespace fs = std::filesystem;

// ---- Data: the inputs (and expected outputs) of one run.

struct DataSet {
  std::string label;             // where it came from
  std::vector<Tensor> inputs;    // in the graph's input order
  std::vector<Tensor> expected;  // in the graph's output order, or empty
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read '{}'", p.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A NumPy .npy file (format 1.0-3.0, C order, little-endian or byte-sized types).
Tensor load_npy(const fs::path& p) {
  const std::string data = read_file(p);
  auto bad = [&](const std::string& why) { return Error(fmt::format("'{}': {}", p.string(), why)); };
  if (data.size() < 10 || data.compare(0, 6, "\x93NUMPY") != 0) throw bad("not a .npy file");
  const int major = static_cast<unsigned char>(data[6]);
  std::size_t header_len, start;
  if (major == 1) {
    header_len = std::size_t(static_cast<unsigned char>(data[8])) | std::size_t(static_cast<unsigned char>(data[9])) << 8;
    start = 10;
  } else {
    if (data.size() < 12) throw bad("truncated header");
    header_len = 0;
    for (int i = 3; i >= 0; --i) header_len = header_len << 8 | static_cast<unsigned char>(data[std::size_t(8 + i)]);
    start = 12;
  }
  if (start + header_len > data.size()) throw bad("truncated header");
  const std::string header = data.substr(start, header_len);
  if (major < 1 || major > 3) throw bad(fmt::format("format version {} is not supported", major));
  auto field = [&](const std::string& key) {
    const std::size_t k = header.find("'" + key + "'");
    if (k == std::string::npos || header.find(':', k) == std::string::npos) throw bad("no '" + key + "' in the header");
    std::size_t v = header.find(':', k) + 1;
    while (v < header.size() && header[v] == ' ') ++v;
    return v;
  };
  std::size_t d = field("descr");
  const char quote = header[d];
  const std::string descr = header.substr(d + 1, header.find(quote, d + 1) - d - 1);
  if (header.compare(field("fortran_order"), 4, "True") == 0) throw bad("Fortran order is not supported");
  const std::size_t s = field("shape");
  const std::string shape_text = header.substr(s + 1, header.find(')', s) - s - 1);
  std::vector<int64_t> dims;
  std::istringstream shape_in(shape_text);
  for (std::string item; std::getline(shape_in, item, ',');) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    std::size_t used = 0;
    long long d = -1;
    try {
      d = std::stoll(item, &used);
    } catch (const std::exception&) {
    }
    if (d < 0 || item.find_first_not_of(' ', used) != std::string::npos) throw bad("malformed shape in the header");
    dims.push_back(d);
  }
  static const std::map<std::string, DType> types = {
      {"<f4", DType::Float}, {"<f8", DType::Double}, {"<f2", DType::Float16}, {"|i1", DType::Int8},
      {"<i2", DType::Int16}, {"<i4", DType::Int32},  {"<i8", DType::Int64},   {"|u1", DType::UInt8},
      {"<u2", DType::UInt16}, {"<u4", DType::UInt32}, {"<u8", DType::UInt64}, {"|b1", DType::Bool}};
  const auto type = types.find(descr);
  if (type == types.end()) throw bad("unsupported dtype '" + descr + "'");
  Tensor t(type->second, dims);
  if (data.size() - start - header_len != t.bytes.size())
    throw bad(fmt::format("holds {} bytes of data, its shape needs {}", data.size() - start - header_len,
                          t.bytes.size()));
  std::memcpy(t.bytes.data(), data.data() + start + header_len, t.bytes.size());
  return t;
}

// Tensor i of a data-set folder: <kind>_<i>.pb, <kind>_<i>.npy or <name>.npy; none: empty.
std::optional<Tensor> find_tensor(const fs::path& dir, const std::string& kind, std::size_t i, const std::string& name) {
  // (The name made an identifier: tensor names such as "/fc/Gemm_output_0" are no file names.)
  for (const fs::path& p : {dir / fmt::format("{}_{}.pb", kind, i), dir / fmt::format("{}_{}.npy", kind, i),
                            dir / (sanitize_identifier(name) + ".npy")}) {
    if (!fs::exists(p)) continue;
    return p.extension() == ".pb" ? load_tensor_file(p.string()) : load_npy(p);
  }
  return std::nullopt;
}

// The data sets in a folder: itself when it holds tensors, else its test_data_set_* folders.
std::vector<fs::path> data_set_dirs(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error(fmt::format("'{}' is not a folder", dir));
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) sets.push_back(dir);
  return sets;
}

std::vector<DataSet> load_data_sets(const Graph& g, const RunArgs& args) {
  std::vector<DataSet> sets;
  const std::vector<fs::path> dirs = data_set_dirs(args.inputs);
  std::vector<fs::path> out_dirs = args.outputs.empty() ? dirs : data_set_dirs(args.outputs);
  if (out_dirs.size() != dirs.size())
    throw Error(fmt::format("--inputs has {} data sets, --outputs {}", dirs.size(), out_dirs.size()));
  for (std::size_t s = 0; s < dirs.size(); ++s) {
    DataSet set;
    set.label = dirs[s].string();
    for (std::size_t i = 0; i < g.inputs.size(); ++i) {
      std::optional<Tensor> t = find_tensor(dirs[s], "input", i, g.inputs[i]);
      if (!t)
        throw Error(fmt::format("'{}' has no input_{}.pb, input_{}.npy or {}.npy for the input '{}'", dirs[s].string(),
                                i, i, sanitize_identifier(g.inputs[i]), g.inputs[i]));
      if (t->dtype != g.value(g.inputs[i]).dtype)
        throw Error(fmt::format("'{}': the input '{}' is {}, the model takes {}", dirs[s].string(), g.inputs[i],
                                dtype_name(t->dtype), dtype_name(g.value(g.inputs[i]).dtype)));
      set.inputs.push_back(std::move(*t));
    }
    for (std::size_t i = 0; i < g.outputs.size(); ++i) {
      std::optional<Tensor> t = find_tensor(out_dirs[s], "output", i, g.outputs[i]);
      if (!t) {
        if (!args.outputs.empty() || i > 0)
          throw Error(fmt::format("'{}' has no output_{}.pb or output_{}.npy for the output '{}'",
                                  out_dirs[s].string(), i, i, g.outputs[i]));
        break;
      }
      set.expected.push_back(std::move(*t));
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

// The run-time dims' values the data sets give (all sets must agree: one build runs them).
std::map<std::string, int64_t> dims_of(const Graph& g, const std::vector<DataSet>& sets) {
  std::map<std::string, int64_t> dims;
  for (const DataSet& set : sets)
    for (std::size_t i = 0; i < g.inputs.size(); ++i) {
      const ValueInfo& v = g.value(g.inputs[i]);
      const Tensor& t = set.inputs[i];
      if (v.has_shape && t.dims.size() != v.shape.size())
        throw Error(fmt::format("'{}': the input '{}' has rank {}, the model's is {}", set.label, g.inputs[i],
                                t.dims.size(), v.shape.size()));
      for (std::size_t d = 0; v.has_shape && d < v.shape.size(); ++d) {
        const Dim& dim = v.shape[d];
        const bool known = dim.is_static() || dims.count(dim.symbol);
        const int64_t want = dim.is_static() ? dim.value : known ? dims.at(dim.symbol) : t.dims[d];
        if (known && want != t.dims[d])
          throw Error(fmt::format("'{}': dim {} of the input '{}' is {}, expected {}{}", set.label, d, g.inputs[i],
                                  t.dims[d], want, dim.is_static() ? "" : " (" + dim.symbol + ", as before)"));
        if (!known) {
          if (dim.symbol.empty())
            throw Error(fmt::format("the input '{}' has an unnamed dynamic dim {}", g.inputs[i], d));
          dims[dim.symbol] = t.dims[d];
        }
      }
    }
  return dims;
}

// Random inputs: floats uniform in [-1, 1), integers 0 (safe as indices and counts), bools at
// random; deterministic for a seed.
std::vector<DataSet> random_data_sets(const Graph& g, const std::map<std::string, int64_t>& fixed, int count,
                                      unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<DataSet> sets;
  for (int s = 0; s < count; ++s) {
    DataSet set;
    set.label = fmt::format("random inputs #{} (seed {})", s, seed);
    for (const std::string& name : g.inputs) {
      const ValueInfo& v = g.value(name);
      std::vector<int64_t> dims;
      std::vector<std::string> missing;
      for (const Dim& d : v.shape) {
        if (d.is_static()) dims.push_back(d.value);
        else if (fixed.count(d.symbol)) dims.push_back(fixed.at(d.symbol));
        else missing.push_back(d.symbol.empty() ? "?" : d.symbol);
      }
      if (!v.has_shape) throw Error(fmt::format("the input '{}' has no known shape: give --inputs", name));
      if (!missing.empty())
        throw Error(fmt::format("the input '{}' has run-time dims ({}): give --inputs, or --dim NAME=VALUE", name,
                                fmt::join(missing, ", ")));
      Tensor t(v.dtype, dims);
      if (v.dtype == DType::Float) {
        for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = uniform(rng);
      } else if (v.dtype == DType::Double) {
        for (int64_t i = 0; i < t.size(); ++i) t.data<double>()[i] = uniform(rng);
      } else if (v.dtype == DType::Bool) {
        for (int64_t i = 0; i < t.size(); ++i) t.bytes[std::size_t(i)] = rng() & 1;
      }
      set.inputs.push_back(std::move(t));
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

// ---- The driver program.

struct Build {
  std::string ns, header;  // namespace and header file (in the work folder)
  CompiledModel compiled;
  bool trace = false, profile = false;
};

// One build's call of infer(workspace, inputs..., outputs...) through type-erased buffers.
std::string call_text(const Build& b) {
  const SessionInterface& s = b.compiled.interface;
  std::vector<std::string> args{"ws"};
  for (std::size_t i = 0; i < s.inputs.size(); ++i)
    args.push_back(fmt::format("static_cast<const {}*>(in[{}])", dtype_cpp(s.inputs[i].dtype), i));
  for (std::size_t i = 0; i < s.outputs.size(); ++i)
    args.push_back(fmt::format("static_cast<{}*>(out[{}])", dtype_cpp(s.outputs[i].dtype), i));
  return fmt::format("session.infer({});", fmt::join(args, ", "));
}

std::string element_count_text(const TensorInterface& t) {
  std::vector<std::string> d = t.dims_cpp;
  return d.empty() ? "1" : fmt::format("{}", fmt::join(d, " * "));
}

// main(work, sets, iters, trace): every build runs every data set (set<d>_in<i>.bin), writes
// its outputs (b<k>_set<d>_out<i>.bin, .dims) and, traced, its nodes' outputs
// (b<k>_set<d>.trace); with iters > 0 it then times infer() on the last set and writes the profile
// (b<k>.profile) and the machine's peak (peak).
std::string driver_source(const std::vector<Build>& builds) {
  std::string s = R"(// Written by sofiec profile / verify: runs the model's Sessions on raw inputs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>
)";
  for (const Build& b : builds) s += fmt::format("#include \"{}\"\n", b.header);
  s += R"(
namespace {

struct Buffer {
  std::unique_ptr<unsigned char[]> storage;
  unsigned char* data;
  explicit Buffer(std::size_t bytes) : storage(new unsigned char[bytes + 64]()) {
    data = storage.get() + (64 - reinterpret_cast<std::uintptr_t>(storage.get()) % 64) % 64;
  }
};

std::string work;

std::string path(const std::string& name) { return work + "/" + name; }

void read_into(const std::string& name, unsigned char* data, std::size_t bytes) {
  std::ifstream in(path(name), std::ios::binary);
  in.read(reinterpret_cast<char*>(data), std::streamsize(bytes));
  if (!in && bytes > 0) {
    std::fprintf(stderr, "cannot read %s\n", path(name).c_str());
    std::exit(3);
  }
}

void write_bytes(std::ofstream& out, const void* data, std::size_t bytes) {
  out.write(static_cast<const char*>(data), std::streamsize(bytes));
}

void trace(void* user, const char* tensor, const char* dtype, const int64_t* dims, std::size_t rank,
           const void* data, std::size_t bytes) {
  std::ofstream& out = *static_cast<std::ofstream*>(user);
  const std::string name(tensor), type(dtype);
  const uint64_t header[3] = {name.size(), type.size(), rank};
  write_bytes(out, header, sizeof header);
  write_bytes(out, name.data(), name.size());
  write_bytes(out, type.data(), type.size());
  write_bytes(out, dims, rank * sizeof(int64_t));
  const uint64_t size = bytes;
  write_bytes(out, &size, sizeof size);
  if (bytes > 0) write_bytes(out, data, bytes);
}

// The machine's floating-point peak on one core: independent chains of fused multiply-adds on
// vectors of the width the header's kernels use, held in registers, long enough for the clock
// to settle. How many chains hide the latency without spilling depends on the core: the best
// of a few counts.
// One FMA per chain, written out (a loop over the chains stays a loop at -O2, and the
// accumulators then live in memory).
template <class V, int... I>
inline void fma_round(V* acc, const V& a, const V& b, std::integer_sequence<int, I...>) {
  namespace simd = ::sofiec::SOFIEC_VEC_NAMESPACE;
  ((acc[I] = simd::fma(acc[I], a, b)), ...);
  (simd::keep_in_registers(acc[I]), ...);
}

// (Not inlined: inside a large caller GCC keeps the accumulators in memory.)
template <int kChains>
#if defined(__GNUC__)
__attribute__((noinline))
#endif
double peak_with() {
  namespace simd = ::sofiec::SOFIEC_VEC_NAMESPACE;
  using V = simd::vec<float, simd::kFloatLanes>;
  V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = V(float(i) * 1e-3f);
  const V a(0.999999f), b(1e-7f);
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  long rounds = 0;
  while (seconds < 0.15) {
    for (int r = 0; r < 4096; ++r) fma_round(acc, a, b, std::make_integer_sequence<int, kChains>());
    rounds += 4096;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  float sink[simd::kFloatLanes];
  V total = acc[0];
  for (int i = 1; i < kChains; ++i) total = total + acc[i];
  simd::store(sink, total);
  if (sink[0] == 12345.f) std::printf(" ");
  return double(rounds) * kChains * simd::kFloatLanes * 2 / seconds * 1e-9;
}

double peak_gflops() {
  double best = std::max(peak_with<8>(), peak_with<12>());
  if (::sofiec::SOFIEC_VEC_NAMESPACE::kVectorRegisters >= 32) best = std::max(best, peak_with<16>());
  return best;
}

)";
  for (std::size_t k = 0; k < builds.size(); ++k) {
    const Build& b = builds[k];
    const SessionInterface& si = b.compiled.interface;
    std::string sizes_in, sizes_out;
    for (const auto& t : si.inputs)
      sizes_in += fmt::format("std::size_t({}) * {}, ", element_count_text(t), dtype_size(t.dtype));
    for (const auto& t : si.outputs)
      sizes_out += fmt::format("std::size_t({}) * {}, ", element_count_text(t), dtype_size(t.dtype));
    s += fmt::format(R"(void run_build{0}(int sets, int iters, int trace_set) {{
  namespace m = ::{1};
  auto owner = std::make_unique<m::Session>();
  const m::Session& session = *owner;
  m::Workspace ws(session);
  const std::vector<std::size_t> in_bytes{{{2}}}, out_bytes{{{3}}};
  std::vector<Buffer> inputs, outputs;
  std::vector<const void*> in;
  std::vector<void*> out;
  for (std::size_t b : out_bytes) outputs.emplace_back(b), out.push_back(outputs.back().data);
  for (int set = 0; set < sets; ++set) {{
    inputs.clear();
    in.clear();
    for (std::size_t i = 0; i < in_bytes.size(); ++i) {{
      inputs.emplace_back(in_bytes[i]);
      read_into("set" + std::to_string(set) + "_in" + std::to_string(i) + ".bin", inputs.back().data, in_bytes[i]);
      in.push_back(inputs.back().data);
    }}
)",
                     k, b.ns, sizes_in, sizes_out);
    if (b.trace)
      s += fmt::format(R"(    std::ofstream trace_file;
    if (set == trace_set) {{
      trace_file.open(path("b{0}_set" + std::to_string(set) + ".trace"), std::ios::binary);
      ws.set_tracer(trace, &trace_file);
    }}
    {1}
    ws.set_tracer(nullptr, nullptr);
)",
                       k, call_text(b));
    else
      s += fmt::format("    (void)trace_set;\n    {}\n", call_text(b));
    s += fmt::format(R"(    for (std::size_t i = 0; i < out_bytes.size(); ++i) {{
      const std::string stem = "b{0}_set" + std::to_string(set) + "_out" + std::to_string(i);
      const auto shape = ws.output_shape(i);
      std::size_t bytes = out_bytes[i];
      if (m::Session::output_has_data_dependent_shape[i] && shape.size() > 0)
        bytes = out_bytes[i] / std::size_t(m::Session::output_shapes[i].size()) * std::size_t(shape.size());
      else if (m::Session::output_has_data_dependent_shape[i])
        bytes = 0;
      std::ofstream data(path(stem + ".bin"), std::ios::binary);
      write_bytes(data, outputs[i].data, bytes);
      std::ofstream dims(path(stem + ".dims"));
      for (std::size_t d = 0; d < shape.rank; ++d) dims << shape.dims[d] << ' ';
    }}
  }}
)",
                     k);
    if (b.profile)
      s += fmt::format(R"(  if (iters > 0) {{
    std::vector<double> times;
    m::Session::reset_profile(ws);
    const auto start = std::chrono::steady_clock::now();
    for (int it = 0; it < iters; ++it) {{
      const auto t0 = std::chrono::steady_clock::now();
      {1}
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > 20) break;
    }}
    std::sort(times.begin(), times.end());
    std::ofstream report(path("b{0}.profile"));
    report.precision(9);
    report << "#infer\t" << times.size() << '\t' << times[times.size() / 2] << '\n';
    for (const auto& p : session.profile(ws))
      report << p.name << '\t' << p.op << '\t' << p.calls << '\t' << p.total_s << '\t' << p.median_s << '\t'
             << p.flops << '\t' << p.bytes << '\n';
  }}
}}

)",
                       k, call_text(b));
    else
      s += "  (void)iters;\n}\n\n";
  }
  s += R"(}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s WORK SETS ITERS TRACE_SET PEAK\n", argv[0]);
    return 2;
  }
  work = argv[1];
  const int sets = std::atoi(argv[2]), iters = std::atoi(argv[3]), trace_set = std::atoi(argv[4]);
  try {
)";
  for (std::size_t k = 0; k < builds.size(); ++k) s += fmt::format("    run_build{}(sets, iters, trace_set);\n", k);
  s += R"(  } catch (const std::exception& e) {
    std::fprintf(stderr, "infer failed: %s\n", e.what());
    return 4;
  }
  if (std::atoi(argv[5])) {
    std::ofstream peak(path("peak"));
    peak << peak_gflops() << '\n';
  }
  return 0;
}
)";
  return s;
}

// A temporary work folder, removed at the end unless the user named it.
class WorkDir {
 public:
  explicit WorkDir(const std::string& named) : keep_(!named.empty()) {
    if (keep_) {
      path_ = named;
    } else {
      std::string pattern = (fs::temp_directory_path() / "sofiec-run-XXXXXX").string();
      if (!mkdtemp(pattern.data())) throw Error("cannot create a temporary folder");
      path_ = pattern;
    }
    std::error_code ec;
    fs::create_directories(path_, ec);
    if (ec) throw Error(fmt::format("cannot create the folder '{}': {}", path_.string(), ec.message()));
  }
  ~WorkDir() {
    std::error_code ec;
    if (!keep_) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  bool keep_;
  fs::path path_;
};

void progress(const std::string& what) { std::cerr << "sofiec: " << what << "\n" << std::flush; }

struct Runner {
  const RunArgs& args;
  Model model;
  std::vector<DataSet> sets;
  std::map<std::string, int64_t> dims;  // fixed for every build
  WorkDir work;

  Runner(const RunArgs& a, int random_sets)
      : args(a),
        model(load_model_file({a.model, a.input_shapes, a.python, a.keras_weights})),
        work(a.work) {
    if (!args.inputs.empty()) {
      sets = load_data_sets(model.graph, args);
      dims = dims_of(model.graph, sets);
    } else {
      dims = args.dims;
      sets = random_data_sets(model.graph, dims, random_sets, args.seed);
    }
    for (std::size_t s = 0; s < sets.size(); ++s)
      for (std::size_t i = 0; i < sets[s].inputs.size(); ++i) {
        const Tensor& t = sets[s].inputs[i];
        write_file_atomically((work.path() / fmt::format("set{}_in{}.bin", s, i)).string(),
                              std::string(t.bytes.begin(), t.bytes.end()));
      }
  }

  Build compile(const std::string& ns, OptLevel level, bool profile, bool trace, const std::string& perturb = "") {
    CompileOptions o;
    o.level = level;
    o.namespace_name = ns;
    o.fixed_dims = dims;
    o.profile = profile;
    o.trace = trace;
    o.perturb_node = perturb;
    Build b{ns, ns + ".hxx", compile_model(model, o), trace, profile};
    write_file_atomically((work.path() / b.header).string(), b.compiled.header);
    return b;
  }

  // Compiles the driver of `builds` (unless it is built already) and runs it; throws Error
  // with the compiler's or the program's last lines.
  void run(const std::vector<Build>& builds, int iters, int trace_set, bool peak) {
    const fs::path source = work.path() / "driver.cpp", exe = work.path() / "driver";
    const std::string text = driver_source(builds);
    if (text != built_) build(text, source, exe);
    progress(iters > 0 ? fmt::format("running {} iterations", iters) : fmt::format("running {} data set(s)", sets.size()));
    std::string out;
    const std::string run = fmt::format("{} {} {} {} {} {}", shell_quote(exe.string()),
                                        shell_quote(work.path().string()), sets.size(), iters, trace_set, peak ? 1 : 0);
    if (run_command(run, out) != 0) {
      const std::string last = last_lines(out, 1);
      throw Error(fmt::format("the compiled {} failed: {}", fs::path(args.model).filename().string(),
                              last.empty() ? "no message" : last.substr(0, last.size() - 1)));
    }
  }

  void build(const std::string& text, const fs::path& source, const fs::path& exe) {
    write_file_atomically(source.string(), text);
    const std::string cxx = cxx_or_default(args.cxx);
    const std::string command = fmt::format("{} -std=c++17 {} -I {} {} -o {}", shell_quote(cxx), args.cxxflags,
                                            shell_quote(work.path().string()), shell_quote(source.string()),
                                            shell_quote(exe.string()));
    progress(fmt::format("compiling {} with {} {}", fs::path(args.model).filename().string(), cxx, args.cxxflags));
    std::string out;
    if (run_command(command, out) != 0) {
      std::cerr << last_lines(out, 15) << command << "\n";
      throw Error(fmt::format("compiling the generated code of {} with {} failed (its messages above; --work DIR keeps "
                              "the files)",
                              fs::path(args.model).filename().string(), cxx));
    }
    built_ = text;
  }
  std::string built_;  // the driver source built last

  // Output i of data set s as build k wrote it (dims from its .dims file).
  Tensor output(std::size_t k, std::size_t s, std::size_t i, DType dtype) const {
    const std::string stem = fmt::format("b{}_set{}_out{}", k, s, i);
    std::vector<int64_t> dims;
    std::istringstream in(read_file(work.path() / (stem + ".dims")));
    for (int64_t d; in >> d;) dims.push_back(d);
    Tensor t(dtype, dims);
    const std::string data = read_file(work.path() / (stem + ".bin"));
    if (data.size() != t.bytes.size()) throw Error(fmt::format("internal: {} holds {} bytes", stem, data.size()));
    std::memcpy(t.bytes.data(), data.data(), data.size());
    return t;
  }
};

// ---- Comparing.

struct Difference {
  double max_abs = 0, max_rel = 0;
  bool ok = true;
  std::string problem;  // shape or type mismatch
};

// Within atol + rtol * |expected| element by element (integers and bools exactly).
Difference compare(const Tensor& expected, const Tensor& actual, double rtol, double atol) {
  Difference d;
  if (expected.dims != actual.dims) {
    d.ok = false;
    std::vector<std::string> a, b;
    for (int64_t x : actual.dims) a.push_back(std::to_string(x));
    for (int64_t x : expected.dims) b.push_back(std::to_string(x));
    d.problem = fmt::format("shape [{}], expected [{}]", fmt::join(a, ","), fmt::join(b, ","));
    return d;
  }
  const bool exact = !dtype_is_float(expected.dtype);
  for (int64_t i = 0; i < expected.size(); ++i) {
    const double e = expected.float_at(i), a = actual.float_at(i);
    if (a == e || (std::isnan(e) && std::isnan(a))) continue;  // (equal infinities too)
    const double diff = std::fabs(a - e);
    if (!(diff <= (exact ? 0 : atol + rtol * std::fabs(e)))) d.ok = false;
    if (std::isnan(diff)) d.max_abs = d.max_rel = INFINITY;
    d.max_abs = std::max(d.max_abs, diff);
    if (e != 0) d.max_rel = std::max(d.max_rel, diff / std::fabs(e));
  }
  return d;
}

std::string seconds_text(double s) {
  if (s >= 1) return fmt::format("{:.2f} s", s);
  if (s >= 1e-3) return fmt::format("{:.2f} ms", s * 1e3);
  return fmt::format("{:.2f} us", s * 1e6);
}

// JSON has no infinities or NaN: null for those.
std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "null"; }

std::string json_string(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    if (static_cast<unsigned char>(c) < 0x20) r += fmt::format("\\u{:04x}", c);
    else r += c;
  }
  return r + "\"";
}

// ---- Tracing: the tensors a traced run wrote.

struct TracedTensor {
  Tensor tensor;
  std::size_t order;  // position in the run
};

std::map<std::string, TracedTensor> read_trace(const fs::path& file) {
  std::map<std::string, TracedTensor> out;
  const std::string data = read_file(file);
  std::size_t pos = 0, order = 0;
  auto take = [&](void* dst, std::size_t n) {
    if (pos + n > data.size()) throw Error(fmt::format("internal: truncated trace '{}'", file.string()));
    std::memcpy(dst, data.data() + pos, n);
    pos += n;
  };
  static const std::map<std::string, DType> types = [] {
    std::map<std::string, DType> m;
    for (DType t : {DType::Float, DType::Double, DType::Float16, DType::BFloat16, DType::Int8, DType::Int16,
                    DType::Int32, DType::Int64, DType::UInt8, DType::UInt16, DType::UInt32, DType::UInt64, DType::Bool})
      m[std::string(dtype_name(t))] = t;
    return m;
  }();
  while (pos < data.size()) {
    uint64_t header[3], bytes;
    take(header, sizeof header);
    std::string name(header[0], ' '), type(header[1], ' ');
    take(name.data(), name.size());
    take(type.data(), type.size());
    std::vector<int64_t> dims(header[2]);
    take(dims.data(), dims.size() * sizeof(int64_t));
    take(&bytes, sizeof bytes);
    const auto t = types.find(type);
    if (t == types.end()) {
      pos += bytes;
      continue;
    }
    Tensor tensor(t->second, dims);
    if (tensor.bytes.size() != bytes) throw Error(fmt::format("internal: trace of '{}' has {} bytes", name, bytes));
    take(tensor.bytes.data(), bytes);
    out[name] = TracedTensor{std::move(tensor), order++};
  }
  return out;
}

// Which node of g writes `tensor`, and its operator (with what is fused into it).
std::string producer(const Graph& g, const std::string& tensor) {
  for (const Node& n : g.nodes)
    for (const std::string& o : n.outputs)
      if (o == tensor) {
        std::string op = n.op_type;
        for (const Node& f : n.epilogue) op += " + " + f.op_type;
        return fmt::format("'{}' ({})", n.name, op);
      }
  return "?";
}

}  // namespace

int profile_command(const ProfileArgs& args) {
  Runner runner(args, 1);
  const OptLevel level = parse_opt_level(args.level);
  progress("generating the profiled header");
  std::vector<Build> builds;
  builds.push_back(runner.compile("sofiec_profiled", level, true, false));
  runner.run(builds, std::max(1, args.iters), -1, true);
  const int64_t model_flops = builds[0].compiled.stats.total_flops;
  // Read back.
  struct Row {
    std::string name, op;
    int64_t calls;
    double total, median, flops, bytes;
  };
  std::vector<Row> rows;
  double infer_median = 0;
  std::size_t iterations = 0;
  std::istringstream in(read_file(runner.work.path() / "b0.profile"));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
    if (f.size() == 3 && f[0] == "#infer") {
      iterations = std::stoul(f[1]);
      infer_median = std::stod(f[2]);
    } else if (f.size() == 7) {
      rows.push_back({f[0], f[1], std::stoll(f[2]), std::stod(f[3]), std::stod(f[4]), std::stod(f[5]), std::stod(f[6])});
    }
  }
  const double peak = std::stod(read_file(runner.work.path() / "peak"));
  double sum_median = 0, sum_total = 0;
  for (const Row& r : rows) sum_median += r.median, sum_total += r.total;
  std::vector<Row> sorted = rows;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Row& a, const Row& b) { return a.total > b.total; });
  const std::string model_name = fs::path(args.model).filename().string();
  if (args.json) {
    std::string j = fmt::format("{{\"model\": {}, \"level\": {}, \"iterations\": {}, \"infer_median_s\": {:.9g}, "
                                "\"flops\": {}, \"peak_gflops\": {:.4g}, \"cxxflags\": {}, \"nodes\": [",
                                json_string(model_name), json_string(args.level), iterations, infer_median,
                                model_flops, peak, json_string(args.cxxflags));
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      const Row& r = sorted[i];
      j += fmt::format("{}\n  {{\"name\": {}, \"op\": {}, \"calls\": {}, \"total_s\": {:.9g}, \"median_s\": {:.9g}, "
                       "\"share\": {:.4f}, \"flops\": {:.0f}, \"gflops\": {:.4g}, \"bytes\": {:.0f}}}",
                       i ? "," : "", json_string(r.name), json_string(r.op), r.calls, r.total, r.median,
                       sum_total > 0 ? r.total / sum_total : 0, r.flops, r.median > 0 ? r.flops / r.median * 1e-9 : 0,
                       r.bytes);
    }
    std::cout << j << "\n]}\n";
    return 0;
  }
  std::cout << fmt::format("{}: -O {}, {} iterations, compiled with {}\n", model_name, args.level, iterations,
                           args.cxxflags);
  std::cout << fmt::format("{:<32} {:<24} {:>10} {:>7} {:>12} {:>9} {:>11}\n", "node", "operator", "median", "share",
                           "FLOPs", "GFLOP/s", "bytes");
  for (const Row& r : sorted) {
    const std::string name = r.name.size() > 32 ? r.name.substr(0, 29) + "..." : r.name;
    const std::string op = r.op.size() > 24 ? r.op.substr(0, 21) + "..." : r.op;
    std::cout << fmt::format("{:<32} {:<24} {:>10} {:>6.1f}% {:>12.0f} {:>9.2f} {:>11.0f}\n", name, op,
                             seconds_text(r.median), sum_total > 0 ? 100 * r.total / sum_total : 0, r.flops,
                             r.median > 0 ? r.flops / r.median * 1e-9 : 0, r.bytes);
  }
  const double achieved = infer_median > 0 ? double(model_flops) / infer_median * 1e-9 : 0;
  std::cout << fmt::format(
      "total: infer() {} (median; the nodes' medians add up to {}), {:.0f} FLOPs: {:.2f} GFLOP/s, {:.1f}% of this "
      "core's measured peak of {:.1f} GFLOP/s\n",
      seconds_text(infer_median), seconds_text(sum_median), double(model_flops), achieved,
      peak > 0 ? 100 * achieved / peak : 0, peak);
  return 0;
}

int verify_command(const VerifyArgs& args) {
  if (args.draws < 1) throw Error(fmt::format("--draws {}: at least 1", args.draws));
  Runner runner(args, args.draws);
  const OptLevel level = parse_opt_level(args.level);
  progress(fmt::format("generating the header at -O {} and at -O 0", args.level));
  std::vector<Build> builds;
  builds.push_back(runner.compile("sofiec_verify_optimized", level, false, true, args.perturb_node));
  builds.push_back(runner.compile("sofiec_verify_reference", OptLevel::O0, false, true));
  runner.run(builds, 0, -1, false);
  const Graph& g = runner.model.graph;
  bool all_ok = true;
  int first_bad_set = -1;
  std::string report;
  std::string json_outputs;
  for (std::size_t s = 0; s < runner.sets.size(); ++s) {
    const DataSet& set = runner.sets[s];
    report += fmt::format(" {}:\n", set.label);
    for (std::size_t i = 0; i < g.outputs.size(); ++i) {
      const DType dtype = builds[0].compiled.interface.outputs[i].dtype;
      const Tensor optimized = runner.output(0, s, i, dtype), reference = runner.output(1, s, i, dtype);
      struct Check {
        const char* what;
        Difference d;
      };
      std::vector<Check> checks{{"-O 0", compare(reference, optimized, args.rtol, args.atol)}};
      if (i < set.expected.size()) {
        checks.push_back({"stored", compare(set.expected[i], optimized, args.rtol, args.atol)});
        checks.push_back({"stored (-O 0)", compare(set.expected[i], reference, args.rtol, args.atol)});
      }
      for (const Check& c : checks) {
        if (!c.d.ok) {
          all_ok = false;
          if (first_bad_set < 0 && std::string(c.what) == "-O 0") first_bad_set = int(s);
        }
        report += fmt::format("  {:<28} vs {:<14} max abs {:<10.3g} max rel {:<10.3g} {}\n", g.outputs[i], c.what,
                              c.d.max_abs, c.d.max_rel, c.d.ok ? "pass" : c.d.problem.empty() ? "FAIL" : "FAIL: " + c.d.problem);
        json_outputs += fmt::format("{}{{\"set\": {}, \"output\": {}, \"against\": {}, \"max_abs\": {}, "
                                    "\"max_rel\": {}, \"pass\": {}}}",
                                    json_outputs.empty() ? "" : ", ", s, json_string(g.outputs[i]),
                                    json_string(c.what), json_number(c.d.max_abs), json_number(c.d.max_rel),
                                    c.d.ok ? "true" : "false");
      }
    }
  }
  // Where the optimized build first departs from the graph as written: trace both on the first
  // data set they disagree on and compare every tensor they share, in the reference's order.
  std::string culprit;
  if (first_bad_set >= 0) {
    progress(fmt::format("tracing every node on data set {} to find the first that differs", first_bad_set));
    runner.run(builds, 0, first_bad_set, false);
    const auto opt = read_trace(runner.work.path() / fmt::format("b0_set{}.trace", first_bad_set));
    const auto ref = read_trace(runner.work.path() / fmt::format("b1_set{}.trace", first_bad_set));
    std::vector<std::pair<std::size_t, std::string>> order;
    for (const auto& [name, t] : ref) order.emplace_back(t.order, name);
    std::sort(order.begin(), order.end());
    for (const auto& [pos, name] : order) {
      const auto o = opt.find(name);
      if (o == opt.end() || o->second.tensor.dims != ref.at(name).tensor.dims ||
          o->second.tensor.dtype != ref.at(name).tensor.dtype)
        continue;  // fused away, or laid out otherwise
      const Difference d = compare(ref.at(name).tensor, o->second.tensor, args.rtol, args.atol);
      if (d.ok) continue;
      std::string compiled_node = "?";
      for (const NodeSummary& n : builds[0].compiled.stats.nodes)
        if (std::find(n.outputs.begin(), n.outputs.end(), name) != n.outputs.end()) {
          compiled_node = fmt::format("'{}' ({}", n.name, n.op_type);
          for (const std::string& f : n.fused) compiled_node += " + " + f;
          compiled_node += ")";
        }
      culprit = fmt::format(
          "first difference: tensor '{}' (max abs {:.3g}, max rel {:.3g}), written by node {} of the model and by "
          "node {} at -O {}",
          name, d.max_abs, d.max_rel, producer(g, name), compiled_node, args.level);
      break;
    }
    if (culprit.empty())
      culprit = "no tensor the two builds share differs beyond the tolerance: the difference builds up (accumulation "
                "order) or lies in a fused node's internals";
  }
  const std::string model_name = fs::path(args.model).filename().string();
  if (args.json) {
    std::cout << fmt::format("{{\"model\": {}, \"level\": {}, \"rtol\": {}, \"atol\": {}, \"sets\": {}, \"pass\": {}, "
                             "\"results\": [{}]{}}}\n",
                             json_string(model_name), json_string(args.level), args.rtol, args.atol,
                             runner.sets.size(), all_ok ? "true" : "false", json_outputs,
                             culprit.empty() ? "" : ", \"first_difference\": " + json_string(culprit));
  } else {
    std::cout << fmt::format("{}: -O {} against -O 0{}, {} data set(s) ({}), rtol {} atol {}\n", model_name,
                             args.level, runner.sets.empty() || runner.sets[0].expected.empty() ? "" : " and the stored outputs",
                             runner.sets.size(), args.inputs.empty() ? "random inputs" : args.inputs, args.rtol,
                             args.atol);
    std::cout << report;
    if (!culprit.empty()) std::cout << culprit << "\n";
    std::cout << (all_ok ? "verify: pass\n" : "verify: FAIL\n");
  }
  return all_ok ? 0 : 1;
}

}  // namespace sofiec
