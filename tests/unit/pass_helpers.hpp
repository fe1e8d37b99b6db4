// Helpers of the pass tests: load a built model, run one pass, compile and run the generated
// code at two optimization levels and compare.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "model_builder.hpp"
#include "passes/passes.hpp"
#include "sofiec/compiler.hpp"
#include "sofiec/loader.hpp"

namespace sofiec_test {

namespace fs = std::filesystem;
using namespace sofiec;

inline Model load(const ModelBuilder& b) {
  const fs::path p = fs::temp_directory_path() / ("sofiec_passes_" + std::to_string(::getpid()) + ".onnx");
  b.save(p.string());
  Model m = load_model(p.string());
  fs::remove(p);
  return m;
}

// The exporter's way of writing x.reshape(x.shape[0], -1).
inline ModelBuilder shape_chain() {
  ModelBuilder b;
  b.input("x", {2, 3, 4}).output("y");
  b.init_ints("zero", {}, {0});
  b.init_ints("minus_one", {1}, {-1});
  b.node("Shape", {"x"}, {"s"});
  b.node("Gather", {"s", "zero"}, {"n"});
  b.node("Unsqueeze", {"n", "axes"}, {"n1"});
  b.init_ints("axes", {1}, {0});
  ModelBuilder::attr_int(b.node("Concat", {"n1", "minus_one"}, {"shape"}), "axis", 0);
  b.node("Reshape", {"x", "shape"}, {"y"});
  return b;
}

// Runs one pass after inference; returns the graph.
inline Graph run_pass(const ModelBuilder& b, std::unique_ptr<Pass> pass, int* changes = nullptr) {
  Model m = load(b);
  Analysis a = infer_graph(m.graph);
  const int n = pass->run(m.graph, a);
  if (changes) *changes = n;
  make_dead_node_elimination()->run(m.graph, a);
  infer_graph(m.graph);  // the result must still be a valid graph
  return m.graph;
}

// n weights amplitude * cos(frequency * i + phase): varied, bounded, reproducible.
inline std::vector<float> wave(int64_t n, float amplitude, float frequency, float phase) {
  std::vector<float> w(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = amplitude * std::cos(float(i) * frequency + phase);
  return w;
}

inline std::vector<std::string> ops(const Graph& g) {
  std::vector<std::string> out;
  for (const Node& n : g.nodes) out.push_back(n.op_type);
  return out;
}

// Compiles the model at `level`, runs infer() on `input` (one float input, one float output)
// and returns the output.
inline std::vector<float> run_generated(const ModelBuilder& b, OptLevel level, const std::vector<float>& input,
                                        std::optional<bool> split_views = std::nullopt) {
  CompileOptions o;
  o.level = level;
  o.split_views = split_views;
  o.namespace_name = "m";
  const fs::path dir = fs::temp_directory_path() / ("sofiec_passes_run_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "m.hxx") << compile_model(load(b), o).header;
  std::ofstream(dir / "main.cpp") << R"(#include "m.hxx"
#include <cstdio>
#include <vector>
int main() {
  m::Session s;
  std::vector<float> x(std::size_t(m::Session::input_shapes[0].size()));
  for (float& v : x) if (std::scanf("%f", &v) != 1) return 2;
  for (float v : s.infer(x.data())) std::printf("%.9g\n", double(v));
}
)";
  std::ofstream in(dir / "in.txt");
  for (float v : input) in << v << "\n";
  in.close();
  const std::string cmd = "cd '" + dir.string() +
                          "' && g++ -std=c++17 -O1 -march=native -Wall -Wextra -Werror main.cpp -o main -lopenblas && "
                          "./main < in.txt > out.txt";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream out(dir / "out.txt");
  std::vector<float> y;
  for (float v; out >> v;) y.push_back(v);
  fs::remove_all(dir);
  return y;
}

// tolerance: absolute and relative (F(4x4) Winograd rounds about 10 times more than a sum in order).
inline void expect_same_numbers(const ModelBuilder& b, std::size_t n_inputs, double tolerance = 1e-5) {
  std::vector<float> x(n_inputs);
  for (std::size_t i = 0; i < n_inputs; ++i) x[i] = std::sin(float(i) * 0.7f) * 2.f;
  const auto reference = run_generated(b, OptLevel::O0, x), optimized = run_generated(b, OptLevel::Extended, x);
  ASSERT_EQ(reference.size(), optimized.size());
  ASSERT_FALSE(reference.empty());
  for (std::size_t i = 0; i < reference.size(); ++i)
    EXPECT_NEAR(optimized[i], reference[i], tolerance * (1 + std::fabs(reference[i]))) << "element " << i;
}

}  // namespace sofiec_test
