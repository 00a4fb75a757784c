"""Makes onnx_typed.onnx: a model whose inputs and outputs are not all float32, written with onnx.helper.

Run from this folder with Debian's Python:  /usr/bin/python3 make_typed.py
Inputs: token ids (int64), an attention mask (bool), a scale (float32). Outputs: the masked mean of the ids'
embeddings times the scale (float32), the ids divided by 3 (int64: truncated, as integer Div), that mean cast to int32
(truncated toward zero), and the ids cast to bool. OnnxModels.cs (OnnxTyped) compiles it; OnnxTypedTests runs it
against ONNX Runtime.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(77)
table = helper.make_tensor("embedding", TensorProto.FLOAT, [20, 4], (rng.standard_normal((20, 4)) * 3).astype(np.float32).flatten().tolist())
three = helper.make_tensor("three", TensorProto.INT64, [], [3])
minus_five = helper.make_tensor("minus_five", TensorProto.INT64, [], [-5])
axes = helper.make_tensor("axes", TensorProto.INT64, [1], [2])
sum_axes = helper.make_tensor("sum_axes", TensorProto.INT64, [1], [1])
nodes = [
    helper.make_node("Gather", ["embedding", "ids"], ["embedded"]),
    helper.make_node("Cast", ["mask"], ["mask_f"], to=TensorProto.FLOAT),
    helper.make_node("Unsqueeze", ["mask_f", "axes"], ["mask_3d"]),
    helper.make_node("Mul", ["embedded", "mask_3d"], ["masked"]),
    helper.make_node("ReduceSum", ["masked", "sum_axes"], ["summed"], keepdims=0),
    helper.make_node("Mul", ["summed", "scale"], ["pooled"]),
    helper.make_node("Add", ["ids", "minus_five"], ["shifted"]),
    helper.make_node("Div", ["shifted", "three"], ["thirds"]),
    helper.make_node("Cast", ["pooled"], ["pooled_int"], to=TensorProto.INT32),
    helper.make_node("Cast", ["shifted"], ["nonzero"], to=TensorProto.BOOL),
]
graph = helper.make_graph(nodes, "typed", [
    helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 6]),
    helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", 6]),
    helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["N", 1]),
], [
    helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["N", 4]),
    helper.make_tensor_value_info("thirds", TensorProto.INT64, ["N", 6]),
    helper.make_tensor_value_info("pooled_int", TensorProto.INT32, ["N", 4]),
    helper.make_tensor_value_info("nonzero", TensorProto.BOOL, ["N", 6]),
], [table, three, minus_five, axes, sum_axes])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_typed.py")
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "Models", "onnx_typed.onnx"))
print("onnx_typed: written (opset 13)")
