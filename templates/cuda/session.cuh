//@begin banner
// The skeleton of every CUDA header sofiec writes (--target cuda). sofiec replaces each region
// between "//@begin NAME" and "//@end NAME" with generated code, SOFIEC_SKELETON_GUARD_ with
// the include guard and sofiec_skeleton with the model's namespace. As it stands it is the
// complete header of a one-node model (y = relu(x) on 4 floats) and compiles on its own with
// nvcc, which the test suite checks.
//@end banner
#ifndef SOFIEC_SKELETON_GUARD_
#define SOFIEC_SKELETON_GUARD_

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_pipeline.h>
#include <mma.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

// One lock for every sofiec Session in the process, whatever header it comes from (hence
// outside the model's namespace, defined once whichever header comes first). CUDA loads a
// kernel's module on its first launch, and cuBLAS sets itself up and synchronizes the device
// when a handle is made or destroyed: done while another thread captures a CUDA graph, either
// fails ("operation not permitted when stream is capturing", a cuBLAS execution failure) or
// invalidates that capture. So Sessions make and destroy their handles, launch directly and
// capture only while holding this lock; a replay, the steady state, takes no lock. Code of
// the caller's own that captures graphs or loads kernels beside Sessions may hold it too (it
// is recursive: Sessions may be used while holding it). One per shared object: two libraries
// built with hidden symbols, each with sofiec headers, have one each.
#ifndef SOFIEC_CUDA_LAUNCH_LOCK_DEFINED_
#define SOFIEC_CUDA_LAUNCH_LOCK_DEFINED_
namespace sofiec {
inline std::recursive_mutex& cuda_launch_lock() {
  static std::recursive_mutex lock;
  return lock;
}
}  // namespace sofiec
#endif

//@begin kernels
namespace sofiec {
namespace cuda_skeleton {
#include "runtime.cuh"
#include "functors.cuh"
#include "elementwise.cuh"
}  // namespace cuda_skeleton
}  // namespace sofiec
//@end kernels

namespace sofiec_skeleton {

// The dims of one input or output; rank 0 (a scalar) has no dims.
struct TensorShape {
  const int64_t* dims;
  std::size_t rank;
  constexpr int64_t size() const {
    int64_t n = 1;
    for (std::size_t i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
};

namespace detail {

//@begin kernels_namespace
using namespace ::sofiec::cuda_skeleton;
//@end kernels_namespace

//@begin weights
constexpr std::size_t weights_bytes = 0;
//@end weights

}  // namespace detail

// The model on an NVIDIA GPU. The constructor uploads the weights and allocates all device
// memory (one arena for the intermediates, buffers for infer_host); infer() allocates nothing:
// it puts the model's work on the Session's stream, as a CUDA graph captured on the first call
// and replayed while the caller passes the same buffers. One Session runs one infer() at a
// time; Sessions on separate streams run concurrently.
class Session {
 public:
  //@begin metadata
  static constexpr std::size_t num_inputs = 1;
  static constexpr std::size_t num_outputs = 1;
  static constexpr std::array<const char*, 1> input_names{{"x"}};
  static constexpr std::array<const char*, 1> output_names{{"y"}};
  static constexpr std::array<const char*, 1> input_types{{"float"}};
  static constexpr std::array<const char*, 1> output_types{{"float"}};
  static constexpr int64_t input0_dims[] = {4};
  static constexpr int64_t output0_dims[] = {4};
  static constexpr std::array<TensorShape, 1> input_shapes{{{input0_dims, 1}}};
  static constexpr std::array<TensorShape, 1> output_shapes{{{output0_dims, 1}}};
  static constexpr std::array<bool, 1> output_has_data_dependent_shape{{false}};
  static constexpr std::array<std::size_t, 1> output_dims_offset{{0}};
  static constexpr std::size_t arena_bytes = 0;
  //@end metadata

  //@begin constructor
  // stream: the caller's stream to run on; none (nullptr): the Session makes its own.
  explicit Session(cudaStream_t stream = nullptr) : rt_(stream), arena_(arena_bytes, rt_.stream()), io_(32, rt_.stream()) {}
  //@end constructor

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The stream infer() runs on; the results are ready once it reaches them.
  cudaStream_t stream() const { return rt_.stream(); }
  // Whether infer() replays a captured CUDA graph (the default) or launches its kernels one by
  // one (for profilers, or when the buffers change on every call).
  void use_graph(bool on) { use_graph_ = on; }

  //@begin infer
  // Runs the model on device buffers (inputs, then outputs), asynchronously on stream().
  void infer(const float* in_x, float* out_y) {
    const void* buffers[] = {in_x, out_y};
    rt_.run(buffers, 2, static_cast<const int64_t*>(nullptr), 0, use_graph_, [&] {
      cudaStream_t stream = rt_.stream();
      detail::map1(in_x, out_y, 4, detail::op_relu{}, stream);
    });
  }

  // Runs the model on host buffers: copies the inputs in, runs, copies the outputs out and
  // waits for them.
  void infer_host(const float* in_x, float* out_y) {
    float* d_x = reinterpret_cast<float*>(io_.data() + 0);
    float* d_y = reinterpret_cast<float*>(io_.data() + 16);
    detail::check_cuda(cudaMemcpyAsync(d_x, in_x, 16, cudaMemcpyHostToDevice, rt_.stream()), "cudaMemcpyAsync");
    infer(d_x, d_y);
    detail::check_cuda(cudaMemcpyAsync(out_y, d_y, 16, cudaMemcpyDeviceToHost, rt_.stream()), "cudaMemcpyAsync");
    detail::check_cuda(cudaStreamSynchronize(rt_.stream()), "cudaStreamSynchronize");
  }

  // The dims of output i (output_shapes[i]: the CUDA target has no outputs sized by the data).
  TensorShape output_shape(std::size_t i) const { return output_shapes[i]; }
  //@end infer

 private:
  //@begin members
  detail::Runtime rt_;
  detail::DeviceBuffer arena_;
  detail::DeviceBuffer io_;  // infer_host's device copies of the inputs and outputs
  //@end members
  bool use_graph_ = true;
};

}  // namespace sofiec_skeleton

#endif  // SOFIEC_SKELETON_GUARD_
