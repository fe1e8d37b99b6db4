#!/bin/sh
# Latency against the size of a run-time dim, sofiec (dim chosen at run time, and fixed with
# --dim) beside ONNX Runtime: writes benchmarks/results/sweep.md and sweep.json.
#   benchmarks/run_sweep.sh [mlp] [gn2]
set -eu
cd "$(dirname "$0")/.."
tools/install_deps.sh bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSOFIEC_BUILD_TESTS=OFF -DSOFIEC_BUILD_BENCHMARKS=ON > /dev/null
cmake --build build-bench -j"$(nproc)" --target sofiec > build-bench/build.log 2>&1 || { tail -30 build-bench/build.log; exit 1; }
if [ ! -d build-bench/node_modules/onnxruntime-node ]; then
  (cd build-bench && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --no-audit --no-fund onnxruntime-node@1.30.0 > npm.log 2>&1)
fi
export OPENBLAS_NUM_THREADS=1 NODE_PATH="$(pwd)/build-bench/node_modules"
/usr/bin/python3 benchmarks/sweep.py "$(pwd)/build-bench/sofiec" build-bench/sweep benchmarks/results "$@"
/usr/bin/python3 benchmarks/update_performance_doc.py sweep
