#!/usr/bin/python3
"""Writes cuda_convs.onnx, convolutions shaped to take each path of the CUDA target's implicit
GEMM (templates/shared/conv_tiles.hpp): tiles of 128 filters by 128 columns, of 64 by 128 and of
64 by 64, the inner dim cut into slices added up by a second kernel, three spatial dims with
strides, dilations and uneven pads, a fused Relu; and a pointwise convolution (cuBLAS and a bias
pass) and a grouped one that runs directly; with the inputs and the outputs numpy computes in
float64 (.input.bin, .output.bin), for tests/models/cuda_model_check.cu.
Usage: cuda_conv_model.py OUTPUT_DIR"""
import sys
from itertools import product
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(27)
f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731


def conv(x, w, b=None, strides=None, pads=None, dilations=None, group=1):
    """ONNX Conv by its definition, a sum over the taps of shifted inputs, in float64."""
    rank = x.ndim - 2
    strides = strides or [1] * rank
    dilations = dilations or [1] * rank
    pads = pads or [0] * (2 * rank)
    x = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(pads[d], pads[d + rank]) for d in range(rank)])
    kernel = w.shape[2:]
    outs = [(x.shape[2 + d] - dilations[d] * (kernel[d] - 1) - 1) // strides[d] + 1 for d in range(rank)]
    cg, fg = x.shape[1] // group, w.shape[0] // group
    y = np.zeros((x.shape[0], w.shape[0], *outs))
    for g in range(group):
        xs, ws = x[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg].astype(np.float64)
        for tap in product(*[range(k) for k in kernel]):
            window = tuple(slice(tap[d] * dilations[d], tap[d] * dilations[d] + (outs[d] - 1) * strides[d] + 1,
                                 strides[d]) for d in range(rank))
            y[:, g * fg:(g + 1) * fg] += np.einsum("nc...,fc->nf...", xs[(slice(None), slice(None)) + window],
                                                   ws[(slice(None), slice(None)) + tap])
    if b is not None:
        y += b.reshape(1, -1, *[1] * rank)
    return y.astype(np.float32)


# (name, input, weights, bias, attributes, relu)
x_small, x_long, x_3d, x_wide = f32(1, 64, 7, 7), f32(1, 4, 16900), f32(1, 3, 6, 7, 8), f32(2, 40, 9, 9)
inputs = [("x_small", x_small), ("x_long", x_long), ("x_3d", x_3d), ("x_wide", x_wide)]
convs = [
    # 160 filters of 49 columns, inner dim 576: too few tiles, four slices of the inner dim; Relu fused.
    ("sliced", "x_small", f32(160, 64, 3, 3), f32(160), dict(pads=[1, 1, 1, 1]), True),
    # 65 filters by 16898 columns: 133 tiles of 128 x 128, the second half of each tile past the filters.
    ("tiles_128", "x_long", f32(65, 4, 3), None, {}, False),
    # 24 filters by 16896 columns: 132 tiles of 64 x 128.
    ("tiles_64x128", "x_long", f32(24, 4, 5), f32(24), {}, False),
    # Three spatial dims, strides, dilations and pads uneven before and after.
    ("three_dims", "x_3d", f32(5, 3, 2, 3, 3), f32(5),
     dict(strides=[1, 2, 1], dilations=[1, 1, 2], pads=[1, 0, 2, 0, 1, 2]), False),
    # Pointwise over two images.
    ("pointwise", "x_wide", f32(33, 40, 1, 1), f32(33), {}, True),
    # Grouped: the direct kernel.
    ("grouped", "x_wide", f32(8, 10, 3, 3), None, dict(group=4, strides=[2, 2]), False),
]

nodes, inits, outputs, expected = [], [], [], []
for name, source, w, b, attrs, relu in convs:
    x = dict(inputs)[source]
    inits.append(numpy_helper.from_array(w, name + "_w"))
    names = [source, name + "_w"]
    if b is not None:
        inits.append(numpy_helper.from_array(b, name + "_b"))
        names.append(name + "_b")
    y = conv(x, w, b, **attrs)
    conv_out = name + ("_conv" if relu else "")
    nodes.append(helper.make_node("Conv", names, [conv_out], kernel_shape=list(w.shape[2:]), **attrs))
    if relu:
        nodes.append(helper.make_node("Relu", [conv_out], [name]))
        y = np.maximum(y, 0)
    outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(y.shape)))
    expected.append(y)

graph = helper.make_graph(nodes, "cuda_convs",
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(x.shape)) for n, x in inputs],
                          outputs, inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model)
onnx.save(model, out / "cuda_convs.onnx")
np.concatenate([x.ravel() for _, x in inputs]).tofile(out / "cuda_convs.input.bin")
np.concatenate([y.ravel() for y in expected]).tofile(out / "cuda_convs.output.bin")
