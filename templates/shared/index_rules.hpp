// Index rules that the CPU's and the GPU's kernels share: how a scatter combines an update
// with what it lands on, and where Pad reads from outside its input.
#pragma once
#include "host_device.hpp"

enum class ScatterReduction { None, Add, Mul, Max, Min };

template <class T> SOFIEC_HOST_DEVICE void scatter_combine(T& dst, T value, ScatterReduction r) {
  switch (r) {
    case ScatterReduction::None: dst = value; break;
    case ScatterReduction::Add: dst = T(dst + value); break;
    case ScatterReduction::Mul: dst = T(dst * value); break;
    case ScatterReduction::Max: dst = value > dst ? value : dst; break;
    case ScatterReduction::Min: dst = value < dst ? value : dst; break;
  }
}

enum class PadMode { Constant, Reflect, Edge, Wrap };

// Pad's source along an axis of n inputs for position i of it (the output position less the
// padding before it, so possibly outside [0, n)), or -1 where the fill value goes.
SOFIEC_HOST_DEVICE long long pad_source(long long i, long long n, PadMode mode) {
  if (i >= 0 && i < n) return i;
  if (mode == PadMode::Constant || n == 0) return -1;
  if (mode == PadMode::Edge) return i < 0 ? 0 : n - 1;
  if (mode == PadMode::Wrap) return ((i % n) + n) % n;
  if (n == 1) return 0;
  // Reflect about the edges without repeating them: period 2(n-1).
  const long long period = 2 * (n - 1);
  i = ((i % period) + period) % period;
  return i >= n ? period - i : i;
}
