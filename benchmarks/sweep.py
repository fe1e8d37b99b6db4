#!/usr/bin/python3
"""Latency per event against the size of a run-time dim, for models exported with dynamic axes:
the SOFIE MLP over batch N = 1..1024 and the GN2-like tagger over ntracks = 5..100.

At each size it times, in this process run: sofiec's Session with the dim chosen at run time
(one header, one Session built for the largest size), sofiec's header with the dim fixed by
--dim (the static code), and ONNX Runtime on the same dynamic model (1 intra-op thread, its
call overhead on a 1-element Identity model subtracted). Every sofiec output is checked
against torch first. Writes benchmarks/results/sweep.md and sweep.json.
Usage: sweep.py SOFIEC WORK_DIR RESULTS_DIR   (run by benchmarks/run_sweep.sh)
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "models"))
from generate_models import mlp  # noqa: E402
from models import Gn2Tagger, export_identity  # noqa: E402

# name -> (constructor, input shape with the dim's name, its axis, sizes, events per input)
SWEEPS = {
    "mlp": (mlp, ("N", 100), 0, [1, 4, 16, 64, 256, 1024], lambda n: n),
    "gn2": (Gn2Tagger, (1, "ntracks", 21), 1, [5, 10, 20, 40, 70, 100], lambda n: 1),
}

BENCH_CPP = r"""
#include <benchmark/benchmark.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>
#include "dynamic.hxx"
{includes}
static std::vector<float> read(const char* path) {{
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(std::size_t(in.tellg()) / 4);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
  if (!in) {{ std::fprintf(stderr, "cannot read %s\n", path); std::exit(2); }}
  return v;
}}
static void check(const std::vector<float>& y, const std::vector<float>& ref, const char* what) {{
  if (y.size() != ref.size()) {{ std::fprintf(stderr, "%s: %zu outputs, torch %zu\n", what, y.size(), ref.size()); std::exit(3); }}
  for (std::size_t i = 0; i < y.size(); ++i)
    if (std::fabs(y[i] - ref[i]) > 1e-4f * std::max(1.0f, std::fabs(ref[i]))) {{
      std::fprintf(stderr, "%s: element %zu is %g, torch %g\n", what, i, double(y[i]), double(ref[i]));
      std::exit(3);
    }}
}}
static dynamic::Session& shared_session() {{
  static dynamic::Session s({max_size});
  return s;
}}
template <class Fixed>
static void fixed(benchmark::State& state, const char* input, const char* output) {{
  const std::vector<float> x = read(input), ref = read(output);
  static Fixed f;
  std::vector<float> y(ref.size());
  f.infer(x.data(), y.data());
  check(y, ref, "fixed");
  for (auto _ : state) {{
    f.infer(x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }}
}}
static void dynamic_run(benchmark::State& state, std::size_t size, const char* input, const char* output) {{
  const std::vector<float> x = read(input), ref = read(output);
  dynamic::Session& s = shared_session();
  std::vector<float> y(ref.size());
  s.infer(size, x.data(), y.data());
  check(y, ref, "dynamic");
  for (auto _ : state) {{
    s.infer(size, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }}
}}
int main(int argc, char** argv) {{
{registrations}
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
}}
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def sweep(name, sofiec, work, ort_overhead):
    make, shape, axis, sizes, events = SWEEPS[name]
    symbol = shape[axis]
    d = work / name
    d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = make().eval()
    concrete = lambda n: [n if isinstance(s, str) else s for s in shape]  # noqa: E731
    with torch.no_grad():
        torch.onnx.export(model, torch.randn(*concrete(sizes[2])), str(d / "model.onnx"), input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {axis: symbol}}, opset_version=17)
        for n in sizes:
            x = torch.randn(*concrete(n))
            x.numpy().astype("<f4").tofile(d / f"in{n}.bin")
            model(x).numpy().astype("<f4").tofile(d / f"out{n}.bin")
            # ONNX Runtime's inputs: the same files, under its harness's names.
            (d / f"ort{n}.input.bin").write_bytes((d / f"in{n}.bin").read_bytes())
            (d / f"ort{n}.json").write_text(json.dumps({"inputs": [{"name": "input", "shape": concrete(n)}]}))
            if not (d / f"ort{n}.onnx").exists():
                os.symlink("model.onnx", d / f"ort{n}.onnx")
    run([sofiec, str(d / "model.onnx"), "--namespace", "dynamic", "-o", str(d / "dynamic.hxx")])
    includes, registrations = [], []
    for n in sizes:
        run([sofiec, str(d / "model.onnx"), "--dim", f"{symbol}={n}", "--namespace", f"fixed{n}", "-o", str(d / f"fixed{n}.hxx")])
        includes.append(f'#include "fixed{n}.hxx"')
        registrations.append(f'  benchmark::RegisterBenchmark("dynamic/{n}", dynamic_run, {n}, "{d}/in{n}.bin", "{d}/out{n}.bin");')
        registrations.append(f'  benchmark::RegisterBenchmark("fixed/{n}", fixed<fixed{n}::Session>, "{d}/in{n}.bin", "{d}/out{n}.bin");')
    (d / "sweep.cpp").write_text(BENCH_CPP.format(includes="\n".join(includes), registrations="\n".join(registrations),
                                                  max_size=max(sizes)))
    run(["g++", "-std=c++17", "-O3", "-march=native", "-I", str(d), str(d / "sweep.cpp"), "-o", str(d / "sweep"),
         "-lbenchmark", "-lopenblas", "-lpthread"])
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    timings = json.loads(run([str(d / "sweep"), "--benchmark_format=json", "--benchmark_min_time=0.5"], env=env))
    ours = {b["name"]: b["real_time"] / 1e3 if b["time_unit"] == "ns" else b["real_time"] for b in timings["benchmarks"]}
    rows = []
    for n in sizes:
        ort = json.loads(run(["node", str(Path(__file__).parent / "ort_bench.js"), str(d / f"ort{n}"), "1", "latency"], env=env))
        ort_net = max(ort["p50_us"] - ort_overhead, 1e-3)
        rows.append({"size": n, "events": events(n), "dynamic_us": ours[f"dynamic/{n}"], "fixed_us": ours[f"fixed/{n}"],
                     "ort_us": ort["p50_us"], "ort_net_us": ort_net})
    return {"symbol": symbol, "rows": rows}


def markdown(results):
    out = ["# Latency against the size of a run-time dim (one core)", "",
           "sofiec dynamic: one Session built for the largest size, the size passed to infer(); "
           "sofiec --dim: a header per size with the dim fixed; ONNX Runtime 1.30 (onnxruntime-node, "
           "1 intra-op thread) on the same dynamic model, net of its call overhead on a 1-element "
           "Identity model. Medians; per event = per row of the batch for the MLP, per jet for GN2.", ""]
    for name, r in results.items():
        out += [f"## {name} (run-time dim {r['symbol']})", "",
                f"| {r['symbol']} | sofiec dynamic µs | per event | sofiec --dim µs | dynamic / --dim | ORT net µs | per event | dynamic / ORT |",
                "|---|---|---|---|---|---|---|---|"]
        for row in r["rows"]:
            e = row["events"]
            out.append(f"| {row['size']} | {row['dynamic_us']:.2f} | {row['dynamic_us'] / e:.3f} | {row['fixed_us']:.2f} | "
                       f"{row['dynamic_us'] / row['fixed_us']:.2f} | {row['ort_net_us']:.2f} | {row['ort_net_us'] / e:.3f} | "
                       f"{row['dynamic_us'] / row['ort_net_us']:.2f} |")
        out.append("")
    return "\n".join(out)


def main():
    sofiec, work, results_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    export_identity(work)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    overhead = json.loads(run(["node", str(Path(__file__).parent / "ort_bench.js"), str(work / "identity"), "1", "latency"],
                              env=env))["p50_us"]
    results = {name: sweep(name, sofiec, work, overhead) for name in (sys.argv[4:] or SWEEPS)}
    (results_dir / "sweep.json").write_text(json.dumps({"ort_overhead_us": overhead, "sweeps": results}, indent=1))
    (results_dir / "sweep.md").write_text(markdown(results) + f"\nORT call overhead subtracted: {overhead:.2f} µs.\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
