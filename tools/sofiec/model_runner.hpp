// sofiec profile and sofiec verify: the model's header (or two) compiled with the system's C++
// compiler into a driver program, run on the user's inputs or random ones, and what it wrote
// read back: outputs, per-node timings, intermediate tensors.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace sofiec {

// What both commands share: the model, the data, how to build.
struct RunArgs {
  std::string model;
  std::string inputs;   // a folder: input_<i>.pb / .npy, <input name>.npy, or test_data_set_*/ of them
  std::string outputs;  // the same layout with output_<i> (default: those beside the inputs)
  std::map<std::string, int64_t> dims;  // --dim NAME=VALUE for random inputs
  std::string level = "extended";
  std::string cxx;
  std::string cxxflags = "-O2 -march=native";  // as the benchmarks build (GCC's -O3 was slower on resnet18)
  std::string work;  // where the headers and the driver go (default: a temporary folder, removed)
  unsigned seed = 1;
  bool json = false;
  std::vector<std::string> input_shapes;  // a PyTorch model: --input-shape, exported by `python`'s torch
  std::string python = "python3";
  std::string keras_weights;  // a Keras architecture .json: its weights
};

struct ProfileArgs : RunArgs {
  int iters = 200;
};

struct VerifyArgs : RunArgs {
  int draws = 3;        // random inputs: this many sets
  double rtol = 1e-3, atol = 1e-5;
  std::string perturb_node;  // (testing) a node of the optimized build made to compute wrongly
};

// Print their reports on stdout (progress on stderr); return the exit status: verify 0 only
// when every output agrees. Throw Error for what stops them (a model, a file, a build).
int profile_command(const ProfileArgs& args);
int verify_command(const VerifyArgs& args);

}  // namespace sofiec
