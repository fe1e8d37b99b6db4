// The arena of a Session whose sizes depend on run-time dims: block sizes are evaluated for
// the maxima given to the constructor, with overflow checks, and placed there once.
#pragma once
#include <stdexcept>
#include <vector>

#include "prelude.hpp"

// The largest value a run-time dim may be given (so that sizes stay far from overflowing).
constexpr std::size_t kMaxRuntimeDim = std::size_t(1) << 31;

// A size computed from run-time dims; every step checks for overflow and throws
// std::invalid_argument, so a Session never sizes its arena with a wrapped-around number.
struct CheckedSize {
  int64_t value;
  CheckedSize(int64_t v) : value(v) {}  // NOLINT: literals in size expressions convert
  static CheckedSize dim(std::size_t v) { return CheckedSize(static_cast<int64_t>(v)); }
  friend CheckedSize operator*(CheckedSize a, CheckedSize b) {
    int64_t r;
    if (__builtin_mul_overflow(a.value, b.value, &r)) overflow();
    return r;
  }
  friend CheckedSize operator+(CheckedSize a, CheckedSize b) {
    int64_t r;
    if (__builtin_add_overflow(a.value, b.value, &r)) overflow();
    return r;
  }
  friend CheckedSize operator-(CheckedSize a, CheckedSize b) {
    int64_t r;
    if (__builtin_sub_overflow(a.value, b.value, &r)) overflow();
    return r;
  }
  friend CheckedSize operator-(CheckedSize a) { return CheckedSize(0) - a; }
  // A floor atom's division: the dividend is a dim plus an offset, never negative.
  friend CheckedSize operator/(CheckedSize a, CheckedSize b) { return a.value / b.value; }
  // As a byte count: non-negative, below 2^56.
  std::size_t bytes() const {
    if (value < 0 || value > (int64_t(1) << 56)) overflow();
    return static_cast<std::size_t>(value);
  }
  [[noreturn]] static void overflow() {
    throw std::invalid_argument("Session: the maxima of the run-time dims make a buffer too large");
  }
};

struct ArenaBlockSize {
  std::size_t bytes;
  std::size_t first, last;  // steps of infer() during which the block is alive
};

// Places each block at the lowest 64-byte aligned offset where it overlaps no block alive at
// the same time, largest blocks first; writes the offsets and returns the arena's size.
inline std::size_t place_arena_blocks(const ArenaBlockSize* blocks, std::size_t n, std::size_t* offsets) {
  auto aligned = [](std::size_t b) { return (std::max<std::size_t>(b, 1) + 63) / 64 * 64; };
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return blocks[a].bytes > blocks[b].bytes; });
  std::vector<bool> placed(n, false);
  std::vector<std::pair<std::size_t, std::size_t>> taken;
  std::size_t arena = 0;
  for (std::size_t idx : order) {
    const ArenaBlockSize& b = blocks[idx];
    taken.clear();
    for (std::size_t j = 0; j < n; ++j)
      if (placed[j] && blocks[j].first <= b.last && b.first <= blocks[j].last)
        taken.emplace_back(offsets[j], offsets[j] + aligned(blocks[j].bytes));
    std::sort(taken.begin(), taken.end());
    std::size_t at = 0;
    for (const auto& span : taken) {
      if (at + aligned(b.bytes) <= span.first) break;
      at = std::max(at, span.second);
    }
    offsets[idx] = at;
    placed[idx] = true;
    arena = std::max(arena, at + aligned(b.bytes));
  }
  return arena;
}
