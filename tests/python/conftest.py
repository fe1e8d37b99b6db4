"""Shared helpers of the Python module tests: where CMake built the modules (tests/CMakeLists.txt),
and how to import one by its folder."""
import importlib
import os
import sys
from pathlib import Path

MODULES = Path(os.environ.get("SOFIEC_PYTHON_MODULES", "build/tests/python"))
MODELS = Path(os.environ.get("SOFIEC_MODELS", "build/tests/models"))
SOURCE = Path(os.environ.get("SOFIEC_SOURCE", Path(__file__).resolve().parents[2]))
BACKEND_TESTS = Path(os.environ.get("SOFIEC_BACKEND_TESTS", SOURCE.parent / "shared" / "onnx-backend-tests"))


def module_file(variant):
    libs = sorted((MODULES / variant).glob("*.so"))
    assert len(libs) == 1, f"{MODULES / variant}: expected one module, found {libs}"
    return libs[0]


def load(variant):
    """The module built in MODULES/<variant>, imported by its hashed name."""
    lib = module_file(variant)
    folder = str(lib.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(lib.name.split(".")[0])
