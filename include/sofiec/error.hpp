#pragma once

#include <stdexcept>
#include <string>
#include <vector>

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
// TopK's K...) that is not known. `inputs` names the graph inputs it is computed from, so that
// callers can retry with them frozen (CompileOptions::frozen_inputs, sofiec --freeze).
class NeedsValueError : public UnsupportedError {
 public:
  NeedsValueError(const std::string& message, std::vector<std::string> inputs)
      : UnsupportedError(message), inputs(std::move(inputs)) {}
  std::vector<std::string> inputs;
};

}  // namespace sofiec
