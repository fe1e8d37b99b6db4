// Calls a generated CUDA Session's infer_host / infer with its tensors held in vectors, whatever
// its numbers of inputs and outputs (the model checks, the backend cases, the benchmarks), and
// makes the Session and device buffers for the programs that time it.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

namespace session_calls {

// The Session of the included header: its weights embedded, or (built with -DWEIGHTS_FILE_MODE
// for a header written with --weights file) read from argv[index]; without that argument,
// prints "usage: PROGRAM usage" and exits with status 2.
template <class Session>
std::unique_ptr<Session> make_session(int argc, char** argv, int index, const char* usage) {
#ifdef WEIGHTS_FILE_MODE
  if (argc <= index) {
    std::fprintf(stderr, "usage: %s %s\n", argv[0], usage);
    std::exit(2);
  }
  return std::make_unique<Session>(argv[index]);
#else
  (void)argc, (void)argv, (void)index, (void)usage;
  return std::make_unique<Session>();
#endif
}

// Float32 device buffers for every input of a Session, each element `value`, and for every
// output; freed with the object.
template <class Session> struct DeviceBuffers {
  std::vector<float*> x, y;

  explicit DeviceBuffers(float value) : x(Session::num_inputs, nullptr), y(Session::num_outputs, nullptr) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::size_t n = std::size_t(Session::input_shapes[i].size());
      cudaMalloc(&x[i], sizeof(float) * n);
      const std::vector<float> host(n, value);
      cudaMemcpy(x[i], host.data(), sizeof(float) * n, cudaMemcpyHostToDevice);
    }
    for (std::size_t i = 0; i < y.size(); ++i)
      cudaMalloc(&y[i], sizeof(float) * std::size_t(Session::output_shapes[i].size()));
  }
  ~DeviceBuffers() {
    for (float* p : x) cudaFree(p);
    for (float* p : y) cudaFree(p);
  }
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;
};

template <class Session, std::size_t... I, std::size_t... O>
void infer_host(Session& s, const std::vector<std::vector<float>>& x, std::vector<std::vector<float>>& y,
                std::index_sequence<I...>, std::index_sequence<O...>) {
  s.infer_host(x[I].data()..., y[O].data()...);
}

template <class Session>
void infer_host(Session& s, const std::vector<std::vector<float>>& x, std::vector<std::vector<float>>& y) {
  infer_host(s, x, y, std::make_index_sequence<Session::num_inputs>{}, std::make_index_sequence<Session::num_outputs>{});
}

// A tensor's bytes, handed to a parameter of whatever element type the Session declares
// (the backend cases: float32, int64, int32).
struct AnyPointer {
  void* p;
  template <class T> operator T*() const { return static_cast<T*>(p); }
};

template <class Session, std::size_t... I, std::size_t... O>
void infer_host_bytes(Session& s, std::vector<std::vector<unsigned char>>& x,
                      std::vector<std::vector<unsigned char>>& y, std::index_sequence<I...>,
                      std::index_sequence<O...>) {
  s.infer_host(AnyPointer{x[I].data()}..., AnyPointer{y[O].data()}...);
}

template <class Session>
void infer_host_bytes(Session& s, std::vector<std::vector<unsigned char>>& x,
                      std::vector<std::vector<unsigned char>>& y) {
  infer_host_bytes(s, x, y, std::make_index_sequence<Session::num_inputs>{},
                   std::make_index_sequence<Session::num_outputs>{});
}

// Device buffers: x[i], y[o] hold input i's and output o's floats.
template <class Session, std::size_t... I, std::size_t... O>
void infer_device(Session& s, const std::vector<float*>& x, const std::vector<float*>& y, std::index_sequence<I...>,
                  std::index_sequence<O...>) {
  s.infer(static_cast<const float*>(x[I])..., y[O]...);
}

template <class Session> void infer_device(Session& s, const std::vector<float*>& x, const std::vector<float*>& y) {
  infer_device(s, x, y, std::make_index_sequence<Session::num_inputs>{}, std::make_index_sequence<Session::num_outputs>{});
}

}  // namespace session_calls
