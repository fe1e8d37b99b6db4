// The stages of compile_model, shared by the static path and the run-time-dims path
// (src/dynamic/), which runs them once per sampled value of the dims.
#pragma once

#include "emit/header_writer.hpp"
#include "passes/passes.hpp"
#include "sofiec/compiler.hpp"

namespace sofiec {

// A graph after inference, passes and memory planning, with the report's view of it.
struct PlannedModel {
  Graph graph;
  Analysis analysis;
  MemoryPlan plan;
  CompileStats stats;
};

// Every symbolic dim of the graph inputs not fixed by options.fixed_dims, in order of first
// appearance. Throws Error for a graph input of unknown rank or with an unnamed dynamic dim.
std::vector<std::string> runtime_dims(const Model& model, const CompileOptions& options);

// Fixes dims, freezes inputs, infers, runs the level's passes and plans the arena. The graph
// inputs' shapes must be static once options.fixed_dims are applied.
PlannedModel plan_model(Model model, const CompileOptions& options);

// Fills the report's view of the compiled graph (everything but what the passes counted).
void summarize(const Graph& g, const Analysis& a, const MemoryPlan& plan, CompileStats& stats);

// A node's floating-point operations (its operator's count, else one per output element; one
// more per element for each fused epilogue) and the bytes of its inputs and outputs.
int64_t node_flops(const Node& n, const Graph& g, const Analysis& a);
int64_t node_bytes(const Node& n, const Graph& g);

HeaderSpec header_spec(const Model& model, const CompileOptions& options);

// The Session for a model whose graph inputs keep symbolic dims (issue: dynamic shapes).
CompiledModel compile_dynamic(const Model& model, const CompileOptions& options,
                              const std::vector<std::string>& symbols);

}  // namespace sofiec
