// The Keras front-end: Keras models read natively (no TensorFlow, no Python) into the IR.
#pragma once

#include <string>
#include <vector>

#include "sofiec/ir.hpp"

namespace sofiec {

// Whether `path` names a Keras model by its extension: .h5/.hdf5 (Keras 2 HDF5), .keras
// (Keras 3 zip), or .json (an architecture from model.to_json(), weights given apart).
bool is_keras_file(const std::string& path);

// Reads a Keras model: a Keras 2 .h5 (model_config and model_weights), a Keras 3 .keras
// archive (config.json and model.weights.h5), or an architecture .json with the weights of
// save_weights() in `weights_path` (HDF5, Keras 2 or Keras 3 layout). The model keeps Keras's
// interface: inputs and outputs named after their layers, channels-last data, the batch
// (and any other None dim) as a run-time dim. Throws Error naming the file and layer at
// fault, UnsupportedError naming every unsupported layer at once.
Model load_keras_model(const std::string& path, const std::string& weights_path = "");

// One row per Keras layer class the front-end translates (README's layer table).
struct KerasLayerRow {
  std::string class_name, translation;
};
std::vector<KerasLayerRow> keras_layer_table();

}  // namespace sofiec
