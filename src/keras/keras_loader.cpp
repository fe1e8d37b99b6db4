// Keras files to the IR: the three ways Keras keeps a model (Keras 2 HDF5, Keras 3 archive,
// architecture JSON + weights), Sequential and Functional configs of both Keras versions, and
// the weights of each layer found where each format keeps them.
#include <fmt/format.h>
#include <zip.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "keras/hdf5_file.hpp"
#include "keras/layers.hpp"
#include "sofiec/keras.hpp"
#include "sofiec/loader.hpp"

namespace sofiec {
namespace keras {
namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", what, e.what()));
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Keras 3's names for objects in a weights file: the class name in snake case.
std::string snake_case(const std::string& name) {
  std::string s = std::regex_replace(name, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  s = std::regex_replace(s, std::regex("([a-z])([A-Z])"), "$1_$2");
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Where a model's weights are, and how a layer's are found there.
class WeightStore {
 public:
  // Keras 2 layout: a group per layer name (under `root`), its datasets listed in order by the
  // group's weight_names attribute.
  static WeightStore keras2(std::shared_ptr<Hdf5File> file, std::string root) {
    WeightStore w;
    w.file_ = std::move(file);
    w.root_ = std::move(root);
    return w;
  }
  // Keras 3 layout: layers/<snake_case class>[_<k>]/vars/<i>, sub-objects below.
  static WeightStore keras3(std::shared_ptr<Hdf5File> file) {
    WeightStore w;
    w.file_ = std::move(file);
    w.keras3_ = true;
    return w;
  }
  bool is_keras3() const { return keras3_; }

  std::vector<Tensor> keras2_weights(const std::string& layer) const {
    const std::string group = root_.empty() ? layer : root_ + "/" + layer;
    std::vector<Tensor> out;
    if (!file_->exists(group) || !file_->has_attribute(group, "weight_names")) return out;
    for (const std::string& w : file_->string_list_attribute(group, "weight_names")) {
      const std::string path = group + "/" + w;
      if (!file_->exists(path))
        throw Error(fmt::format("{}: layer '{}' lists weight '{}', which the file does not hold", file_->name(), layer, w));
      out.push_back(file_->read_floats(path));
    }
    return out;
  }

  std::vector<Tensor> keras3_weights(const std::string& object, const std::vector<std::string>& parts) const {
    std::vector<Tensor> out;
    for (const std::string& part : parts) {
      const std::string vars = (part.empty() ? object : object + "/" + part) + "/vars";
      std::vector<std::string> names = file_->children(vars);
      std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;  // 0, 1, ..., 10
      });
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] != std::to_string(i))
          throw Error(fmt::format("{}: '{}' holds '{}' where variable {} was expected", file_->name(), vars, names[i], i));
        out.push_back(file_->read_floats(vars + "/" + names[i]));
      }
    }
    return out;
  }
  const Hdf5File& file() const { return *file_; }

 private:
  std::shared_ptr<Hdf5File> file_;
  std::string root_;
  bool keras3_ = false;
};

struct Source {
  json model;  // {"class_name": "Sequential" | "Functional" | "Model", "config": {...}}
  KerasVersion version = KerasVersion::V2;
  std::optional<WeightStore> weights;
  std::string path;
};

// The version the file records ("2.12.0", "3.6.0", "tfjs-layers 4.22.0": tfjs writes Keras 2
// configs); without one, Keras 3's functional configs are told apart by their call records.
KerasVersion detect_version(const json& model, const std::string& keras_version) {
  if (!keras_version.empty()) return keras_version[0] == '3' ? KerasVersion::V3 : KerasVersion::V2;
  const json* layers = nullptr;
  if (model.contains("config") && model.at("config").is_object() && model.at("config").contains("layers"))
    layers = &model.at("config").at("layers");
  if (layers && layers->is_array())
    for (const json& l : *layers) {
      if (l.is_object() && l.contains("config") && l.at("config").is_object() && l.at("config").contains("batch_shape"))
        return KerasVersion::V3;
      if (l.is_object() && l.contains("inbound_nodes") && l.at("inbound_nodes").is_array() &&
          !l.at("inbound_nodes").empty() && l.at("inbound_nodes")[0].is_object())
        return KerasVersion::V3;
    }
  return KerasVersion::V2;
}

std::string zip_entry(zip_t* z, const std::string& archive, const std::string& entry) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(z, entry.c_str(), 0, &st) != 0)
    throw Error(fmt::format("{}: the archive has no {} (not a Keras 3 model?)", archive, entry));
  zip_file_t* f = zip_fopen(z, entry.c_str(), 0);
  if (!f) throw Error(fmt::format("{}: cannot read {}", archive, entry));
  std::string data(static_cast<std::size_t>(st.size), '\0');
  const zip_int64_t n = zip_fread(f, data.data(), st.size);
  zip_fclose(f);
  if (n < 0 || static_cast<zip_uint64_t>(n) != st.size) throw Error(fmt::format("{}: {} is truncated", archive, entry));
  return data;
}

Source read_source(const std::string& path, const std::string& weights_path) {
  Source s;
  s.path = path;
  const std::string ext = lower_extension(path);
  if (ext == ".keras") {
    if (!weights_path.empty()) throw Error(fmt::format("{}: a .keras archive holds its weights; leave out --keras-weights", path));
    int error = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &error);
    if (!z) throw Error(fmt::format("{}: not a readable zip archive (missing, truncated or of another format)", path));
    try {
      s.model = parse_json(zip_entry(z, path, "config.json"), path + ":config.json");
      std::string keras_version;
      zip_stat_t st;
      if (zip_stat(z, "metadata.json", 0, &st) == 0) {
        const json meta = parse_json(zip_entry(z, path, "metadata.json"), path + ":metadata.json");
        keras_version = meta.value("keras_version", "");
      }
      s.version = keras_version.empty() ? KerasVersion::V3 : detect_version(s.model, keras_version);
      const std::string image = zip_entry(z, path, "model.weights.h5");
      s.weights = WeightStore::keras3(std::make_shared<Hdf5File>(Hdf5File::from_memory(image, path + ":model.weights.h5")));
    } catch (...) {
      zip_close(z);
      throw;
    }
    zip_close(z);
    return s;
  }
  if (ext == ".h5" || ext == ".hdf5") {
    if (!weights_path.empty()) throw Error(fmt::format("{}: an .h5 model holds its weights; leave out --keras-weights", path));
    auto file = std::make_shared<Hdf5File>(Hdf5File::open(path));
    if (!file->has_attribute("", "model_config")) {
      if (file->has_attribute("", "layer_names") || file->exists("layers"))
        throw Error(fmt::format("{}: holds weights only (save_weights); give the architecture JSON as the model and this "
                                "file with --keras-weights",
                                path));
      throw Error(fmt::format("{}: an HDF5 file without a Keras model_config attribute", path));
    }
    s.model = parse_json(file->string_attribute("", "model_config"), path + ": model_config");
    const std::string keras_version =
        file->has_attribute("", "keras_version") ? file->string_attribute("", "keras_version") : "";
    s.version = detect_version(s.model, keras_version);
    if (!file->exists("model_weights")) throw Error(fmt::format("{}: has no model_weights group", path));
    s.weights = WeightStore::keras2(file, "model_weights");
    return s;
  }
  if (ext == ".json") {
    s.model = parse_json(read_text_file(path), path);
    s.version = detect_version(s.model, s.model.value("keras_version", ""));
    if (weights_path.empty())
      throw Error(fmt::format("{}: a Keras architecture needs its weights: --keras-weights FILE.h5", path));
    auto file = std::make_shared<Hdf5File>(Hdf5File::open(weights_path));
    if (file->exists("layers") && !file->has_attribute("", "layer_names")) s.weights = WeightStore::keras3(file);
    else if (file->has_attribute("", "layer_names")) s.weights = WeightStore::keras2(file, "");
    else if (file->exists("model_weights")) s.weights = WeightStore::keras2(file, "model_weights");
    else throw Error(fmt::format("{}: not a Keras weights file (no layer_names, no layers group)", weights_path));
    return s;
  }
  throw Error(fmt::format("{}: not a Keras file (.h5, .hdf5, .keras, or .json with --keras-weights)", path));
}

// ---- The model's config -------------------------------------------------------------------

struct LayerEntry {
  std::string class_name, name;
  const json* config;
  const json* inbound = nullptr;  // Functional: the calls
  std::string keras3_object;      // Keras 3 weights: layers/<snake>[_k]
};

DType keras_dtype(const json& config, const std::string& what) {
  std::string name = "float32";
  if (config.contains("dtype") && !config.at("dtype").is_null()) {
    const json& d = config.at("dtype");
    if (d.is_string()) name = d.get<std::string>();
    else if (d.is_object() && d.contains("config") && d.at("config").is_object()) name = d.at("config").value("name", "float32");
  }
  if (name == "float32" || name == "mixed_float16" || name == "mixed_bfloat16") return DType::Float;
  if (name == "float64") return DType::Double;
  if (name == "int32") return DType::Int32;
  if (name == "int64") return DType::Int64;
  throw UnsupportedError(fmt::format("{}: dtype '{}' is not supported", what, name));
}

// The dims of an InputLayer (or of a Sequential's first layer): None becomes a run-time dim,
// "batch" for the first axis, "<input>_<axis>" for others.
Shape input_shape(const json& config, const std::string& input, const std::string& what) {
  const json* dims = nullptr;
  for (const char* key : {"batch_shape", "batch_input_shape"})
    if (config.contains(key) && config.at(key).is_array()) dims = &config.at(key);
  Shape shape;
  if (!dims) {
    if (config.contains("input_shape") && config.at("input_shape").is_array()) {
      shape.push_back(Dim::symbolic("batch"));
      dims = &config.at("input_shape");
    } else {
      throw Error(fmt::format("{}: no input shape (batch_shape / batch_input_shape) in its config", what));
    }
  }
  for (const json& d : *dims) {
    if (d.is_null()) {
      shape.push_back(Dim::symbolic(shape.empty() ? "batch" : fmt::format("{}_{}", input, shape.size())));
    } else if (d.is_number_integer() && d.get<int64_t>() >= 0) {
      shape.push_back(Dim(d.get<int64_t>()));
    } else {
      throw Error(fmt::format("{}: input shape {} is not made of sizes and nulls", what, dims->dump()));
    }
  }
  return shape;
}

std::string layer_name(const json& entry) {
  if (entry.contains("name") && entry.at("name").is_string()) return entry.at("name").get<std::string>();
  if (entry.contains("config") && entry.at("config").is_object() && entry.at("config").contains("name"))
    return entry.at("config").at("name").get<std::string>();
  return "";
}

// A tensor reference of either version: [layer, node, tensor(, kwargs)] or a Keras 3
// __keras_tensor__ object; nullopt if `v` is not one.
std::optional<std::string> tensor_ref(const json& v) {
  if (v.is_object() && v.value("class_name", "") == "__keras_tensor__") {
    const json& h = v.at("config").at("keras_history");
    return fmt::format("{}:{}:{}", h.at(0).get<std::string>(), h.at(1).get<int64_t>(), h.at(2).get<int64_t>());
  }
  if (v.is_array() && v.size() >= 3 && v[0].is_string() && v[1].is_number_integer() && v[2].is_number_integer())
    return fmt::format("{}:{}:{}", v[0].get<std::string>(), v[1].get<int64_t>(), v[2].get<int64_t>());
  return std::nullopt;
}

void collect_refs(const json& v, std::vector<std::string>& out) {
  if (auto r = tensor_ref(v)) {
    out.push_back(*r);
    return;
  }
  if (v.is_array())
    for (const json& e : v) collect_refs(e, out);
}

// The tensors one call of a layer receives: positional first, then named ones (MultiHeadAttention's
// value and key, in that order, then any other).
std::vector<std::string> call_inputs(const json& node) {
  std::vector<std::string> refs;
  const json* kwargs = nullptr;
  if (node.is_object() && node.contains("args")) {  // Keras 3
    collect_refs(node.at("args"), refs);
    if (node.contains("kwargs")) kwargs = &node.at("kwargs");
  } else if (node.is_array()) {  // Keras 2: [[layer, node, tensor, kwargs], ...]
    for (const json& r : node) {
      if (auto ref = tensor_ref(r)) refs.push_back(*ref);
      if (r.is_array() && r.size() >= 4 && r[3].is_object() && !r[3].empty()) kwargs = &r[3];
    }
  }
  if (kwargs) {
    std::vector<std::string> keys;
    for (const char* k : {"value", "key"})
      if (kwargs->contains(k)) keys.push_back(k);
    for (auto it = kwargs->begin(); it != kwargs->end(); ++it)
      if (it.key() != "value" && it.key() != "key") keys.push_back(it.key());
    for (const std::string& k : keys) collect_refs(kwargs->at(k), refs);
  }
  return refs;
}

std::vector<std::string> endpoint_refs(const json& v) {
  std::vector<std::string> out;
  collect_refs(v, out);
  return out;
}

class ModelBuilder {
 public:
  ModelBuilder(const Source& source, Model& model) : src_(source), b_(model.graph) {}

  void build() {
    const json& m = src_.model;
    if (!m.is_object() || !m.contains("class_name")) throw Error(fmt::format("{}: the config names no model class", src_.path));
    const std::string cls = m.at("class_name").get<std::string>();
    const json& config = m.at("config");
    if (cls == "Sequential") sequential(config);
    else if (cls == "Functional" || cls == "Model") functional(config);
    else throw UnsupportedError(fmt::format("{}: a model of class {} (Sequential and Functional models are supported)", src_.path, cls));
  }

 private:
  std::string what(const LayerEntry& e) const { return fmt::format("{}: Keras layer '{}' ({})", src_.path, e.name, e.class_name); }

  std::vector<LayerEntry> entries(const json& layers) {
    if (!layers.is_array()) throw Error(fmt::format("{}: the model config has no list of layers", src_.path));
    std::vector<LayerEntry> out;
    std::map<std::string, int> used;  // Keras 3 names a file's layer groups by class, counting
    std::vector<std::string> unsupported;
    for (const json& l : layers) {
      LayerEntry e;
      e.class_name = l.value("class_name", "");
      e.name = layer_name(l);
      e.config = &l.at("config");
      if (l.contains("inbound_nodes")) e.inbound = &l.at("inbound_nodes");
      const std::string snake = snake_case(e.class_name);
      const int k = used[snake]++;
      e.keras3_object = "layers/" + (k == 0 ? snake : fmt::format("{}_{}", snake, k));
      if (e.class_name != "InputLayer" && !LayerRegistry::instance().find(e.class_name)) {
        std::string why = e.class_name == "Lambda" ? " (custom Python code)" : "";
        if (e.class_name == "Sequential" || e.class_name == "Functional" || e.class_name == "Model")
          why = " (a nested model)";
        unsupported.push_back(fmt::format("{} '{}'{}", e.class_name, e.name, why));
      }
      out.push_back(e);
    }
    if (!unsupported.empty())
      throw UnsupportedError(fmt::format("{}: unsupported Keras layers: {}", src_.path, fmt::join(unsupported, ", ")));
    return out;
  }

  std::vector<Tensor> weights_of(const LayerEntry& e) const {
    if (!src_.weights) return {};
    if (src_.weights->is_keras3()) return src_.weights->keras3_weights(e.keras3_object, keras3_parts(e.class_name, *e.config));
    return src_.weights->keras2_weights(e.name);
  }

  std::vector<std::string> call(const LayerEntry& e, const std::vector<std::string>& inputs) {
    const LayerDef* def = LayerRegistry::instance().find(e.class_name);
    // (Errors of the weights name their file already; the layer's are prefixed with the model's.)
    std::vector<Tensor> weights = weights_of(e);
    b_.set_scope(e.name);
    try {
      Layer layer(e.class_name, e.name, *e.config, std::move(weights), src_.version);
      std::vector<std::string> out = def->build(layer, b_, inputs);
      b_.set_scope("");
      return out;
    } catch (const UnsupportedError& err) {
      throw UnsupportedError(src_.path + ": " + err.what());
    } catch (const Error& err) {
      throw Error(src_.path + ": " + err.what());
    } catch (const json::exception& err) {
      throw Error(fmt::format("{}: {}", what(e), err.what()));
    }
  }

  void add_input(const LayerEntry& e, const json& config) {
    b_.add_input(e.name, keras_dtype(config, what(e)), input_shape(config, e.name, what(e)));
  }

  // Graph outputs take their Keras layer's name (an Identity that the passes remove).
  void add_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
    std::set<std::string> names;
    for (const auto& [tensor, name] : outputs) {
      std::string out = name;
      for (int k = 1; names.count(out) || b_.graph().values.count(out); ++k) out = fmt::format("{}_{}", name, k);
      names.insert(out);
      Node n;
      n.op_type = "Identity";
      n.name = out + "/output";
      n.inputs = {tensor};
      n.outputs = {out};
      b_.graph().values[out] = b_.info(tensor);
      b_.graph().nodes.push_back(n);
      b_.add_output(out);
    }
  }

  void sequential(const json& config) {
    const json& layers = config.is_array() ? config : config.at("layers");
    std::vector<LayerEntry> list = entries(layers);
    if (list.empty()) throw Error(fmt::format("{}: a Sequential model without layers", src_.path));
    std::string x;
    std::size_t first = 0;
    if (list[0].class_name == "InputLayer") {
      add_input(list[0], *list[0].config);
      x = list[0].name;
      first = 1;
    } else {
      // Keras 2 made an input layer named after the first layer.
      LayerEntry in = list[0];
      in.name = list[0].name + "_input";
      add_input(in, *list[0].config);
      x = in.name;
    }
    if (first == list.size()) throw Error(fmt::format("{}: a Sequential model with an input and no layer", src_.path));
    std::vector<std::string> out;
    for (std::size_t i = first; i < list.size(); ++i) {
      out = call(list[i], {x});
      if (out.size() != 1) throw Error(fmt::format("{}: gives {} outputs inside a Sequential model", what(list[i]), out.size()));
      x = out[0];
    }
    add_outputs({{x, list.back().name}});
  }

  void functional(const json& config) {
    std::vector<LayerEntry> list = entries(config.at("layers"));
    std::map<std::string, std::string> tensors;  // "layer:node:tensor" -> graph tensor
    struct Call {
      const LayerEntry* layer;
      std::size_t node;
      std::vector<std::string> inputs;
    };
    std::vector<Call> pending;
    for (const LayerEntry& e : list) {
      if (e.class_name == "InputLayer") {
        add_input(e, *e.config);
        tensors[e.name + ":0:0"] = e.name;
        continue;
      }
      if (!e.inbound || !e.inbound->is_array() || e.inbound->empty())
        throw Error(fmt::format("{}: is not called on anything (no inbound_nodes)", what(e)));
      for (std::size_t k = 0; k < e.inbound->size(); ++k) pending.push_back({&e, k, call_inputs(e.inbound->at(k))});
    }
    // Calls in the config's order as far as their inputs exist (shared layers can be called
    // on tensors that later layers make).
    while (!pending.empty()) {
      bool progress = false;
      for (auto it = pending.begin(); it != pending.end();) {
        std::vector<std::string> ins;
        bool ready = true;
        for (const std::string& r : it->inputs) {
          auto t = tensors.find(r);
          if (t == tensors.end()) {
            ready = false;
            break;
          }
          ins.push_back(t->second);
        }
        if (!ready) {
          ++it;
          continue;
        }
        if (it->inputs.empty()) throw Error(fmt::format("{}: a call without input tensors", what(*it->layer)));
        const std::vector<std::string> out = call(*it->layer, ins);
        for (std::size_t t = 0; t < out.size(); ++t) tensors[fmt::format("{}:{}:{}", it->layer->name, it->node, t)] = out[t];
        it = pending.erase(it);
        progress = true;
      }
      if (!progress) {
        const Call& c = pending.front();
        std::string missing;
        for (const std::string& r : c.inputs)
          if (!tensors.count(r)) missing = r;
        throw Error(fmt::format("{}: its input {} is made by no layer of the model", what(*c.layer), missing));
      }
    }
    std::vector<std::pair<std::string, std::string>> outputs;
    for (const std::string& r : endpoint_refs(config.at("output_layers"))) {
      auto t = tensors.find(r);
      if (t == tensors.end()) throw Error(fmt::format("{}: output {} is made by no layer", src_.path, r));
      const std::string layer = r.substr(0, r.find(':'));
      const bool first_of_layer = r == layer + ":0:0";
      outputs.emplace_back(t->second, first_of_layer ? layer : fmt::format("{}_{}", layer, r.substr(r.find(':') + 1)));
    }
    // The graph's inputs in the model's order (input_layers), not the config's.
    std::vector<std::string> order;
    for (const std::string& r : endpoint_refs(config.at("input_layers"))) order.push_back(r.substr(0, r.find(':')));
    auto& ins = b_.graph().inputs;
    if (order.size() == ins.size()) ins = order;
    add_outputs(outputs);
  }

  const Source& src_;
  GraphBuilder b_;
};

}  // namespace
}  // namespace keras

bool is_keras_file(const std::string& path) {
  const std::string ext = keras::lower_extension(path);
  return ext == ".h5" || ext == ".hdf5" || ext == ".keras" || ext == ".json";
}

Model load_keras_model(const std::string& path, const std::string& weights_path) {
  keras::Source source = keras::read_source(path, weights_path);
  Model model;
  model.source_path = path;
  model.producer = source.version == keras::KerasVersion::V3 ? "keras 3" : "keras 2";
  model.graph.name = std::filesystem::path(path).stem().string();
  model.graph.opsets[""] = 21;
  keras::ModelBuilder(source, model).build();
  sort_and_check_graph(model.graph);
  return model;
}

std::vector<KerasLayerRow> keras_layer_table() {
  std::vector<KerasLayerRow> rows{{"InputLayer", "a graph input (None dims: run-time dims)"}};
  for (const auto& [name, def] : keras::LayerRegistry::instance().all()) rows.push_back({name, def.summary});
  return rows;
}

}  // namespace sofiec
