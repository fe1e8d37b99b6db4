#!/bin/sh
# Fuzzes the compiler (tests/fuzz/fuzz_compile.cpp) with libFuzzer, ASan and UBSan:
#   tools/fuzz.sh [SECONDS] [extra libFuzzer flags...]     (default 120 s)
# Seeds: every model.onnx of the ONNX backend test suite (../shared/onnx-backend-tests or
# $SOFIEC_BACKEND_TESTS) and of tests/fuzz/seeds (patterns the suite lacks), linked, not
# copied, into build-fuzz/seeds. First replays the
# committed regression inputs (tests/fuzz/regressions). Fails on any crash, sanitizer
# report, input slower than 2 s or allocation above 2 GiB; the input is left in
# build-fuzz/artifacts/ (minimize it with -minimize_crash=1 and commit it as a regression).
set -eu
cd "$(dirname "$0")/.."
seconds="${1:-120}"
[ $# -gt 0 ] && shift
suite="${SOFIEC_BACKEND_TESTS:-$(pwd)/../shared/onnx-backend-tests}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSOFIEC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_compile > build-fuzz/build.log 2>&1 || { tail -20 build-fuzz/build.log; exit 1; }
mkdir -p build-fuzz/seeds build-fuzz/corpus build-fuzz/artifacts
i=0
for model in "$suite"/*/*/model.onnx; do
  [ -f "$model" ] || continue
  i=$((i + 1))
  ln -sf "$model" "build-fuzz/seeds/seed$i.onnx"
done
for model in tests/fuzz/seeds/*.onnx; do  # patterns the suite lacks (tests/fuzz/make_seeds.py)
  ln -sf "$(pwd)/$model" "build-fuzz/seeds/own_$(basename "$model")"
done
# A fixed seed: the same run explores the same inputs on any machine (a slower one explores
# a prefix of them), so the test command's short run is reproducible.
flags="-timeout=2 -rss_limit_mb=2048 -max_len=65536 -seed=${SOFIEC_FUZZ_SEED:-1}"
echo "fuzz: replaying $(ls tests/fuzz/regressions | wc -l) regression inputs"
build-fuzz/fuzz_compile $flags tests/fuzz/regressions/* > build-fuzz/regressions.log 2>&1 || { tail -30 build-fuzz/regressions.log; exit 1; }
echo "fuzz: $seconds s from $i seed models"
build-fuzz/fuzz_compile $flags -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix=build-fuzz/artifacts/ "$@" build-fuzz/corpus build-fuzz/seeds > build-fuzz/fuzz.log 2>&1 || {
  grep -E "ERROR|runtime error|SUMMARY|Test unit written|deadly|timeout|out-of-memory" build-fuzz/fuzz.log | head -20
  exit 1
}
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build-fuzz/fuzz.log
