// Running the system's tools (the C++ compiler, the Python interpreter, a compiled driver)
// from the sofiec command.
#pragma once

#include <string>

namespace sofiec {

// s quoted for the POSIX shell.
std::string shell_quote(const std::string& s);

// Runs a shell command; returns its exit status (-1 if it did not exit normally) and what it
// printed, stdout and stderr together, in `output`.
int run_command(const std::string& command, std::string& output);

// The last `count` lines of text.
std::string last_lines(const std::string& text, std::size_t count);

// The C++ compiler to use: `cxx` if given, else $CXX, else c++.
std::string cxx_or_default(const std::string& cxx);

}  // namespace sofiec
