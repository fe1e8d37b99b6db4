// Operators whose output size the data decides: NonZero, Compress, Unique, NonMaxSuppression.
// Each writes a compact row-major result at the start of output buffers sized for the upper
// bound and returns the actual length of the data-dependent dim. Scratch comes from the
// caller (the arena); nothing is allocated.
#pragma once
#include "prelude.hpp"

// A strict weak order on numbers that stays one when NaNs are present (they sort last and
// equal each other), so that std::sort is always well defined.
template <class T> inline bool total_less(T a, T b) {
  if (a != a) return false;
  if (b != b) return true;
  return a < b;
}

// y is [rank, count]: y[d * count + j] is coordinate d of the j-th nonzero element of x.
template <class T> inline int64_t nonzero(const T* x, int64_t* y, int rank, const int64_t* dims, int64_t n) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += x[i] != T(0) ? 1 : 0;
  int64_t j = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] == T(0)) continue;
    int64_t rest = i;
    for (int d = rank - 1; d >= 0; --d) {
      y[d * count + j] = rest % dims[d];
      rest /= dims[d];
    }
    ++j;
  }
  return count;
}

// x viewed as [outer, length, inner]; keeps the positions i < min(length, condition_length)
// along the middle axis where condition[i] holds.
template <class T>
inline int64_t compress(const T* x, const bool* condition, int64_t condition_length, T* y, int64_t outer,
                        int64_t length, int64_t inner) {
  const int64_t m = condition_length < length ? condition_length : length;
  int64_t count = 0;
  for (int64_t i = 0; i < m; ++i) count += condition[i] ? 1 : 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < m; ++i) {
      if (!condition[i]) continue;
      const T* src = x + (o * length + i) * inner;
      for (int64_t k = 0; k < inner; ++k) *y++ = src[k];
    }
  return count;
}

// Unique slices of x viewed as [outer, length, inner] along the middle axis (the flattened
// tensor is outer = inner = 1). Outputs: y [outer, count, inner]; first_index[count] (the
// first occurrence of each); inverse[length] (the unique slice each slice equals);
// counts[count]. Sorted: unique slices in lexicographic order; otherwise in order of first
// occurrence. Scratch: 4 * length int64_t.
template <class T>
inline int64_t unique_slices(const T* x, int64_t outer, int64_t length, int64_t inner, bool sorted, T* y,
                             int64_t* first_index, int64_t* inverse, int64_t* counts, int64_t* scratch) {
  int64_t* order = scratch;                 // slices sorted by value, equal ones by position
  int64_t* group_first = scratch + length;  // per group (in value order): its first position
  int64_t* group_size = scratch + 2 * length;
  int64_t* output_rank = scratch + 3 * length;  // per group: its position in the output
  auto compare = [&](int64_t a, int64_t b) {    // -1, 0, 1
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < inner; ++k) {
        const T va = x[(o * length + a) * inner + k], vb = x[(o * length + b) * inner + k];
        if (total_less(va, vb)) return -1;
        if (total_less(vb, va)) return 1;
      }
    return 0;
  };
  for (int64_t i = 0; i < length; ++i) order[i] = i;
  std::sort(order, order + length, [&](int64_t a, int64_t b) {
    const int c = compare(a, b);
    return c != 0 ? c < 0 : a < b;
  });
  int64_t groups = 0;
  for (int64_t i = 0; i < length; ++i) {
    if (i == 0 || compare(order[i - 1], order[i]) != 0) {
      group_first[groups] = order[i];
      group_size[groups] = 0;
      ++groups;
    }
    ++group_size[groups - 1];
    inverse[order[i]] = groups - 1;  // group number for now; output position below
  }
  // Output order: the groups themselves (sorted) or by first occurrence. `order` is free now.
  for (int64_t g = 0; g < groups; ++g) order[g] = g;
  if (!sorted) std::sort(order, order + groups, [&](int64_t a, int64_t b) { return group_first[a] < group_first[b]; });
  for (int64_t r = 0; r < groups; ++r) output_rank[order[r]] = r;
  for (int64_t r = 0; r < groups; ++r) {
    const int64_t g = order[r];
    first_index[r] = group_first[g];
    counts[r] = group_size[g];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < inner; ++k)
        y[(o * groups + r) * inner + k] = x[(o * length + group_first[g]) * inner + k];
  }
  for (int64_t i = 0; i < length; ++i) inverse[i] = output_rank[inverse[i]];
  return groups;
}

// Whether box b (in `boxes`, 4 numbers each) overlaps box a by an intersection over union
// above `threshold`. Corner format: [y1, x1, y2, x2], either corner first; centre format:
// [x_centre, y_centre, width, height].
inline bool boxes_overlap(const float* a, const float* b, bool centre_format, float threshold) {
  float ay0, ay1, ax0, ax1, by0, by1, bx0, bx1;
  if (centre_format) {
    ax0 = a[0] - a[2] / 2, ax1 = a[0] + a[2] / 2, ay0 = a[1] - a[3] / 2, ay1 = a[1] + a[3] / 2;
    bx0 = b[0] - b[2] / 2, bx1 = b[0] + b[2] / 2, by0 = b[1] - b[3] / 2, by1 = b[1] + b[3] / 2;
  } else {
    ay0 = std::min(a[0], a[2]), ay1 = std::max(a[0], a[2]), ax0 = std::min(a[1], a[3]), ax1 = std::max(a[1], a[3]);
    by0 = std::min(b[0], b[2]), by1 = std::max(b[0], b[2]), bx0 = std::min(b[1], b[3]), bx1 = std::max(b[1], b[3]);
  }
  const float ix0 = std::max(ax0, bx0), ix1 = std::min(ax1, bx1), iy0 = std::max(ay0, by0), iy1 = std::min(ay1, by1);
  if (ix1 <= ix0 || iy1 <= iy0) return false;
  const float intersection = (ix1 - ix0) * (iy1 - iy0);
  const float area_a = (ax1 - ax0) * (ay1 - ay0), area_b = (bx1 - bx0) * (by1 - by0);
  const float union_area = area_a + area_b - intersection;
  if (intersection <= 0 || area_a <= 0 || area_b <= 0 || union_area <= 0) return false;
  return intersection / union_area > threshold;
}

// Greedy non-maximum suppression per batch and class. boxes [batches, n, 4], scores
// [batches, classes, n]; selected gets rows (batch, class, box). Candidates go by score,
// then by position; a box is dropped when it overlaps an already kept box of its class.
// Absent max_per_class keeps nothing (the operator's default of 0); absent thresholds mean
// 0 for the overlap and no score filter. Scratch: 2 * n int64_t.
inline int64_t non_max_suppression(const float* boxes, const float* scores, int64_t batches, int64_t classes, int64_t n,
                                   const int64_t* max_per_class, const float* iou_threshold,
                                   const float* score_threshold, bool centre_format, int64_t* selected,
                                   int64_t* scratch) {
  const int64_t limit = max_per_class ? std::max<int64_t>(max_per_class[0], 0) : 0;
  const float overlap = iou_threshold ? iou_threshold[0] : 0.0f;
  int64_t* candidates = scratch;
  int64_t* kept = scratch + n;
  int64_t count = 0;
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t c = 0; c < classes; ++c) {
      const float* s = scores + (b * classes + c) * n;
      const float* bx = boxes + b * n * 4;
      int64_t m = 0;
      for (int64_t i = 0; i < n; ++i)
        if (!score_threshold || s[i] > score_threshold[0]) candidates[m++] = i;
      std::sort(candidates, candidates + m, [&](int64_t i, int64_t j) {
        if (total_less(s[j], s[i])) return true;
        if (total_less(s[i], s[j])) return false;
        return i < j;
      });
      int64_t nkept = 0;
      for (int64_t k = 0; k < m && nkept < limit; ++k) {
        const int64_t i = candidates[k];
        bool keep = true;
        for (int64_t q = 0; q < nkept && keep; ++q)
          keep = !boxes_overlap(bx + i * 4, bx + kept[q] * 4, centre_format, overlap);
        if (!keep) continue;
        kept[nkept++] = i;
        selected[count * 3] = b;
        selected[count * 3 + 1] = c;
        selected[count * 3 + 2] = i;
        ++count;
      }
    }
  return count;
}
