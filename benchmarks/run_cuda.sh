#!/bin/sh
# The CUDA target beside PyTorch on the same GPU. Two steps, since the GPU host has no Debian
# packages and no network:
#   benchmarks/run_cuda.sh build [DIR]   here: exports the models (the SOFIE MLP, GN2, CaloDiT at
#       batch 1 and a large batch) with Debian's torch, writes their
#       CUDA headers with build/sofiec, compiles benchmarks/cuda_bench.cu for each with nvcc,
#       and copies them with benchmarks/cuda_torch_bench.py into DIR (default build-gpu/bench);
#   benchmarks/run_cuda.sh run [DIR]     on the GPU host: checks the transformers against torch,
#       then runs both, one JSON line per model and batch (sofiec's, then PyTorch's).
# SOFIEC names the compiler (default build/sofiec).
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
sys.path.insert(0, "benchmarks")
from generate_models import mlp
import models as bench_models
torch.manual_seed(0)
for batch in (1, 16384):
    torch.onnx.export(mlp().eval(), torch.zeros(batch, 100), f"{sys.argv[1]}/mlp_b{batch}.onnx",
                      input_names=["input"], output_names=["output"], opset_version=13)
# The transformers at batch 1 (latency) and at the issue's large batch (throughput).
for name, batches in (("gn2", (1, 1024)), ("calodit", (1, 64))):
    make, shapes = bench_models.MODELS[name]
    model = make().eval()
    for batch in batches:
        inputs = tuple(torch.rand(batch, *s[1:]) for s in shapes)
        names = [f"input{i}" for i in range(len(shapes))] if len(shapes) > 1 else ["input"]
        torch.onnx.export(model, inputs, f"{sys.argv[1]}/{name}_b{batch}.onnx", input_names=names,
                          output_names=["output"], opset_version=17)
        if batch == 1:  # torch's numbers, for tests/models/cuda_model_check.cu
            with torch.no_grad():
                expected = model(*inputs)
            with open(f"{sys.argv[1]}/{name}_b1.input.bin", "wb") as f:
                for x in inputs:
                    f.write(x.numpy().astype("float32").tobytes())
            expected.numpy().astype("float32").tofile(f"{sys.argv[1]}/{name}_b1.output.bin")
PY
    sofiec="${SOFIEC:-build/sofiec}"
    arch='arch=compute_90,code=[sm_90,compute_90]'
    # Weights in a file beside each program (<model>.cuh.dat), which keeps the programs small.
    for model in mlp_b1 mlp_b16384 gn2_b1 gn2_b1024 calodit_b1 calodit_b64; do
      ns="${model%_b*}"
      "$sofiec" "$dir/$model.onnx" --target cuda --namespace "$ns" --weights file -o "$dir/$model.cuh"
      "$nvcc" -std=c++17 -O2 -gencode "$arch" -include "$dir/$model.cuh" -DWEIGHTS_FILE_MODE \
        -DMODEL_NS="$ns" benchmarks/cuda_bench.cu -o "$dir/bench_$model" -lcublas -lcublasLt &
    done
    # The transformers against torch, as tools/gpu_check.sh checks the test models.
    for model in gn2_b1 calodit_b1; do
      "$nvcc" -std=c++17 -O2 -gencode "$arch" -include "$dir/$model.cuh" -DMODEL_NS="${model%_b*}" \
        -DWEIGHTS_FILE_MODE tests/models/cuda_model_check.cu -o "$dir/check_$model" -lcublas -lcublasLt &
    done
    wait
    # A large batch's weights identical to batch 1's are read from batch 1's file (less to carry).
    for model in mlp_b16384 gn2_b1024 calodit_b64; do
      if cmp -s "$dir/$model.cuh.dat" "$dir/${model%_b*}_b1.cuh.dat"; then rm "$dir/$model.cuh.dat"; fi
    done
    cp benchmarks/models.py "$dir/bench_models.py"
    cp models/generate_models.py "$dir/"
    cp benchmarks/cuda_torch_bench.py "$dir/"
    echo "built into $dir"
    ;;
  run)
    for model in gn2_b1 calodit_b1; do "$dir/check_$model" "$dir/$model" "$dir/$model.cuh.dat"; done
    for model in mlp_b1 mlp_b16384 gn2_b1 gn2_b1024 calodit_b1 calodit_b64; do
      weights="$dir/$model.cuh.dat"
      [ -f "$weights" ] || weights="$dir/${model%_b*}_b1.cuh.dat"
      "$dir/bench_$model" "${model%_b*}" "${model##*_b}" "$weights"
    done
    python3 "$dir/cuda_torch_bench.py"
    ;;
  *)
    echo "usage: $0 build|run [DIR]" >&2
    exit 2
    ;;
esac
