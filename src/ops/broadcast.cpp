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

BroadcastLayout plan_broadcast(const std::vector<std::vector<int64_t>>& operands, const std::vector<int64_t>& out) {
  BroadcastLayout l;
  l.count = element_count(out);
  l.strides.resize(operands.size());
  std::vector<std::vector<int64_t>> full;
  for (const auto& o : operands) full.push_back(broadcast_strides(o, out));
  for (std::size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    bool merge = !l.dims.empty();
    for (std::size_t k = 0; merge && k < operands.size(); ++k) merge = l.strides[k].back() == full[k][d] * out[d];
    if (merge) {
      l.dims.back() *= out[d];
      for (std::size_t k = 0; k < operands.size(); ++k) l.strides[k].back() = full[k][d];
      continue;
    }
    l.dims.push_back(out[d]);
    for (std::size_t k = 0; k < operands.size(); ++k) l.strides[k].push_back(full[k][d]);
  }
  if (l.dims.empty()) {
    l.dims = {1};
    for (auto& s : l.strides) s = {0};
  }
  return l;
}

std::vector<int64_t> BroadcastLayout::flat_strides() const {
  std::vector<int64_t> all;
  for (const auto& s : strides) all.insert(all.end(), s.begin(), s.end());
  return all;
}

BinaryLayout plan_binary(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                         const std::vector<int64_t>& out) {
  BinaryLayout l;
  l.count = element_count(out);
  const int64_t na = element_count(a), nb = element_count(b);
  if (na == l.count && nb == l.count) return l;
  if (na == 1 && nb == l.count) {
    l.kind = BinaryLayout::Kind::ScalarA;
    return l;
  }
  if (nb == 1 && na == l.count) {
    l.kind = BinaryLayout::Kind::ScalarB;
    return l;
  }
  l.kind = BinaryLayout::Kind::Strided;
  const BroadcastLayout g = plan_broadcast({a, b}, out);
  l.dims = g.dims;
  l.a_strides = g.strides[0];
  l.b_strides = g.strides[1];
  return l;
}

}  // namespace sofiec
