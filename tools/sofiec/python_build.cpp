#include "python_build.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include "process.hpp"
#include "sofiec/error.hpp"

namespace sofiec {
namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> r;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) r.push_back(line);
  return r;
}

}  // namespace

PythonToolchain probe_python(const PythonBuild& build) {
  namespace fs = std::filesystem;
  std::string out;
  const std::string query =
      "import sysconfig; print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX'))\n"
      "try:\n import pybind11; print(pybind11.get_include())\nexcept ImportError:\n print('')";
  if (run_command(shell_quote(build.python) + " -c " + shell_quote(query), out) != 0)
    throw Error(fmt::format("--python: cannot run the Python interpreter '{}' (--python-exe): {}", build.python,
                            lines(out).empty() ? std::string("no output") : lines(out).back()));
  const std::vector<std::string> answer = lines(out);
  if (answer.size() < 3 || answer[1].empty() || answer[1] == "None")
    throw Error(fmt::format("--python: '{}' did not say where its headers are", build.python));
  PythonToolchain t{answer[0], answer[1], answer[2]};
  if (t.pybind11_include.empty() && fs::exists("/usr/include/pybind11/pybind11.h")) t.pybind11_include = "/usr/include";
  if (t.pybind11_include.empty())
    throw Error("--python: pybind11 not found (install pybind11-dev, or pybind11 for the interpreter)");
  if (!fs::exists(fs::path(t.python_include) / "Python.h"))
    throw Error(fmt::format("--python: {} has no Python.h (install the interpreter's development headers, e.g. "
                            "python3-dev)",
                            t.python_include));
  return t;
}

std::string build_python_module(const std::string& dir, const std::string& module, const PythonToolchain& toolchain,
                                const PythonBuild& build) {
  namespace fs = std::filesystem;
  std::string out;
  const std::string& python_include = toolchain.python_include;
  const std::string& suffix = toolchain.suffix;
  const std::string& pybind11_include = toolchain.pybind11_include;
  const std::string cxx = cxx_or_default(build.cxx);
  const std::string source = (fs::path(dir) / (module + ".cpp")).string();
  const std::string target = (fs::path(dir) / (module + suffix)).string();
  const std::string tmp = (fs::path(dir) / ("." + module + suffix + ".tmp")).string();
  const std::string command = fmt::format(
      "{} {} -std=c++17 -shared -fPIC -fvisibility=hidden -I {} -I {} -I {} {} -o {}", shell_quote(cxx),
      build.cxxflags, shell_quote(python_include), shell_quote(pybind11_include), shell_quote(dir),
      shell_quote(source), shell_quote(tmp));
  std::fprintf(stderr, "sofiec: building the Python module %s with %s\n", module.c_str(), cxx.c_str());
  if (run_command(command, out) != 0) {
    std::remove(tmp.c_str());
    throw Error(fmt::format("--python: building {} failed:\n{}{}", source, last_lines(out, 20), command));
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(fmt::format("--python: cannot write '{}': {}", target, ec.message()));
  }
  return target;
}

}  // namespace sofiec
