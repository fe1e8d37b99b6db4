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
#include <cstddef>
#include <cstdint>
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
  explicit AlignedBuffer(std::size_t bytes) : storage_(new unsigned char[bytes + 64]()) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage_.get());
    data_ = storage_.get() + (64 - address % 64) % 64;
  }
  unsigned char* data() const { return data_; }

 private:
  std::unique_ptr<unsigned char[]> storage_;
  unsigned char* data_;
};

//@begin weights
constexpr std::size_t weights_bytes = 0;
//@end weights

}  // namespace detail

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
  Session() : arena_(arena_bytes), weights_(nullptr) {}
  //@end constructor

  //@begin infer
  void infer(const float* in_x, float* out_y) { detail::relu(in_x, out_y, 4); }

  std::vector<float> infer(const float* in_x) {
    std::vector<float> out_y(4);
    infer(in_x, out_y.data());
    return out_y;
  }
  //@end infer

  // The dims of output i as the last infer() wrote them. They are output_shapes[i] unless the
  // data decides the output's size (output_has_data_dependent_shape[i]: NonZero, Unique...);
  // then output_shapes[i] is the capacity the caller allocates and this the part filled, a
  // contiguous row-major tensor at the start of the buffer.
  TensorShape output_shape(std::size_t i) const {
    return {output_dims_.data() + output_dims_offset[i], output_shapes[i].rank};
  }

 private:
  detail::AlignedBuffer arena_;
  //@begin output_dims_member
  std::array<int64_t, 1> output_dims_{{4}};
  //@end output_dims_member
  //@begin weights_member
  const unsigned char* weights_;
  //@end weights_member
};

}  // namespace sofiec_skeleton

#endif  // SOFIEC_SKELETON_GUARD_
