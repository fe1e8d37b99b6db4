"""PyTorch on the same GPU, beside benchmarks/cuda_bench.cu: the same models in float32 (TF32
off), eager and replaying a CUDA graph, microseconds per call, events/s, and the peak device
memory PyTorch allocated for the weights and one run. Runs on the GPU host (its own torch);
prints one JSON line per model and batch."""
import json
import sys
from pathlib import Path

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def calls_for(fn):
    """Calls per timed round: about 20 ms of them (1 to 1000), as cuda_bench.cu counts them."""
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(3):
        fn()
    stop.record()
    stop.synchronize()
    return max(1, min(1000, int(20.0 / max(start.elapsed_time(stop) / 3, 1e-3))))


def time_us(fn):
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    calls = calls_for(fn)
    rounds = []
    for _ in range(7):
        start.record()
        for _ in range(calls):
            fn()
        stop.record()
        stop.synchronize()
        rounds.append(1000.0 * start.elapsed_time(stop) / calls)
    return sorted(rounds)[3]


def bench(name, make, shapes, batch, tf32=False):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    model = make().cuda().eval()
    xs = [torch.full(s, 0.5, device="cuda") for s in shapes]
    with torch.no_grad():
        for _ in range(20):
            model(*xs)
        torch.cuda.synchronize()
        eager = time_us(lambda: model(*xs))
        peak = torch.cuda.max_memory_allocated() - base
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                model(*xs)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            model(*xs)
        replay = time_us(graph.replay)
    print(json.dumps({"model": name + ("+tf32" if tf32 else ""), "batch": batch, "torch_eager_us": round(eager, 2),
                      "torch_graph_us": round(replay, 2), "torch_events_per_s": round(batch * 1e6 / replay),
                      "torch_peak_bytes": peak, "torch": torch.__version__,
                      "gpu": torch.cuda.get_device_name()}))
    sys.stdout.flush()


if __name__ == "__main__":
    # The variants named on the command line, NAME_bBATCH as benchmarks/run_cuda.sh names them:
    # the benchmark set's models (benchmarks/models.py, copied beside this file).
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_models
    for variant in sys.argv[1:]:
        name, batch = variant.rsplit("_b", 1)
        batch = int(batch)
        make, shapes = bench_models.model_at(name, batch)
        try:
            bench(name, make, shapes, batch)
            if batch > 1:  # and with TF32 where sofiec --tf32 is measured too
                bench(name, make, shapes, batch, tf32=True)
        except ImportError as e:  # resnet18 needs torchvision, which a GPU host may lack
            print(json.dumps({"model": name, "batch": batch, "skipped": str(e)}))
