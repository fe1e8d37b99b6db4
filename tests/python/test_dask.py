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
