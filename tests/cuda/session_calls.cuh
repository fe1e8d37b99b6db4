// Calls a generated CUDA Session's infer_host / infer with its tensors held in vectors, whatever
// its numbers of inputs and outputs (the model checks, the backend cases, the benchmarks).
#pragma once

#include <utility>
#include <vector>

namespace session_calls {

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
