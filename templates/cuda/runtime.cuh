// What every CUDA Session needs besides its kernels: errors as exceptions naming the call,
// device memory owned by RAII, and the stream, cuBLAS handle and CUDA graph of one Session.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <cstddef>
#include <cstdint>
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

// One product through cuBLASLt with the bias (one value per output column) and a ReLU done in
// the product's epilogue: one kernel where cublasSgemm and an elementwise pass take two, which
// is most of a small MLP's time. Row-major Y[m][n] = alpha op(A) op(B) is cuBLASLt's
// column-major Y^T = op(B)^T op(A)^T, whose epilogue bias runs along Y^T's rows: Y's columns.
// Planned once (descriptors, and the algorithm cuBLASLt's heuristic picks for the workspace)
// on a Session's first call, which runs outside any graph capture.
class LtGemm {
 public:
  LtGemm() = default;
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;
  ~LtGemm() {
    if (desc_) cublasLtMatmulDescDestroy(desc_);
    for (cublasLtMatrixLayout_t l : {a_, b_, y_})
      if (l) cublasLtMatrixLayoutDestroy(l);
  }

  bool planned() const { return planned_; }
  // Whether cuBLASLt had an algorithm for it (else the caller uses cublasSgemm).
  bool usable() const { return usable_; }

  // Once per plan (Runtime::lt_gemm gives each node and size its own). a, b, y: the first
  // call's operands; the algorithm is chosen for their alignment, which later operands must
  // have too (aligned()). tf32: on the tensor cores, inputs rounded to TF32.
  void plan(cublasLtHandle_t lt, bool trans_a, bool trans_b, int m, int n, int k, const float* bias, bool relu,
            const float* a, const float* b, const float* y, std::size_t workspace_bytes, bool tf32) {
    planned_ = true;
    alignment_ = std::min({alignment(a), alignment(b), alignment(y)});
    const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int kk = k > 0 ? k : 1;
    check_cuda(cublasLtMatmulDescCreate(&desc_, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F),
               "cublasLtMatmulDescCreate");
    // cuBLASLt's first operand is B (n x k after op), its second A (k x m after op).
    check_cuda(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &op_b, sizeof(op_b)),
               "cublasLtMatmulDescSetAttribute");
    check_cuda(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &op_a, sizeof(op_a)),
               "cublasLtMatmulDescSetAttribute");
    const cublasLtEpilogue_t epilogue = bias ? (relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                             : (relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
    check_cuda(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)),
               "cublasLtMatmulDescSetAttribute");
    if (bias)
      check_cuda(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
                 "cublasLtMatmulDescSetAttribute");
    check_cuda(cublasLtMatrixLayoutCreate(&b_, CUDA_R_32F, trans_b ? kk : n, trans_b ? n : kk, trans_b ? kk : n),
               "cublasLtMatrixLayoutCreate");
    check_cuda(cublasLtMatrixLayoutCreate(&a_, CUDA_R_32F, trans_a ? m : kk, trans_a ? kk : m, trans_a ? m : kk),
               "cublasLtMatrixLayoutCreate");
    check_cuda(cublasLtMatrixLayoutCreate(&y_, CUDA_R_32F, n, m, n), "cublasLtMatrixLayoutCreate");
    cublasLtMatmulPreference_t preference = nullptr;
    check_cuda(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate");
    cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
                                         sizeof(workspace_bytes));
    const uint32_t align = alignment_;
    for (auto attribute : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                           CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
      cublasLtMatmulPreferenceSetAttribute(preference, attribute, &align, sizeof(align));
    int found = 0;
    const cublasStatus_t status =
        cublasLtMatmulAlgoGetHeuristic(lt, desc_, b_, a_, y_, y_, preference, 1, &heuristic_, &found);
    cublasLtMatmulPreferenceDestroy(preference);
    usable_ = status == CUBLAS_STATUS_SUCCESS && found > 0;
  }

  bool aligned(const float* a, const float* b, const float* y) const {
    return std::min({alignment(a), alignment(b), alignment(y)}) >= alignment_;
  }

  void run(cublasLtHandle_t lt, float alpha, const float* a, const float* b, float* y, void* workspace,
           std::size_t workspace_bytes, cudaStream_t stream) const {
    const float zero = 0.f;
    check_cuda(cublasLtMatmul(lt, desc_, &alpha, b, b_, a, a_, &zero, y, y_, y, y_, &heuristic_.algo, workspace,
                              workspace_bytes, stream),
               "cublasLtMatmul");
  }

 private:
  // The largest power of two (up to 256) dividing the address.
  static uint32_t alignment(const float* p) {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    uint32_t a = 256;
    while (a > 4 && address % a) a /= 2;
    return a;
  }

  bool planned_ = false, usable_ = false;
  uint32_t alignment_ = 256;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, y_ = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic_{};
};

// A Session written with --profile: an event before each node and one after the last,
// recorded on the stream as infer() launches the nodes one by one (such a Session replays no
// graph: a graph's kernels run without the events between them), and read once the call has
// finished, so that a node's time is its kernels' time on the card, launch gaps included.
class NodeEvents {
 public:
  explicit NodeEvents(std::size_t nodes) : events_(nodes + 1, nullptr), flops_(nodes, 0.0), bytes_(nodes, 0.0) {
    try {
      for (cudaEvent_t& e : events_) check_cuda(cudaEventCreate(&e), "cudaEventCreate");
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~NodeEvents() { destroy(); }
  NodeEvents(const NodeEvents&) = delete;
  NodeEvents& operator=(const NodeEvents&) = delete;

  // Before node k, with its FLOPs and bytes for this call (they follow run-time dims); k =
  // nodes: after the last.
  void mark(std::size_t k, cudaStream_t stream, double flops = 0, double bytes = 0) {
    if (k < flops_.size()) {
      flops_[k] = flops;
      bytes_[k] = bytes;
    }
    check_cuda(cudaEventRecord(events_[k], stream), "cudaEventRecord");
  }
  // Waits for the last mark; false (nothing to read) while the stream is being captured, where
  // the events are nodes of the caller's graph, not timings.
  bool finished(cudaStream_t stream) {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    check_cuda(cudaStreamIsCapturing(stream, &status), "cudaStreamIsCapturing");
    if (status != cudaStreamCaptureStatusNone) return false;
    check_cuda(cudaEventSynchronize(events_.back()), "cudaEventSynchronize");
    return true;
  }
  int64_t node_ns(std::size_t k) const {
    float ms = 0.f;
    check_cuda(cudaEventElapsedTime(&ms, events_[k], events_[k + 1]), "cudaEventElapsedTime");
    return static_cast<int64_t>(static_cast<double>(ms) * 1e6);
  }
  double flops(std::size_t k) const { return flops_[k]; }
  double bytes(std::size_t k) const { return bytes_[k]; }

 private:
  void destroy() {
    for (cudaEvent_t e : events_)
      if (e) cudaEventDestroy(e);
  }
  std::vector<cudaEvent_t> events_;
  std::vector<double> flops_, bytes_;
};

// The stream a Session runs on (the caller's, or one of its own), its cuBLAS handle with a
// workspace of its own (so that cuBLAS allocates nothing while a graph is captured), and the
// CUDA graph of infer(): captured on the first call for a set of buffers and replayed while
// the caller passes the same buffers, so that a run costs one launch instead of one per kernel.
class Runtime {
 public:
  static constexpr std::size_t kBlasWorkspace = std::size_t(8) << 20;
  // The run-time dims' values whose cuBLASLt plans are kept at most.
  static constexpr std::size_t kShapesKept = 64;

  // tf32: products (cuBLAS's and cuBLASLt's) on the tensor cores in TF32 (sofiec --tf32).
  explicit Runtime(cudaStream_t stream, bool tf32 = false)
      : own_stream_(stream == nullptr), tf32_(tf32), stream_(stream) {
    const std::lock_guard<std::recursive_mutex> lock(launch_lock());
    // The legacy default stream cannot be captured: a Session given none makes its own.
    if (own_stream_) check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    try {
      blas_workspace_ = DeviceBuffer(kBlasWorkspace, stream_);
      check_cuda(cublasCreate(&blas_), "cublasCreate");
      check_cuda(cublasLtCreate(&lt_), "cublasLtCreate");
      check_cuda(cublasSetStream(blas_, stream_), "cublasSetStream");
      check_cuda(cublasSetWorkspace(blas_, blas_workspace_.data(), kBlasWorkspace), "cublasSetWorkspace");
      // Full float32 products unless TF32 was asked for.
      check_cuda(cublasSetMathMode(blas_, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
      int device = 0;
      check_cuda(cudaGetDevice(&device), "cudaGetDevice");
      check_cuda(cudaDeviceGetAttribute(&shared_optin_, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
                 "cudaDeviceGetAttribute");
    } catch (...) {
      if (lt_) cublasLtDestroy(lt_);
      if (blas_) cublasDestroy(blas_);
      blas_workspace_.release();
      if (own_stream_) cudaStreamDestroy(stream_);
      throw;
    }
  }
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime() {
    const std::lock_guard<std::recursive_mutex> lock(launch_lock());
    if (exec_) cudaGraphExecDestroy(exec_);
    lt_gemms_.clear();
    cublasLtDestroy(lt_);
    cublasDestroy(blas_);
    blas_workspace_.release();  // (on the stream, before it goes)
    if (own_stream_) cudaStreamDestroy(stream_);
  }

  cudaStream_t stream() const { return stream_; }
  bool tf32() const { return tf32_; }
  // The shared memory a block may ask for on the Session's device (227 KiB on an H100).
  int shared_memory_optin() const { return shared_optin_; }
  cublasHandle_t blas() const { return blas_; }
  cublasLtHandle_t lt() const { return lt_; }
  // The cuBLAS workspace, which cuBLASLt's products share (they run in the stream's order).
  void* blas_workspace() const { return blas_workspace_.data(); }
  // The cuBLASLt plan of the graph's node `node` for the product's dims (made empty on first
  // use, planned by it: on the first, direct launch of a shape, never while capturing).
  LtGemm& lt_gemm(std::size_t node, long long m, long long n, long long k) {
    std::unique_ptr<LtGemm>& plan = lt_gemms_[{static_cast<long long>(node), m, n, k}];
    if (!plan) plan = std::make_unique<LtGemm>();
    return *plan;
  }

  // Runs `enqueue` (which puts the model's work on the stream) through the graph captured for
  // these buffers and values of the run-time dims (`shape`, `dims` of them; none for a static
  // model); captures it again (updating the instantiated graph) when they change.
  // - The first call for a shape launches directly instead: it loads the kernels' modules
  //   (lazily loaded since CUDA 12; cuBLAS picks other kernels for other sizes), plans the
  //   cuBLASLt products and lets cuBLAS set itself up, none of which a capture may contain.
  // - A shape's first launch and every capture hold launch_lock(), so that no Session loads a
  //   kernel while another captures; replays and later direct launches (use_graph(false))
  //   take no lock. A capture invalidated anyway (a device-wide synchronization by code that
  //   does not hold the lock) is abandoned: the work is launched directly this time.
  // - Called while the caller captures the stream into a graph of its own, it enqueues its
  //   kernels into that graph; the Session must have run that shape once before.
  template <class F>
  void run(const void* const* buffers, std::size_t count, const int64_t* shape, std::size_t dims, bool use_graph,
           F&& enqueue) {
    // (A graph launch cannot join the caller's capture: its kernels are enqueued instead.)
    cudaStreamCaptureStatus outer = cudaStreamCaptureStatusNone;
    check_cuda(cudaStreamIsCapturing(stream_, &outer), "cudaStreamIsCapturing");
    if (use_graph && outer == cudaStreamCaptureStatusNone && exec_ && buffers_.size() == count &&
        std::equal(buffers_.begin(), buffers_.end(), buffers) &&
        std::equal(shape_.begin(), shape_.end(), shape, shape + dims)) {
      check_cuda(cudaGraphLaunch(exec_, stream_), "cudaGraphLaunch");
      return;
    }
    const bool warmed_up = std::any_of(warmed_up_.begin(), warmed_up_.end(), [&](const std::vector<int64_t>& s) {
      return std::equal(s.begin(), s.end(), shape, shape + dims);
    });
    if (!warmed_up && warmed_up_.size() >= kShapesKept && outer == cudaStreamCaptureStatusNone) {
      // Many sizes seen: the cuBLASLt plans start over (they are made again as shapes recur).
      const std::lock_guard<std::recursive_mutex> lock(launch_lock());
      warmed_up_.clear();
      lt_gemms_.clear();
    }
    if (warmed_up && (!use_graph || outer != cudaStreamCaptureStatusNone)) {
      enqueue();
      check_cuda(cudaGetLastError(), "kernel launch");
      return;
    }
    if (outer != cudaStreamCaptureStatusNone)
      throw std::runtime_error("infer: the stream is being captured and this Session has not run these shapes yet "
                               "(run it once before capturing)");
    const std::lock_guard<std::recursive_mutex> lock(launch_lock());
    if (use_graph && warmed_up && capture(enqueue)) {
      buffers_.assign(buffers, buffers + count);
      shape_.assign(shape, shape + dims);
      check_cuda(cudaGraphLaunch(exec_, stream_), "cudaGraphLaunch");
      return;
    }
    enqueue();
    check_cuda(cudaGetLastError(), "kernel launch");
    if (!warmed_up) warmed_up_.emplace_back(shape, shape + dims);
  }

 private:
  // The process-wide lock (session.cuh); a test build may leave it out to show why it is there.
  static std::recursive_mutex& launch_lock() {
#ifdef SOFIEC_CUDA_NO_LAUNCH_LOCK
    thread_local std::recursive_mutex own;
    return own;
#else
    return ::sofiec::cuda_launch_lock();
#endif
  }

  // Captures `enqueue` into exec_ (updated in place when the graph's topology allows);
  // false, with no error left pending, if the capture was invalidated. An error raised during
  // a capture is not reported from here: the direct launch that follows raises it again.
  template <class F> bool capture(F& enqueue) {
    buffers_.clear();  // exec_ is for no buffers until this capture succeeds
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
    const cudaError_t launched = cudaGetLastError();  // a kernel launch that failed while captured
    if (!enqueued || ended != cudaSuccess || launched != cudaSuccess || graph == nullptr) {
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
      if (made != cudaSuccess) exec_ = nullptr;
      check_cuda(made, "cudaGraphInstantiate");
    } else {
      cudaGraphDestroy(graph);
    }
    return true;
  }

  bool own_stream_;
  bool tf32_;
  int shared_optin_ = 0;
  cudaStream_t stream_;
  cublasHandle_t blas_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  DeviceBuffer blas_workspace_;
  std::map<std::array<long long, 4>, std::unique_ptr<LtGemm>> lt_gemms_;
  cudaGraphExec_t exec_ = nullptr;
  std::vector<const void*> buffers_;
  std::vector<int64_t> shape_;
  std::vector<std::vector<int64_t>> warmed_up_;  // the shapes launched directly once
};

// A device-to-device copy on the stream (a view that must be a copy, an output that is an
// input or a constant).
inline void copy_device(void* dst, const void* src, std::size_t bytes, cudaStream_t stream) {
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
}

// Lets `kernel` take `bytes` of dynamic shared memory: past 48 KiB a kernel must ask. Set to
// the card's limit (Runtime::shared_memory_optin()), not to this launch's need: Sessions on
// other threads launching the kernel for other sizes set the same value, so none lowers it
// under another's launch.
template <class Kernel>
void allow_shared_memory(Kernel kernel, std::size_t bytes, int limit, const char* name) {
  if (bytes > 48 * 1024)
    check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit), name);
}

// Blocks of 256 threads over n elements, at most 65535 * 8 blocks (grid-stride loops do the rest).
inline unsigned blocks_for(long long n) {
  const long long b = (n + 255) / 256;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 524280 ? 524280 : b));
}
