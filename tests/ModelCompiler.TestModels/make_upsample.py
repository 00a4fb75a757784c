"""Makes Models/onnx_upsample.onnx: the upsampling steps of FPN heads and U-Nets as Paddle2ONNX and torch.onnx write them —
ConvTranspose with filters as large as the stride and no padding (2-D, ×2, with a bias; and over one axis, ×3, without),
which the importer computes as a 1×1 convolution and a DepthToSpace-style copy, and a nearest Resize ×2, which it computes
as a broadcast against zeros. The 2-D ConvTranspose is followed by an Add of one value per channel (Paddle2ONNX writes a
ConvTranspose's bias so), BatchNormalization and Relu, as in DBNet's head (PP-OCR's detector): those three are one pass over
the upsampled map.

Run from this folder with Debian's Python:  /usr/bin/python3 make_upsample.py
x [N, 6, 5, 7] (the batch free); y [N, 4·10·14 + 6·10·14 + 30·21]: the 2-D ConvTranspose's [4, 10, 14] (normalized, then Relu), the resized
input's [6, 10, 14], and the 1-D ConvTranspose's [30, 21] over the input viewed as [30, 7], each flattened, side by side.
"""
import os

import numpy as np
from onnx import TensorProto, checker, helper, save

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(22)


def tensor(name, *shape, scale=0.5):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, (rng.standard_normal(shape) * scale).astype(np.float32).flatten().tolist())


initializers = [
    tensor("up2.weight", 6, 4, 2, 2), tensor("up2.bias", 4),
    tensor("shift", 1, 4, 1, 1), tensor("bn.scale", 4), tensor("bn.bias", 4), tensor("bn.mean", 4),
    helper.make_tensor("bn.var", TensorProto.FLOAT, [4], (rng.random(4) + 0.5).astype(np.float32).tolist()),
    tensor("up1.weight", 30, 30, 3),
    helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0]),
    helper.make_tensor("flat3", TensorProto.INT64, [3], [0, 30, 7]),
]
nodes = [
    helper.make_node("ConvTranspose", ["x", "up2.weight", "up2.bias"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Resize", ["x", "", "scales"], ["b"], mode="nearest"),
    helper.make_node("Reshape", ["x", "flat3"], ["x1"]),
    helper.make_node("ConvTranspose", ["x1", "up1.weight"], ["c"], kernel_shape=[3], strides=[3]),
    helper.make_node("Add", ["a", "shift"], ["as"]),
    helper.make_node("BatchNormalization", ["as", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["an"], epsilon=1e-5),
    helper.make_node("Relu", ["an"], ["ar"]),
    helper.make_node("Flatten", ["ar"], ["af"], axis=1),
    helper.make_node("Flatten", ["b"], ["bf"], axis=1),
    helper.make_node("Flatten", ["c"], ["cf"], axis=1),
    helper.make_node("Concat", ["af", "bf", "cf"], ["y"], axis=1),
]
graph = helper.make_graph(nodes, "upsample", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 5, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4 * 10 * 14 + 6 * 10 * 14 + 30 * 21])], initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_upsample.py")
model.ir_version = 7
checker.check_model(model)
save(model, os.path.join(here, "Models", "onnx_upsample.onnx"))
print("onnx_upsample: written")
