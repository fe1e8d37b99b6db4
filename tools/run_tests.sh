#!/bin/sh
# All tests: installs the dependencies (torch included, for the reference models), builds
# everything and runs ctest: unit and CLI tests, torch-checked models, and the ONNX backend
# conformance suite at -O 0, basic and extended (data from ../shared/onnx-backend-tests, or
# $SOFIEC_BACKEND_TESTS), then a short fuzzing run (tools/fuzz.sh).
set -eu
cd "$(dirname "$0")/.."
tools/install_deps.sh tests
suite="${SOFIEC_BACKEND_TESTS:-$(pwd)/../shared/onnx-backend-tests}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSOFIEC_BUILD_TESTS=ON -DSOFIEC_BACKEND_TESTS_DIR="$suite" > /dev/null
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j"$(nproc)")
# The compiler under libFuzzer with ASan and UBSan: the committed regression inputs, then a
# short run from the suite's models (tools/fuzz.sh 600 or more for a long one).
tools/fuzz.sh "${SOFIEC_FUZZ_SECONDS:-120}"
