#!/bin/sh
# The benchmark suite in one command: exports the model set with torch, compiles each model
# with sofiec, times the generated code (Google Benchmark) and ONNX Runtime (npm
# onnxruntime-node 1.30, all graph optimizations, 1 and 2 intra-op threads) on the same
# inputs, measures peak RSS of a process holding one session of each, and writes
# benchmarks/results/benchmarks.md, benchmarks.json and benchmarks.png.
# Each model is also timed built for fixed x86-64 levels (LEVELS, default "v3 v2 v3_dispatch":
# AVX2, SSE4.2, and the v3 build of a --dispatch avx512 header), into a second table beside
# the native build and ORT.
#   [LEVELS="v3 v2 v3_dispatch"] benchmarks/run.sh [MODEL ...]   (default: every model of benchmarks/models.py)
set -eu
cd "$(dirname "$0")/.."
tools/install_deps.sh bench
levels="${LEVELS-v3 v2 v3_dispatch}"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSOFIEC_BUILD_TESTS=OFF -DSOFIEC_BUILD_BENCHMARKS=ON \
  "-DSOFIEC_BENCH_LEVELS=$(echo $levels | tr ' ' ';')" > /dev/null
cmake --build build-bench -j"$(nproc)" > build-bench/build.log 2>&1 || { tail -30 build-bench/build.log; exit 1; }
if [ ! -d build-bench/node_modules/onnxruntime-node ]; then
  (cd build-bench && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --no-audit --no-fund onnxruntime-node@1.30.0 > npm.log 2>&1)
fi
models="${*:-mlp_b1 mlp_b64 mlp_bn_b64 mnist_cnn resnet18_b1 resnet18_b8 lstm gru gn2 gn2_256 calodit particlenet_lite particlenet unet gnn}"
raw=build-bench/results
mkdir -p "$raw" benchmarks/results
dir=build-bench/benchmarks/models
export OPENBLAS_NUM_THREADS=1 NODE_PATH="$(pwd)/build-bench/node_modules"
# The peak with the BLAS's best kernel for this CPU: Debian's OpenBLAS 0.3.21 does not know
# AMD Zen 5 and runs its AVX2 (Haswell) kernel there, at half the AVX-512 rate (125 against
# 228 GFLOP/s); on AVX-512 machines its SkylakeX kernel is timed too and the larger rate kept.
peak=$(build-bench/benchmarks/sgemm_peak)
if grep -qw avx512f /proc/cpuinfo; then
  peak=$(printf '%s\n%s\n' "$peak" "$(OPENBLAS_CORETYPE=SkylakeX build-bench/benchmarks/sgemm_peak)" | sort -g | tail -1)
fi
echo "$peak" > "$raw/sgemm_peak.txt"
for level in native $levels; do
  if [ -x "build-bench/benchmarks/fma_peak_$level" ]; then
    build-bench/benchmarks/fma_peak_$level > "$raw/fma_peak.$level.txt" 2> /dev/null
  fi
done
echo "$levels" > "$raw/levels.txt"
for m in identity $models; do
  echo "benchmark: $m"
  # FLOPs of the model as written (-O 0): the passes that compute fewer (Winograd, EdgeConv
  # factorization) then show as a higher fraction of the peak, as they do against ORT.
  build-bench/sofiec "$dir/$m.onnx" -O 0 --report=json > "$raw/$m.report.json"
  build-bench/benchmarks/bench_$m --benchmark_format=json --benchmark_min_time=1 > "$raw/$m.sofiec.json"
  for level in $levels; do
    build-bench/benchmarks/bench_${m}_$level --benchmark_format=json --benchmark_min_time=1 > "$raw/$m.sofiec.$level.json"
  done
  node benchmarks/ort_bench.js "$dir/$m" 1 latency > "$raw/$m.ort1.json"
  node benchmarks/ort_bench.js "$dir/$m" 2 latency > "$raw/$m.ort2.json"
  # What a session and one inference add to a process's peak (each side resets the peak once
  # set up): five processes each, and the report takes the median.
  for i in 1 2 3 4 5; do
    node --expose-gc benchmarks/ort_bench.js "$dir/$m" 1 rss > "$raw/$m.ort_rss.$i.json"
    build-bench/benchmarks/bench_$m --peak-rss > "$raw/$m.sofiec_rss.$i.txt"
  done
done
# ORT's call overhead once more at the end (a fallback: each model's process times its own
# between its calls, ort_bench.js): the first measurement can catch the machine (or
# node's JIT) still warming up; the report takes the smaller.
node benchmarks/ort_bench.js "$dir/identity" 1 latency > "$raw/identity.ort1.again.json"
/usr/bin/python3 benchmarks/report.py "$raw" "$dir" benchmarks/results $models
/usr/bin/python3 benchmarks/update_performance_doc.py benchmarks
