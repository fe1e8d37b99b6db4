#include "emit/templates.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "sofiec/error.hpp"

namespace sofiec {

std::string_view template_text(const std::string& path) {
  auto it = embedded_templates().find(path);
  if (it == embedded_templates().end()) throw Error(fmt::format("internal: template '{}' is not embedded", path));
  return it->second;
}

namespace {
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
}  // namespace

std::string fill_skeleton(std::string_view skeleton, const std::map<std::string, std::string>& regions) {
  std::string out;
  std::set<std::string> filled;
  std::string current;  // region being skipped
  std::size_t pos = 0;
  while (pos < skeleton.size()) {
    std::size_t end = skeleton.find('\n', pos);
    if (end == std::string_view::npos) end = skeleton.size();
    const std::string_view line = skeleton.substr(pos, end - pos);
    pos = end + 1;
    // A marker may be indented (clang-format indents it with the class it sits in); the
    // region's content brings its own indentation.
    const std::string_view marker = line.substr(std::min(line.find_first_not_of(' '), line.size()));
    if (starts_with(marker, "//@begin ")) {
      current = std::string(marker.substr(9));
      auto it = regions.find(current);
      if (it == regions.end()) throw Error(fmt::format("internal: no content for skeleton region '{}'", current));
      out += it->second;
      filled.insert(current);
    } else if (starts_with(marker, "//@end ")) {
      current.clear();
    } else if (current.empty()) {
      out += line;
      out += '\n';
    }
  }
  for (const auto& kv : regions)
    if (!filled.count(kv.first)) throw Error(fmt::format("internal: skeleton has no region '{}'", kv.first));
  return out;
}

const std::string& kernels_id() {
  // FNV-1a over every kernel file, CPU, CUDA and shared (the map is sorted by path: the same
  // id on every machine), once per process: the templates are compiled in.
  static const std::string id = [] {
    std::uint64_t h = 14695981039346656037ull;
    auto add = [&h](std::string_view s) {
      for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
      }
    };
    for (const auto& [path, text] : embedded_templates()) {
      if (!starts_with(path, "kernels/") && !starts_with(path, "cuda/") && !starts_with(path, "shared/")) continue;
      add(path);
      add("\n");
      add(text);
    }
    return fmt::format("k{:012x}", h >> 16);
  }();
  return id;
}

std::string kernel_body(std::string_view kernel_file, bool keep_includes) {
  std::string out;
  std::size_t pos = 0;
  while (pos < kernel_file.size()) {
    std::size_t end = kernel_file.find('\n', pos);
    if (end == std::string_view::npos) end = kernel_file.size();
    const std::string_view line = kernel_file.substr(pos, end - pos);
    pos = end + 1;
    // Kernel files' own headers ("...") are inlined by the writer itself; the prelude keeps
    // the standard ones (<...>).
    if ((!keep_includes && starts_with(line, "#include")) || starts_with(line, "#include \"") ||
        starts_with(line, "#pragma once"))
      continue;
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace sofiec
