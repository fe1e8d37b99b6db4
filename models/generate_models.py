#!/usr/bin/python3
"""Exports the test models with Debian's torch and writes torch's reference outputs.

For each model NAME it writes, into the output folder:
  NAME.onnx                  the exported model
  NAME.input.bin             the input, float32 little-endian, row-major
  NAME.output.bin            torch's output for it, float32
Usage: generate_models.py OUT_DIR [NAME ...]   (default: all models)
"""
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn


def mlp():
    # SOFIE's "Linear" benchmark: 100 -> 50 -> 100 -> 100 -> 4 with ReLU between layers.
    return nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 100), nn.ReLU(),
                         nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 4))


def mlp_bn():
    return nn.Sequential(nn.Linear(100, 50), nn.BatchNorm1d(50), nn.ReLU(), nn.Linear(50, 100),
                         nn.BatchNorm1d(100), nn.ReLU(), nn.Linear(100, 4))


class MnistCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.LeakyReLU(0.1), nn.AvgPool2d(2),
            nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=4), nn.Tanh())
        self.classifier = nn.Sequential(nn.Linear(16 * 4 * 4, 32), nn.Sigmoid(), nn.Linear(32, 10))

    def forward(self, x):
        x = self.features(x)
        x = x.reshape(x.shape[0], -1)  # exported as Shape -> Gather -> Concat -> Reshape
        return torch.softmax(self.classifier(x), dim=1)


class RecurrentTagger(nn.Module):
    # A sequence model as used on tracks or hits: stacked bidirectional LSTM, then a GRU.
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, num_layers=2, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(16, 6, batch_first=True, bidirectional=True)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        z, _ = self.gru(y)
        return self.head(z[:, -1])


def resnet18():
    import torchvision
    return torchvision.models.resnet18(weights=None)


MODELS = {
    # name: (factory, input shape)
    "mlp_b1": (mlp, (1, 100)),
    "mlp_b64": (mlp, (64, 100)),
    "mlp_bn_b64": (mlp_bn, (64, 100)),
    "mnist_cnn": (MnistCnn, (2, 1, 28, 28)),
    "resnet18": (resnet18, (1, 3, 224, 224)),
    "recurrent": (RecurrentTagger, (3, 7, 5)),
}


def export(name, out_dir):
    factory, shape = MODELS[name]
    torch.manual_seed(1234)
    model = factory()
    # Make batch-norm statistics non-trivial so that folding them is really tested.
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, str(out_dir / f"{name}.onnx"), input_names=["input"], output_names=["output"],
                      opset_version=13, do_constant_folding=False)
    x.numpy().astype("<f4").tofile(out_dir / f"{name}.input.bin")
    y.numpy().astype("<f4").tofile(out_dir / f"{name}.output.bin")
    if name == "mlp_b64":  # the same model as TorchScript, for sofiec's PyTorch front-end
        with torch.no_grad():
            torch.jit.trace(model, x).save(str(out_dir / f"{name}.pt"))


def main(models=None, export_model=None):
    """OUT_DIR [NAME ...] from the command line; shared with generate_dynamic_models.py."""
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[2:] or (models or MODELS):
        (export_model or export)(name, out_dir)


if __name__ == "__main__":
    main()
