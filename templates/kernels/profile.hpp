// The timings of a Session written with --profile: infer() reads the steady clock around each
// node's code (a CUDA Session: events on its stream between the nodes) and records here, in memory the Workspace allocated in its constructor (recording
// allocates nothing). The median comes from the last kRecent calls of each node, so that a
// long run's warm state, not its first cold calls, decides it.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "prelude.hpp"

// One node of the profile: what it is and what its calls cost.
struct NodeProfile {
  std::string name;      // the node's name in the compiled graph
  std::string op;        // its operator, and those fused into it ("Conv + Relu")
  int64_t calls = 0;     // infer() calls that ran it
  double total_s = 0;    // seconds in it, over all calls
  double median_s = 0;   // the median of its last calls (at most NodeTimings::kRecent)
  double flops = 0;      // floating-point operations per call (multiply-add: 2), on average
  double bytes = 0;      // bytes its inputs, weights and outputs hold per call, on average
  double gflops() const { return total_s > 0 ? flops * double(calls) / total_s * 1e-9 : 0; }
};

class NodeTimings {
 public:
  static constexpr std::size_t kRecent = 256;

  explicit NodeTimings(std::size_t nodes) : nodes_(nodes), slots_(new Slot[nodes > 0 ? nodes : 1]()) {}

  void record(std::size_t node, std::chrono::steady_clock::time_point start, double flops, double bytes) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
    record_ns(node, int64_t(ns.count()), flops, bytes);
  }

  // A node's time measured otherwise (a CUDA Session's events on its stream).
  void record_ns(std::size_t node, int64_t ns, double flops, double bytes) {
    Slot& s = slots_[node];
    const int64_t t = ns > 0 ? ns : 0;
    s.recent[std::size_t(s.calls % int64_t(kRecent))] = t;
    ++s.calls;
    s.total_ns += t;
    s.flops += flops;
    s.bytes += bytes;
  }

  void reset() {
    for (std::size_t i = 0; i < nodes_; ++i) slots_[i] = Slot();
  }

  // The profile of each node, in execution order; names and ops come from the Session's
  // metadata (profile_names, profile_ops).
  std::vector<NodeProfile> profile(const char* const* names, const char* const* ops) const {
    std::vector<NodeProfile> out(nodes_);
    for (std::size_t i = 0; i < nodes_; ++i) {
      const Slot& s = slots_[i];
      NodeProfile& p = out[i];
      p.name = names[i];
      p.op = ops[i];
      p.calls = s.calls;
      p.total_s = double(s.total_ns) * 1e-9;
      if (s.calls == 0) continue;
      const std::size_t kept = std::size_t(std::min<int64_t>(s.calls, int64_t(kRecent)));
      std::vector<int64_t> recent(s.recent, s.recent + kept);
      std::nth_element(recent.begin(), recent.begin() + std::ptrdiff_t(kept / 2), recent.end());
      p.median_s = double(recent[kept / 2]) * 1e-9;
      p.flops = s.flops / double(s.calls);
      p.bytes = s.bytes / double(s.calls);
    }
    return out;
  }

 private:
  struct Slot {
    int64_t calls = 0, total_ns = 0;
    double flops = 0, bytes = 0;
    int64_t recent[kRecent] = {};
  };
  std::size_t nodes_;
  std::unique_ptr<Slot[]> slots_;
};
