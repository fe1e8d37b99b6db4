// The sofiec command line: every bad input gives one clear line on stderr, a non-zero exit
// status and no output file.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <unistd.h>
#include <sys/wait.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "model_builder.hpp"
#include "sofiec/compiler.hpp"

namespace fs = std::filesystem;

namespace {

struct CliResult {
  int status;
  std::string err;
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sofiec_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliResult sofiec(const std::string& args) {
    const std::string err_file = (dir_ / "stderr.txt").string();
    const std::string cmd = std::string(SOFIEC_BIN) + " " + args + " 2> '" + err_file + "' > /dev/null";
    const int rc = std::system(cmd.c_str());
    std::ifstream in(err_file);
    std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fs::remove(err_file);
    return CliResult{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, err};
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static sofiec_test::ModelBuilder relu_model() {
    sofiec_test::ModelBuilder b;
    b.input("x", {2, 3}).output("y", {2, 3});
    b.node("Relu", {"x"}, {"y"});
    return b;
  }
  // One line, naming the problem, and no output left behind.
  std::string read(const std::string& file) const {
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void expect_refused(const CliResult& r, const std::string& words, const std::string& out) {
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(dir_))
      EXPECT_EQ(e.path().filename().string().find(".out.hxx"), std::string::npos) << e.path();
  }
  fs::path dir_;
};

TEST_F(Cli, VersionAndHelp) {
  EXPECT_EQ(sofiec("--version").status, 0);
  EXPECT_EQ(sofiec("--help").status, 0);
}

TEST_F(Cli, CompilesAValidModel) {
  relu_model().save(path("relu.onnx"));
  EXPECT_EQ(sofiec(path("relu.onnx") + " -o " + path("relu.hxx")).status, 0);
  std::ifstream in(path("relu.hxx"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("namespace relu {"), std::string::npos);
  EXPECT_NE(text.find("void infer(const float* in_x, float* out_y)"), std::string::npos);
}

// Reduce axes given as a graph input: refused with a hint, compiled once the input is frozen.
TEST_F(Cli, FreezeGivesAnInputItsValue) {
  sofiec_test::ModelBuilder b(18);
  b.input("x", {2, 3}).input("axes", {1}, onnx::TensorProto::INT64).output("y", {2, 1});
  b.node("ReduceSum", {"x", "axes"}, {"y"});
  b.save(path("sum.onnx"));
  expect_refused(sofiec(path("sum.onnx") + " -o " + path("sum.hxx")), "--freeze NAME=VALUES", path("sum.hxx"));
  expect_refused(sofiec(path("sum.onnx") + " --freeze axes=1,2 -o " + path("sum.hxx")), "2 values given",
                 path("sum.hxx"));
  expect_refused(sofiec(path("sum.onnx") + " --freeze nope=1 -o " + path("sum.hxx")), "no graph input",
                 path("sum.hxx"));
  expect_refused(sofiec(path("sum.onnx") + " --freeze axes=x -o " + path("sum.hxx")), "must be numbers",
                 path("sum.hxx"));
  ASSERT_EQ(sofiec(path("sum.onnx") + " --freeze axes=-1 -o " + path("sum.hxx")).status, 0);
  std::ifstream in(path("sum.hxx"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("void infer(const float* in_x, float* out_y)"), std::string::npos);
}

// What the conformance runner freezes, the CLI takes too: an empty tensor (ReduceL1's empty
// axes: reduce over everything) and float16 / bfloat16 values, rounded to nearest even.
TEST_F(Cli, FreezeTakesEmptyTensorsAndHalfValues) {
  sofiec_test::ModelBuilder b(18);
  b.input("x", {2, 3}).input("axes", {0}, onnx::TensorProto::INT64).output("y", {1, 1});
  b.node("ReduceL1", {"x", "axes"}, {"y"});
  b.save(path("l1.onnx"));
  ASSERT_EQ(sofiec(path("l1.onnx") + " --freeze axes= -o " + path("l1.hxx")).status, 0);
  EXPECT_NE(read(path("l1.hxx")).find("void infer(const float* in_x, float* out_y)"), std::string::npos);

  sofiec_test::ModelBuilder h(18);
  h.input("x", {2}, onnx::TensorProto::FLOAT16).input("c", {2}, onnx::TensorProto::FLOAT16);
  h.output("y", {2}, onnx::TensorProto::FLOAT16);
  h.node("Add", {"x", "c"}, {"y"});
  h.save(path("half.onnx"));
  ASSERT_EQ(sofiec(path("half.onnx") + " --freeze c=1.5,0.1 -o " + path("half.hxx")).status, 0);
  EXPECT_NE(read(path("half.hxx")).find("void infer(const ::sofiec::float16_t* in_x, ::sofiec::float16_t* out_y)"),
            std::string::npos);

  for (const auto dtype : {sofiec::DType::Float16, sofiec::DType::BFloat16}) {
    sofiec::Graph g;
    g.inputs = {"c"};
    g.values["c"] = sofiec::ValueInfo{dtype, {sofiec::Dim{2}}, true};
    const sofiec::Tensor t = sofiec::frozen_value(g, "c", {1.5, 0.1});
    EXPECT_EQ(t.float_at(0), 1.5);
    // 0.1 rounded to the nearest float16 (10 fraction bits) or bfloat16 (7).
    EXPECT_EQ(t.float_at(1), dtype == sofiec::DType::Float16 ? 0.0999755859375 : 0.10009765625);
  }
}

TEST_F(Cli, MissingFile) {
  expect_refused(sofiec(path("nope.onnx") + " -o " + path("a.hxx")), "cannot open model file", path("a.hxx"));
}

TEST_F(Cli, EmptyFile) {
  std::ofstream(path("empty.onnx")).close();
  expect_refused(sofiec(path("empty.onnx") + " -o " + path("a.hxx")), "is empty", path("a.hxx"));
}

TEST_F(Cli, RandomBytes) {
  std::mt19937 rng(42);
  std::ofstream f(path("random.onnx"), std::ios::binary);
  for (int i = 0; i < 4096; ++i) f.put(char(rng()));
  f.close();
  expect_refused(sofiec(path("random.onnx") + " -o " + path("a.hxx")), "not", path("a.hxx"));
}

TEST_F(Cli, TruncatedModel) {
  sofiec_test::ModelBuilder b;
  b.input("x", {1, 64}).output("y");
  b.init_floats("w", {64, 64}, std::vector<float>(64 * 64, 0.5f));
  b.node("MatMul", {"x", "w"}, {"y"});
  const std::string bytes = b.bytes();
  std::ofstream(path("cut.onnx"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_refused(sofiec(path("cut.onnx") + " -o " + path("a.hxx")), "truncated", path("a.hxx"));
}

TEST_F(Cli, UnsupportedOperatorsAreAllListed) {
  sofiec_test::ModelBuilder b;
  b.input("x", {4}).output("z");
  b.node("FancyOp", {"x"}, {"y"}, "first_fancy");
  b.node("OtherOp", {"y"}, {"z"}, "the_other");
  b.save(path("unsupported.onnx"));
  const CliResult r = sofiec(path("unsupported.onnx") + " -o " + path("a.hxx"));
  expect_refused(r, "unsupported operators", path("a.hxx"));
  EXPECT_NE(r.err.find("FancyOp (node 'first_fancy')"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("OtherOp (node 'the_other')"), std::string::npos) << r.err;
}

TEST_F(Cli, UnwritableOutput) {
  relu_model().save(path("relu.onnx"));
  expect_refused(sofiec(path("relu.onnx") + " -o " + path("no/such/folder/a.hxx")), "does not exist",
                 path("no/such/folder/a.hxx"));
  fs::create_directories(path("readonly"));
  fs::permissions(path("readonly"), fs::perms::owner_read | fs::perms::owner_exec);
  if (::geteuid() != 0) {  // root writes anywhere; the check only means something for others
    expect_refused(sofiec(path("relu.onnx") + " -o " + path("readonly/a.hxx")), "cannot write", path("readonly/a.hxx"));
  }
  fs::permissions(path("readonly"), fs::perms::owner_all);
  expect_refused(sofiec(path("relu.onnx") + " -o " + path("readonly")), "it is a folder", path("readonly/a.hxx"));
}

TEST_F(Cli, FailedRunKeepsThePreviousHeader) {
  std::ofstream(path("keep.hxx")) << "previous";
  expect_refused(sofiec(path("nope.onnx") + " -o " + path("keep.hxx")), "cannot open", path("absent.hxx"));
  std::ifstream in(path("keep.hxx"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "previous");
}

TEST_F(Cli, SymbolicDimsAreRunTimeParametersOrFixed) {
  sofiec_test::ModelBuilder b;
  b.input("x", {-1, 3}, onnx::TensorProto::FLOAT, {"batch"}).output("y");
  b.node("Relu", {"x"}, {"y"});
  b.save(path("dyn.onnx"));
  EXPECT_EQ(sofiec(path("dyn.onnx") + " -o " + path("a.hxx")).status, 0);
  EXPECT_NE(read(path("a.hxx")).find("explicit Session(std::size_t batch_max)"), std::string::npos);
  expect_refused(sofiec(path("dyn.onnx") + " --report"), "--dim", path("nothing.hxx"));
  EXPECT_EQ(sofiec(path("dyn.onnx") + " --dim batch=8 -o " + path("a.hxx")).status, 0);
  EXPECT_NE(read(path("a.hxx")).find("Session() : workspace_(workspace_bytes())"), std::string::npos);
  sofiec_test::ModelBuilder unnamed;
  unnamed.input("x", {-1, 3}, onnx::TensorProto::FLOAT, {""}).output("y");
  unnamed.node("Relu", {"x"}, {"y"});
  unnamed.save(path("unnamed.onnx"));
  expect_refused(sofiec(path("unnamed.onnx") + " -o " + path("b.hxx")), "without a name", path("b.hxx"));
  expect_refused(sofiec(path("dyn.onnx") + " --dim nosuch=8 -o " + path("b.hxx")), "no dimension", path("b.hxx"));
}

TEST_F(Cli, BadOptions) {
  relu_model().save(path("relu.onnx"));
  EXPECT_NE(sofiec(path("relu.onnx") + " -O 7 -o " + path("a.hxx")).status, 0);
  EXPECT_NE(sofiec(path("relu.onnx") + " --weights nowhere -o " + path("a.hxx")).status, 0);
  EXPECT_FALSE(fs::exists(path("a.hxx")));
}

// sofiec --python: the module's name is the model's stem and a hash of the model and options;
// an interpreter that cannot be run stops it before anything is written; a failed build leaves
// no module behind.
TEST_F(Cli, PythonModule) {
  relu_model().save(path("relu.onnx"));
  expect_refused(sofiec(path("relu.onnx") + " --python-source -o " + path("a.hxx")), "goes with --python",
                 path("a.hxx"));
  auto sources = [&](const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path(folder))) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  ASSERT_EQ(sofiec(path("relu.onnx") + " --python --python-source -o " + path("a")).status, 0);
  ASSERT_EQ(sofiec(path("relu.onnx") + " --python --python-source -o " + path("b")).status, 0);
  ASSERT_EQ(sofiec(path("relu.onnx") + " --python --python-source -O 0 -o " + path("c")).status, 0);
  const std::vector<std::string> a = sources("a");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a, sources("b"));  // the same model and options: the same name
  EXPECT_NE(a, sources("c"));
  const std::string module = a[0].substr(0, a[0].size() - 4);
  EXPECT_EQ(module.size(), std::string("relu_12345678").size()) << module;
  EXPECT_EQ(a[1], module + ".hxx");
  const std::string source = read(path("a/" + a[0]));
  EXPECT_NE(source.find("#define SOFIEC_PY_MODULE " + module + "\n"), std::string::npos);
  EXPECT_NE(source.find("#include \"" + module + ".hxx\""), std::string::npos);
  EXPECT_NE(read(path("a/" + a[1])).find("namespace " + module + " {"), std::string::npos);

  const CliResult no_python = sofiec(path("relu.onnx") + " --python --python-exe /nonexistent/python3 -o " + path("d"));
  EXPECT_EQ(no_python.status, 1);
  EXPECT_NE(no_python.err.find("cannot run the Python interpreter '/nonexistent/python3'"), std::string::npos)
      << no_python.err;
  EXPECT_FALSE(fs::exists(path("d")));
  const CliResult failed =
      sofiec(path("relu.onnx") + " --python --python-exe /usr/bin/python3 --cxx false -o " + path("e"));
  EXPECT_EQ(failed.status, 1);
  EXPECT_NE(failed.err.find("--python: building"), std::string::npos) << failed.err;
  for (const std::string& name : sources("e")) {
    EXPECT_EQ(name.find(".so"), std::string::npos) << name;
    EXPECT_NE(name, "relu.py");
  }
}

// --target cuda: a .cuh by default; every node it cannot run yet named at once; run-time dims
// taken by the constructor (maxima) and infer (values); --dispatch and --python refused.
TEST_F(Cli, CudaTarget) {
  sofiec_test::ModelBuilder b;
  b.input("x", {1, 4}).output("y", {1, 4});
  b.init_floats("w", {4, 4}, std::vector<float>(16, 0.5f));
  b.node("MatMul", {"x", "w"}, {"h"});
  b.node("Relu", {"h"}, {"r"});
  b.node("Softmax", {"r"}, {"y"});
  b.save(path("mlp.onnx"));
  ASSERT_EQ(sofiec(path("mlp.onnx") + " --target cuda -o " + path("mlp.cuh")).status, 0);
  const std::string cuh = read(path("mlp.cuh"));
  EXPECT_NE(cuh.find("#include <cublas_v2.h>"), std::string::npos);
  EXPECT_NE(cuh.find("detail::gemm(blas"), std::string::npos);
  EXPECT_NE(cuh.find("void infer_host(const float* in_x, float* out_y)"), std::string::npos);

  sofiec_test::ModelBuilder c;
  c.input("x", {1, 1, 4, 4}).output("y");
  c.node("Acos", {"x"}, {"a"}, "the_acos");
  sofiec_test::ModelBuilder::attr_int(c.node("LRN", {"a"}, {"y"}), "size", 3);
  c.save(path("conv.onnx"));
  expect_refused(sofiec(path("conv.onnx") + " --target cuda -o " + path("conv.cuh")),
                 "not supported by --target cuda (yet): ", path("conv.cuh"));
  const CliResult r = sofiec(path("conv.onnx") + " --target cuda -o " + path("conv.cuh"));
  EXPECT_NE(r.err.find("LRN (\"LRN_1\")"), std::string::npos) << r.err;  // every node, at once
  EXPECT_NE(r.err.find("the_acos"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no kernel for acos"), std::string::npos) << r.err;

  sofiec_test::ModelBuilder d;
  d.input("x", {-1, 4}, onnx::TensorProto::FLOAT, {"N"}).output("y");
  d.node("Relu", {"x"}, {"y"});
  d.save(path("dyn.onnx"));
  ASSERT_EQ(sofiec(path("dyn.onnx") + " --target cuda -o " + path("dyn.cuh")).status, 0);
  const std::string dyn = read(path("dyn.cuh"));
  EXPECT_NE(dyn.find("explicit Session(std::size_t N_max, cudaStream_t stream = nullptr)"), std::string::npos);
  EXPECT_NE(dyn.find("void infer(std::size_t N, const float* in_x, float* out_y)"), std::string::npos);
  EXPECT_NE(dyn.find("void infer_host(std::size_t N, const float* in_x, float* out_y)"), std::string::npos);
  EXPECT_EQ(sofiec(path("dyn.onnx") + " --target cuda --dim N=8 -o " + path("dyn.cuh")).status, 0);
  EXPECT_NE(read(path("dyn.cuh")).find("explicit Session(cudaStream_t stream = nullptr)"), std::string::npos);
  expect_refused(sofiec(path("mlp.onnx") + " --target cuda --dispatch avx512 -o " + path("a.cuh")), "CPU headers",
                 path("a.cuh"));
  expect_refused(sofiec(path("mlp.onnx") + " --target cuda --python -o " + path("py")), "CPU modules", path("py"));
  expect_refused(sofiec(path("mlp.onnx") + " --tf32 -o " + path("t.hxx")), "--tf32 goes with --target cuda",
                 path("t.hxx"));
  ASSERT_EQ(sofiec(path("mlp.onnx") + " --target cuda --tf32 -o " + path("t.cuh")).status, 0);
  EXPECT_NE(read(path("t.cuh")).find("rt_(stream, true)"), std::string::npos);
}

TEST_F(Cli, WeightsFileMode) {
  sofiec_test::ModelBuilder b;
  b.input("x", {1, 2}).output("y");
  b.init_floats("w", {2, 2}, {1, 2, 3, 4});
  b.node("MatMul", {"x", "w"}, {"y"});
  b.save(path("mm.onnx"));
  EXPECT_EQ(sofiec(path("mm.onnx") + " --weights file -o " + path("mm.hxx")).status, 0);
  EXPECT_TRUE(fs::exists(path("mm.hxx.dat")));
  EXPECT_EQ(fs::file_size(path("mm.hxx.dat")), 16u);
}

}  // namespace

namespace {

TEST_F(Cli, ReportPrintsWithoutWritingCode) {
  relu_model().save(path("relu.onnx"));
  const std::string out = path("report.txt");
  EXPECT_EQ(
      std::system((std::string(SOFIEC_BIN) + " " + path("relu.onnx") + " --report -o " + path("relu.hxx") + " > " + out)
                      .c_str()),
      0);
  EXPECT_FALSE(fs::exists(path("relu.hxx")));
  std::ifstream text(out);
  const std::string report((std::istreambuf_iterator<char>(text)), std::istreambuf_iterator<char>());
  EXPECT_NE(report.find("nodes: 1 before, 1 after"), std::string::npos) << report;
  EXPECT_NE(report.find("lower bound for this order"), std::string::npos) << report;
  EXPECT_EQ(std::system((std::string(SOFIEC_BIN) + " " + path("relu.onnx") + " --report=json > " + out).c_str()), 0);
  std::ifstream json_file(out);
  const std::string json((std::istreambuf_iterator<char>(json_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(json.find("\"total_flops\": 6"), std::string::npos) << json;
  expect_refused(sofiec(path("relu.onnx") + " --report=xml"), "--report=xml", path("relu.hxx"));
}

}  // namespace

namespace {

std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The same model and options give the same bytes whatever the current folder, the locale,
// the time zone or the time.
TEST_F(Cli, HeaderBytesDependOnlyOnTheModel) {
  relu_model().save(path("relu.onnx"));
  fs::create_directories(path("elsewhere"));
  const std::string bin = SOFIEC_BIN;
  const std::string first = "cd '" + dir_.string() + "' && " + bin + " relu.onnx -o a.hxx";
  const std::string second = "cd '" + path("elsewhere") + "' && LC_ALL=C.UTF-8 TZ=Asia/Tokyo " + bin +
                             " ../relu.onnx -o " + path("b.hxx") + " --namespace a";
  ASSERT_EQ(std::system(first.c_str()), 0);
  ::sleep(1);
  ASSERT_EQ(std::system(second.c_str()), 0);
  const std::string a = read_all(path("a.hxx")), b = read_all(path("b.hxx"));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

}  // namespace

namespace {

// A .npy file (format 1.0) of float32 values.
void write_npy(const std::string& path, const std::vector<int64_t>& dims, const std::vector<float>& values) {
  std::string shape;
  for (int64_t d : dims) shape += std::to_string(d) + ", ";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {char(header.size() & 0xff), char(header.size() >> 8)};
  out.write(len, 2);
  out << header;
  out.write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * sizeof(float)));
}

// y = relu(x W + b) then z = tanh(y) * 2: three nodes, a symbolic batch.
sofiec_test::ModelBuilder three_nodes() {
  sofiec_test::ModelBuilder b;
  b.input("x", {-1, 4}, onnx::TensorProto::FLOAT, {"batch"}).output("z", {-1, 3});
  b.init_floats("W", {4, 3}, {0.5f, -1, 0.25f, 1, 0.5f, -0.5f, -0.25f, 1, 2, 0.75f, -2, 1});
  b.init_floats("two", {}, {2.0f});
  b.node("MatMul", {"x", "W"}, {"xw"}, "matmul");
  b.node("Relu", {"xw"}, {"y"}, "relu");
  b.node("Tanh", {"y"}, {"t"}, "tanh");
  b.node("Mul", {"t", "two"}, {"z"}, "scale");
  return b;
}

struct RunResult {
  int status;
  std::string out, err;
};

}  // namespace

class CliRun : public Cli {
 protected:
  RunResult run(const std::string& args) {
    const std::string out_file = path("stdout.txt"), err_file = path("stderr.txt");
    const std::string cmd = std::string(SOFIEC_BIN) + " " + args + " > '" + out_file + "' 2> '" + err_file + "'";
    const int rc = std::system(cmd.c_str());
    return RunResult{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, read_all(out_file), read_all(err_file)};
  }
};

// sofiec profile: every node in the table, with FLOPs from the compiler's count, and the JSON.
TEST_F(CliRun, ProfilePrintsEveryNode) {
  three_nodes().save(path("m.onnx"));
  const RunResult text = run(path("m.onnx") + " --dim batch=64 --profile -o " + path("m.hxx"));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(read_all(path("m.hxx")).find("workspace.timings_.record("), std::string::npos);
  const RunResult table = run("profile " + path("m.onnx") + " --dim batch=64 --iters 50 --cxxflags -O1");
  ASSERT_EQ(table.status, 0) << table.err;
  for (const char* word : {"matmul", "MatMul + Relu + Tanh", "scale", "GFLOP/s", "total: infer()", "measured peak"})
    EXPECT_NE(table.out.find(word), std::string::npos) << word << "\n" << table.out;
  EXPECT_NE(table.err.find("sofiec: compiling m.onnx"), std::string::npos) << table.err;
  const RunResult json = run("profile " + path("m.onnx") + " --dim batch=64 --iters 20 --cxxflags -O1 --json");
  ASSERT_EQ(json.status, 0) << json.err;
  // The MatMul: 64 x 4 x 3 multiply-adds, 2 FLOPs each, and one per element for the Relu and the
  // Tanh fused into it.
  EXPECT_NE(json.out.find("\"flops\": 1920"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"calls\": 20"), std::string::npos) << json.out;
  // Random inputs need every run-time dim.
  const RunResult missing = run("profile " + path("m.onnx"));
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.err.find("run-time dims (batch)"), std::string::npos) << missing.err;
}

// sofiec verify: agrees on random and given inputs, fails against wrong stored outputs, and
// names the node a debug build perturbs.
TEST_F(CliRun, VerifyComparesAndFindsTheFirstDifferingNode) {
  three_nodes().save(path("m.onnx"));
  const RunResult random = run("verify " + path("m.onnx") + " --dim batch=5 --cxxflags -O1");
  EXPECT_EQ(random.status, 0) << random.out << random.err;
  EXPECT_NE(random.out.find("verify: pass"), std::string::npos) << random.out;

  // x = [[1, 2, 3, 4], [-1, 0, 1, 0.5]]: z computed here by hand.
  fs::create_directories(path("data"));
  const std::vector<float> x{1, 2, 3, 4, -1, 0, 1, 0.5f};
  write_npy(path("data/input_0.npy"), {2, 4}, x);
  const float W[4][3] = {{0.5f, -1, 0.25f}, {1, 0.5f, -0.5f}, {-0.25f, 1, 2}, {0.75f, -2, 1}};
  std::vector<float> z(6);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) {
      float s = 0;
      for (int k = 0; k < 4; ++k) s += x[std::size_t(r * 4 + k)] * W[k][c];
      z[std::size_t(r * 3 + c)] = std::tanh(std::max(s, 0.f)) * 2;
    }
  write_npy(path("data/output_0.npy"), {2, 3}, z);
  const RunResult stored = run("verify " + path("m.onnx") + " --inputs " + path("data") + " --cxxflags -O1");
  EXPECT_EQ(stored.status, 0) << stored.out << stored.err;
  EXPECT_NE(stored.out.find("vs stored"), std::string::npos) << stored.out;

  z[4] += 0.5f;
  write_npy(path("data/output_0.npy"), {2, 3}, z);
  const RunResult wrong = run("verify " + path("m.onnx") + " --inputs " + path("data") + " --cxxflags -O1 --json");
  EXPECT_EQ(wrong.status, 1) << wrong.out << wrong.err;
  EXPECT_NE(wrong.out.find("\"pass\": false"), std::string::npos) << wrong.out;

  // -O extended fuses the Relu and the Tanh into the MatMul: the first tensor both builds have
  // is the Tanh's.
  const RunResult perturbed =
      run("verify " + path("m.onnx") + " --dim batch=3 --cxxflags -O1 --debug-perturb matmul --draws 1");
  EXPECT_EQ(perturbed.status, 1) << perturbed.out << perturbed.err;
  EXPECT_NE(perturbed.out.find("first difference: tensor 't'"), std::string::npos) << perturbed.out;
  EXPECT_NE(perturbed.out.find("node 'tanh' (Tanh) of the model and by node 'matmul' (MatMul + Relu + Tanh)"),
            std::string::npos)
      << perturbed.out;
  const RunResult fused = run("verify " + path("m.onnx") + " --dim batch=3 --debug-perturb tanh");
  EXPECT_NE(fused.status, 0);
  EXPECT_NE(fused.err.find("no node 'tanh'"), std::string::npos) << fused.err;

  // Inputs of the wrong shape or type, a missing folder: one line, non-zero.
  write_npy(path("data/input_0.npy"), {2, 5}, std::vector<float>(10, 1.f));
  const RunResult shape = run("verify " + path("m.onnx") + " --inputs " + path("data"));
  EXPECT_NE(shape.status, 0);
  EXPECT_NE(shape.err.find("dim 1 of the input 'x' is 5, expected 4"), std::string::npos) << shape.err;
  const RunResult nowhere = run("verify " + path("m.onnx") + " --inputs " + path("nowhere"));
  EXPECT_NE(nowhere.status, 0);
  EXPECT_NE(nowhere.err.find("is not a folder"), std::string::npos) << nowhere.err;
}
