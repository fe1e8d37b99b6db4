#include "torch_frontend.hpp"

#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "emit/templates.hpp"
#include "file_util.hpp"
#include "process.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"

namespace sofiec {

bool is_torch_file(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".pt" || ext == ".pth" || ext == ".pt2" || ext == ".ts";
}

Model load_torch_model(const std::string& path, const std::vector<std::string>& shapes, const std::string& python) {
  namespace fs = std::filesystem;
  if (!fs::exists(path)) throw Error(fmt::format("cannot open model file '{}': No such file or directory", path));
  std::string dir = (fs::temp_directory_path() / "sofiec-torch-XXXXXX").string();
  if (!mkdtemp(dir.data())) throw Error("cannot create a temporary folder");
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::string script = (fs::path(dir) / "torch_export.py").string(), onnx = (fs::path(dir) / "model.onnx").string();
  write_file_atomically(script, std::string(template_text("torch_export.py")));
  std::string command = fmt::format("{} {} {} {}", shell_quote(python), shell_quote(script), shell_quote(path),
                                    shell_quote(onnx));
  for (const std::string& s : shapes) command += " --input " + shell_quote(s);
  std::string out;
  const int status = run_command(command, out);
  if (status != 0) {
    // The helper's own message, else the interpreter's last words.
    const std::size_t at = out.rfind("sofiec-torch: ");
    std::string message = at != std::string::npos ? out.substr(at + 14) : last_lines(out, 1);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
    if (message.find('\n') != std::string::npos) message = message.substr(0, message.find('\n'));
    if (at == std::string::npos)
      message = fmt::format("exporting {} with '{}' failed: {}", path, python, message.empty() ? "no output" : message);
    throw Error(message);
  }
  std::ifstream in(onnx, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  Model model = load_model_from_bytes(bytes.str(), path, dir);
  model.source_path = path;
  return model;
}

}  // namespace sofiec
