#!/usr/bin/python3
"""Writes example/jet_tagger.onnx, the small model the README's first command compiles and runs:
a 16-feature, 3-class jet tagger MLP with batch normalization and softmax, weights from a fixed
seed. Also writes its torch output for the fixed input the example app uses (input[i] = i/16 - 0.5)."""
from pathlib import Path

import torch
from torch import nn

here = Path(__file__).parent
torch.manual_seed(7)
model = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                      nn.Linear(32, 3), nn.Softmax(dim=1))
model.eval()
x = (torch.arange(16, dtype=torch.float32) / 16 - 0.5).reshape(1, 16)
torch.onnx.export(model, x, str(here / "jet_tagger.onnx"), input_names=["features"], output_names=["probabilities"],
                  opset_version=13)
with torch.no_grad():
    print("torch:", " ".join(f"{v:.6f}" for v in model(x)[0].tolist()))
