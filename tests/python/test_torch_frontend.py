"""The PyTorch front-end: TorchScript files of the benchmark models, saved here with Debian's torch,
compiled by `sofiec model.pt --input-shape ... --python` and checked against torch; a scripted
module with two inputs, two outputs and run-time dims; and the refusals (no --input-shape, no
torch, a file that is no TorchScript, shapes forward() rejects): one line, no output."""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SOURCE

torch = pytest.importorskip("torch")
sys.path.insert(0, str(SOURCE / "benchmarks"))
import models as benchmark_models  # noqa: E402

SOFIEC = os.environ.get("SOFIEC", str(SOURCE / "build" / "sofiec"))


def sofiec(*args):
    return subprocess.run([SOFIEC, *map(str, args)], capture_output=True, text=True)


def build_module(pt, out_dir, *shapes):
    args = [pt]
    for s in shapes:
        args += ["--input-shape", s]
    r = sofiec(*args, "--python", "--python-exe", sys.executable, "--cxxflags", "-O2", "-o", out_dir)
    assert r.returncode == 0, r.stderr
    libs = sorted(Path(out_dir).glob("*.so"))
    assert len(libs) == 1, libs
    sys.path.insert(0, str(out_dir))
    return importlib.import_module(libs[0].name.split(".")[0])


def traced(name, tmp_path):
    make, shapes = benchmark_models.MODELS[name]
    torch.manual_seed(0)
    model = make().eval()
    inputs = tuple(torch.rand(*s) for s in shapes)
    path = tmp_path / f"{name}.pt"
    with torch.no_grad():
        torch.jit.trace(model, inputs).save(str(path))
    return model, shapes, path


@pytest.mark.parametrize("name", ["mlp_b64", "mnist_cnn", "particlenet_lite"])
def test_traced_benchmark_models_match_torch(name, tmp_path):
    model, shapes, pt = traced(name, tmp_path)
    params = [a.name for a in torch.jit.load(str(pt)).forward.schema.arguments][1:]
    specs = [f"{p}={','.join(map(str, s))}" for p, s in zip(params, shapes)]
    module = build_module(pt, tmp_path / "py", *specs)
    session = module.Session()
    inputs = tuple(torch.rand(*s) for s in shapes)
    with torch.no_grad():
        expected = model(*inputs).numpy()
    got = session.infer(*(x.numpy() for x in inputs))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_gn2_with_run_time_tracks(tmp_path):
    model, _, pt = traced("gn2", tmp_path)
    module = build_module(pt, tmp_path / "py", "tracks=1,ntracks,21")
    assert list(module.Session.dim_names) == ["ntracks"]
    session = module.Session(ntracks=60)
    for n in (3, 17, 60):
        x = torch.rand(1, n, 21)
        with torch.no_grad():
            expected = model(x).numpy()
        np.testing.assert_allclose(session.infer(x.numpy()), expected, rtol=1e-4, atol=1e-5)


SCRIPTED = '''
import torch
class Two(torch.nn.Module):
    def forward(self, x, y):
        if x.shape[1] > 2:
            x = x * 2.0
        return torch.relu(x @ y), x.sum(dim=1)
torch.jit.script(Two()).save(r"{path}")
'''


def test_scripted_module_two_inputs_two_outputs(tmp_path):
    pt = tmp_path / "two.pt"
    script = tmp_path / "make_two.py"  # (torch.jit.script reads forward()'s source from its file)
    script.write_text(SCRIPTED.format(path=pt))
    subprocess.run([sys.executable, str(script)], check=True)
    module = build_module(pt, tmp_path / "py", "x=n,4", "y=4,k")
    session = module.Session(n=9, k=5)
    x, y = np.random.rand(9, 4).astype(np.float32), np.random.rand(4, 5).astype(np.float32)
    a, b = session.infer(x, y)
    np.testing.assert_allclose(a, np.maximum((2 * x) @ y, 0), rtol=1e-5)
    np.testing.assert_allclose(b, (2 * x).sum(axis=1), rtol=1e-5)


def test_refusals_are_one_line_and_write_nothing(tmp_path):
    model, _, pt = traced("mlp_b1", tmp_path)
    out = tmp_path / "out.hxx"

    def refused(r, words):
        assert r.returncode != 0
        assert words in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1, r.stderr
        assert not out.exists()

    refused(sofiec(pt, "-o", out, "--python-exe", sys.executable), "give the shape of each input of forward(input)")
    refused(sofiec(pt, "--input-shape", "x=1,100", "-o", out, "--python-exe", sys.executable), "takes (input)")
    refused(sofiec(pt, "--input-shape", "input=1,7", "-o", out, "--python-exe", sys.executable),
            "forward() fails on inputs of the shapes given")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip")
    refused(sofiec(bad, "--input-shape", "x=1", "-o", out, "--python-exe", sys.executable), "bad.pt: not a TorchScript")
    # An interpreter without torch (-S: no site-packages).
    no_torch = tmp_path / "python-without-torch"
    no_torch.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    no_torch.chmod(0o755)
    refused(sofiec(pt, "--input-shape", "input=1,100", "-o", out, "--python-exe", no_torch), "cannot import torch")
    refused(sofiec(tmp_path / "missing.pt", "--input-shape", "x=1", "-o", out), "missing.pt")
    onnx_file = tmp_path / "m.onnx"
    refused(sofiec(onnx_file, "--input-shape", "x=1", "-o", out), "--input-shape is for PyTorch models")
