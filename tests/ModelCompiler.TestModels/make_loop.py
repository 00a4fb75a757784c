"""Makes Models/onnx_loop.onnx: ONNX Loop with a trip count known at build time, unrolled.

Run from this folder with Debian's Python:  /usr/bin/python3 make_loop.py
x [2, 3] (every dimension fixed: compiled whole, a set a sample). Two loops:
- 'grow': 6 iterations at most, a condition computed at run time (go on while the largest value stays below 4): the
  state s ← 1.5·s + 0.25 + i/10 stops where the condition first fails;
- 'steps': 3 iterations, no condition, a scan output (each iteration's Tanh of the state) stacked along a new first axis.
y is the final states and the scan output, flattened and concatenated. OnnxModelTests checks it against ONNX Runtime.
"""
import os

import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))


def scalar(name, data_type, value):
    return helper.make_tensor(name, data_type, [], [value])


grow = helper.make_graph(
    [helper.make_node("Mul", ["s_in", "k15"], ["scaled"]),
     helper.make_node("Cast", ["i"], ["i_float"], to=TensorProto.FLOAT),
     helper.make_node("Mul", ["i_float", "k01"], ["tenth"]),
     helper.make_node("Add", ["scaled", "k025"], ["shifted"]),
     helper.make_node("Add", ["shifted", "tenth"], ["s_out"]),
     helper.make_node("ReduceMax", ["s_out"], ["top"], keepdims=0),
     helper.make_node("Less", ["top", "k4"], ["go_on"])],
    "grow_body",
    [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
     helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [2, 3])],
    [helper.make_tensor_value_info("go_on", TensorProto.BOOL, []), helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [2, 3])],
    [scalar("k15", TensorProto.FLOAT, 1.5), scalar("k01", TensorProto.FLOAT, 0.1), scalar("k025", TensorProto.FLOAT, 0.25), scalar("k4", TensorProto.FLOAT, 4.0)])
steps = helper.make_graph(
    [helper.make_node("Mul", ["t_in", "k09"], ["t_out"]), helper.make_node("Tanh", ["t_out"], ["t_step"]),
     helper.make_node("Identity", ["c2_in"], ["c2_out"])],
    "steps_body",
    [helper.make_tensor_value_info("j", TensorProto.INT64, []), helper.make_tensor_value_info("c2_in", TensorProto.BOOL, []),
     helper.make_tensor_value_info("t_in", TensorProto.FLOAT, [2, 3])],
    [helper.make_tensor_value_info("c2_out", TensorProto.BOOL, []), helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [2, 3]),
     helper.make_tensor_value_info("t_step", TensorProto.FLOAT, [2, 3])],
    [scalar("k09", TensorProto.FLOAT, 0.9)])
nodes = [
    helper.make_node("Loop", ["six", "yes", "x"], ["grown"], body=grow),
    helper.make_node("Loop", ["three", "", "x"], ["last", "all_steps"], body=steps),
]
flat = []
for name in ["grown", "last", "all_steps"]:
    nodes.append(helper.make_node("Reshape", [name, "minus_one"], [name + "_flat"]))
    flat.append(name + "_flat")
nodes.append(helper.make_node("Concat", flat, ["y"], axis=0))
graph = helper.make_graph(nodes, "loops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [30])],
                          [scalar("six", TensorProto.INT64, 6), scalar("three", TensorProto.INT64, 3), scalar("yes", TensorProto.BOOL, 1),
                           helper.make_tensor("minus_one", TensorProto.INT64, [1], [-1])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_loop.py")
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "Models", "onnx_loop.onnx"))
