// What every CUDA Session needs besides its kernels: errors as exceptions naming the call,
// device memory owned by RAII, and the stream, cuBLAS handle and CUDA graph of one Session.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <utility>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

inline void check_cuda(cudaError_t status, const char* call) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(call) + ": " + cudaGetErrorString(status));
}

inline void check_cuda(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(call) + ": cuBLAS status " + std::to_string(static_cast<int>(status)));
}

// Device memory, allocated once (in a Session's constructor) and freed with it, in the order
// of the Session's stream (cudaMallocAsync, cudaFreeAsync): cudaMalloc and cudaFree may
// synchronize the device, which breaks a graph another thread's Session is capturing.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t bytes, cudaStream_t stream) : bytes_(bytes), stream_(stream) {
    if (bytes > 0) check_cuda(cudaMallocAsync(&data_, bytes, stream), "cudaMallocAsync");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
    std::swap(stream_, other.stream_);
    return *this;
  }
  ~DeviceBuffer() { release(); }
  void release() {
    if (data_) cudaFreeAsync(data_, stream_);
    data_ = nullptr;
  }
  unsigned char* data() const { return static_cast<unsigned char*>(data_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  cudaStream_t stream_ = nullptr;
};

// The stream a Session runs on (the caller's, or one of its own), its cuBLAS handle with a
// workspace of its own (so that cuBLAS allocates nothing while a graph is captured), and the
// CUDA graph of infer(): captured on the first call for a set of buffers and replayed while
// the caller passes the same buffers, so that a run costs one launch instead of one per kernel.
class Runtime {
 public:
  static constexpr std::size_t kBlasWorkspace = std::size_t(8) << 20;

  explicit Runtime(cudaStream_t stream) : own_stream_(stream == nullptr), stream_(stream) {
    // The legacy default stream cannot be captured: a Session given none makes its own.
    if (own_stream_) check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    try {
      blas_workspace_ = DeviceBuffer(kBlasWorkspace, stream_);
      check_cuda(cublasCreate(&blas_), "cublasCreate");
      check_cuda(cublasSetStream(blas_, stream_), "cublasSetStream");
      check_cuda(cublasSetWorkspace(blas_, blas_workspace_.data(), kBlasWorkspace), "cublasSetWorkspace");
      // Full float32 products: no TF32 unless asked.
      check_cuda(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    } catch (...) {
      if (blas_) cublasDestroy(blas_);
      blas_workspace_.release();
      if (own_stream_) cudaStreamDestroy(stream_);
      throw;
    }
  }
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime() {
    if (exec_) cudaGraphExecDestroy(exec_);
    cublasDestroy(blas_);
    blas_workspace_.release();  // (on the stream, before it goes)
    if (own_stream_) cudaStreamDestroy(stream_);
  }

  cudaStream_t stream() const { return stream_; }
  cublasHandle_t blas() const { return blas_; }

  // Runs `enqueue` (which puts the model's work on the stream) through the graph captured for
  // these buffers; captures it again (updating the instantiated graph) when they change.
  // The first call launches directly instead: it loads the kernels' modules (lazily loaded
  // since CUDA 12) and lets cuBLAS set itself up outside any capture, as a capture must not
  // contain either. A capture can still be invalidated by what another thread does meanwhile
  // (a device-wide synchronization, such as cuBLAS's when another Session is made or
  // destroyed): the work is then launched directly this time and captured on a later call.
  template <class F> void run(const void* const* buffers, std::size_t count, bool use_graph, F&& enqueue) {
    if (use_graph && exec_ && buffers_.size() == count && std::equal(buffers_.begin(), buffers_.end(), buffers)) {
      check_cuda(cudaGraphLaunch(exec_, stream_), "cudaGraphLaunch");
      return;
    }
    if (use_graph && warmed_up_ && capture(enqueue)) {
      buffers_.assign(buffers, buffers + count);
      check_cuda(cudaGraphLaunch(exec_, stream_), "cudaGraphLaunch");
      return;
    }
    enqueue();
    check_cuda(cudaGetLastError(), "kernel launch");
    warmed_up_ = true;
  }

 private:
  // Captures `enqueue` into exec_ (updated in place when the graph's topology allows);
  // false, with no error left pending, if the capture was invalidated. An error raised during
  // a capture is not reported from here: the direct launch that follows raises it again.
  template <class F> bool capture(F& enqueue) {
    if (cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    bool enqueued = true;
    try {
      enqueue();
    } catch (...) {
      enqueued = false;
    }
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    if (!enqueued || ended != cudaSuccess || graph == nullptr) {
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();
      return false;
    }
    cudaGraphExecUpdateResultInfo info;
    if (!exec_ || cudaGraphExecUpdate(exec_, graph, &info) != cudaSuccess) {
      cudaGetLastError();  // a failed update is not an error: instantiate anew
      if (exec_) cudaGraphExecDestroy(exec_);
      exec_ = nullptr;
      const cudaError_t made = cudaGraphInstantiate(&exec_, graph, 0);
      cudaGraphDestroy(graph);
      check_cuda(made, "cudaGraphInstantiate");
    } else {
      cudaGraphDestroy(graph);
    }
    return true;
  }

  bool own_stream_;
  cudaStream_t stream_;
  cublasHandle_t blas_ = nullptr;
  DeviceBuffer blas_workspace_;
  cudaGraphExec_t exec_ = nullptr;
  std::vector<const void*> buffers_;
  bool warmed_up_ = false;
};

// A device-to-device copy on the stream (a view that must be a copy, an output that is an
// input or a constant).
inline void copy_device(void* dst, const void* src, std::size_t bytes, cudaStream_t stream) {
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
}

// Blocks of 256 threads over n elements, at most 65535 * 8 blocks (grid-stride loops do the rest).
inline unsigned blocks_for(long long n) {
  const long long b = (n + 255) / 256;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 524280 ? 524280 : b));
}
