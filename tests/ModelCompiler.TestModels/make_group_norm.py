"""Makes Models/onnx_group_norm.onnx: GroupNormalization as opset 18 writes it (scale and bias per group) and as opset 21
does (per channel) — the second as the first's expansion is how older exporters wrote GroupNorm, so here both read the
opset-18 operator: 6 channels in 3 groups with per-group scale and bias, and 6 groups of one (InstanceNorm-like).

Run from this folder with Debian's Python:  /usr/bin/python3 make_group_norm.py
x [N, 6, 4, 5] (the batch free); y is both results concatenated along the channels. onnx 1.12 (Debian's) predates
opset 18, so the file is not run through its checker; ONNX Runtime (OnnxModelTests) reads and checks it.
"""
import os

import numpy as np
from onnx import TensorProto, helper, save

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(18)


def tensor(name, *shape):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, (rng.standard_normal(shape) * 0.5 + 1).astype(np.float32).flatten().tolist())


initializers = [tensor("g3.scale", 3), tensor("g3.bias", 3), tensor("g6.scale", 6), tensor("g6.bias", 6)]
nodes = [
    helper.make_node("GroupNormalization", ["x", "g3.scale", "g3.bias"], ["a"], num_groups=3, epsilon=1e-4),
    helper.make_node("GroupNormalization", ["x", "g6.scale", "g6.bias"], ["b"], num_groups=6),
    helper.make_node("Concat", ["a", "b"], ["y"], axis=1),
]
graph = helper.make_graph(nodes, "group_norm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 4, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 12, 4, 5])], initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="make_group_norm.py")
model.ir_version = 8
save(model, os.path.join(here, "Models", "onnx_group_norm.onnx"))
