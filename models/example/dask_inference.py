#!/usr/bin/python3
"""Scores an HDF5 file of jets with the compiled example tagger on a dask.distributed cluster.

    /usr/bin/python3 models/example/make_jets.py --out jets.h5
    /usr/bin/python3 models/example/dask_inference.py jets.h5 --out scores.h5 --workers 2

The model is compiled by sofiec into a Python extension module in models/generated/python (about 10 s),
unless --module-dir names an existing build. The jets are read as a Dask array in row chunks; each chunk
is scored by the compiled model on a worker (one Session per worker thread) and written to
/jets/probabilities of the output file, in order, by this process as soon as it arrives. With
--scheduler tcp://host:port it uses an existing cluster instead of a LocalCluster: the input file and the
module directory must then be readable by the workers at the same paths (a shared file system).
"""
import argparse
import importlib
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask.array as da
import h5py
import numpy as np
from distributed import Client, LocalCluster, WorkerPlugin, as_completed, futures_of, get_task_stream, get_worker
from tqdm import tqdm

HERE = Path(__file__).resolve().parent
H5_CHUNK_ROWS = 16384  # make_jets.py's HDF5 chunk: Dask chunks of whole multiples of it read no chunk twice


class H5Rows:
    """A dataset of an HDF5 file that Dask can slice. It holds only the path and the dataset's name, and
    opens the file on every read: an open h5py object cannot be pickled to another process, a path can."""

    def __init__(self, path, name):
        self.path, self.name = str(path), name
        with h5py.File(self.path, "r") as h5:
            self.shape, self.dtype = h5[name].shape, h5[name].dtype
        self.ndim = len(self.shape)

    def __getitem__(self, index):
        with h5py.File(self.path, "r") as h5:
            return h5[self.name][index]


class Sessions(WorkerPlugin):
    """Lives on each worker process (registered once, also on workers that join later): puts the
    module's directory on sys.path, imports the module once, and keeps one Session per worker thread.
    A Session is built once and reused: building it allocates its arena; infer() then allocates nothing."""

    name = "sofiec-sessions"

    def __init__(self, module_dir, module_name):
        self.module_dir, self.module_name = str(module_dir), module_name

    def setup(self, worker):
        if self.module_dir not in sys.path:
            sys.path.insert(0, self.module_dir)
        self.module = importlib.import_module(self.module_name)
        self.local = threading.local()  # a Session serializes concurrent calls: one per thread runs them in parallel

    def session(self):
        if not hasattr(self.local, "session"):
            self.local.session = self.module.Session()
        return self.local.session


def score(block):
    """Runs on a worker: (n, 16) features -> (n, 3) probabilities. The compiled module loops over the n
    jets in C++ with the GIL released."""
    return get_worker().plugins[Sessions.name].session().infer(block)


def build_module(model, out_dir, sofiec):
    """Compiles model.onnx into an importable module in out_dir; returns the module's name."""
    cmd = [str(sofiec), str(model), "--python", "-o", str(out_dir), "--python-exe", sys.executable,
           "--cxxflags", "-O3 -march=native"]  # remote workers on other CPUs: -march=x86-64-v3
    # It prints the built file, DIR/<name>.cpython-...so (or the bare name): the name is the part before the first dot.
    return Path(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()[0]).name.split(".")[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="HDF5 file from make_jets.py")
    ap.add_argument("--out", default="scores.h5", help="HDF5 file to write (default scores.h5)")
    ap.add_argument("--dataset", default="/jets/features")
    ap.add_argument("--model", default=HERE / "jet_tagger.onnx", type=Path)
    ap.add_argument("--module-dir", type=Path, help="an existing sofiec --python build (default: compile the model)")
    ap.add_argument("--sofiec", default=HERE.parents[1] / "build" / "sofiec", help="default: build/sofiec")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes, 1 thread each (default 2)")
    ap.add_argument("--scheduler", help="address of a running scheduler, tcp://host:port, instead of a LocalCluster")
    ap.add_argument("--chunk", type=int, help="jets per task (default: 8 tasks per worker thread, >= 131072 jets)")
    ap.add_argument("--json", action="store_true", help="print the numbers as one JSON line at the end")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args()

    if args.module_dir:
        module_dir, module_name = args.module_dir.resolve(), args.model.stem  # <stem>.py re-exports the build
    else:
        module_dir = HERE.parent / "generated" / "python"  # models/generated/: ignored by git
        module_name = build_module(args.model, module_dir, args.sofiec)
    sys.path.insert(0, str(module_dir))
    n_out = importlib.import_module(module_name).output_shapes[0][-1]  # the module carries the model's shapes

    cluster = None if args.scheduler else LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                                       processes=True, dashboard_address=None)
    client = Client(args.scheduler or cluster)
    client.register_worker_plugin(Sessions(module_dir, module_name))
    threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())

    rows = H5Rows(Path(args.input).resolve(), args.dataset)
    n = rows.shape[0]
    # Several tasks per worker balance the load and overlap writing with computing. But each task costs Dask
    # a few ms of CPU in this process (the scheduler, the transfers): tasks of at least ~10^5 jets keep it small.
    chunk = args.chunk or H5_CHUNK_ROWS * max(8, math.ceil(n / (8 * threads * H5_CHUNK_ROWS)))
    # inline_array: each read task carries the H5Rows itself (a path), rather than depending on a task holding it.
    features = da.from_array(rows, chunks=(chunk, -1), inline_array=True, meta=np.empty((0, 0), rows.dtype))
    scores = features.map_blocks(score, dtype=np.float32, chunks=(features.chunks[0], (n_out,)))
    first_row = np.cumsum((0,) + features.chunks[0])  # of chunk i, whose key is (name, i, 0)

    with h5py.File(args.out, "w") as out:
        probs = out.create_dataset("/jets/probabilities", (n, n_out), dtype="f4", chunks=(min(chunk, n), n_out))
        start = time.perf_counter()
        with tqdm(total=n, unit="jets", unit_scale=True, disable=args.quiet, smoothing=0) as bar, \
                get_task_stream(client) as stream:  # the workers' time in tasks, to tell idle from busy workers
            # Chunks finish in any order; each is written at its place and then dropped (as_completed holds
            # the only reference to its future), so neither this process nor the workers keep all scores.
            for future in as_completed(futures_of(client.persist(scores))):
                lo = first_row[future.key[1]]
                y = future.result()
                probs[lo:lo + len(y)] = y
                bar.update(len(y))
            seconds = time.perf_counter() - start
    tasks = scores.numblocks[0]
    busy = sum(s["stop"] - s["start"] for t in stream.data for s in t["startstops"] if s["action"] == "compute")
    client.close()
    if cluster:
        cluster.close()

    print(f"{n} jets in {seconds:.3f} s: {n / seconds:,.0f} jets/s ({tasks} tasks of {chunk}, {threads} thread(s), "
          f"{busy / tasks * 1e3:.1f} ms per task, workers busy {busy / (seconds * threads):.0%} of the time)")
    if args.json:
        print(json.dumps({"jets": n, "threads": threads, "chunk": chunk, "tasks": tasks, "seconds": seconds,
                          "events_per_s": n / seconds, "task_seconds": busy, "module": module_name}))


if __name__ == "__main__":
    main()
