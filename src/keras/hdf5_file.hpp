// Read-only access to the parts of an HDF5 file that Keras writes: groups, string attributes
// and floating-point datasets, from a file or from bytes in memory (a .keras archive's
// weights). HDF5's own error printing is off: failures become sofiec Errors naming the file.
#pragma once

#include <string>
#include <vector>

#include "sofiec/error.hpp"
#include "sofiec/ir.hpp"

namespace sofiec::keras {

class Hdf5File {
 public:
  static Hdf5File open(const std::string& path);
  // `name` names the image in messages (e.g. "model.keras:model.weights.h5").
  static Hdf5File from_memory(const std::string& bytes, const std::string& name);
  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&&) = delete;
  Hdf5File(const Hdf5File&) = delete;
  ~Hdf5File();

  const std::string& name() const { return name_; }
  // Whether the object at `path` ("a/b/c", relative to the root) exists.
  bool exists(const std::string& path) const;
  bool is_group(const std::string& path) const;
  bool has_attribute(const std::string& object, const std::string& attribute) const;
  // A string attribute (fixed or variable length, scalar or of one element).
  std::string string_attribute(const std::string& object, const std::string& attribute) const;
  // An array of strings attribute (Keras's layer_names, weight_names).
  std::vector<std::string> string_list_attribute(const std::string& object, const std::string& attribute) const;
  // The names of a group's members, in name order.
  std::vector<std::string> children(const std::string& group) const;
  // A dataset of floating-point numbers, converted to float32.
  Tensor read_floats(const std::string& path) const;

 private:
  Hdf5File(long long id, std::string name) : id_(id), name_(std::move(name)) {}
  long long id_;
  std::string name_;
};

}  // namespace sofiec::keras
