#!/bin/sh
# The CUDA target on a GPU host, which has the CUDA runtime but no Debian packages: build here,
# run there.
#   tools/gpu_check.sh pack [BUILD_DIR] [DIR]   (here, after the test build) copies the CUDA test
#       programs (BUILD_DIR/tests/cuda/check_*, built by nvcc from tests/models/cuda_model_check.cu),
#       the torch data they read and the weights files into DIR (default build-gpu, git-ignored),
#       the supported ONNX backend cases built by the cuda.conformance_compiles test
#       (BUILD_DIR/tests/cuda-conformance: programs and data) into DIR/conformance, and the
#       benchmarks (benchmarks/run_cuda.sh build) into DIR/bench, those with weights too large
#       to carry with the rest into DIR2/bench; each folder also into build-pack/DIR.tar.xz,
#       which is what to carry;
#   tools/gpu_check.sh run [DIR | build-pack/DIR.tar.xz]   (on the GPU host, carrying build-pack)
#       runs each model against torch's output, through infer_host, device buffers with and without graph replay, and four
#       Sessions on four threads and streams (the models with run-time dims at each size torch
#       computed, tests/models/cuda_dynamic_check.cu; a --profile build of the MNIST CNN prints and
#       checks its profile, and one of dyn_mlp its numbers); the backend cases against their stored outputs; then
#       the benchmarks beside PyTorch. Exits non-zero if any check fails.
set -eu
cd "$(dirname "$0")/.."
mode="${1:-}"
# The test model a check variant runs (check_VARIANT: MODEL with _file, _profile or _tf32).
model_of() {
  m="${1%_file}"
  m="${m%_profile}"
  echo "${m%_tf32}"
}
case "$mode" in
  pack)
    build="${2:-build}"
    dir="${3:-build-gpu}"
    mkdir -p "$dir"
    for check in "$build"/tests/cuda/check_*; do
      variant="${check##*/check_}"
      model="$(model_of "$variant")"
      cp "$check" "$dir/"
      case "$model" in
        dyn_*) cp "$build/tests/models/$model".*.bin "$build/tests/models/$model.cases" "$dir/" ;;
        *) cp "$build/tests/models/$model.input.bin" "$build/tests/models/$model.output.bin" "$dir/" ;;
      esac
      [ -f "$build/tests/cuda/$variant.cuh.dat" ] && cp "$build/tests/cuda/$variant.cuh.dat" "$dir/"
    done
    if [ -d "$build/tests/cuda-conformance" ]; then
      mkdir -p "$dir/conformance"
      cp "$build"/tests/cuda-conformance/group_* "$dir/conformance/"
      rm -f "$dir"/conformance/group_*.cu
      cp -r "$build/tests/cuda-conformance/data" "$dir/conformance/"
      cp tools/cuda_conformance.py "$dir/"
    fi
    SOFIEC="$build/sofiec" sh benchmarks/run_cuda.sh build "$dir/bench" > /dev/null
    rm -f "$dir"/bench/*.onnx "$dir"/bench/*.cuh
    # A model whose weights would take the carry past its limit (64 MiB with the working tree:
    # resnet18's 47 MB) goes to DIR2, for a second run (run DIR2: its benchmarks alone).
    for dat in "$dir"/bench/*_b1.cuh.dat; do
      [ "$(stat -c %s "$dat")" -gt 20000000 ] || continue
      model="$(basename "$dat" _b1.cuh.dat)"
      mkdir -p "${dir}2/bench"
      mv "$dir/bench/"*"$model"_b* "${dir}2/bench/"
      cp "$dir"/bench/*.py "${dir}2/bench/"
      echo "the $model benchmark is in ${dir}2 (tools/gpu_check.sh run ${dir}2)"
    done
    echo "packed $(ls "$dir"/check_* | wc -l) CUDA checks, the backend cases and the benchmarks into $dir"
    # And each folder as one xz archive in build-pack/ (git-ignored): the programs shrink 3-4x,
    # so the checks, the backend cases and the benchmarks fit one carry (64 MiB).
    mkdir -p build-pack
    for d in "$dir" "${dir}2"; do
      archive="build-pack/$(basename "$d").tar.xz"
      rm -f "$archive"
      [ -d "$d" ] || continue
      XZ_OPT="-T0 -6" tar -C "$(dirname "$d")" -cJf "$archive" "$(basename "$d")"
      echo "$archive: $(du -h "$archive" | cut -f1)"
    done
    ;;
  run)
    dir="${2:-build-gpu}"
    # An archive of pack's (carry build-pack): unpacked here first.
    case "$dir" in
      *.tar.xz)
        archive="$dir"
        dir="$(basename "$archive" .tar.xz)"
        rm -rf "$dir"
        tar -xJf "$archive"
        ;;
    esac
    if ! ls "$dir"/check_* > /dev/null 2>&1 && [ ! -d "$dir/conformance" ] && [ ! -d "$dir/bench" ]; then
      echo "gpu_check: nothing to run in $dir" >&2
      exit 1
    fi
    command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    failed=0
    for check in "$dir"/check_*; do
      [ -e "$check" ] || continue
      variant="${check##*/check_}"
      model="$(model_of "$variant")"
      if [ -f "$dir/$variant.cuh.dat" ]; then
        "$check" "$dir/$model" "$dir/$variant.cuh.dat" || failed=$((failed + 1))
      else
        "$check" "$dir/$model" || failed=$((failed + 1))
      fi
    done
    if [ -d "$dir/conformance" ]; then
      python3 "$dir/cuda_conformance.py" run "$dir/conformance" > "$dir/conformance.log" || failed=$((failed + 1))
      grep -v '^pass ' "$dir/conformance.log"
    fi
    if [ -d "$dir/bench" ]; then
      sh benchmarks/run_cuda.sh run "$dir/bench" || failed=$((failed + 1))
    fi
    echo "gpu_check: $failed failed"
    [ "$failed" -eq 0 ]
    ;;
  *)
    echo "usage: $0 pack [BUILD_DIR] [DIR] | run [DIR | build-pack/DIR.tar.xz]" >&2
    exit 2
    ;;
esac
