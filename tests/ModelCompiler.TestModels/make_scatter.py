"""Makes Models/onnx_scatter.onnx and onnx_cache.onnx (ScatterND, ScatterElements), written with onnx.helper, opset 16,
every dimension fixed (compiled whole):

- onnx_scatter.onnx: x [4, 6] → y [8, 6]. ScatterND writes rows computed from x (2·x[0:3]) at constant rows 1, 3, 1 (a
  duplicate index: the last write wins); ScatterElements adds x[:, 0:2] into each row at constant columns (5, 0 and
  −1 and the like, reduction add, two updates landing on one place). One input, one output: GpuTests runs it too.
- onnx_cache.onnx: a key cache as a decoder keeps one, cache [1, 8, 6], the place to write (int64 [1, 2]: 0 and the
  position) and a new row [1, 6] → the cache with the row written there: ScatterND by indices given at run time, and
  the same row multiplied in (reduction mul) as a second output.

Run from this folder with Debian's Python:  /usr/bin/python3 make_scatter.py
OnnxScatterTests checks both against ONNX Runtime.
"""
import os

import numpy as np
from onnx import TensorProto, helper, save

here = os.path.dirname(os.path.abspath(__file__))


def ints(name, values, shape):
    return helper.make_tensor(name, TensorProto.INT64, shape, np.array(values, dtype=np.int64).flatten().tolist())


def floats(name, value):
    return helper.make_tensor(name, TensorProto.FLOAT, [], [value])


scatter_nodes = [
    helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["head"]),
    helper.make_node("Mul", ["head", "two"], ["rows"]),
    helper.make_node("ScatterND", ["x", "row_indices", "rows"], ["a"]),
    helper.make_node("Slice", ["x", "starts", "ends2", "axes1"], ["cols"]),
    helper.make_node("ScatterElements", ["x", "col_indices", "cols"], ["b"], axis=1, reduction="add"),
    helper.make_node("Concat", ["a", "b"], ["y"], axis=0),
]
scatter = helper.make_graph(
    scatter_nodes, "scatter", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 6])],
    [ints("starts", [0], [1]), ints("ends", [3], [1]), ints("ends2", [2], [1]), ints("axes", [0], [1]), ints("axes1", [1], [1]),
     floats("two", 2.0), ints("row_indices", [[1], [3], [1]], [3, 1]),
     ints("col_indices", [[5, 0], [-1, 5], [2, 2], [0, -6]], [4, 2])])
model = helper.make_model(scatter, opset_imports=[helper.make_opsetid("", 16)], producer_name="make_scatter.py")
model.ir_version = 8
save(model, os.path.join(here, "Models", "onnx_scatter.onnx"))

cache_nodes = [
    helper.make_node("ScatterND", ["cache", "place", "row"], ["next"]),
    helper.make_node("ScatterND", ["cache", "place", "row"], ["scaled"], reduction="mul"),
]
cache = helper.make_graph(
    cache_nodes, "cache",
    [helper.make_tensor_value_info("cache", TensorProto.FLOAT, [1, 8, 6]), helper.make_tensor_value_info("place", TensorProto.INT64, [1, 2]),
     helper.make_tensor_value_info("row", TensorProto.FLOAT, [1, 6])],
    [helper.make_tensor_value_info("next", TensorProto.FLOAT, [1, 8, 6]), helper.make_tensor_value_info("scaled", TensorProto.FLOAT, [1, 8, 6])],
    [])
model = helper.make_model(cache, opset_imports=[helper.make_opsetid("", 16)], producer_name="make_scatter.py")
model.ir_version = 8
save(model, os.path.join(here, "Models", "onnx_cache.onnx"))
