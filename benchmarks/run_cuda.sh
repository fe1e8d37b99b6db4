#!/bin/sh
# The CUDA target beside PyTorch on the same GPU. Two steps, since the GPU host has no Debian
# packages and no network:
#   benchmarks/run_cuda.sh build [DIR]   here: exports the models (Debian's torch), writes their
#       CUDA headers with build/sofiec, compiles benchmarks/cuda_bench.cu for each with nvcc,
#       and copies them with benchmarks/cuda_torch_bench.py into DIR (default build-gpu/bench);
#   benchmarks/run_cuda.sh run [DIR]     on the GPU host: runs both, one JSON line per model
#       and batch (sofiec's, then PyTorch's).
set -eu
cd "$(dirname "$0")/.."
dir="${2:-build-gpu/bench}"
case "${1:-}" in
  build)
    mkdir -p "$dir"
    nvcc="${NVCC:-/usr/local/cuda/bin/nvcc}"
    /usr/bin/python3 - "$dir" <<'PY'
import sys
import torch
sys.path.insert(0, "models")
from generate_models import mlp
torch.manual_seed(0)
for batch in (1, 16384):
    torch.onnx.export(mlp().eval(), torch.zeros(batch, 100), f"{sys.argv[1]}/mlp_b{batch}.onnx",
                      input_names=["input"], output_names=["output"], opset_version=13)
PY
    for batch in 1 16384; do
      build/sofiec "$dir/mlp_b$batch.onnx" --target cuda --namespace mlp -o "$dir/mlp_b$batch.cuh"
      "$nvcc" -std=c++17 -O2 -gencode 'arch=compute_90,code=[sm_90,compute_90]' -include "$dir/mlp_b$batch.cuh" \
        -DMODEL_NS=mlp benchmarks/cuda_bench.cu -o "$dir/bench_mlp_b$batch" -lcublas
    done
    cp benchmarks/cuda_torch_bench.py "$dir/"
    echo "built into $dir"
    ;;
  run)
    for batch in 1 16384; do "$dir/bench_mlp_b$batch" mlp "$batch"; done
    python3 "$dir/cuda_torch_bench.py"
    ;;
  *)
    echo "usage: $0 build|run [DIR]" >&2
    exit 2
    ;;
esac
