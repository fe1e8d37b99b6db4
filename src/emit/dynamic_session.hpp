// The parts of a Session that differ when the model keeps run-time dims: a constructor that
// takes their maxima and places the arena, an infer() that takes their values first and
// checks them, shapes with symbols in the metadata.
#pragma once

#include <string>
#include <vector>

#include "emit/header_writer.hpp"

namespace sofiec {

// The two infer() of every Session, static or with run-time dims: on the Session's own
// Workspace and, const, on the caller's; both run `check` (statements), then run_(). And
// run_() itself, private, which holds `body`.
std::string infer_functions(const std::vector<std::string>& params, const std::vector<std::string>& args,
                            const std::string& check);
std::string run_function(const std::vector<std::string>& params, const std::string& body);

struct DynamicSessionParts {
  const Graph& graph;
  const DynamicLayout& layout;
  const MemoryPlan& plan;
  std::vector<std::string> input_params, output_params;
  std::string unused_inputs;  // "(void)in_x;" lines for inputs the code never reads
  bool embed_weights = true;
  bool has_weights = false;
  std::string weights_check;  // statements that read and check the weights file (file mode)

  // Shapes of the graph inputs and outputs (-1 for a run-time dim) and their symbolic forms.
  std::string shape_metadata() const;
  std::string constructor() const;
  std::string infer() const;
  std::string members() const;            // the Session's: maxima, arena layout
  std::string workspace_members() const;  // the Workspace's: the outputs' dims

  // Parts of the above that the CUDA Session shares.
  std::vector<std::string> dim_params() const;  // infer()'s parameters for the dims' values
  std::string dim_locals(bool checked) const;   // the rt_ variables
  std::string size_of(const std::string& tensor, const std::vector<std::string>& vars) const;
  std::string maxima_checks() const;            // statements: each dim_max_ within its bounds
  // Statements: the arena's blocks for the maxima (after dim_locals(true)), placed into
  // offsets_; `result` prefixes the arena's size ("arena_bytes_ = ", "return ").
  std::string arena_blocks(const std::string& result) const;
  std::string check_dims_function() const;  // check_dims(values...): each within dim_min..dim_max_

 private:
  bool sized_by_data(const std::string& output) const;  // some dim the data decides
};

}  // namespace sofiec
