"""The Keras front-end's refusals: broken or inconsistent Keras files give one line on stderr
naming the file (and the layer or weight at fault), a non-zero exit and no output file. The
models themselves are checked against TensorFlow.js by the keras.* tests (tests/keras)."""
import json
import os
import shutil
import subprocess
import zipfile

import h5py
import numpy as np
import pytest

from conftest import SOURCE

SOFIEC = os.environ.get("SOFIEC", str(SOURCE / "build" / "sofiec"))
DATA = SOURCE / "tests" / "keras" / "data"


def sofiec(*args):
    return subprocess.run([SOFIEC, *map(str, args)], capture_output=True, text=True)


def refused(result, out, *fragments):
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    assert not out.exists(), "a refused model must leave no output"


@pytest.fixture
def tagger(tmp_path):
    """A writable copy of the jet tagger's three layouts."""
    d = tmp_path / "jet_tagger"
    shutil.copytree(DATA / "jet_tagger", d)
    return d


def test_truncated_hdf5(tagger, tmp_path):
    data = (tagger / "model.h5").read_bytes()
    (tagger / "model.h5").write_bytes(data[: len(data) // 3])
    out = tmp_path / "m.hxx"
    refused(sofiec(tagger / "model.h5", "-o", out), out, "model.h5", "not a readable HDF5 file")


def test_truncated_keras_archive(tagger, tmp_path):
    data = (tagger / "model.keras").read_bytes()
    (tagger / "model.keras").write_bytes(data[: len(data) // 2])
    out = tmp_path / "m.hxx"
    refused(sofiec(tagger / "model.keras", "-o", out), out, "model.keras")


def test_archive_without_config(tagger, tmp_path):
    archive = tmp_path / "no_config.keras"
    with zipfile.ZipFile(tagger / "model.keras") as src, zipfile.ZipFile(archive, "w") as dst:
        for name in src.namelist():
            if name != "config.json":
                dst.writestr(name, src.read(name))
    out = tmp_path / "m.hxx"
    refused(sofiec(archive, "-o", out), out, "no_config.keras", "config.json")


def test_config_naming_a_missing_weight(tagger, tmp_path):
    with h5py.File(tagger / "weights.h5", "r+") as f:
        names = [n.decode() for n in f["dense_1"].attrs["weight_names"]]
        del f["dense_1"][names[0]]
    out = tmp_path / "m.hxx"
    refused(sofiec(tagger / "arch.json", "--keras-weights", tagger / "weights.h5", "-o", out), out, "weights.h5",
            "dense_1", names[0])


def test_weight_of_the_wrong_shape(tagger, tmp_path):
    with h5py.File(tagger / "model.h5", "r+") as f:
        group = f["model_weights"]["dense_1"]
        name = group.attrs["weight_names"][0].decode()
        shape = group[name].shape
        del group[name]
        group[name] = np.zeros((shape[0] + 1, shape[1]), np.float32)
    out = tmp_path / "m.hxx"
    refused(sofiec(tagger / "model.h5", "-o", out), out, "model.h5", "Keras layer 'dense_1' (Dense)", "kernel")


def test_unsupported_layers_are_all_named(tagger, tmp_path):
    arch = json.loads((tagger / "arch.json").read_text())
    layers = arch["config"]["layers"]
    layers[2]["class_name"] = "Lambda"
    layers[3]["class_name"] = "MyCustomLayer"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(arch))
    out = tmp_path / "m.hxx"
    result = sofiec(bad, "--keras-weights", tagger / "weights.h5", "-o", out)
    refused(result, out, "bad.json", "unsupported Keras layers", f"Lambda '{layers[2]['config']['name']}'",
            f"MyCustomLayer '{layers[3]['config']['name']}'")


def test_architecture_without_weights_and_options_that_do_not_fit(tagger, tmp_path):
    out = tmp_path / "m.hxx"
    refused(sofiec(tagger / "arch.json", "-o", out), out, "arch.json", "--keras-weights")
    refused(sofiec(tagger / "model.h5", "--keras-weights", tagger / "weights.h5", "-o", out), out, "leave out --keras-weights")
    refused(sofiec(tagger / "weights.h5", "-o", out), out, "weights only")
    refused(sofiec(tagger / "model.h5", "--input-shape", "x=1,16", "-o", out), out, "--input-shape is for PyTorch models")
    refused(sofiec(tmp_path / "missing.h5", "-o", out), out, "missing.h5")

