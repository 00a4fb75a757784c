"""Makes Models/onnx_running.onnx: CumSum along each sample axis, forward and reverse, inclusive and exclusive, and
GatherElements by indices the graph computes (ArgMax along the middle axis, and the same counted from the end), and a
Scan over the middle axis read backwards (a leaky running state: the final state and each step's Tanh), and a Slice
with steps 2 and -3.

Run from this folder with Debian's Python:  /usr/bin/python3 make_running.py
x [N, 5, 7] (the batch free); y is every result flattened and concatenated. OnnxModelTests checks it against ONNX
Runtime.
"""
import os

import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))
cases = [("last", 2, 0, 0), ("middle_exclusive", 1, 1, 0), ("negative_reverse", -1, 0, 1), ("middle_reverse_exclusive", 1, 1, 1)]
nodes, initializers, flat = [], [], []
for name, axis, exclusive, reverse in cases:
    initializers.append(helper.make_tensor(name + ".axis", TensorProto.INT64, [], [axis]))
    nodes.append(helper.make_node("CumSum", ["x", name + ".axis"], [name], exclusive=exclusive, reverse=reverse))
    nodes.append(helper.make_node("Flatten", [name], [name + "_flat"], axis=1))
    flat.append(name + "_flat")
# Indices computed at run time: the place of each column's largest value, then the same as a negative index.
initializers.append(helper.make_tensor("five", TensorProto.INT64, [], [5]))
nodes += [
    helper.make_node("ArgMax", ["x"], ["at"], axis=1, keepdims=1),
    helper.make_node("GatherElements", ["x", "at"], ["largest"], axis=1),
    helper.make_node("Sub", ["at", "five"], ["at_from_end"]),
    helper.make_node("GatherElements", ["x", "at_from_end"], ["largest_again"], axis=-2),
]
# Scan (opset 9+): a leaky running state over the middle axis, read backwards; the final state and each step's Tanh.
half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
body = helper.make_graph(
    [helper.make_node("Mul", ["state_in", "half"], ["kept"]), helper.make_node("Add", ["kept", "x_t"], ["state_out"]),
     helper.make_node("Tanh", ["state_out"], ["step"])],
    "leaky", [helper.make_tensor_value_info("state_in", TensorProto.FLOAT, ["N", 7]), helper.make_tensor_value_info("x_t", TensorProto.FLOAT, ["N", 7])],
    [helper.make_tensor_value_info("state_out", TensorProto.FLOAT, ["N", 7]), helper.make_tensor_value_info("step", TensorProto.FLOAT, ["N", 7])], [half])
initializers.append(helper.make_tensor("middle", TensorProto.INT64, [1], [1]))
nodes += [
    helper.make_node("ReduceMean", ["x"], ["initial"], axes=[1], keepdims=0),
    helper.make_node("Scan", ["initial", "x"], ["final", "steps"], num_scan_inputs=1, body=body,
                     scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[1]),
]
# Slices with steps: every other row, and every third column backwards from the last (x[:, ::2, ::-3]).
initializers += [helper.make_tensor("s.starts", TensorProto.INT64, [2], [0, -1]), helper.make_tensor("s.ends", TensorProto.INT64, [2], [2**62, -2**62]),
                 helper.make_tensor("s.axes", TensorProto.INT64, [2], [1, 2]), helper.make_tensor("s.steps", TensorProto.INT64, [2], [2, -3])]
nodes.append(helper.make_node("Slice", ["x", "s.starts", "s.ends", "s.axes", "s.steps"], ["strided"]))
for name in ["largest", "largest_again", "final", "steps", "strided"]:
    nodes.append(helper.make_node("Flatten", [name], [name + "_flat"], axis=1))
    flat.append(name + "_flat")
nodes.append(helper.make_node("Concat", flat, ["y"], axis=1))
graph = helper.make_graph(nodes, "running", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 205])], initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_running.py")
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "Models", "onnx_running.onnx"))
