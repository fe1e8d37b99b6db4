#pragma once

#include <stdexcept>
#include <string>

namespace sofiec {

// Every problem the compiler reports to its user. The message is one line and names the
// file, node or tensor at fault; the CLI prints it and exits non-zero.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The model uses operators (or operator versions) the compiler does not implement.
// Carries all of them at once so the user sees the whole list in one run.
class UnsupportedError : public Error {
 public:
  explicit UnsupportedError(const std::string& message) : Error(message) {}
};

// An operator needs the value of a tensor at generation time (Reshape's shape, Reduce's axes,
// TopK's K...) and that tensor is a graph input. `tensor` names it, so that callers can
// retry with the input frozen (CompileOptions::frozen_inputs, sofiec --freeze).
class NeedsValueError : public UnsupportedError {
 public:
  NeedsValueError(const std::string& message, std::string tensor) : UnsupportedError(message), tensor(std::move(tensor)) {}
  std::string tensor;
};

}  // namespace sofiec
