#include "frontends.hpp"

#include "sofiec/error.hpp"
#include "sofiec/keras.hpp"
#include "sofiec/loader.hpp"
#include "torch_frontend.hpp"

namespace sofiec {

Model load_model_file(const ModelFile& file) {
  const bool torch = is_torch_file(file.path), keras = is_keras_file(file.path);
  if (!torch && !file.input_shapes.empty())
    throw Error("--input-shape is for PyTorch models (.pt, .pth, .pt2, .ts); " +
                std::string(keras ? "Keras" : "ONNX") + " files carry their shapes");
  if (!keras && !file.keras_weights.empty())
    throw Error("--keras-weights is for a Keras architecture (.json); " + file.path + " is not one");
  if (torch) return load_torch_model(file.path, file.input_shapes, file.python);
  if (keras) return load_keras_model(file.path, file.keras_weights);
  return load_model(file.path);
}

}  // namespace sofiec
