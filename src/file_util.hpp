// Writing the compiler's outputs.
#pragma once

#include <string>

namespace sofiec {

// Writes data to path through a temporary file in the same folder renamed into place, so a
// failure never leaves a partial file. Throws Error.
void write_file_atomically(const std::string& path, const std::string& data);

}  // namespace sofiec
