"""Makes Models/onnx_skip_connection.onnx: convolutions whose value is added to another activation of the same shape (a
ResNet or MobileNet block's skip connection), which the compiler adds in the convolution's store, beside near misses it
must leave to an Add of their own.

Run from this folder with Debian's Python:  /usr/bin/python3 make_skip_connection.py
x [N, 8, 24, 24] (the batch free); y [N, …], the branches flattened side by side:
  y1 = Relu(BN(Conv3×3(x)) + x)              fused: stride 1, 8 → 8 (a direct layer; AVX2 hands it to Winograd)
  y2 = Sigmoid(Conv3×3(Relu(a)) + a)         fused: 4 → 4 channels (the direct kernel's blocks on every CPU),
       a = Conv1×1(x), 8 → 4                  a is computed before the convolution that adds it
  y3 = Relu(Conv3×3/2(x) + Conv1×1/2(x))     fused into the 3×3 (im2col GEMM), the 1×1 shortcut computed first
  y4 = Conv3×3(e) + e, e = Conv1×1(x)        fused: 64 → 64 channels, a Winograd layer (filters transformed at build time)
  n1 = Relu(Conv3×3(x)) + x                  not fused: an epilogue comes before the Add
  n2 = Conv3×3(x) + x, the conv also read by a Sigmoid added after: not fused, the conv's value has two readers
  n3 = Conv3×3(x) + Tanh(x)                  not fused: Tanh(x) is computed after the convolution
  n4 = Conv3×3(x) + ReduceMean(x) [8, 1, 1]  not fused: a broadcast
"""
import os

import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper, save

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(23)
initializers = []


def tensor(name, shape, scale):
    return values(name, rng.standard_normal(shape) * scale)


def conv(name, x, y, out, inp, k, stride=1):
    w = tensor(name + ".w", (out, inp, k, k), 1.0 / np.sqrt(inp * k * k))
    b = tensor(name + ".b", (out,), 0.1)
    return helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4, name=name)


def values(name, array):
    initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
    return name


def bn(name, x, y, channels):
    scale = values(name + ".scale", 1 + rng.standard_normal(channels) * 0.1)
    shift = tensor(name + ".shift", (channels,), 0.1)
    mean = tensor(name + ".mean", (channels,), 0.1)
    var = values(name + ".var", 0.5 + rng.random(channels))
    return helper.make_node("BatchNormalization", [x, scale, shift, mean, var], [y], epsilon=1e-5, name=name)


nodes = [
    # y1
    conv("c1", "x", "c1", 8, 8, 3), bn("bn1", "c1", "b1", 8),
    helper.make_node("Add", ["b1", "x"], ["s1"]), helper.make_node("Relu", ["s1"], ["y1"]),
    # y2
    conv("a", "x", "a", 4, 8, 1), helper.make_node("Relu", ["a"], ["ra"]), conv("c2", "ra", "c2", 4, 4, 3),
    helper.make_node("Add", ["c2", "a"], ["s2"]), helper.make_node("Sigmoid", ["s2"], ["y2"]),
    # y3: the shortcut first
    conv("d3", "x", "d3", 16, 8, 1, stride=2), conv("c3", "x", "c3", 16, 8, 3, stride=2),
    helper.make_node("Add", ["d3", "c3"], ["s3"]), helper.make_node("Relu", ["s3"], ["y3"]),
    # y4
    conv("e", "x", "e", 64, 8, 1), conv("c4", "e", "c4", 64, 64, 3), helper.make_node("Add", ["c4", "e"], ["y4"]),
    # near misses
    conv("m1", "x", "m1", 8, 8, 3), helper.make_node("Relu", ["m1"], ["rm1"]), helper.make_node("Add", ["rm1", "x"], ["n1"]),
    conv("m2", "x", "m2", 8, 8, 3), helper.make_node("Add", ["m2", "x"], ["t2"]), helper.make_node("Sigmoid", ["m2"], ["g2"]),
    helper.make_node("Add", ["t2", "g2"], ["n2"]),
    conv("m3", "x", "m3", 8, 8, 3), helper.make_node("Tanh", ["x"], ["tx"]), helper.make_node("Add", ["m3", "tx"], ["n3"]),
    conv("m4", "x", "m4", 8, 8, 3), helper.make_node("ReduceMean", ["x"], ["mx"], axes=[2, 3], keepdims=1),
    helper.make_node("Add", ["m4", "mx"], ["n4"]),
]
outputs = ["y1", "y2", "y3", "y4", "n1", "n2", "n3", "n4"]
for o in outputs:
    nodes.append(helper.make_node("Flatten", [o], ["f" + o], axis=1))
nodes.append(helper.make_node("Concat", ["f" + o for o in outputs], ["y"], axis=1))
width = 8 * 576 + 4 * 576 + 16 * 144 + 64 * 576 + 4 * 8 * 576
graph = helper.make_graph(nodes, "skip_connection", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 24, 24])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", width])], initializer=initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_skip_connection.py")
model.ir_version = 7
checker.check_model(model)
save(model, os.path.join(here, "Models", "onnx_skip_connection.onnx"))
print("onnx_skip_connection: written", width)
