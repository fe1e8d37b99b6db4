#!/bin/sh
# The CUDA target beside PyTorch on the same GPU. Two steps, since the GPU host has no Debian
# packages and no network:
#   benchmarks/run_cuda.sh build [DIR]   here: exports the models (the SOFIE MLP, GN2, ParticleNet,
#       CaloDiT, resnet18 and the diffusion UNet at batch 1 and a large batch; the LSTM, the GRU
#       and the graph network at batch 1) with Debian's torch, writes their
#       CUDA headers with build/sofiec, compiles benchmarks/cuda_bench.cu for each with nvcc,
#       and copies them with benchmarks/cuda_torch_bench.py into DIR (default build-gpu/bench);
#   benchmarks/run_cuda.sh run [DIR]     on the GPU host: checks each model at batch 1 against
#       torch, prints each size's profile (a header built with --profile: each node's time), then
#       runs both, one JSON line per model and batch (sofiec's, then PyTorch's).
# SOFIEC names the compiler (default build/sofiec).
set -eu
cd "$(dirname "$0")/.."
dir="${2:-build-gpu/bench}"
# Each model at batch 1 (latency) and at the issue's large batch (throughput); `run` runs those
# that `build` built.
models="${CUDA_BENCH_MODELS:-mlp_b1 mlp_b16384 gn2_b1 gn2_b1024 particlenet_b1 particlenet_b512 calodit_b1 calodit_b64 resnet18_b1 resnet18_b64 unet_b1 unet_b64 lstm_b1 gru_b1 gnn_b1}"
case "${1:-}" in
  build)
    mkdir -p "$dir"
    nvcc="${NVCC:-/usr/local/cuda/bin/nvcc}"
    # shellcheck disable=SC2086
    /usr/bin/python3 - "$dir" $models <<'PY'
import sys
import torch
sys.path.insert(0, "models")
sys.path.insert(0, "benchmarks")
import models as bench_models
torch.manual_seed(0)
batches = {}  # each model's batches, from the variants named (NAME_bBATCH)
for variant in sys.argv[2:]:
    name, batch = variant.rsplit("_b", 1)
    batches.setdefault(name, []).append(int(batch))
for name, sizes in batches.items():
    make, _ = bench_models.model_at(name, 1)
    model = make().eval()
    for m in model.modules():  # normalization statistics that are not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    for batch in sizes:
        # (The UNet's second input is the diffusion time, in [0, 500).)
        shapes = bench_models.model_at(name, batch)[1]
        inputs = tuple(torch.rand(*s) * (1.0 if len(s) > 1 else 500.0) for s in shapes)
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
    # program HEADER SOURCE OUTPUT NAMESPACE: SOURCE built with -include HEADER (weights in a file
    # beside it, <model>.cuh.dat, which keeps the programs small), in the background.
    # (A bare `wait` would not report a failed compile: each job is waited for by its pid.)
    pids=""
    program() {
      "$nvcc" -std=c++17 -O2 -gencode "$arch" -include "$1" -DWEIGHTS_FILE_MODE -DMODEL_NS="$4" -cudart shared "$2" \
        -o "$3" -lcublas -lcublasLt &
      pids="$pids $!"
    }
    for model in $models; do
      ns="${model%_b*}"
      "$sofiec" "$dir/$model.onnx" --target cuda --namespace "$ns" --weights file -o "$dir/$model.cuh"
      program "$dir/$model.cuh" benchmarks/cuda_bench.cu "$dir/bench_$model" "$ns"
      case "$model" in
        # Batch 1 against torch, as tools/gpu_check.sh checks the test models.
        *_b1) program "$dir/$model.cuh" tests/models/cuda_model_check.cu "$dir/check_$model" "$ns" ;;
        # Large batches also with the products in TF32 (the same weights file).
        *) "$sofiec" "$dir/$model.onnx" --target cuda --namespace "$ns" --weights file --tf32 -o "$dir/${model}_tf32.cuh"
           rm "$dir/${model}_tf32.cuh.dat"
           program "$dir/${model}_tf32.cuh" benchmarks/cuda_bench.cu "$dir/bench_${model}_tf32" "$ns" ;;
      esac
      # Every size also built with --profile: each node's time (tests/models/cuda_profile_check.cu).
      "$sofiec" "$dir/$model.onnx" --target cuda --namespace "$ns" --weights file --profile -o "$dir/${model}_profile.cuh"
      rm "$dir/${model}_profile.cuh.dat"
      program "$dir/${model}_profile.cuh" tests/models/cuda_profile_check.cu "$dir/profile_$model" "$ns"
      for pid in $pids; do wait "$pid" || { echo "run_cuda.sh: nvcc failed for $model" >&2; exit 1; }; done
      pids=""
    done
    # A large batch's weights identical to batch 1's are read from batch 1's file (less to carry).
    for model in $models; do
      case "$model" in *_b1) continue ;; esac
      if cmp -s "$dir/$model.cuh.dat" "$dir/${model%_b*}_b1.cuh.dat"; then rm "$dir/$model.cuh.dat"; fi
    done
    cp benchmarks/models.py "$dir/bench_models.py"
    cp models/generate_models.py "$dir/"
    cp benchmarks/cuda_torch_bench.py "$dir/"
    # The card's cuBLAS SGEMM rate, the reference for the table's "% of cuBLAS SGEMM".
    "$nvcc" -std=c++17 -O2 -gencode "$arch" -cudart shared benchmarks/cuda_sgemm_peak.cu -o "$dir/sgemm_peak" -lcublas
    # The convolution kernels against cuBLAS on the models' shapes (benchmarks/cuda_conv_rates.cu).
    "$nvcc" -std=c++17 -O2 -gencode "$arch" -cudart shared -I templates/cuda benchmarks/cuda_conv_rates.cu \
      -o "$dir/conv_rates" -lcublas
    echo "built into $dir"
    ;;
  run)
    failed=0
    if [ -x "$dir/sgemm_peak" ]; then "$dir/sgemm_peak" || failed=$((failed + 1)); fi
    if [ -x "$dir/conv_rates" ]; then "$dir/conv_rates" || failed=$((failed + 1)); fi
    variants=$(cd "$dir" && ls bench_* | grep -v '\.py$' | sed 's/^bench_//')
    models=$(for v in $variants; do echo "${v%_tf32}"; done | sort -u)
    for model in $models; do
      weights="$dir/$model.cuh.dat"
      [ -f "$weights" ] || weights="$dir/${model%_b*}_b1.cuh.dat"
      case "$model" in
        *_b1) "$dir/check_$model" "$dir/$model" "$weights" || failed=$((failed + 1))
              "$dir/profile_$model" "${model%_b1}" "$weights" || failed=$((failed + 1)) ;;
        *) "$dir/profile_$model" "$model" "$weights" || failed=$((failed + 1)) ;;
      esac
    done
    for variant in $variants; do
      model="${variant%_tf32}"
      name="${model%_b*}"
      [ "$variant" = "$model" ] || name="$name+tf32"
      weights="$dir/$model.cuh.dat"
      [ -f "$weights" ] || weights="$dir/${model%_b*}_b1.cuh.dat"
      "$dir/bench_$variant" "$name" "${model##*_b}" "$weights"
    done
    # shellcheck disable=SC2086
    python3 "$dir/cuda_torch_bench.py" $models
    [ "$failed" -eq 0 ]
    ;;
  *)
    echo "usage: $0 build|run [DIR]" >&2
    exit 2
    ;;
esac
