// sofiec --python: writes the module's source beside its header and builds it with the system's
// C++ compiler, for the Python interpreter that will import it.
#pragma once

#include <string>

namespace sofiec {

struct PythonBuild {
  std::string python = "python3";  // the interpreter that will import the module
  std::string cxx;                 // the C++ compiler (default: $CXX, else c++)
  std::string cxxflags = "-O3 -march=native";
};

// What the build needs from the interpreter: its headers, the suffix it imports extension
// modules by, pybind11's headers. Throws Error if the interpreter cannot be run or lacks them.
struct PythonToolchain {
  std::string python_include, suffix, pybind11_include;
};
PythonToolchain probe_python(const PythonBuild& build);

// Compiles <dir>/<module>.cpp into <dir>/<module><suffix> (through a temporary file: a failed
// build leaves no module behind) and returns that path. Throws Error naming what failed.
std::string build_python_module(const std::string& dir, const std::string& module, const PythonToolchain& toolchain,
                                const PythonBuild& build);

}  // namespace sofiec
