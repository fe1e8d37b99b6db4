#!/usr/bin/python3
"""The memory side of the optimization levels, per benchmark model: nodes before and after,
the arena beside its lower bound and the no-reuse sum (from sofiec --report=json), and the
peak RSS of a process that makes one Session and runs one inference, minus that of the same
program on the 1-element Identity model, at -O 0 and -O extended.
Writes benchmarks/results/memory.md. Usage: memory_table.py SOFIEC MODELS_DIR WORK_DIR [MODEL ...]
(run by benchmarks/run_memory.sh, after benchmarks/models.py has exported the models)."""
import json
import subprocess
import sys
from pathlib import Path

DEFAULT = ["mlp_b1", "mlp_bn_b64", "resnet18_b1", "particlenet", "gn2", "unet"]

PROGRAM = r"""
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>
#include "model.hxx"
template <std::size_t... I>
void run(model::Session& s, std::vector<std::vector<float>>& in, std::vector<float>& out, std::index_sequence<I...>) {
  s.infer(in[I].data()..., out.data());
}
int main() {
  model::Session session;
  std::vector<std::vector<float>> in;
  for (std::size_t i = 0; i < model::Session::num_inputs; ++i)
    in.emplace_back(std::size_t(model::Session::input_shapes[i].size()), 0.5f);
  std::vector<float> out(std::size_t(model::Session::output_shapes[0].size()));
  run(session, in, out, std::make_index_sequence<model::Session::num_inputs>());
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) std::printf("%ld\n", std::stol(line.substr(6)));
}
"""


def peak_rss_kb(sofiec, model, level, work):
    d = work / f"{model.stem}_{level}"
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run([sofiec, str(model), "-O", level, "--namespace", "model", "-o", str(d / "model.hxx")], check=True)
    (d / "main.cpp").write_text(PROGRAM)
    subprocess.run(["g++", "-std=c++17", "-O2", "-march=native", "-I", str(d), str(d / "main.cpp"), "-o", str(d / "main"),
                    "-lopenblas"], check=True)
    out = subprocess.run([str(d / "main")], check=True, capture_output=True, text=True, env={"OPENBLAS_NUM_THREADS": "1"})
    return int(out.stdout.strip())


def report(sofiec, model, level):
    out = subprocess.run([sofiec, str(model), "-O", level, "--report=json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def size(b):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= scale:
            return f"{b / scale:.2f} {unit}"
    return f"{b} B"


def main():
    sofiec, models_dir, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    names = sys.argv[4:] or DEFAULT
    work.mkdir(parents=True, exist_ok=True)
    base = {lvl: peak_rss_kb(sofiec, models_dir / "identity.onnx", lvl, work) for lvl in ("0", "extended")}
    rows = ["| model | nodes before | nodes -O extended | arena -O 0 | arena -O extended | lower bound | no reuse (extended graph) "
            "| peak RSS -O 0 | peak RSS -O extended |", "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        model = models_dir / f"{name}.onnx"
        r0, rx = report(sofiec, model, "0"), report(sofiec, model, "extended")
        rss = {lvl: (peak_rss_kb(sofiec, model, lvl, work) - base[lvl]) * 1024 for lvl in ("0", "extended")}
        rows.append(f"| {name} | {rx['nodes_before']} | {rx['nodes_after']} | {size(r0['arena_bytes'])} | "
                    f"{size(rx['arena_bytes'])} | {size(rx['arena_lower_bound_bytes'])} | {size(rx['arena_no_reuse_bytes'])} | "
                    f"{size(rss['0'])} | {size(rss['extended'])} |")
        print(rows[-1], flush=True)
    text = ("# Memory per optimization level\n\nPeak RSS: a process holding one Session after one inference, minus the "
            "same program on a 1-element Identity model (weights included: they are part of the binary).\n\n"
            + "\n".join(rows) + "\n")
    Path("benchmarks/results/memory.md").write_text(text)


if __name__ == "__main__":
    main()
