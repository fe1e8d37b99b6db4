// What an operator's emitter sees: its node, the C++ names of its tensors and a code sink.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "ops/registry.hpp"

namespace sofiec {

// Formats a float so that the generated code holds exactly this value.
std::string cpp_float(double v, DType t = DType::Float);
// Formats an integer constant of type t.
std::string cpp_int(int64_t v, DType t = DType::Int64);
// Element i of a known tensor as a C++ literal of its type.
std::string cpp_element(const Tensor& t, int64_t i);

// An input or output index no node has: in_or_null / out_or_null give a null pointer for it.
constexpr std::size_t kAbsent = std::size_t(-1);

class EmitContext : public NodeView {
 public:
  // resolve_input gives the variable of a tensor the emitter reads; it is called only for
  // inputs the emitted code uses, so unused ones (a Reshape's shape) are neither stored nor declared.
  using Resolver = std::function<std::string(const std::string& tensor)>;
  EmitContext(const Node& node, const Graph& graph, const std::map<std::string, Tensor>* known, Resolver resolve_input,
              std::vector<std::string> output_vars, std::string workspace_var, std::set<std::string>& kernels,
              std::string& code, const std::map<std::string, std::string>* dim_vars = nullptr)
      : NodeView(node, graph, known),
        resolve_input_(std::move(resolve_input)),
        output_vars_(std::move(output_vars)),
        workspace_var_(std::move(workspace_var)),
        kernels_(kernels),
        code_(code),
        dim_vars_(dim_vars) {}

  // C++ expression of input/output i's pointer; "nullptr" for an omitted optional input.
  std::string in(std::size_t i) const;
  const std::string& out(std::size_t i) const;
  // Input i, or a typed null pointer (of the given element type) when it is omitted.
  std::string in_or_null(std::size_t i, const std::string& type) const;
  // Output i, or a typed null pointer when the node does not produce it.
  std::string out_or_null(std::size_t i, const std::string& type) const;
  std::size_t num_outputs() const { return output_vars_.size(); }
  const ValueInfo& output(std::size_t i) const { return graph().value(node().outputs[i]); }
  std::vector<int64_t> output_dims(std::size_t i) const {
    const ValueInfo& o = output(i);
    if (!o.has_shape || !is_static(o.shape))
      fail("the shape of output '{}' is {} and must be known here", node().outputs[i],
           o.has_shape ? shape_str(o.shape) : "unknown");
    return static_dims(o.shape);
  }
  // Output i's dims with data-dependent ones at their upper bound (what its buffer holds).
  std::vector<int64_t> output_capacity_dims(std::size_t i) const { return graph().capacity_dims(output(i).shape); }
  // The int64_t variable of infer() that receives the actual value of a data-dependent dim.
  std::string dim_var(const Dim& d) const;
  std::string in_type(std::size_t i) const { return std::string(dtype_cpp(input_dtype(i))); }
  std::string out_type(std::size_t i) const { return std::string(dtype_cpp(output(i).dtype)); }
  // The fused epilogue (Node::epilogue) as one functor expression, "" when there is none.
  std::string epilogue() const;
  // Applies the epilogue to the first n elements of y (after the kernel has written them).
  void apply_epilogue(const std::string& y, int64_t n);
  // Scratch memory reserved for this node (InferResult::workspace_bytes), as unsigned char*.
  const std::string& workspace() const { return workspace_var_; }

  // Makes templates/kernels/<name>.hpp part of the generated header.
  void use_kernel(const std::string& name) const { kernels_.insert(name); }

  template <class... Args> void line(fmt::format_string<Args...> f, Args&&... args) {
    code_ += "    ";
    code_ += fmt::format(f, std::forward<Args>(args)...);
    code_ += '\n';
  }
  // Declares a constexpr int64_t array local to the node's block and returns its name.
  std::string int_array(const std::string& name, const std::vector<int64_t>& values);

 private:
  Resolver resolve_input_;
  std::vector<std::string> output_vars_;
  std::string workspace_var_;
  std::set<std::string>& kernels_;
  std::string& code_;
  const std::map<std::string, std::string>* dim_vars_;
};

}  // namespace sofiec
