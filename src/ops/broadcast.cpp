#include "ops/broadcast.hpp"

#include "sofiec/ir.hpp"

namespace sofiec {

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (std::size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  std::vector<int64_t> s(out.size(), 0);
  const std::vector<int64_t> own = contiguous_strides(in);
  const std::size_t lead = out.size() - in.size();
  for (std::size_t i = 0; i < in.size(); ++i) s[lead + i] = in[i] == 1 ? 0 : own[i];
  return s;
}

BinaryLayout plan_binary(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                         const std::vector<int64_t>& out) {
  BinaryLayout l;
  l.count = element_count(out);
  const int64_t na = element_count(a), nb = element_count(b);
  if (na == l.count && nb == l.count) return l;
  if (na == 1 && nb == l.count) { l.kind = BinaryLayout::Kind::ScalarA; return l; }
  if (nb == 1 && na == l.count) { l.kind = BinaryLayout::Kind::ScalarB; return l; }
  l.kind = BinaryLayout::Kind::Strided;
  const std::vector<int64_t> sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  // Merge dimension d into the previous one when both operands step through them as one
  // contiguous run (or both repeat them), so the kernel's inner loop is as long as possible.
  for (std::size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    if (!l.dims.empty()) {
      const std::size_t p = l.dims.size() - 1;
      const bool a_ok = l.a_strides[p] == sa[d] * out[d];
      const bool b_ok = l.b_strides[p] == sb[d] * out[d];
      if (a_ok && b_ok) {
        l.dims[p] *= out[d];
        l.a_strides[p] = sa[d];
        l.b_strides[p] = sb[d];
        continue;
      }
    }
    l.dims.push_back(out[d]);
    l.a_strides.push_back(sa[d]);
    l.b_strides.push_back(sb[d]);
  }
  if (l.dims.empty()) {
    l.dims = {1};
    l.a_strides = {0};
    l.b_strides = {0};
  }
  return l;
}

}  // namespace sofiec
