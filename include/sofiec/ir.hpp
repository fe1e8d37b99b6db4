// The graph IR: ONNX's model of a graph (named tensors flowing between nodes), with shapes
// that may hold symbolic dimensions and with concrete data for initializers and for every
// value the compiler could compute at generation time.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sofiec/dtype.hpp"

namespace sofiec {

// One dimension: a known extent, or a named symbol (ONNX dim_param) whose value is chosen
// at run time, or unknown (neither).
struct Dim {
  int64_t value = -1;
  std::string symbol;

  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT: a number is a static dim
  static Dim symbolic(std::string name) {
    Dim d;
    d.symbol = std::move(name);
    return d;
  }
  bool is_static() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
  bool operator!=(const Dim& o) const { return !(*this == o); }
  std::string str() const;
};

using Shape = std::vector<Dim>;

bool is_static(const Shape& s);
std::vector<int64_t> static_dims(const Shape& s);  // requires is_static(s)
Shape to_shape(const std::vector<int64_t>& dims);
std::string shape_str(const Shape& s);
// Number of elements; throws on overflow of 63 bits.
int64_t element_count(const std::vector<int64_t>& dims);
// a * b for non-negative extents; throws Error when it overflows 63 bits.
int64_t checked_mul(int64_t a, int64_t b);

// A tensor with data: initializers, constants and values folded at generation time.
// The bytes are the elements in row-major order, little-endian, as the generated code
// stores them (bool: one byte per element).
struct Tensor {
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  std::vector<unsigned char> bytes;

  Tensor() = default;
  Tensor(DType t, std::vector<int64_t> d);  // zero-filled

  int64_t size() const { return element_count(dims); }
  template <class T> T* data() { return reinterpret_cast<T*>(bytes.data()); }
  template <class T> const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }
  // Element i converted to int64/double, whatever the dtype (for shape arithmetic).
  int64_t int_at(int64_t i) const;
  double float_at(int64_t i) const;
  std::vector<int64_t> as_ints() const;

  template <class T> static Tensor from(std::vector<int64_t> dims, const std::vector<T>& values) {
    Tensor t(dtype_of<T>(), std::move(dims));
    for (std::size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
    return t;
  }
};

// What is known about a value flowing along an edge.
struct ValueInfo {
  DType dtype = DType::Undefined;
  Shape shape;
  bool has_shape = false;  // false: rank unknown
};

struct Graph;

struct Attribute {
  enum class Kind { Undefined, Float, Int, String, Tensor, Graph, Floats, Ints, Strings };
  Kind kind = Kind::Undefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  sofiec::Tensor t;
  std::shared_ptr<sofiec::Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name;  // never empty: the loader names anonymous nodes after their op and index
  std::string op_type;
  std::string domain;               // "" for the default ONNX domain
  std::vector<std::string> inputs;  // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attributes;
  // Elementwise unary nodes fused into this one (EpilogueFusion): applied in order to every
  // element of its first output as it is produced.
  std::vector<Node> epilogue;

  bool has_attr(const std::string& n) const { return attributes.count(n) != 0; }
  int64_t attr_int(const std::string& n, int64_t fallback) const;
  float attr_float(const std::string& n, float fallback) const;
  std::string attr_string(const std::string& n, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& n, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(const std::string& n) const;
  std::vector<std::string> attr_strings(const std::string& n) const;
  const Attribute* attr(const std::string& n) const;
  // Required attribute of a given kind; throws Error naming the node if absent or mistyped.
  const Attribute& require_attr(const std::string& n, Attribute::Kind kind) const;
  // Number of inputs actually given (trailing omitted optionals do not count).
  std::size_t input_count() const;
  bool has_input(std::size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
  std::string describe() const;  // "node 'name' (OpType)"
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;          // in execution order once sorted
  std::vector<std::string> inputs;  // graph inputs that are not initializers
  std::vector<std::string> outputs;
  std::map<std::string, ValueInfo> values;  // every tensor's type and shape
  std::map<std::string, Tensor> constants;  // initializers and values known at generation time
  std::map<std::string, int64_t> opsets;    // domain -> version
  // Dims that the data decides at run time (NonZero's count, Unique's length...): symbol ->
  // its upper bound. Buffers are sized for the bound; the Session reports the actual value.
  std::map<std::string, int64_t> data_dependent_dims;
  // Compiled at sampled values of the run-time dims, whose code becomes expressions of them:
  // a choice that depends on sizes (how many images a scratch buffer holds) must then follow
  // them as a polynomial does, or not at all.
  bool runtime_dims_sampled = false;

  int64_t opset(const std::string& domain = "") const;
  bool is_constant(const std::string& n) const { return constants.count(n) != 0; }
  const Tensor* constant(const std::string& n) const;
  const ValueInfo& value(const std::string& n) const;  // throws if unknown
  bool is_data_dependent(const Dim& d) const { return !d.symbol.empty() && data_dependent_dims.count(d.symbol); }
  bool has_data_dependent_dims(const Shape& s) const;
  // The dims a buffer must hold: static dims, and data-dependent ones at their upper bound.
  // Throws Error for any other symbolic dim.
  std::vector<int64_t> capacity_dims(const Shape& s) const;
};

struct Model {
  Graph graph;
  int64_t ir_version = 0;
  std::string producer;
  std::string source_path;
};

}  // namespace sofiec
