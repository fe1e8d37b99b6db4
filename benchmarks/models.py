#!/usr/bin/python3
"""The benchmark model set, exported with Debian's torch (opset 17), with torch's outputs.

Mirrors the published SOFIE benchmarks and what HEP analyses run: Linear MLPs, resnet18,
ParticleNet(-Lite) (EdgeConv on kNN graphs: TopK + Gather), a GN2-like transformer tagger (at 128
and at 256 wide), a CaloDiT-style diffusion transformer (adaLN blocks),
a consistency-distilled diffusion UNet, LSTM/GRU sequence models, an MNIST CNN and a
graph_nets-style GNN (edge and node MLPs, Gather of senders/receivers, ScatterElements add).

For each model NAME it writes into OUT_DIR: NAME.onnx, NAME.input.bin (float32, row-major)
and NAME.output.bin (torch's output). Usage: models.py OUT_DIR [NAME ...]
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

# The SOFIE "Linear" MLPs and resnet18 are the test models' (models/generate_models.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "models"))
from generate_models import mlp, mlp_bn, resnet18  # noqa: E402

torch.manual_seed(0)


class MnistCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class Recurrent(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(16, 64, num_layers=2, batch_first=True)
        self.head = nn.Linear(64, 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer with attention written out (torch 1.13 cannot
    export nn.TransformerEncoderLayer's fast path)."""

    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        b, n, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        x = x + self.out((att @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.ff(self.norm2(x))


class Gn2Tagger(nn.Module):
    """ATLAS GN2-like: per-track embedding, 4 encoder layers, attention pooling, jet flavour."""

    def __init__(self, features=21, dim=128, heads=8, layers=4):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(features, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.layers = nn.ModuleList([EncoderLayer(dim, heads, 2 * dim) for _ in range(layers)])
        self.pool = nn.Linear(dim, 1)
        self.head = nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Linear(64, 3))

    def forward(self, tracks):
        x = self.embed(tracks)
        for layer in self.layers:
            x = layer(x)
        weights = torch.softmax(self.pool(x), dim=1)
        return self.head((weights * x).sum(dim=1))


class DiTBlock(nn.Module):
    """A diffusion-transformer block: attention and MLP, each after a LayerNorm whose scale and
    shift, and a gate on its output, come from the conditioning (adaLN). (The norms keep their
    affine weights, ones and zeros: torch 1.13 exports a LayerNorm without them as a node that
    the ONNX checker rejects.)"""

    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x, c):
        b, n, d = x.shape
        h = self.heads
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(c).unsqueeze(1).chunk(6, dim=-1)
        y = self.norm1(x) * (1 + scale1) + shift1
        q, k, v = self.qkv(y).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        x = x + gate1 * self.out((att @ v).transpose(1, 2).reshape(b, n, d))
        return x + gate2 * self.mlp(self.norm2(x) * (1 + scale2) + shift2)


class CaloDiT(nn.Module):
    """A CaloDiT-style diffusion transformer for calorimeter showers: 64 patches of 90 voxels
    embedded to 192, the diffusion time and the incident energy as conditioning, 4 adaLN
    blocks, the predicted noise per patch."""

    def __init__(self, patch=90, tokens=64, dim=192, heads=6, layers=4):
        super().__init__()
        self.embed = nn.Linear(patch, dim)
        self.position = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.condition = nn.Sequential(nn.Linear(2, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList([DiTBlock(dim, heads, 4 * dim) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch)

    def forward(self, patches, condition):
        x = self.embed(patches) + self.position
        c = self.condition(condition)
        for block in self.blocks:
            x = block(x, c)
        return self.head(self.norm(x))


class EdgeConv(nn.Module):
    def __init__(self, k, inputs, widths):
        super().__init__()
        self.k = k
        layers, c = [], 2 * inputs
        for w in widths:
            layers += [nn.Conv2d(c, w, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            c = w
        self.mlp = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(nn.Conv1d(inputs, widths[-1], 1, bias=False), nn.BatchNorm1d(widths[-1]))

    def forward(self, points, features):
        b, c, n = features.shape
        # kNN in the coordinate space: TopK of negated squared distances, then Gather.
        inner = -2 * torch.matmul(points.transpose(2, 1), points)
        square = (points * points).sum(dim=1, keepdim=True)
        idx = (-square - inner - square.transpose(2, 1)).topk(self.k + 1, dim=-1)[1][:, :, 1:]
        base = torch.arange(b, device=features.device).view(-1, 1, 1) * n
        flat = (idx + base).reshape(-1)
        neighbours = features.transpose(2, 1).reshape(b * n, c)[flat].reshape(b, n, self.k, c)
        centre = features.transpose(2, 1).unsqueeze(2).expand(b, n, self.k, c)
        edges = torch.cat([centre, neighbours - centre], dim=3).permute(0, 3, 1, 2)
        out = self.mlp(edges).mean(dim=-1)
        return torch.relu(out + self.shortcut(features))


class ParticleNet(nn.Module):
    def __init__(self, lite):
        super().__init__()
        k, convs, fc = (7, [(32, 32, 32), (64, 64, 64)], 128) if lite else \
            (16, [(64, 64, 64), (128, 128, 128), (256, 256, 256)], 256)
        self.bn = nn.BatchNorm1d(4)
        blocks, c = [], 4
        for widths in convs:
            blocks.append(EdgeConv(k, c, widths))
            c = widths[-1]
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.Linear(c, fc), nn.ReLU(), nn.Linear(fc, 2))

    def forward(self, points, features):
        x = self.bn(features)
        p = points
        for i, block in enumerate(self.blocks):
            x = block(p, x)
            p = x  # later blocks find neighbours in feature space
        return torch.softmax(self.head(x.mean(dim=-1)), dim=1)


class UNetBlock(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(8, cin), nn.GroupNorm(8, cout)
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, padding=1), nn.Conv2d(cout, cout, 3, padding=1)
        self.time = nn.Linear(tdim, cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, t):
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.time(t)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return h + self.skip(x)


class SelfAttention2d(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = nn.GroupNorm(8, c)
        self.qkv, self.out = nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        att = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)
        return x + self.out((v @ att.transpose(1, 2)).reshape(b, c, h, w))


class DiffusionUNet(nn.Module):
    """A small consistency-distilled diffusion UNet (one denoising step per call) as used for
    calorimeter shower generation: 32x32 images, two resolutions, attention at the bottom."""

    def __init__(self, c=32, tdim=64):
        super().__init__()
        self.tdim = tdim
        self.temb = nn.Sequential(nn.Linear(tdim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.inc = nn.Conv2d(1, c, 3, padding=1)
        self.down1, self.down2 = UNetBlock(c, c, tdim), UNetBlock(c, 2 * c, tdim)
        self.pool = nn.AvgPool2d(2)
        self.mid, self.att = UNetBlock(2 * c, 2 * c, tdim), SelfAttention2d(2 * c)
        self.up1, self.up2 = UNetBlock(4 * c, c, tdim), UNetBlock(2 * c, c, tdim)
        self.outc = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

    def forward(self, x, t):
        half = self.tdim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None] * freqs[None]
        temb = self.temb(torch.cat([torch.sin(args), torch.cos(args)], dim=1))
        h0 = self.down1(self.inc(x), temb)
        h1 = self.down2(self.pool(h0), temb)
        m = self.att(self.mid(self.pool(h1), temb))
        u = nn.functional.interpolate(m, scale_factor=2.0, mode="nearest")
        u = self.up1(torch.cat([u, h1], dim=1), temb)
        u = nn.functional.interpolate(u, scale_factor=2.0, mode="nearest")
        u = self.up2(torch.cat([u, h0], dim=1), temb)
        return self.outc(u)


class GraphNet(nn.Module):
    """graph_nets-style interaction network: edge MLP on (edge, sender, receiver), messages
    summed per receiver (ScatterElements add), node MLP, global readout."""

    def __init__(self, nodes=64, edges=256, nf=8, ef=4, hidden=64):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.register_buffer("senders", torch.randint(0, nodes, (edges,), generator=g))
        self.register_buffer("receivers", torch.randint(0, nodes, (edges,), generator=g))
        self.edge_mlp = nn.Sequential(nn.Linear(ef + 2 * nf, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.node_mlp = nn.Sequential(nn.Linear(nf + hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.readout = nn.Linear(hidden, 2)
        self.nodes = nodes

    def forward(self, node_features, edge_features):
        s, r = node_features[self.senders], node_features[self.receivers]
        messages = self.edge_mlp(torch.cat([edge_features, s, r], dim=1))
        index = self.receivers[:, None].expand(-1, messages.shape[1])
        summed = messages.new_zeros(self.nodes, messages.shape[1]).scatter_add(0, index, messages)
        nodes = self.node_mlp(torch.cat([node_features, summed], dim=1))
        return self.readout(nodes.mean(dim=0, keepdim=True))


# name -> (constructor, input shapes)
MODELS = {
    "mlp_b1": (mlp, [(1, 100)]),
    "mlp_b64": (mlp, [(64, 100)]),
    "mlp_bn_b64": (mlp_bn, [(64, 100)]),
    "mnist_cnn": (MnistCnn, [(1, 1, 28, 28)]),
    "resnet18_b1": (resnet18, [(1, 3, 224, 224)]),
    "resnet18_b8": (resnet18, [(8, 3, 224, 224)]),
    "lstm": (lambda: Recurrent(nn.LSTM), [(1, 20, 16)]),
    "gru": (lambda: Recurrent(nn.GRU), [(1, 20, 16)]),
    "gn2": (Gn2Tagger, [(1, 40, 21)]),
    # At the sizes of issue 26: embedding 256, 4 layers of 8 heads, 40 tracks.
    "gn2_256": (lambda: Gn2Tagger(dim=256), [(1, 40, 21)]),
    "calodit": (CaloDiT, [(1, 64, 90), (1, 2)]),
    "particlenet_lite": (lambda: ParticleNet(True), [(1, 2, 100), (1, 4, 100)]),
    "particlenet": (lambda: ParticleNet(False), [(1, 2, 100), (1, 4, 100)]),
    "unet": (DiffusionUNet, [(1, 1, 32, 32), (1,)]),
    "gnn": (GraphNet, [(64, 8), (256, 4)]),
}


# Models whose inputs are one graph (its nodes and edges), not a batch of events.
GRAPH_MODELS = {"gnn"}


def model_at(name, batch):
    """(constructor, input shapes) of `name` at `batch` events: a key of MODELS, or "mlp" and
    "resnet18" for the model of their _b1 entry. A graph model has its one size (batch 1)."""
    make, shapes = MODELS[name] if name in MODELS else MODELS[name + "_b1"]
    if name in GRAPH_MODELS:
        if batch != 1:
            raise ValueError(f"{name} takes one graph (batch 1), not {batch}")
        return make, shapes
    return make, [(batch, *s[1:]) for s in shapes]


def export(name, out_dir):
    make, shapes = MODELS[name]
    model = make().eval()
    # Non-trivial normalization statistics, so that folding them is tested.
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    inputs = tuple(torch.rand(*s) * (1.0 if len(s) > 1 else 500.0) for s in shapes)
    names = [f"input{i}" if len(shapes) > 1 else "input" for i in range(len(shapes))]
    with torch.no_grad():
        expected = model(*inputs)
        torch.onnx.export(model, inputs, str(out_dir / f"{name}.onnx"), input_names=names,
                          output_names=["output"], opset_version=17)
    with open(out_dir / f"{name}.input.bin", "wb") as f:
        for x in inputs:
            f.write(x.numpy().astype(np.float32).tobytes())
    expected.numpy().astype(np.float32).tofile(out_dir / f"{name}.output.bin")
    meta = {"inputs": [{"name": n, "shape": list(s)} for n, s in zip(names, shapes)], "batch": shapes[0][0],
            "flops_note": "from sofiec --report"}
    (out_dir / f"{name}.json").write_text(json.dumps(meta))


def export_identity(out_dir):
    """A 1-element Identity: the cost of a call itself, subtracted from ORT's latencies."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "identity",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(out_dir / "identity.onnx"))
    np.ones(1, np.float32).tofile(out_dir / "identity.input.bin")
    np.ones(1, np.float32).tofile(out_dir / "identity.output.bin")
    (out_dir / "identity.json").write_text(json.dumps({"inputs": [{"name": "input", "shape": [1]}], "batch": 1}))


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    export_identity(out_dir)
    for name in sys.argv[2:] or MODELS:
        export(name, out_dir)
        print(f"exported {name}")


if __name__ == "__main__":
    main()
