#!/usr/bin/python3
"""Exports models with run-time dims (torch dynamic_axes) and torch's outputs at several sizes.

For each model NAME it writes, into the output folder:
  NAME.onnx                   the exported model, its dynamic axes named (N, batch, seq, ntracks, L)
  NAME.cases                  one line per case: the values of the run-time dims, in the order
                              the Session takes them, then the output's dims
  NAME.<case>.input.bin       the input of case <case> (0, 1, ...), float32 row-major
  NAME.<case>.output.bin      torch's output for it
The last case of each model is at the maxima the test gives the Session.
Usage: generate_dynamic_models.py OUT_DIR [NAME ...]
"""
import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import generate_models  # noqa: E402
from generate_models import mlp  # noqa: E402
from models import EncoderLayer, Gn2Tagger  # noqa: E402


class Encoder(nn.Module):
    """A transformer encoder over (batch, seq, 32), both dims chosen at run time."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(EncoderLayer(32, 4, 64), EncoderLayer(32, 4, 64))
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        return self.head(self.layers(x))


class Waveform(nn.Module):
    """Strided 1-D convolutions and a pool over a run-time length (readout samples, hits along a
    track): sizes floor((L - 1) / 2) + 1, then halved twice; valid from L = 3 on."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv1d(4, 8, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                                      nn.Conv1d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=-1))


# name -> (constructor, input shape with symbol names, dynamic axes, cases: symbol values)
MODELS = {
    "dyn_mlp": (mlp, ("N", 100), {0: "N"}, [{"N": 1}, {"N": 37}, {"N": 256}]),
    "dyn_encoder": (Encoder, ("batch", "seq", 32), {0: "batch", 1: "seq"},
                    [{"batch": 1, "seq": 1}, {"batch": 2, "seq": 9}, {"batch": 3, "seq": 24}]),
    "dyn_gn2": (lambda: Gn2Tagger(features=21, dim=32, heads=4, layers=2), (1, "ntracks", 21), {1: "ntracks"},
                [{"ntracks": 1}, {"ntracks": 17}, {"ntracks": 40}]),
    "dyn_waveform": (Waveform, ("N", 4, "L"), {0: "N", 2: "L"},
                     [{"N": 1, "L": 3}, {"N": 2, "L": 37}, {"N": 3, "L": 100}]),
}


def export(name, out_dir):
    make, shape, axes, cases = MODELS[name]
    torch.manual_seed(4321)
    model = make().eval()
    symbols = [d for d in shape if isinstance(d, str)]
    lines = []
    with torch.no_grad():
        for i, case in enumerate(cases):
            x = torch.randn(*[case[d] if isinstance(d, str) else d for d in shape])
            y = model(x)
            if i == 0:
                # Exported at a middle case so that no dim is 1 (torch would fold it in).
                mid = [cases[1][d] if isinstance(d, str) else d for d in shape]
                torch.onnx.export(model, torch.randn(*mid), str(out_dir / f"{name}.onnx"), input_names=["input"],
                                  output_names=["output"], dynamic_axes={"input": axes}, opset_version=17)
            x.numpy().astype("<f4").tofile(out_dir / f"{name}.{i}.input.bin")
            y.numpy().astype("<f4").tofile(out_dir / f"{name}.{i}.output.bin")
            lines.append(" ".join(str(case[s]) for s in symbols) + " : " + " ".join(str(d) for d in y.shape))
    (out_dir / f"{name}.cases").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    generate_models.main(MODELS, export)
