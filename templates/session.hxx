//@begin banner
// The skeleton of every header sofiec writes. sofiec replaces each region between
// "//@begin NAME" and "//@end NAME" with generated code, SOFIEC_SKELETON_GUARD_ with the
// include guard and sofiec_skeleton with the model's namespace. As it stands it is the
// complete header of a one-node model (y = relu(x) on 4 floats) and compiles on its own,
// which the test suite checks.
//@end banner
#ifndef SOFIEC_SKELETON_GUARD_
#define SOFIEC_SKELETON_GUARD_

//@begin prelude
#include <algorithm>
#include <cstdint>
//@end prelude
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

//@begin kernels
namespace sofiec {
namespace kernels_skeleton {
template <class T> inline void relu(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::max(x[i], T(0));
}
}  // namespace kernels_skeleton
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
using namespace ::sofiec::kernels_skeleton;
//@end kernels_namespace

// Heap memory aligned to 64 bytes, owned; allocated once, in the Session's constructor.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t bytes) : storage_(new unsigned char[bytes + 64]()) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage_.get());
    data_ = storage_.get() + (64 - address % 64) % 64;
  }
  unsigned char* data() const { return data_; }

 private:
  std::unique_ptr<unsigned char[]> storage_;
  unsigned char* data_ = nullptr;
};

//@begin weights
constexpr std::size_t weights_bytes = 0;
//@end weights

}  // namespace detail

struct Session;

// The memory one infer() call writes: the arena of intermediate tensors and the dims of the
// outputs the data sizes (and, built with --profile, the timings). A Session holds one for its
// own infer(); `session.infer(workspace, ...) const` runs on the caller's instead, so that one
// Session (its weights) serves any number of threads, each with its Workspace. A Workspace is
// used by one thread at a time; it fits any Session of the model whose workspace_bytes() it
// covers.
class Workspace {
 public:
  // Owned memory for `session`: session.workspace_bytes(), 64-byte aligned.
  explicit Workspace(const Session& session);
  // The caller's memory, not owned: at least session.workspace_bytes() bytes at a 64-byte
  // aligned address, kept alive while the Workspace is used. Throws std::invalid_argument
  // otherwise.
  Workspace(const Session& session, void* buffer, std::size_t bytes);

  std::size_t bytes() const { return bytes_; }
  // The dims of output i as the last infer() with this Workspace wrote them (see
  // Session::output_shape).
  TensorShape output_shape(std::size_t i) const;
  //@begin workspace_api
  //@end workspace_api

 private:
  friend struct Session;
  explicit Workspace(std::size_t bytes) : storage_(bytes), data_(storage_.data()), bytes_(bytes) {}

  detail::AlignedBuffer storage_;
  unsigned char* data_;
  std::size_t bytes_;
  //@begin workspace_members
  std::array<int64_t, 1> output_dims_{{4}};
  //@end workspace_members
};

struct Session {
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
  Session() : workspace_(workspace_bytes()), weights_(nullptr) {}
  static constexpr std::size_t workspace_bytes() { return arena_bytes; }
  //@end constructor

  //@begin infer
  void infer(const float* in_x, float* out_y) { run_(own_workspace_(), in_x, out_y); }

  void infer(Workspace& workspace, const float* in_x, float* out_y) const {
    check_workspace_(workspace);
    run_(workspace, in_x, out_y);
  }

  std::vector<float> infer(const float* in_x) {
    std::vector<float> out_y(4);
    infer(in_x, out_y.data());
    return out_y;
  }

 private:
  void run_(Workspace& workspace, const float* in_x, float* out_y) const {
    (void)workspace;
    detail::relu(in_x, out_y, 4);
  }

 public:
  //@end infer

  // The dims of output i as the last infer() without a Workspace wrote them. They are
  // output_shapes[i] unless the data decides the output's size
  // (output_has_data_dependent_shape[i]: NonZero, Unique...); then output_shapes[i] is the
  // capacity the caller allocates and this the part filled, a contiguous row-major tensor at
  // the start of the buffer.
  TensorShape output_shape(std::size_t i) const { return workspace_.output_shape(i); }

  // For a Session used only through infer(Workspace&, ...), by threads that each have their
  // own: frees the Session's own Workspace, so that N threads hold the weights once and N
  // Workspaces. infer() without a Workspace then throws std::logic_error.
  void release_workspace() {
    workspace_ = Workspace(std::size_t(0));
    workspace_released_ = true;
  }

 private:
  Workspace& own_workspace_() {
    if (workspace_released_)
      throw std::logic_error("infer: this Session's own Workspace was released; pass one of the caller's");
    return workspace_;
  }

  void check_workspace_(const Workspace& workspace) const {
    if (workspace.bytes_ < workspace_bytes())
      throw std::invalid_argument("infer: the Workspace has " + std::to_string(workspace.bytes_) +
                                  " bytes; this Session needs " + std::to_string(workspace_bytes()));
  }

  Workspace workspace_;
  bool workspace_released_ = false;
  //@begin session_members
  //@end session_members
  //@begin weights_member
  const unsigned char* weights_;
  //@end weights_member
};

inline Workspace::Workspace(const Session& session) : Workspace(session.workspace_bytes()) {}

inline Workspace::Workspace(const Session& session, void* buffer, std::size_t bytes)
    : data_(static_cast<unsigned char*>(buffer)), bytes_(bytes) {
  if (bytes < session.workspace_bytes() ||
      (bytes > 0 && (buffer == nullptr || reinterpret_cast<std::uintptr_t>(buffer) % 64 != 0)))
    throw std::invalid_argument("Workspace: the buffer must hold " + std::to_string(session.workspace_bytes()) +
                                " bytes at a 64-byte aligned address");
  // Zeroed as owned memory is, so that the first infer() reads the same bytes either way.
  if (bytes > 0) std::memset(data_, 0, bytes);
}

inline TensorShape Workspace::output_shape(std::size_t i) const {
  return {output_dims_.data() + Session::output_dims_offset[i], Session::output_shapes[i].rank};
}

}  // namespace sofiec_skeleton

#endif  // SOFIEC_SKELETON_GUARD_
