#include "sofiec/loader.hpp"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sofiec/error.hpp"

namespace sofiec {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{} '{}' is a directory", what, path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {} '{}': {}", what, path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("cannot read {} '{}'", what, path));
  return ss.str();
}

template <class Message>
void parse_message(const std::string& bytes, Message& msg, const std::string& path, const char* what) {
  google::protobuf::io::ArrayInputStream raw(bytes.data(), int(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT32_MAX);
  if (!msg.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
    throw Error(fmt::format("'{}' is not a valid {} (the protobuf data is malformed or truncated)", path, what));
}

struct ExternalData {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
};

int64_t parse_count(const std::string& text, const std::string& tensor, const char* what) {
  int64_t v = 0;
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw Error(fmt::format("initializer '{}': external data {} '{}' is not a byte count", tensor, what, text));
  for (char c : text) v = v * 10 + (c - '0');
  return v;
}

// The number of values a tensor's typed data field holds (for types stored in one).
int64_t typed_field_size(const onnx::TensorProto& p, DType t) {
  switch (t) {
    case DType::Float: return p.float_data_size();
    case DType::Double: return p.double_data_size();
    case DType::Int64: return p.int64_data_size();
    case DType::UInt32:
    case DType::UInt64: return p.uint64_data_size();
    default: return p.int32_data_size();
  }
}

// External data must stay inside the model's folder: a model from elsewhere must not make
// the compiler read arbitrary files.
std::string read_external(const onnx::TensorProto& p, const std::string& base_dir) {
  ExternalData ext;
  for (const auto& kv : p.external_data()) {
    if (kv.key() == "location") ext.location = kv.value();
    else if (kv.key() == "offset") ext.offset = parse_count(kv.value(), p.name(), "offset");
    else if (kv.key() == "length") ext.length = parse_count(kv.value(), p.name(), "length");
  }
  if (ext.location.empty())
    throw Error(fmt::format("initializer '{}' uses external data without a location", p.name()));
  fs::path rel(ext.location);
  if (rel.is_absolute())
    throw Error(fmt::format("initializer '{}': external data path '{}' is absolute", p.name(), ext.location));
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::path(base_dir.empty() ? "." : base_dir), ec);
  const fs::path full = fs::weakly_canonical(base / rel, ec);
  const std::string b = base.string() + "/";
  if (ec || full.string().compare(0, b.size(), b) != 0)
    throw Error(
        fmt::format("initializer '{}': external data path '{}' leaves the model's folder", p.name(), ext.location));
  if (!fs::is_regular_file(full, ec))
    throw Error(fmt::format("initializer '{}': external data file '{}' is not a regular file", p.name(), ext.location));
  const std::string all = read_file(full.string(), "external data file");
  if (ext.offset < 0 || std::size_t(ext.offset) > all.size())
    throw Error(fmt::format("initializer '{}': external data offset out of range", p.name()));
  const std::size_t avail = all.size() - std::size_t(ext.offset);
  const std::size_t len = ext.length < 0 ? avail : std::size_t(ext.length);
  if (len > avail) throw Error(fmt::format("initializer '{}': external data shorter than its length", p.name()));
  return all.substr(std::size_t(ext.offset), len);
}

template <class Field, class T> void copy_field(const Field& field, Tensor& t, const char* name) {
  if (int64_t(field.size()) != t.size())
    throw Error(fmt::format("tensor '{}' holds {} values but its dims say {}", name, field.size(), t.size()));
  T* out = t.data<T>();
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<T>(field.Get(i));
}

Tensor convert_tensor(const onnx::TensorProto& p, const std::string& base_dir) {
  const DType dtype = static_cast<DType>(p.data_type());
  const char* name = p.name().c_str();
  for (int64_t d : p.dims())
    if (d < 0) throw Error(fmt::format("tensor '{}' has a negative dimension", p.name()));
  if (dtype_size(dtype) == 0 || dtype == DType::Complex64 || dtype == DType::Complex128)
    throw Error(fmt::format("tensor '{}' has element type {}, which is not supported", p.name(), dtype_name(dtype)));
  // Sizes are checked against the data before anything is allocated: dims may claim anything.
  const std::vector<int64_t> dims(p.dims().begin(), p.dims().end());
  const int64_t count = element_count(dims);
  const int64_t bytes = checked_mul(count, int64_t(dtype_size(dtype)));
  const bool external = p.data_location() == onnx::TensorProto::EXTERNAL;
  if (external || p.has_raw_data()) {
    const std::string raw = external ? read_external(p, base_dir) : p.raw_data();
    if (int64_t(raw.size()) != bytes)
      throw Error(
          fmt::format("tensor '{}' holds {} bytes of data but its dims and type need {}", p.name(), raw.size(), bytes));
    Tensor t(dtype, dims);
    std::memcpy(t.bytes.data(), raw.data(), raw.size());
    return t;
  }
  if (typed_field_size(p, dtype) != count)
    throw Error(
        fmt::format("tensor '{}' holds {} values but its dims say {}", p.name(), typed_field_size(p, dtype), count));
  Tensor t(dtype, dims);
  switch (dtype) {
    case DType::Float: copy_field<decltype(p.float_data()), float>(p.float_data(), t, name); break;
    case DType::Double: copy_field<decltype(p.double_data()), double>(p.double_data(), t, name); break;
    case DType::Int64: copy_field<decltype(p.int64_data()), int64_t>(p.int64_data(), t, name); break;
    case DType::UInt32: copy_field<decltype(p.uint64_data()), uint32_t>(p.uint64_data(), t, name); break;
    case DType::UInt64: copy_field<decltype(p.uint64_data()), uint64_t>(p.uint64_data(), t, name); break;
    case DType::Int32: copy_field<decltype(p.int32_data()), int32_t>(p.int32_data(), t, name); break;
    case DType::Int16: copy_field<decltype(p.int32_data()), int16_t>(p.int32_data(), t, name); break;
    case DType::Int8: copy_field<decltype(p.int32_data()), int8_t>(p.int32_data(), t, name); break;
    case DType::UInt16:
    case DType::Float16:
    case DType::BFloat16: copy_field<decltype(p.int32_data()), uint16_t>(p.int32_data(), t, name); break;
    case DType::UInt8: copy_field<decltype(p.int32_data()), uint8_t>(p.int32_data(), t, name); break;
    case DType::Bool: copy_field<decltype(p.int32_data()), bool>(p.int32_data(), t, name); break;
    default: throw Error(fmt::format("tensor '{}' has unsupported element type {}", p.name(), dtype_name(dtype)));
  }
  return t;
}

ValueInfo convert_type(const onnx::TypeProto& type, const std::string& tensor_name) {
  ValueInfo v;
  if (!type.has_tensor_type())
    throw UnsupportedError(
        fmt::format("'{}' is not a tensor (sequences, maps and optionals are not supported)", tensor_name));
  const auto& tt = type.tensor_type();
  v.dtype = static_cast<DType>(tt.elem_type());
  if (tt.has_shape()) {
    v.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0) throw Error(fmt::format("'{}' has a negative dimension", tensor_name));
        v.shape.push_back(Dim(d.dim_value()));
      } else {
        v.shape.push_back(Dim::symbolic(d.dim_param()));
      }
    }
  }
  return v;
}

Graph convert_graph(const onnx::GraphProto& gp, const std::string& base_dir, int depth);

Attribute convert_attribute(const onnx::AttributeProto& a, const std::string& base_dir, int depth) {
  Attribute out;
  using K = Attribute::Kind;
  switch (a.type()) {
    case onnx::AttributeProto::FLOAT:
      out.kind = K::Float;
      out.f = a.f();
      break;
    case onnx::AttributeProto::INT:
      out.kind = K::Int;
      out.i = a.i();
      break;
    case onnx::AttributeProto::STRING:
      out.kind = K::String;
      out.s = a.s();
      break;
    case onnx::AttributeProto::TENSOR:
      out.kind = K::Tensor;
      out.t = convert_tensor(a.t(), base_dir);
      break;
    case onnx::AttributeProto::GRAPH:
      out.kind = K::Graph;
      out.g = std::make_shared<Graph>(convert_graph(a.g(), base_dir, depth + 1));
      break;
    case onnx::AttributeProto::FLOATS:
      out.kind = K::Floats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto::INTS:
      out.kind = K::Ints;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto::STRINGS:
      out.kind = K::Strings;
      out.strings.assign(a.strings().begin(), a.strings().end());
      break;
    default: out.kind = K::Undefined; break;  // sparse tensors, type protos: left to the operator to refuse
  }
  return out;
}

// A Constant node is data, not computation: its output becomes a constant of the graph.
Tensor constant_node_value(const Node& n) {
  if (const Attribute* a = n.attr("value"); a && a->kind == Attribute::Kind::Tensor) return a->t;
  if (n.has_attr("value_float")) return Tensor::from<float>({}, {n.attr_float("value_float", 0)});
  if (n.has_attr("value_floats")) {
    auto v = n.attr_floats("value_floats");
    return Tensor::from<float>({int64_t(v.size())}, v);
  }
  if (n.has_attr("value_int")) return Tensor::from<int64_t>({}, {n.attr_int("value_int", 0)});
  if (n.has_attr("value_ints")) {
    auto v = n.attr_ints("value_ints");
    return Tensor::from<int64_t>({int64_t(v.size())}, v);
  }
  throw UnsupportedError(fmt::format("{}: only tensor and numeric Constant values are supported", n.describe()));
}

Graph convert_graph(const onnx::GraphProto& gp, const std::string& base_dir, int depth) {
  constexpr int kMaxDepth = 16;
  if (depth > kMaxDepth) throw Error(fmt::format("subgraphs nested deeper than {} levels", kMaxDepth));
  Graph g;
  g.name = gp.name();
  for (const auto& init : gp.initializer()) {
    if (init.name().empty()) throw Error("an initializer has no name");
    if (g.constants.count(init.name())) throw Error(fmt::format("initializer '{}' is defined twice", init.name()));
    Tensor t = convert_tensor(init, base_dir);
    g.values[init.name()] = ValueInfo{t.dtype, to_shape(t.dims), true};
    g.constants.emplace(init.name(), std::move(t));
  }
  if (gp.sparse_initializer_size() > 0) throw UnsupportedError("sparse initializers are not supported");
  for (const auto& in : gp.input()) {
    if (g.constants.count(in.name())) continue;  // an initializer listed as input (IR < 4 style)
    if (std::find(g.inputs.begin(), g.inputs.end(), in.name()) != g.inputs.end())
      throw Error(fmt::format("graph input '{}' is listed twice", in.name()));
    g.inputs.push_back(in.name());
    // A subgraph's inputs may leave their type to the node that runs it (Scan, Loop bodies).
    if (depth > 0 && in.type().value_case() == onnx::TypeProto::VALUE_NOT_SET) continue;
    g.values[in.name()] = convert_type(in.type(), in.name());
  }
  for (const auto& vi : gp.value_info())
    if (vi.type().has_tensor_type() && !g.values.count(vi.name()))
      g.values[vi.name()] = convert_type(vi.type(), vi.name());
  std::set<std::string> node_names;
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& np = gp.node(i);
    Node n;
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.name = np.name().empty() ? fmt::format("{}_{}", np.op_type(), i) : np.name();
    if (!node_names.insert(n.name).second) n.name = fmt::format("{}#{}", n.name, i);
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (const auto& a : np.attribute()) {
      if (a.ref_attr_name().size())
        throw UnsupportedError(fmt::format("{}: attribute references are not supported", n.describe()));
      n.attributes[a.name()] = convert_attribute(a, base_dir, depth);
    }
    if (n.op_type == "Constant" && n.domain.empty() && n.outputs.size() == 1) {
      Tensor t = constant_node_value(n);
      if (g.constants.count(n.outputs[0])) throw Error(fmt::format("tensor '{}' is defined twice", n.outputs[0]));
      g.values[n.outputs[0]] = ValueInfo{t.dtype, to_shape(t.dims), true};
      g.constants.emplace(n.outputs[0], std::move(t));
      continue;
    }
    g.nodes.push_back(std::move(n));
  }
  for (const auto& out : gp.output()) {
    g.outputs.push_back(out.name());
    // Declared output types are a promise to check against inference, not a replacement for it.
    if (out.type().has_tensor_type() && !g.values.count(out.name()))
      g.values[out.name()] = convert_type(out.type(), out.name());
  }
  return g;
}

}  // namespace

void sort_and_check_graph(Graph& g) {
  std::map<std::string, std::size_t> producer;  // tensor -> node index
  std::set<std::string> defined(g.inputs.begin(), g.inputs.end());
  for (const auto& kv : g.constants) defined.insert(kv.first);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs) {
      if (o.empty()) continue;
      if (defined.count(o) || producer.count(o))
        throw Error(
            fmt::format("tensor '{}' is written by more than one node or input ({})", o, g.nodes[i].describe()));
      producer[o] = i;
    }
  }
  // Kahn's algorithm, preferring file order among ready nodes so that the output is stable.
  std::vector<std::size_t> missing(g.nodes.size(), 0);
  std::map<std::string, std::vector<std::size_t>> readers;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    std::set<std::string> seen;
    for (const auto& in : g.nodes[i].inputs) {
      if (in.empty() || !seen.insert(in).second) continue;
      if (producer.count(in)) {
        ++missing[i];
        readers[in].push_back(i);
      } else if (!defined.count(in)) {
        throw Error(fmt::format("{} reads tensor '{}', which nothing defines", g.nodes[i].describe(), in));
      }
    }
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (missing[i] == 0) ready.insert(i);
  std::vector<Node> order;
  order.reserve(g.nodes.size());
  while (!ready.empty()) {
    const std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    for (const auto& o : g.nodes[i].outputs)
      for (std::size_t r : readers[o])
        if (--missing[r] == 0) ready.insert(r);
    order.push_back(std::move(g.nodes[i]));
  }
  if (order.size() != g.nodes.size()) throw Error("the graph has a cycle");
  g.nodes = std::move(order);
  for (const auto& o : g.outputs)
    if (!defined.count(o) && !producer.count(o))
      throw Error(fmt::format("graph output '{}' is produced by no node", o));
}

Model load_model(const std::string& path) {
  return load_model_from_bytes(read_file(path, "model file"), path, fs::path(path).parent_path().string());
}

Model load_model_from_bytes(const std::string& bytes, const std::string& path, const std::string& base_dir) {
  if (bytes.empty()) throw Error(fmt::format("'{}' is empty, not an ONNX model", path));
  onnx::ModelProto mp;
  parse_message(bytes, mp, path, "ONNX model");
  if (mp.ir_version() <= 0 || !mp.has_graph())
    throw Error(fmt::format("'{}' is not an ONNX model (no IR version or no graph)", path));
  Model m;
  m.ir_version = mp.ir_version();
  m.producer = mp.producer_name();
  m.source_path = path;
  m.graph = convert_graph(mp.graph(), base_dir, 0);
  for (const auto& op : mp.opset_import()) m.graph.opsets[op.domain() == "ai.onnx" ? "" : op.domain()] = op.version();
  if (!m.graph.opsets.count("")) {
    // IR version 3 files written before opset_import was mandatory default to opset 1.
    if (mp.opset_import_size() == 0) m.graph.opsets[""] = 1;
  }
  if (m.graph.outputs.empty()) throw Error(fmt::format("'{}': the graph has no outputs", path));
  sort_and_check_graph(m.graph);
  return m;
}

Tensor load_tensor_file(const std::string& path) {
  const std::string bytes = read_file(path, "tensor file");
  onnx::TensorProto tp;
  parse_message(bytes, tp, path, "ONNX tensor");
  return convert_tensor(tp, fs::path(path).parent_path().string());
}

}  // namespace sofiec
