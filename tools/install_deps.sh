#!/bin/sh
# Installs the Debian 12 packages sofiec needs. "tests" adds what the test suite needs
# (torch, torchvision and onnx for the reference models, clang++ for the warning check and
# the fuzzer, with its sanitizer runtimes, pybind11 and Dask for the Python modules); "python"
# what sofiec --python and the Dask example need; "bench" what benchmarks/run.sh needs (torch,
# Google Benchmark, matplotlib, Node.js and npm for ONNX Runtime).
set -eu
packages="g++ cmake make libprotobuf-dev protobuf-compiler libonnx-dev libopenblas-dev libfmt-dev libcli11-dev"
# The Keras front-end: HDF5, JSON and zip readers.
packages="$packages libhdf5-dev nlohmann-json3-dev libzip-dev pkg-config"
if [ "${1:-}" = "tests" ]; then
  packages="$packages libgtest-dev libbenchmark-dev clang libclang-rt-14-dev python3-torch python3-torchvision python3-onnx python3-numpy"
  # The aarch64 (NEON) builds of the tests, run under user-mode emulation, which also runs the
  # AVX2 builds on a CPU without AVX-512 instructions (qemu-x86_64 -cpu Haswell).
  packages="$packages g++-aarch64-linux-gnu qemu-user"
  # The Python modules (sofiec --python) and their tests: pybind11, the interpreter's headers,
  # pytest, and h5py, Dask and tqdm for the scale-out example.
  packages="$packages pybind11-dev python3-dev python3-pytest python3-h5py python3-dask python3-distributed python3-tqdm"
fi
if [ "${1:-}" = "python" ]; then
  # sofiec --python and models/example/dask_inference.py.
  packages="$packages pybind11-dev python3-dev python3-numpy python3-h5py python3-dask python3-distributed python3-tqdm"
fi
if [ "${1:-}" = "bench" ]; then
  packages="$packages libbenchmark-dev pybind11-dev python3-dev python3-h5py python3-dask python3-distributed python3-tqdm python3-torch python3-torchvision python3-onnx python3-numpy python3-matplotlib"
  # Node.js may come from elsewhere (NodeSource's nodejs bundles npm); Debian's only if absent.
  command -v npm > /dev/null 2>&1 || packages="$packages nodejs npm"
fi
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
