#pragma once

#include <string>

#include "sofiec/ir.hpp"

namespace sofiec {

// Reads an ONNX model file (and its external data files, which must lie in the model's
// folder) into the IR. Constant nodes become constants. Checks the graph's structure:
// every tensor read is defined exactly once, the graph outputs are produced, no cycles;
// nodes come back in a valid execution order. Throws Error with a one-line message.
Model load_model(const std::string& path);
// The same from the file's bytes: `path` names it in messages, external data is read from
// (and confined to) base_dir.
Model load_model_from_bytes(const std::string& bytes, const std::string& path, const std::string& base_dir);

// Parses a serialized onnx.TensorProto (the backend test suite's .pb files).
Tensor load_tensor_file(const std::string& path);

// Orders g.nodes so that every node comes after the producers of its inputs; throws on
// cycles, on tensors read but never defined, and on tensors defined twice.
void sort_and_check_graph(Graph& g);

}  // namespace sofiec
