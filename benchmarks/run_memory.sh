#!/bin/sh
# Nodes, arena and peak RSS at -O 0 and -O extended for the benchmark models:
# writes benchmarks/results/memory.md.   benchmarks/run_memory.sh [MODEL ...]
set -eu
cd "$(dirname "$0")/.."
tools/install_deps.sh bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSOFIEC_BUILD_TESTS=OFF -DSOFIEC_BUILD_BENCHMARKS=ON > /dev/null
cmake --build build-bench -j"$(nproc)" > build-bench/build.log 2>&1 || { tail -30 build-bench/build.log; exit 1; }
/usr/bin/python3 benchmarks/memory_table.py "$(pwd)/build-bench/sofiec" build-bench/benchmarks/models build-bench/memory "$@"
/usr/bin/python3 benchmarks/update_performance_doc.py memory
