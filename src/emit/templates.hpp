// Access to templates/ as compiled into the binary (cmake/EmbedTemplates.cmake).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace sofiec {

const std::map<std::string, std::string_view>& embedded_templates();
// The text of templates/<path>; throws if it is not embedded.
std::string_view template_text(const std::string& path);

// Fills the "//@begin NAME ... //@end NAME" regions of a skeleton. Every region of the
// skeleton must have a value and every value a region.
std::string fill_skeleton(std::string_view skeleton, const std::map<std::string, std::string>& regions);

// A name for the kernels' source as embedded (a hash of templates/kernels): generated headers
// keep their kernels in a namespace named after it, so that headers from one sofiec share
// them and headers from two never mix theirs.
const std::string& kernels_id();

// A kernel file's text as it goes into a header: without #pragma once and, unless
// keep_includes (the prelude, placed at global scope: it keeps the standard <...> headers),
// without #include lines; the quoted includes of kernel files are always dropped.
std::string kernel_body(std::string_view kernel_file, bool keep_includes = false);

}  // namespace sofiec
