// DeadNodeElimination: nodes whose outputs nobody reads.
#include <set>

#include "passes/passes.hpp"

namespace sofiec {
namespace {

class DeadNodeElimination : public Pass {
 public:
  const char* name() const override { return "DeadNodeElimination"; }
  int run(Graph& g, Analysis&) override {
    std::set<std::string> used(g.outputs.begin(), g.outputs.end());
    std::vector<bool> live(g.nodes.size(), false);
    for (std::size_t i = g.nodes.size(); i-- > 0;) {
      const Node& n = g.nodes[i];
      for (const auto& o : n.outputs) live[i] = live[i] || (!o.empty() && used.count(o));
      if (live[i])
        for (const auto& in : n.inputs) used.insert(in);
    }
    std::vector<Node> kept;
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      if (live[i]) kept.push_back(std::move(g.nodes[i]));
    const int removed = int(g.nodes.size() - kept.size());
    g.nodes = std::move(kept);
    return removed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_dead_node_elimination() { return std::make_unique<DeadNodeElimination>(); }

}  // namespace sofiec
