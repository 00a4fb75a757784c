"""Makes onnx_typed.onnx and onnx_logic.onnx: models whose inputs and outputs are not all float32, written with onnx.helper.

Run from this folder with Debian's Python:  /usr/bin/python3 make_typed.py
onnx_typed.onnx — inputs: token ids (int64), an attention mask (bool), a scale (float32). Outputs: the masked mean of the ids'
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


# onnx_logic.onnx: comparisons, logic, Where (with −∞, as attention masks write it), Mod and Pow of two values, ArgMax and ArgMin, on
# float32 inputs a and b [N, 5]; bool and float32 outputs (OnnxModels.cs: OnnxLogic).
c = helper.make_tensor
logic_nodes = [
    helper.make_node("Greater", ["a", "b"], ["gt"]),
    helper.make_node("LessOrEqual", ["a", "half"], ["le"]),
    helper.make_node("And", ["gt", "le"], ["both"]),
    helper.make_node("Or", ["gt", "le"], ["either"]),
    helper.make_node("Xor", ["gt", "le"], ["one"]),
    helper.make_node("Not", ["one"], ["none_or_both"]),
    helper.make_node("Where", ["gt", "a", "minus_inf"], ["masked"]),
    helper.make_node("Abs", ["a"], ["abs_a"]),
    helper.make_node("Add", ["abs_a", "tenth"], ["base"]),
    helper.make_node("Pow", ["base", "b"], ["power"]),
    helper.make_node("Pow", ["a", "two_and_half"], ["power_const"]),
    helper.make_node("Mod", ["a", "b"], ["remainder"], fmod=1),
    helper.make_node("Equal", ["a", "a"], ["self_equal"]),
    helper.make_node("ArgMax", ["a"], ["argmax"], axis=1, keepdims=0),
    helper.make_node("ArgMin", ["b"], ["argmin"], axis=-1, keepdims=1),
]
logic = helper.make_graph(logic_nodes, "logic", [
    helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 5]),
    helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 5]),
], [helper.make_tensor_value_info(n, t, ["N", 5]) for n, t in [
    ("both", TensorProto.BOOL), ("either", TensorProto.BOOL), ("none_or_both", TensorProto.BOOL), ("masked", TensorProto.FLOAT),
    ("power", TensorProto.FLOAT), ("power_const", TensorProto.FLOAT), ("remainder", TensorProto.FLOAT), ("self_equal", TensorProto.BOOL)]]
    + [helper.make_tensor_value_info("argmax", TensorProto.INT64, ["N"]), helper.make_tensor_value_info("argmin", TensorProto.INT64, ["N", 1])],
    [c("half", TensorProto.FLOAT, [], [0.5]), c("minus_inf", TensorProto.FLOAT, [], [float("-inf")]),
     c("tenth", TensorProto.FLOAT, [], [0.1]), c("two_and_half", TensorProto.FLOAT, [], [2.5])])
model = helper.make_model(logic, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_typed.py")
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "Models", "onnx_logic.onnx"))
print("onnx_logic: written (opset 13)")
