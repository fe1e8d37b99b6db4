#!/bin/sh
# All tests: installs the dependencies (torch included, for the reference models), builds
# everything and runs ctest: unit and CLI tests, torch-checked models, and the ONNX backend
# conformance suite at -O 0, basic and extended (data from ../shared/onnx-backend-tests, or
# $SOFIEC_BACKEND_TESTS).
set -eu
cd "$(dirname "$0")/.."
tools/install_deps.sh tests
suite="${SOFIEC_BACKEND_TESTS:-$(pwd)/../shared/onnx-backend-tests}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSOFIEC_BUILD_TESTS=ON -DSOFIEC_BACKEND_TESTS_DIR="$suite" > /dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j"$(nproc)"
