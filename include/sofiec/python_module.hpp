// The Python extension module sofiec --python builds around a generated header (pybind11).
#pragma once

#include <string>

#include "sofiec/compiler.hpp"

namespace sofiec {

struct PythonModuleSpec {
  std::string module_name;   // the importable name, also the shared library's stem
  std::string header_file;   // the generated header, as the source #includes it
  std::string model_name;    // for messages: the model file's stem
  std::string weights_file;  // --weights file: the .dat file's name beside the module; else empty
};

// "<stem>_<8 hex digits>": a hash of the model file's bytes, the options that change the code
// (as text) and sofiec's version and templates, so that two builds of different models or options never clash
// in one Python process.
std::string python_module_name(const std::string& model_stem, const std::string& model_bytes,
                               const std::string& options_text);

// The C++ source of the module (templates/python_module.cpp filled for this model). Throws Error
// for an input or output NumPy cannot hold (bfloat16).
std::string python_module_source(const CompiledModel& compiled, const PythonModuleSpec& spec);

}  // namespace sofiec
