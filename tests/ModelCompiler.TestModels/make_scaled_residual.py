"""Makes Models/onnx_scaled_residual.onnx: squeeze-excitation gates whose product is added back to the gated map
(x + x·g, PP-OCR's residual SE), which the compiler computes in one pass, beside two near misses it must not fuse.

Run from this folder with Debian's Python:  /usr/bin/python3 make_scaled_residual.py
x [N, 6, 5, 7] (the batch free); each g a function of ReduceMean(x over H, W) [N, 6, 1, 1]; y [N, 4·210], side by side:
  x + x·g          fused
  g·x + x          fused, the operands the other way round
  x·g + Relu(x)    not fused: the product goes to another value
  (x·g) + x, where x·g is also read by a Relu that is added after: not fused, the product has two readers
"""
import os

import numpy as np
from onnx import TensorProto, checker, helper, save

here = os.path.dirname(os.path.abspath(__file__))

nodes = [
    helper.make_node("ReduceMean", ["x"], ["mean"], axes=[2, 3], keepdims=1),
    # A gate of its own for each pair, so that no two products are the same (the compiler would compute those once).
    helper.make_node("Sigmoid", ["mean"], ["g1"]),
    helper.make_node("Tanh", ["mean"], ["g2"]),
    helper.make_node("HardSigmoid", ["mean"], ["g3"]),
    helper.make_node("Softsign", ["mean"], ["g4"]),
    helper.make_node("Mul", ["x", "g1"], ["m1"]),
    helper.make_node("Add", ["x", "m1"], ["y1"]),
    helper.make_node("Mul", ["g2", "x"], ["m2"]),
    helper.make_node("Add", ["m2", "x"], ["y2"]),
    helper.make_node("Relu", ["x"], ["rx"]),
    helper.make_node("Mul", ["x", "g3"], ["m3"]),
    helper.make_node("Add", ["m3", "rx"], ["y3"]),
    helper.make_node("Mul", ["x", "g4"], ["m4"]),
    helper.make_node("Add", ["m4", "x"], ["s4"]),
    helper.make_node("Relu", ["m4"], ["r4"]),
    helper.make_node("Add", ["s4", "r4"], ["y4"]),
]
for i in range(1, 5):
    nodes.append(helper.make_node("Flatten", [f"y{i}"], [f"f{i}"], axis=1))
nodes.append(helper.make_node("Concat", ["f1", "f2", "f3", "f4"], ["y"], axis=1))
graph = helper.make_graph(nodes, "scaled_residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 5, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4 * 210])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_scaled_residual.py")
model.ir_version = 7
checker.check_model(model)
save(model, os.path.join(here, "Models", "onnx_scaled_residual.onnx"))
print("onnx_scaled_residual: written")
