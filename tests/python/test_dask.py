"""The compiled model on a dask.distributed cluster: a LocalCluster on loopback with two worker
processes runs it over 64 chunks; every chunk's scores are the single-process ones, bit for bit,
and both workers took part."""
import os

import numpy as np
import pytest

from conftest import load

distributed = pytest.importorskip("distributed")


def score_chunk(session, chunk):
    """Runs on a worker: the Session arrives pickled (module name and maxima) and is rebuilt there."""
    return os.getpid(), session.infer(chunk)


def test_local_cluster_two_workers_same_bits():
    mod = load("jet_tagger_cli")
    session = mod.Session()
    rng = np.random.default_rng(5)
    chunks = [rng.standard_normal((2000, 16), dtype=np.float32) for _ in range(64)]
    expected = [session.infer(c) for c in chunks]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        futures = client.map(score_chunk, [session] * len(chunks), chunks, pure=False)
        results = client.gather(futures)
    pids = {pid for pid, _ in results}
    assert len(pids) == 2 and os.getpid() not in pids
    for (_, got), want in zip(results, expected):
        assert got.tobytes() == want.tobytes()


def test_example_scores_an_event_file(tmp_path):
    """models/example/make_jets.py and dask_inference.py end to end, on 2 workers: every score is
    the single-process one."""
    import subprocess
    import sys

    import h5py

    from conftest import SOURCE, module_file

    example = SOURCE / "models" / "example"
    jets, scores = tmp_path / "jets.h5", tmp_path / "scores.h5"
    subprocess.run([sys.executable, example / "make_jets.py", "--jets", "100000", "--out", jets], check=True)
    out = subprocess.run([sys.executable, example / "dask_inference.py", jets, "--out", scores, "--workers", "2",
                          "--module-dir", module_file("jet_tagger_cli").parent, "--chunk", "16384", "--quiet",
                          "--json"], check=True, capture_output=True, text=True).stdout
    assert '"events_per_s"' in out and '"threads": 2' in out
    with h5py.File(jets, "r") as f:
        features = f["/jets/features"][:]
    with h5py.File(scores, "r") as f:
        got = f["/jets/probabilities"][:]
    assert got.shape == (100000, 3)
    assert got.tobytes() == load("jet_tagger_cli").Session().infer(features).tobytes()
