// Every model file sofiec takes, chosen by its extension: ONNX, PyTorch (exported by the user's
// torch), Keras (read natively).
#pragma once

#include <string>
#include <vector>

#include "sofiec/ir.hpp"

namespace sofiec {

struct ModelFile {
  std::string path;
  std::vector<std::string> input_shapes;  // PyTorch: --input-shape
  std::string python = "python3";         // PyTorch: the interpreter whose torch exports it
  std::string keras_weights;              // Keras architecture .json: --keras-weights
};

// Throws Error for options that do not fit the file's kind, and whatever the front-end throws.
Model load_model_file(const ModelFile& file);

}  // namespace sofiec
