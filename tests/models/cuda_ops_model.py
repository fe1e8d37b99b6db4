#!/usr/bin/python3
"""Writes cuda_ops.onnx, a small graph of the operators the CUDA target runs beyond the MLPs'
products (batched MatMul, broadcasting Add, LayerNormalization, Softmax along a middle axis,
BatchNormalization, Mean, Sigmoid, Reshape; attention, which the compiler fuses into one
kernel, Transpose, Slice, Concat, ReduceSum, ReduceMax), with an input and the outputs numpy
computes for it (.input.bin, .output.bin), for tests/models/cuda_model_check.cu.
Usage: cuda_ops_model.py OUTPUT_DIR"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(11)
f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
x = f32(2, 3, 8)
w, b = f32(2, 8, 8), f32(3, 1)
scale, bias = f32(8), f32(8)
bn_scale, bn_bias, bn_mean, bn_var = f32(3), f32(3), f32(3), (rng.random(3) + 0.5).astype(np.float32)

h = np.matmul(x, w) + b
mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
ln = (h - mu) / np.sqrt(var + 1e-5) * scale + bias
sig = 1 / (1 + np.exp(-ln))
e = np.exp(sig - sig.max(1, keepdims=True))
soft = e / e.sum(1, keepdims=True)
bn = (soft - bn_mean[None, :, None]) / np.sqrt(bn_var[None, :, None] + 1e-5) * bn_scale[None, :, None] + \
    bn_bias[None, :, None]
mean = (bn + soft) / 2
y = mean.reshape(2, 24).astype(np.float32)
# Self-attention over the 3 positions of `mean`, then views, a concatenation and reductions.
scores = np.matmul(mean, mean.transpose(0, 2, 1)) * 0.35
p = np.exp(scores - scores.max(-1, keepdims=True))
att = np.matmul(p / p.sum(-1, keepdims=True), mean)
sl = att.transpose(0, 2, 1)[:, 1:7, :]
cc = np.concatenate([sl, sl * sl], axis=2)
z = np.concatenate([cc.sum(1), cc.max(2)], axis=1).astype(np.float32)

inits = [numpy_helper.from_array(a, n) for a, n in [(w, "w"), (b, "b"), (scale, "scale"), (bias, "bias"),
                                                      (bn_scale, "bn_scale"), (bn_bias, "bn_bias"),
                                                      (bn_mean, "bn_mean"), (bn_var, "bn_var"),
                                                      (np.array([2, 24], np.int64), "shape"),
                                                      (np.array(0.35, np.float32), "att_scale"),
                                                      (np.array([1], np.int64), "starts"), (np.array([7], np.int64), "ends"),
                                                      (np.array([1], np.int64), "axis1"), (np.array([2], np.int64), "axis2")]]
nodes = [
    helper.make_node("MatMul", ["x", "w"], ["mm"]),
    helper.make_node("Add", ["mm", "b"], ["h"]),
    helper.make_node("LayerNormalization", ["h", "scale", "bias"], ["ln"], axis=-1, epsilon=1e-5),
    helper.make_node("Sigmoid", ["ln"], ["sig"]),
    helper.make_node("Softmax", ["sig"], ["soft"], axis=1),
    helper.make_node("BatchNormalization", ["soft", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"], epsilon=1e-5),
    helper.make_node("Mean", ["bn", "soft"], ["mean"]),
    helper.make_node("Reshape", ["mean", "shape"], ["y"]),
    helper.make_node("Transpose", ["mean"], ["mean_t"], perm=[0, 2, 1]),
    helper.make_node("MatMul", ["mean", "mean_t"], ["qk"]),
    helper.make_node("Mul", ["qk", "att_scale"], ["scores"]),
    helper.make_node("Softmax", ["scores"], ["probs"], axis=-1),
    helper.make_node("MatMul", ["probs", "mean"], ["att"]),
    helper.make_node("Transpose", ["att"], ["att_t"], perm=[0, 2, 1]),
    helper.make_node("Slice", ["att_t", "starts", "ends", "axis1"], ["sl"]),
    helper.make_node("Mul", ["sl", "sl"], ["sl2"]),
    helper.make_node("Concat", ["sl", "sl2"], ["cc"], axis=2),
    helper.make_node("ReduceSum", ["cc", "axis1"], ["sum"], keepdims=0),
    helper.make_node("ReduceMax", ["cc"], ["max"], axes=[2], keepdims=0),
    helper.make_node("Concat", ["sum", "max"], ["z"], axis=1),
]
graph = helper.make_graph(nodes, "cuda_ops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 24]),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 12])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model)
onnx.save(model, out / "cuda_ops.onnx")
x.tofile(out / "cuda_ops.input.bin")
np.concatenate([y.ravel(), z.ravel()]).tofile(out / "cuda_ops.output.bin")
