// libFuzzer target over the whole compiler: model bytes -> loader -> inference -> passes ->
// memory plan -> header text. A refusal (sofiec::Error) is the expected answer to a broken
// model; any other exception, a crash, a sanitizer report, a hang or a huge allocation is a
// bug. Build with -DSOFIEC_FUZZ=ON and clang++ (see tools/fuzz.sh).
#include <cstddef>
#include <cstdint>
#include <string>

#include "sofiec/compiler.hpp"
#include "sofiec/error.hpp"
#include "sofiec/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // External data resolves inside a folder that does not exist: the fuzzer reads no files.
    sofiec::Model model = sofiec::load_model_from_bytes(std::string(reinterpret_cast<const char*>(data), size),
                                                        "fuzz.onnx", "/nonexistent/sofiec-fuzz");
    sofiec::CompileOptions options;
    sofiec::compile_model(std::move(model), options);
  } catch (const sofiec::Error&) {
  }
  return 0;
}
