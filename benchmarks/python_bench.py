#!/usr/bin/python3
"""Benchmarks sofiec's Python extension modules (sofiec MODEL --python).

(a) Per-call overhead of the Python layer: s.infer(x) from Python against the same header's
    Session::infer called from C++ (benchmarks/python_overhead.cpp, g++ with the module's flags), for
    one model input per call ("single": x of the model's input shape, e.g. [1,16]) and for 1024 model
    inputs per call ("loop": x of shape (1024, *input shape) for models with a leading dim above 1,
    (1024, 16) for a [1,16] model; looped in C++ by the module). Target: at most 1.5 us per call.
    Alternating rounds of C++ and Python on one CPU; medians of --repeats rounds, and minima beside them.
(b) models/example/dask_inference.py's throughput with 1 and 2 LocalCluster workers (1 thread each) on
    a make_jets.py file, the same chunk size for both, and the ratio. Target: at least 1.8x. For reference,
    the same chunks read, scored and written by one process without Dask, and the ceiling of the machine:
    two copies of the C++ driver at once against one (the Dask ratio cannot exceed it). Medians of
    --dask-repeats rounds.

Prints markdown tables; --json PATH also writes the numbers. Scratch files (modules, data, drivers) go
to benchmarks/results/tmp/python_bench (ignored by git; the 8M-jet file takes 0.5 GB).

    /usr/bin/python3 benchmarks/python_bench.py --json benchmarks/results/python_bench.json
"""
import argparse
import importlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "models" / "example"
CXXFLAGS = "-O3 -march=native"  # for the module and for the C++ driver alike
# The example, and two bigger static MLPs of the test build (100 -> 4, 20k weights; batch 1 and 64), where built.
MODELS = [EXAMPLE / "jet_tagger.onnx", ROOT / "build/tests/models/mlp_b1.onnx",
          ROOT / "build/tests/models/mlp_b64.onnx"]


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw).stdout


def build_module(sofiec, model, out_dir):
    """sofiec --python; returns the module's name (printed on stdout)."""
    out = run([sofiec, model, "--python", "-o", out_dir, "--python-exe", sys.executable, "--cxxflags", CXXFLAGS])
    return Path(out.split()[0]).name.split(".")[0]  # it prints DIR/<name>.cpython-...so (import ...)


def header_and_namespace(sofiec, model, out_dir, module):
    """The header beside the module and its namespace; generates one with the same options if it is not there."""
    header = out_dir / f"{module}.hxx"
    if header.exists():
        text = header.read_text()
        session = re.search(r"^(struct|class) Session\b", text, re.M)
        names = [m.group(1) for m in re.finditer(r"^namespace (\w+) \{", text[:session.start()], re.M)
                 if m.group(1) not in ("detail", "sofiec")] if session else []
        if names:
            return header, names[-1]
    header = out_dir / f"{model.stem}_bench.hxx"
    run([sofiec, model, "-o", header, "--namespace", "bench_model"])
    return header, "bench_model"


def build_driver(sofiec, model, out_dir, module):
    """benchmarks/python_overhead.cpp over the module's header, with the module's flags."""
    header, namespace = header_and_namespace(sofiec, model, out_dir, module)
    driver = out_dir / f"{module}_overhead"
    run(["g++", *CXXFLAGS.split(), "-std=c++17", f'-DMODEL_HEADER="{header}"', f"-DMODEL_NS={namespace}",
         ROOT / "benchmarks" / "python_overhead.cpp", "-o", driver])
    return driver


def parallel_ceiling(driver, repeats):
    """What two processes can gain over one on this machine at all: the C++ driver's loop (no Python, no
    Dask, no I/O) alone, then two copies at once. Below 2 where cores share a physical core (SMT, a VM's
    vCPUs) or are taken by other work; the Dask ratio cannot exceed it."""
    solo, pair = [], []
    for _ in range(repeats):
        solo.append(json.loads(run([driver, 1024, 3]))["loop_s"])
        procs = [subprocess.Popen([str(driver), "1024", "3"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        pair += [json.loads(p.communicate()[0])["loop_s"] for p in procs]
    return 2 * statistics.median(solo) / statistics.median(pair)


def median_per_call(session, x, repeats):
    """Median over repeats of the seconds per `s.infer(x)`, as written in user code (timeit: gc off, each
    repeat about 0.1 s)."""
    timer = timeit.Timer("s.infer(x)", globals={"s": session, "x": x})
    n, t = timer.autorange()
    n = max(1, int(n * 0.1 / t))
    return statistics.median(timer.timeit(n) / n for _ in range(repeats))


def overhead(sofiec, model, out_dir, rounds, events=1024):
    """Python and C++ timings of one model, in alternating rounds (3 repeats each, median) so that both see
    the same load on a shared machine; the median over rounds of each."""
    module = build_module(sofiec, model, out_dir)
    driver = build_driver(sofiec, model, out_dir, module)

    s = importlib.import_module(module).Session()
    shape = tuple(s.input_shapes[0])
    lead = shape[0] if shape else 1  # events per model input: a [1,16] model scores 1, a [64,100] one 64
    rng = np.random.default_rng(1)
    calls = {"single": (1, rng.standard_normal(shape, dtype=np.float32)),
             f"loop {events}": (events, rng.standard_normal(((events,) + shape[1:]) if lead == 1 else (events,) + shape,
                                                             dtype=np.float32))}
    notes, py, cpp = {}, {c: [] for c in calls}, {c: [] for c in calls}
    for call, (_, x) in calls.items():
        try:
            notes[call] = f"out {tuple(np.shape(s.infer(x)))}"
        except Exception as e:  # noqa: BLE001 -- a shape the module does not take: reported, not fatal
            notes[call] = f"{type(e).__name__}: {e}"
    for _ in range(rounds):
        c = json.loads(run([driver, events, 3]))
        cpp["single"].append(c["single_s"])
        cpp[f"loop {events}"].append(c["loop_s"])
        for call, (_, x) in calls.items():
            if notes[call].startswith("out"):
                py[call].append(median_per_call(s, x, 3))
    rows = []
    for call, (n_inputs, x) in calls.items():
        cpp_s = statistics.median(cpp[call])
        py_s = statistics.median(py[call]) if py[call] else None
        ev = n_inputs * lead
        rows.append({"model": model.stem, "module": module, "call": call, "input": list(x.shape), "events": ev,
                     "cpp_us": cpp_s * 1e6, "py_us": py_s * 1e6 if py_s else None,
                     "overhead_us": (py_s - cpp_s) * 1e6 if py_s else None,
                     "cpp_events_per_s": ev / cpp_s, "py_events_per_s": ev / py_s if py_s else None,
                     "cpp_us_min": min(cpp[call]) * 1e6, "py_us_min": min(py[call]) * 1e6 if py_s else None,
                     "overhead_us_min": (min(py[call]) - min(cpp[call])) * 1e6 if py_s else None,
                     "cpp_us_all": [v * 1e6 for v in cpp[call]], "py_us_all": [v * 1e6 for v in py[call]],
                     "note": notes[call]})
    return rows


def dask_run(module_dir, data, chunk, workers):
    lines = run([sys.executable, EXAMPLE / "dask_inference.py", data, "--out", data.with_name("scores.h5"),
                 "--module-dir", module_dir, "--workers", workers, "--chunk", chunk, "--json", "--quiet"]).splitlines()
    return json.loads(next(l for l in reversed(lines) if l.startswith("{")))


def serial(session, data, chunk):
    """The chunks of dask_inference.py, read, scored and written in order by this process: no Dask."""
    import h5py
    with h5py.File(data, "r") as src, h5py.File(data.with_name("scores_serial.h5"), "w") as dst:
        x = src["/jets/features"]
        n = x.shape[0]
        y = dst.create_dataset("/jets/probabilities", (n, 3), dtype="f4", chunks=(min(chunk, n), 3))
        start = time.perf_counter()
        for lo in range(0, n, chunk):
            y[lo:lo + chunk] = session.infer(x[lo:lo + chunk])
        return n / (time.perf_counter() - start)


def dask_scaling(module_dir, data, chunk, repeats, worker_counts=(1, 2)):
    """Rounds of: one process without Dask, then Dask with each worker count (alternating, so that all see
    the same load); for each, the run of median events/s."""
    sys.path.insert(0, str(module_dir))
    session = importlib.import_module("jet_tagger").Session()
    serial_rates, runs = [], {w: [] for w in worker_counts}
    for _ in range(repeats):
        serial_rates.append(serial(session, data, chunk))
        for w in worker_counts:
            runs[w].append(dask_run(module_dir, data, chunk, w))
    out = {}
    for w, rs in runs.items():
        out[w] = dict(sorted(rs, key=lambda r: r["events_per_s"])[len(rs) // 2], runs=[r["events_per_s"] for r in rs])
    return statistics.median(serial_rates), out


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sofiec", default=ROOT / "build" / "sofiec", type=Path)
    ap.add_argument("--repeats", type=int, default=7, help="per-call timings: rounds of C++ then Python (median)")
    ap.add_argument("--dask-repeats", type=int, default=5, help="Dask runs per worker count (median)")
    # Each Dask task costs ~3-5 ms of CPU in the client's process (scheduler, transfers; measured on a 2-core VM),
    # which shares the cores with the workers: tasks of 262144 jets (~65 ms) and enough of them to amortize the
    # start (~0.2 s) keep that small. 2M jets in 16 tasks of 131072 give about 1.5x there.
    ap.add_argument("--jets", type=int, default=8_000_000, help="jets in the Dask benchmark's file (default 8M)")
    ap.add_argument("--chunk", type=int, default=262144, help="jets per Dask task (default 262144: 31 tasks for 8M)")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()

    work = ROOT / "benchmarks" / "results" / "tmp" / "python_bench"
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(work))
    cpu = next((l.split(":", 1)[1].strip() for l in run(["lscpu"]).splitlines() if l.startswith("Model name")), "?")
    result = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "cxxflags": CXXFLAGS,
              "load_before": os.getloadavg()[0], "overhead": [], "dask": None}

    # The per-call timings run on one CPU, the C++ driver too (it inherits the affinity): on a VM, vCPUs can run
    # at different speeds for minutes (what shares their host cores), and both sides must see the same one.
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    for model in [] if args.skip_overhead else MODELS:
        if model.exists():
            result["overhead"] += overhead(args.sofiec, model, work, args.repeats)
    os.sched_setaffinity(0, cpus)
    print(f"CPU: {cpu} ({os.cpu_count()} cores, load average {result['load_before']:.2f} before), Python "
          f"{result['python']}, {CXXFLAGS}; medians of {args.repeats}\n")
    if result["overhead"]:
        # Minima beside medians: on a shared machine (a VM, other work) noise only adds time, often in two modes.
        print("| model | call | events/call | C++ us/call | Python us/call | overhead us/call | overhead, minima | "
              "C++ events/s | Python events/s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in result["overhead"]:
        print(f"| {r['model']} | {r['call']} | {r['events']} | {r['cpp_us']:.3f} | {fmt(r['py_us'], '.3f')} | "
              f"{fmt(r['overhead_us'], '.3f')} | {fmt(r['overhead_us_min'], '.3f')} | {r['cpp_events_per_s']:,.0f} | "
              f"{fmt(r['py_events_per_s'], ',.0f')} |")
    for r in result["overhead"]:
        if r["py_us"] is None:
            print(f"\n{r['model']} {r['call']}: {r['note']}")

    if not args.skip_dask:
        built = [r["module"] for r in result["overhead"] if r["model"] == MODELS[0].stem]
        module = built[0] if built else build_module(args.sofiec, MODELS[0], work)
        ceiling = parallel_ceiling(build_driver(args.sofiec, MODELS[0], work, module), args.dask_repeats)
        data = work / "jets.h5"
        run([sys.executable, EXAMPLE / "make_jets.py", "--jets", args.jets, "--out", data])
        base, scaling = dask_scaling(work, data, args.chunk, args.dask_repeats)
        ratio = scaling[2]["events_per_s"] / scaling[1]["events_per_s"]
        # Each round's 1- and 2-worker runs follow each other: their ratio sees the same load.
        round_ratios = [b / a for a, b in zip(scaling[1]["runs"], scaling[2]["runs"])]
        result["dask"] = {"jets": args.jets, "chunk": args.chunk, "tasks": scaling[1]["tasks"],
                          "serial_events_per_s": base, "workers": {str(k): v for k, v in scaling.items()},
                          "ratio_2_over_1": ratio, "ratio_per_round": round_ratios, "cpp_two_process_speedup": ceiling}
        print(f"\nDask ({args.jets} jets, {scaling[1]['tasks']} tasks of {args.chunk}, "
              f"medians of {args.dask_repeats}):\n")
        print("| run | events/s | ms per task on the worker | workers busy |\n|---|---:|---:|---:|")
        print(f"| one process, no Dask | {base:,.0f} | | |")
        for k, v in scaling.items():
            print(f"| Dask, {k} worker{'s' if k > 1 else ''} | {v['events_per_s']:,.0f} | "
                  f"{v['task_seconds'] / v['tasks'] * 1e3:.1f} | {v['task_seconds'] / (v['seconds'] * k):.0%} |")
        print(f"| ratio 2 / 1 workers | {ratio:.2f}x (per round: {', '.join(f'{r:.2f}' for r in round_ratios)}) | | |")
        print(f"| for comparison: 2 C++ processes / 1 (the ceiling on this machine) | {ceiling:.2f}x | | |")

    result["load_after"] = os.getloadavg()[0]
    print(f"\nload average (1 min) after: {result['load_after']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
