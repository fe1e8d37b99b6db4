// Builds small ONNX models in memory for tests: a few lines per graph instead of files.
#pragma once

#include <onnx/onnx_pb.h>

#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace sofiec_test {

class ModelBuilder {
 public:
  explicit ModelBuilder(int64_t opset = 13) {
    model_.set_ir_version(8);
    model_.set_producer_name("sofiec-tests");
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }

  // dims: -1 for a symbolic dim named by the next entry of symbols.
  ModelBuilder& input(const std::string& name, std::vector<int64_t> dims, int elem = onnx::TensorProto::FLOAT,
                      std::vector<std::string> symbols = {}) {
    fill_value(model_.mutable_graph()->add_input(), name, dims, elem, symbols);
    return *this;
  }
  ModelBuilder& output(const std::string& name, std::vector<int64_t> dims = {}, int elem = onnx::TensorProto::FLOAT) {
    auto* v = model_.mutable_graph()->add_output();
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(elem);
    if (!dims.empty()) fill_value(v, name, dims, elem, {});
    return *this;
  }
  ModelBuilder& init_floats(const std::string& name, std::vector<int64_t> dims, std::vector<float> values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
    return *this;
  }
  ModelBuilder& init_ints(const std::string& name, std::vector<int64_t> dims, std::vector<int64_t> values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t v : values) t->add_int64_data(v);
    return *this;
  }
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                        const std::string& name = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return *n;
  }
  static void attr_int(onnx::NodeProto& n, const std::string& name, int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_float(onnx::NodeProto& n, const std::string& name, float v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr_string(onnx::NodeProto& n, const std::string& name, const std::string& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  static void attr_ints(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  onnx::ModelProto& proto() { return model_; }
  std::string bytes() const { return model_.SerializeAsString(); }
  void save(const std::string& path) const { std::ofstream(path, std::ios::binary) << bytes(); }

 private:
  static void fill_value(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims, int elem,
                         const std::vector<std::string>& symbols) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* shape = tt->mutable_shape();
    std::size_t s = 0;
    for (int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d >= 0) dim->set_dim_value(d);
      else dim->set_dim_param(s < symbols.size() ? symbols[s++] : "N");
    }
  }
  onnx::ModelProto model_;
};

// y = x + w, with w's two floats stored in an external data file at `location` (and, if
// given, an `offset` entry, as text).
inline ModelBuilder external_data_model(const std::string& location, const std::string& offset = "") {
  ModelBuilder b;
  b.input("x", {2}).output("y");
  auto* t = b.proto().mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(2);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = t->add_external_data();
  loc->set_key("location");
  loc->set_value(location);
  if (!offset.empty()) {
    auto* off = t->add_external_data();
    off->set_key("offset");
    off->set_value(offset);
  }
  b.node("Add", {"x", "w"}, {"y"});
  return b;
}

}  // namespace sofiec_test
