"""Makes Models/onnx_windows.onnx: the convolutions the direct, Winograd and im2col kernels do not take, and GridSample.

Run from this folder with Debian's Python:  /usr/bin/python3 make_windows.py
One input x [N, 4, 6, 7] (the batch free, compiled batched), one output (every branch flattened and concatenated):
- a grouped Conv with strides [2, 1], dilations [1, 2] and asymmetric pads, then a grouped ConvTranspose with strides
  [2, 3], asymmetric pads and output_padding (both by windows: unequal strides);
- a 3-D Conv on x seen as [N, 1, 4, 6, 7];
- a grid computed from x (Conv, Tanh, × 1.2 so that some points fall outside, Transpose to [N, 6, 7, 2]) and GridSample
  of x and of the transposed convolution's output by it: bilinear with zeros, bicubic with reflection and aligned
  corners, nearest with border.
OnnxModelTests checks the compiled model against ONNX Runtime on this file; GpuTests runs it on ILGPU.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(2026_12)


def weight(name, *shape, scale=0.5):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, (rng.standard_normal(shape) * scale).astype(np.float32).flatten().tolist())


initializers = [
    weight("conv.W", 6, 2, 3, 2), weight("conv.B", 6),
    weight("up.W", 6, 2, 2, 3), weight("up.B", 6),
    weight("grid.W", 2, 4, 3, 3, scale=0.3),
    weight("conv3d.W", 3, 1, 2, 3, 3), weight("conv3d.B", 3),
    helper.make_tensor("stretch", TensorProto.FLOAT, [], [1.2]),
    helper.make_tensor("volume", TensorProto.INT64, [5], [0, 1, 4, 6, 7]),
]
nodes = [
    helper.make_node("Conv", ["x", "conv.W", "conv.B"], ["c1"], group=2, strides=[2, 1], dilations=[1, 2], pads=[1, 0, 0, 1]),
    helper.make_node("ConvTranspose", ["c1", "up.W", "up.B"], ["t"], group=3, strides=[2, 3], pads=[0, 1, 1, 0], output_padding=[1, 0]),
    helper.make_node("Conv", ["x", "grid.W"], ["g0"], pads=[1, 1, 1, 1]),
    helper.make_node("Tanh", ["g0"], ["g1"]),
    helper.make_node("Mul", ["g1", "stretch"], ["g2"]),
    helper.make_node("Transpose", ["g2"], ["grid"], perm=[0, 2, 3, 1]),
    helper.make_node("GridSample", ["x", "grid"], ["s1"], mode="bilinear", padding_mode="zeros"),
    helper.make_node("GridSample", ["t", "grid"], ["s2"], mode="bicubic", padding_mode="reflection", align_corners=1),
    helper.make_node("GridSample", ["x", "grid"], ["s3"], mode="nearest", padding_mode="border"),
    helper.make_node("Reshape", ["x", "volume"], ["x3"]),
    helper.make_node("Conv", ["x3", "conv3d.W", "conv3d.B"], ["v"], strides=[1, 2, 1], pads=[0, 1, 1, 0, 1, 1]),
]
flat = []
for name in ["t", "s1", "s2", "s3", "v"]:
    nodes.append(helper.make_node("Flatten", [name], [name + "_flat"], axis=1))
    flat.append(name + "_flat")
nodes.append(helper.make_node("Concat", flat, ["y"], axis=1))
graph = helper.make_graph(nodes, "windows",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 6, 7])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", None])], initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_windows.py")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(here, "Models", "onnx_windows.onnx"))
