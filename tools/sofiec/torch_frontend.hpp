// sofiec model.pt: PyTorch files, exported to ONNX by the user's own torch (templates/torch_export.py
// run with --python-exe), then compiled as any ONNX model.
#pragma once

#include <string>
#include <vector>

#include "sofiec/ir.hpp"

namespace sofiec {

// Whether the file is one the PyTorch front-end reads (by its extension: .pt, .pth, .pt2, .ts).
bool is_torch_file(const std::string& path);

// The model of a TorchScript file (or .pt2 exported program), exported to ONNX with `python`'s
// torch for the inputs `shapes` (NAME=SHAPE[:DTYPE], see templates/torch_export.py). Throws
// Error with one line naming the file: no torch, a file torch cannot load, shapes that do not
// fit forward() (none given: the message lists forward()'s inputs), a failed export.
Model load_torch_model(const std::string& path, const std::vector<std::string>& shapes, const std::string& python);

}  // namespace sofiec
