// sofiec --report: what compilation did to the graph and what the generated code costs.
#include <fmt/format.h>

#include <algorithm>

#include "sofiec/compiler.hpp"

namespace sofiec {
namespace {

std::string bytes_text(int64_t b) {
  if (b >= int64_t(1) << 20) return fmt::format("{:.2f} MiB", double(b) / double(1 << 20));
  if (b >= int64_t(1) << 10) return fmt::format("{:.1f} KiB", double(b) / 1024.0);
  return fmt::format("{} B", b);
}

std::string flops_text(int64_t f) {
  if (f >= 1000000000) return fmt::format("{:.3f} GFLOP", double(f) / 1e9);
  if (f >= 1000000) return fmt::format("{:.3f} MFLOP", double(f) / 1e6);
  if (f >= 1000) return fmt::format("{:.1f} kFLOP", double(f) / 1e3);
  return fmt::format("{} FLOP", f);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += char(c);
    else if (c < 0x20) out += fmt::format("\\u{:04x}", c);
    else out += char(c);
  }
  return out + "\"";
}

// FLOPs per operator type, largest first.
std::vector<std::pair<std::string, int64_t>> flops_by_op(const CompileStats& s) {
  std::map<std::string, int64_t> by_op;
  for (const NodeSummary& n : s.nodes) by_op[n.op_type] += n.flops;
  std::vector<std::pair<std::string, int64_t>> sorted(by_op.begin(), by_op.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return sorted;
}

std::string text_report(const CompileStats& s, const std::string& model) {
  std::string r = fmt::format("sofiec report for {}\n\n", model);
  r += fmt::format("nodes: {} before, {} after\n", s.nodes_before, s.nodes_after);
  std::map<std::string, std::pair<int, int>> counts;
  for (const auto& [op, n] : s.ops_before) counts[op].first = n;
  for (const auto& [op, n] : s.ops_after) counts[op].second = n;
  r += fmt::format("  {:<28} {:>7} {:>7}\n", "operator", "before", "after");
  for (const auto& [op, c] : counts) r += fmt::format("  {:<28} {:>7} {:>7}\n", op, c.first, c.second);
  r += "\npasses (nodes changed):\n";
  for (const auto& [pass, n] : s.pass_changes) r += fmt::format("  {:<28} {:>7}\n", pass, n);
  if (s.views)
    r += fmt::format("  {:<28} {:>7}\n", s.split_views ? "views (reshapes, splits)" : "views (reshapes, no copy)",
                     s.views);
  std::string fused;
  for (const NodeSummary& n : s.nodes)
    if (!n.fused.empty()) fused += fmt::format("  {} '{}' + {}\n", n.op_type, n.name, fmt::join(n.fused, " + "));
  if (!fused.empty()) r += "\nfused epilogues:\n" + fused;
  r += fmt::format("\ncompute: {} per run ({} FLOP)\n", flops_text(s.total_flops), s.total_flops);
  for (const auto& [op, f] : flops_by_op(s))
    if (f > 0)
      r += fmt::format("  {:<28} {:>14}  {:5.1f}%\n", op, flops_text(f),
                       s.total_flops ? 100.0 * double(f) / double(s.total_flops) : 0.0);
  r += fmt::format("\nmemory:\n  weights                      {:>14}\n", bytes_text(s.weights_bytes));
  r += fmt::format("  arena (intermediates)        {:>14}\n", bytes_text(s.arena_bytes));
  r += fmt::format(
      "  lower bound for this order   {:>14}  (arena is {:.1f}% above)\n", bytes_text(s.arena_lower_bound),
      s.arena_lower_bound ? 100.0 * double(s.arena_bytes - s.arena_lower_bound) / double(s.arena_lower_bound) : 0.0);
  r += fmt::format("  without reuse                {:>14}\n", bytes_text(s.arena_no_reuse));
  r += fmt::format("  execution order              {:>14}\n", s.reordered ? "memory-aware" : "the file's");
  if (!s.largest_tensors.empty()) {
    r += "\nlargest intermediate tensors:\n";
    for (const TensorSummary& t : s.largest_tensors)
      r += fmt::format("  {:>12}  {:<8} {:<20} {}\n", bytes_text(t.bytes), t.dtype, t.shape, t.name);
  }
  return r;
}

std::string json_report(const CompileStats& s, const std::string& model) {
  auto counts = [](const std::map<std::string, int>& m) {
    std::vector<std::string> items;
    for (const auto& [op, n] : m) items.push_back(fmt::format("{}: {}", json_string(op), n));
    return "{" + fmt::format("{}", fmt::join(items, ", ")) + "}";
  };
  std::vector<std::string> passes, nodes, ops, tensors;
  for (const auto& [pass, n] : s.pass_changes) passes.push_back(fmt::format("{}: {}", json_string(pass), n));
  for (const NodeSummary& n : s.nodes) {
    std::vector<std::string> fused;
    for (const auto& f : n.fused) fused.push_back(json_string(f));
    nodes.push_back(fmt::format("    {{\"name\": {}, \"op_type\": {}, \"fused\": [{}], \"flops\": {}}}",
                                json_string(n.name), json_string(n.op_type), fmt::join(fused, ", "), n.flops));
  }
  for (const auto& [op, f] : flops_by_op(s)) ops.push_back(fmt::format("{}: {}", json_string(op), f));
  for (const TensorSummary& t : s.largest_tensors)
    tensors.push_back(fmt::format("    {{\"name\": {}, \"dtype\": {}, \"shape\": {}, \"bytes\": {}}}",
                                  json_string(t.name), json_string(t.dtype), json_string(t.shape), t.bytes));
  std::string r = "{\n";
  r += fmt::format("  \"model\": {},\n", json_string(model));
  r += fmt::format("  \"nodes_before\": {},\n  \"nodes_after\": {},\n", s.nodes_before, s.nodes_after);
  r += fmt::format("  \"ops_before\": {},\n  \"ops_after\": {},\n", counts(s.ops_before), counts(s.ops_after));
  r += fmt::format("  \"passes\": {{{}}},\n  \"views\": {},\n", fmt::join(passes, ", "), s.views);
  r += fmt::format("  \"total_flops\": {},\n  \"flops_by_op\": {{{}}},\n", s.total_flops, fmt::join(ops, ", "));
  r += fmt::format("  \"weights_bytes\": {},\n  \"arena_bytes\": {},\n  \"arena_lower_bound_bytes\": {},\n",
                   s.weights_bytes, s.arena_bytes, s.arena_lower_bound);
  r += fmt::format("  \"arena_no_reuse_bytes\": {},\n  \"reordered\": {},\n  \"split_views\": {},\n", s.arena_no_reuse,
                   s.reordered, s.split_views);
  r += fmt::format("  \"largest_tensors\": [\n{}\n  ],\n", fmt::join(tensors, ",\n"));
  r += fmt::format("  \"nodes\": [\n{}\n  ]\n}}\n", fmt::join(nodes, ",\n"));
  return r;
}

}  // namespace

std::string format_report(const CompileStats& stats, const std::string& model_name, bool json) {
  return json ? json_report(stats, model_name) : text_report(stats, model_name);
}

}  // namespace sofiec
