#!/usr/bin/python3
"""Writes the fuzzer's own seed models (tests/fuzz/seeds/): patterns the ONNX backend suite
does not contain, so that mutations reach the passes that rewrite them.
  /usr/bin/python3 tests/fuzz/make_seeds.py"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def attention(tokens=5, heads=2, size=4):
    """torch's multi-head self-attention: head split by Reshape/Transpose/Split/Squeeze,
    MatMul / Div / Softmax / MatMul, heads merged by Transpose/Reshape (AttentionFusion)."""
    hidden = heads * size
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(np.array([1, tokens, 3, heads, size], np.int64), "qkv_shape"),
        numpy_helper.from_array(np.array([1, tokens, hidden], np.int64), "merged_shape"),
        numpy_helper.from_array(np.array([1, 1, 1], np.int64), "chunks"),
        numpy_helper.from_array(np.array([0], np.int64), "axis0"),
        numpy_helper.from_array(np.array(np.sqrt(size), np.float32), "root"),
        numpy_helper.from_array(rng.standard_normal((hidden, 3 * hidden)).astype(np.float32), "w_qkv"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w_qkv"], ["qkv"]),
        helper.make_node("Reshape", ["qkv", "qkv_shape"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[2, 0, 3, 1, 4]),
        helper.make_node("Split", ["t", "chunks"], ["q5", "k5", "v5"]),
        helper.make_node("Squeeze", ["q5", "axis0"], ["q"]),
        helper.make_node("Squeeze", ["k5", "axis0"], ["k"]),
        helper.make_node("Squeeze", ["v5", "axis0"], ["v"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Div", ["s", "root"], ["scaled"]),
        helper.make_node("Softmax", ["scaled"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"]),
        helper.make_node("Transpose", ["o"], ["merged"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["merged", "merged_shape"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "attention",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, tokens, hidden])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, tokens, hidden])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)


if __name__ == "__main__":
    os.makedirs(here, exist_ok=True)
    onnx.save(attention(), os.path.join(here, "attention.onnx"))
