"""The compiled model as a Python module: the same numbers as the C++ header, batching, refusals,
pickling, threads, no copy of a ready input, no leak."""
import pickle
import re
import subprocess
import sys
import threading
import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from conftest import BACKEND_TESTS, MODELS, MODULES, SOURCE, load, module_file

EXAMPLE_INPUT = (np.arange(16, dtype=np.float32) / 16 - 0.5).reshape(1, 16)
EXAMPLE_TORCH = np.array([0.368397, 0.337024, 0.294579], dtype=np.float32)  # models/example/make_example.py


@pytest.mark.parametrize("name", ["mlp_b1", "mlp_b64", "mnist_cnn", "recurrent"])
def test_same_bits_as_the_header(name, tmp_path):
    """The module's output is the C++ header's, bit for bit (model_check built with the module's
    default flags), and torch's within 1e-4."""
    mod = load(name)
    x = np.fromfile(MODELS / f"{name}.input.bin", dtype=np.float32).reshape(mod.input_shapes[0])
    y = mod.Session().infer(x)
    expected = np.fromfile(MODELS / f"{name}.output.bin", dtype=np.float32).reshape(mod.output_shapes[0])
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    header = module_file(name).parent / (mod.__name__ + ".hxx")
    check = tmp_path / "check"
    subprocess.run(["c++", "-O3", "-march=native", "-std=c++17", "-include", str(header), f"-DMODEL_NS={mod.__name__}",
                    str(SOURCE / "tests/models/model_check.cpp"), "-o", str(check)], check=True)
    subprocess.run([str(check), str(MODELS / name), str(tmp_path / "bits")], check=True)
    assert (tmp_path / "bits").read_bytes() == y.tobytes()


def test_cmake_and_command_line_builds():
    cli, cmake, cmake_file = load("jet_tagger_cli"), load("cmake"), load("cmake_file")
    for mod, stem in ((cli, "jet_tagger"), (cmake, "jet_tagger"), (cmake_file, "jet_tagger_file")):
        assert re.fullmatch(stem + r"_[0-9a-f]{8}", mod.__name__)
        np.testing.assert_allclose(mod.Session().infer(EXAMPLE_INPUT)[0], EXAMPLE_TORCH, atol=2e-6)
    assert cli.__name__ != cmake.__name__
    s = cmake_file.Session()
    assert s.weights_path == str(module_file("cmake_file").parent / (cmake_file.__name__ + ".hxx.dat"))
    assert np.array_equal(s.infer(EXAMPLE_INPUT), cmake.Session().infer(EXAMPLE_INPUT))
    # The plain name, through the alias sofiec writes beside the module.
    out = subprocess.run([sys.executable, "-c", "import jet_tagger; print(jet_tagger.__name__, jet_tagger.Session)"],
                         cwd=module_file("jet_tagger_cli").parent, check=True, capture_output=True, text=True)
    assert out.stdout.startswith("jet_tagger ") and cli.__name__ in out.stdout


def test_interface_attributes():
    mod = load("dyn_waveform")
    assert mod.input_names == ("input",) and mod.output_names == ("output",)
    assert mod.input_shapes == (("N", 4, "L"),) and mod.output_shapes == (("N", 3),)
    assert mod.input_dtypes == (np.dtype(np.float32),) and mod.dim_names == ("N", "L")
    s = mod.Session(4, L=50)
    assert s.dim_max == {"N": 4, "L": 50} and s.input_shapes == mod.input_shapes
    nz = load("test_nonzero_example")
    assert nz.input_dtypes == (np.dtype(bool),) and nz.output_dtypes == (np.dtype(np.int64),)


def test_events_looped_and_chunked():
    """N events on an extra axis, or N in place of the model's leading 1, or N rows beyond the
    Session's maximum: the same bits as one call per event (or one call for all rows)."""
    rng = np.random.default_rng(1)
    tagger = load("jet_tagger_cli").Session()
    x = rng.standard_normal((37, 16), dtype=np.float32)
    one_by_one = np.concatenate([tagger.infer(x[i:i + 1]) for i in range(37)])
    assert np.array_equal(tagger.infer(x), one_by_one)
    assert np.array_equal(tagger.infer(x[:, None, :])[:, 0, :], one_by_one)
    assert tagger.infer(x[:0]).shape == (0, 3)
    mlp = load("dyn_mlp")
    x = rng.standard_normal((1000, 100), dtype=np.float32)
    whole = mlp.Session(N=1000).infer(x)
    assert whole.shape == (1000, 4)
    assert np.array_equal(mlp.Session(N=64, chunks=True).infer(x), whole)  # 16 runs of at most 64 rows
    with pytest.raises(ValueError, match=r"N = 1000 is above its maximum 64 .*chunks=True"):
        mlp.Session(N=64).infer(x)  # chunks only when asked: the rows must be independent events
    gn2 = load("dyn_gn2").Session(ntracks=40)
    tracks = rng.standard_normal((5, 1, 23, 21), dtype=np.float32)
    stacked = gn2.infer(tracks)
    assert stacked.shape == (5, 1, 3)
    assert np.array_equal(stacked[3], gn2.infer(tracks[3]))


def test_conformance_cases():
    """Several inputs, several outputs, bool in, int64 and float16 out, a size the data decides."""
    for case in ["test_add", "test_split_equal_parts_1d_opset13", "test_nonzero_example", "test_lstm_defaults",
                 "test_cast_FLOAT_to_FLOAT16"]:
        mod = load(case)
        data = BACKEND_TESTS / "node" / case / "test_data_set_0"
        def read(kind, count):
            out = []
            for i in range(count):
                t = onnx.TensorProto()
                t.ParseFromString((data / f"{kind}_{i}.pb").read_bytes())
                out.append(numpy_helper.to_array(t))
            return out
        inputs, expected = read("input", len(mod.input_names)), read("output", len(mod.output_names))
        got = mod.Session().infer(*inputs)
        got = got if isinstance(got, tuple) else (got,)
        for g, e in zip(got, expected):
            assert g.dtype == e.dtype and g.shape == e.shape, case
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=1e-5, atol=1e-6, err_msg=case)
        # By name too.
        by_name = mod.Session().infer(**dict(zip(mod.input_names, inputs)))
        by_name = by_name if isinstance(by_name, tuple) else (by_name,)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(got, by_name))


def test_refusals_name_the_input():
    tagger = load("jet_tagger_cli").Session()
    cases = [
        ((np.zeros((1, 17), np.float32),), ValueError, r"input 'features' \[1,16\] float32 .* got shape \(1, 17\)"),
        ((np.zeros((2, 3, 16), np.float32),), ValueError, r"got shape \(2, 3, 16\)"),
        ((np.zeros(16, np.float32),), ValueError, r"got shape \(16,\)"),
        ((np.zeros((1, 16), np.complex64),), ValueError, r"'features' \[1,16\] float32 cannot take .* complex64"),
        (("abc",), ValueError, r"cannot take an array of dtype <U3"),
        ((), TypeError, r"missing input 'features'"),
        ((EXAMPLE_INPUT, EXAMPLE_INPUT), TypeError, r"takes 1 input"),
    ]
    for args, error, message in cases:
        with pytest.raises(error, match=message):
            tagger.infer(*args)
    with pytest.raises(TypeError, match="no input 'x'"):
        tagger.infer(x=EXAMPLE_INPUT)
    with pytest.raises(ValueError, match="cannot take an array of dtype float64"):
        load("test_nonzero_example").Session().infer(np.ones((2, 2)))  # bool input: no float
    with pytest.raises(ValueError, match=r"ntracks = 41 is above its maximum 40"):
        load("dyn_gn2").Session(ntracks=40).infer(np.zeros((1, 41, 21), np.float32))
    with pytest.raises(TypeError, match=r"needs the maximum of every run-time dim: Session\(L=...\)"):
        load("dyn_waveform").Session(N=4)
    with pytest.raises(TypeError, match="weights are embedded"):
        load("mlp_b64").Session(weights="x.dat")
    with pytest.raises(RuntimeError, match="cannot open weights file"):
        load("mlp_b64_file").Session(weights="/nonexistent.dat")
    # Another dtype that converts (float64 to float32) is accepted.
    assert np.array_equal(tagger.infer(EXAMPLE_INPUT.astype(np.float64)), tagger.infer(EXAMPLE_INPUT))


def test_pickle_round_trip():
    x = np.random.default_rng(2).standard_normal((300, 100), dtype=np.float32)
    for session, arg in [(load("jet_tagger_cli").Session(), EXAMPLE_INPUT),
                         (load("dyn_mlp").Session(N=128, chunks=True), x),
                         (load("mlp_b64_file").Session(), x[:64])]:
        again = pickle.loads(pickle.dumps(session))
        assert type(again) is type(session) and again.dim_max == session.dim_max
        assert again.weights_path == session.weights_path
        assert np.array_equal(again.infer(arg), session.infer(arg))


def test_threads_with_sessions_of_their_own_and_one_shared():
    mod = load("mlp_b64")
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((64, 100), dtype=np.float32) for _ in range(16)]
    single = mod.Session()
    reference = [single.infer(x) for x in inputs]
    results = {}

    def work(t, session):
        results[t] = [[session.infer(x) for x in inputs] for _ in range(20)]

    # Two threads with Sessions of their own, six sharing one (each call on a Workspace of its pool).
    shared = mod.Session()
    threads = [threading.Thread(target=work, args=(t, mod.Session() if t < 2 else shared)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rounds in results.values():
        for outputs in rounds:
            assert all(np.array_equal(a, b) for a, b in zip(outputs, reference))


def test_ready_input_is_not_copied():
    """tracemalloc sees NumPy's allocations: a C-contiguous float32 input adds only the output; a
    float64 one its float32 copy too."""
    tagger = load("jet_tagger_cli").Session()
    x = np.random.default_rng(4).standard_normal((200_000, 16), dtype=np.float32)
    tagger.infer(x[:10])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        tagger.infer(x)
        _, peak = tracemalloc.get_traced_memory()
        assert peak < x.nbytes / 2, peak  # the output is 3/16 of it
        wide = x.astype(np.float64)
        tracemalloc.reset_peak()
        tagger.infer(wide)
        _, peak = tracemalloc.get_traced_memory()
        assert peak >= x.nbytes, peak
    finally:
        tracemalloc.stop()


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_no_leak_over_100000_calls():
    tagger = load("jet_tagger_cli").Session()
    x = EXAMPLE_INPUT.copy()
    for _ in range(10_000):
        tagger.infer(x)
    before = rss_bytes()
    for _ in range(100_000):
        tagger.infer(x)
    grown = rss_bytes() - before
    assert grown < 1 << 20, f"RSS grew by {grown} bytes over 10^5 calls"
