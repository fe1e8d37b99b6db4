#!/usr/bin/python3
"""Time of each node of a generated model, for finding where a benchmark model spends its time.

    benchmarks/profile_nodes.py HEADER [CALLS] [--march=LEVEL]

HEADER is a header sofiec wrote (benchmarks/run.sh leaves one per model in
build-bench/benchmarks/sofiec_generated/<model>/). A copy of it gets a clock reading before each
"// node" block of infer(); a driver calls infer() CALLS times (default 200) on inputs of 0.5 and
prints each node's mean time, largest first. The clock readings cost about 20 ns a node, which
matters only for the smallest models. Float inputs and outputs only (every benchmark model's).
Built with g++ -O2 -march=native, as the benchmarks are, or for the --march given (x86-64-v3...).
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TIMERS = """#include <chrono>
#include <map>
#include <string>
// Per-node clock of benchmarks/profile_nodes.py (one thread).
struct NodeClock {
  std::map<std::string, double> seconds;
  std::string current;
  std::chrono::steady_clock::time_point start;
  void lap(const char* next) {
    const auto now = std::chrono::steady_clock::now();
    if (!current.empty()) seconds[current] += std::chrono::duration<double>(now - start).count();
    current = next;
    start = std::chrono::steady_clock::now();
  }
};
inline NodeClock node_clock;
"""

DRIVER = """#include "profiled.hxx"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>
using Session = NAMESPACE::Session;
template <std::size_t... I, std::size_t... O>
void call(Session& s, std::vector<std::vector<float>>& in, std::vector<std::vector<float>>& out,
          std::index_sequence<I...>, std::index_sequence<O...>) {
  s.infer(in[I].data()..., out[O].data()...);
}
int main(int argc, char** argv) {
  static Session s;
  std::vector<std::vector<float>> in, out;
  for (const auto& shape : Session::input_shapes) in.emplace_back(shape.size(), 0.5f);
  for (const auto& shape : Session::output_shapes) out.emplace_back(shape.size());
  auto run = [&] {
    call(s, in, out, std::make_index_sequence<Session::num_inputs>{}, std::make_index_sequence<Session::num_outputs>{});
    node_clock.lap("");
  };
  for (int i = 0; i < 3; ++i) run();
  node_clock.seconds.clear();
  const int calls = argc > 1 ? std::atoi(argv[1]) : 200;
  for (int i = 0; i < calls; ++i) run();
  std::vector<std::pair<double, std::string>> rows;
  double total = 0;
  for (const auto& [name, t] : node_clock.seconds) rows.emplace_back(t / calls * 1e6, name), total += t / calls * 1e6;
  std::sort(rows.rbegin(), rows.rend());
  std::printf("%10.1f us  100.0%%  all nodes\\n", total);
  for (const auto& [t, name] : rows) std::printf("%10.1f us  %5.1f%%  %s\\n", t, 100 * t / total, name.c_str());
}
"""


def instrument(text):
    start = text.index("  void infer(")
    end = text.index("\n  }\n", start)
    body = re.sub(r"\n(    // node '([^']*)' \(([^)]*)\))",
                  lambda m: '\n    node_clock.lap("%s (%s)");\n%s' % (m.group(2).replace('"', ''), m.group(3), m.group(1)),
                  text[start:end])
    return TIMERS + text[:start] + body + text[end:]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    march = next((a for a in sys.argv[1:] if a.startswith("--march=")), "--march=native")
    args = [a for a in sys.argv[1:] if not a.startswith("--march=")]
    header = Path(args[0])
    calls = args[1] if len(args) > 1 else "200"
    text = header.read_text()
    # The namespace still open where Session is declared.
    session = text.find("\nstruct Session {")
    namespaces = []
    for opening, closing in re.findall(r"^namespace (\w+) \{|^\}  // namespace (\w+)", text[:max(session, 0)], re.M):
        if opening:
            namespaces.append(opening)
        elif namespaces:
            namespaces.pop()
    if session < 0 or not namespaces or "  void infer(" not in text:
        sys.exit(f"{header}: not a header written by sofiec")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "profiled.hxx").write_text(instrument(text))
        Path(tmp, "main.cpp").write_text(DRIVER.replace("NAMESPACE", namespaces[-1]))
        if subprocess.run(["g++", "-std=c++17", "-O2", "-" + march[2:], "main.cpp", "-o", "profile"], cwd=tmp).returncode:
            sys.exit(f"{header}: the profiled copy does not compile (inputs or outputs not float?)")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        sys.exit(subprocess.run([str(Path(tmp, "profile")), calls], env=env).returncode)


if __name__ == "__main__":
    main()
