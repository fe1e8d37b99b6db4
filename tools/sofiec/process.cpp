#include "process.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

namespace sofiec {

std::string shell_quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

int run_command(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string last_lines(const std::string& text, std::size_t count) {
  std::vector<std::string> all;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string r;
  for (std::size_t i = all.size() > count ? all.size() - count : 0; i < all.size(); ++i) r += all[i] + "\n";
  return r;
}

std::string cxx_or_default(const std::string& cxx) {
  if (!cxx.empty()) return cxx;
  const char* env = std::getenv("CXX");
  return env && *env ? env : "c++";
}

}  // namespace sofiec
