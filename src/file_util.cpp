#include "file_util.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "sofiec/error.hpp"

namespace sofiec {

void write_file_atomically(const std::string& path, const std::string& data) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(fmt::format("cannot write '{}': folder '{}' does not exist", path, dir.string()));
  if (fs::is_directory(target, ec)) throw Error(fmt::format("cannot write '{}': it is a folder", path));
  std::string tmp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = mkstemp(tmp.data());
  if (fd < 0) throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0) {
      const int err = errno;
      ::close(fd);
      std::remove(tmp.c_str());
      throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
    }
    done += std::size_t(w);
  }
  // mkstemp creates the file 0600; give it the permissions an ordinary file would get.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw Error(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
  }
}

}  // namespace sofiec
