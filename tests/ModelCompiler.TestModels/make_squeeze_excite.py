"""Makes Models/onnx_squeeze_excite.onnx: squeeze-and-excitation gates written with convolutions, as MobileNetV3 and
PP-OCR export them (GlobalAveragePool, then 1×1 convolutions over the one position left). The compiler computes a 1×1
convolution over one position as a Linear layer; near misses stay convolutions.

Run from this folder with Debian's Python:  /usr/bin/python3 make_squeeze_excite.py
x [N, 24, 6, 10] (the batch free); y [N, …], the branches flattened side by side:
  y1 = x · HardSigmoid(Conv1×1(Relu(Conv1×1(GAP(x)))))    both 1×1 layers as Linears (24 → 6 → 24, with biases)
  y2 = Relu(BN(Conv1×1(GAP(x))))                          as a Linear, BatchNorm folded in, no bias (24 → 40)
  y3 = Conv1×1/2(GAP(x))                                  as a Linear: a stride does not matter over one position (24 → 17)
  y4 = Conv1d k=1 over ReduceMean(x) [N, 24, 1]           as a Linear, one-dimensional (24 → 5)
  n1 = Conv1×1 with 2 groups over GAP(x)                  stays a convolution: grouped
  n2 = Conv1×1 with padding 1 over GAP(x)                 stays a convolution: 3 × 3 positions out
  n3 = Conv3×3 with padding 1 over GAP(x)                 stays a convolution: a 3×3 kernel (only its centre tap reads)
  n4 = Conv1×1 over Relu(x) [N, 24, 6, 10]                stays a convolution: 60 positions
"""
import os

import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper, save

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(31)
initializers = []


def values(name, array):
    initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
    return name


def tensor(name, shape, scale):
    return values(name, rng.standard_normal(shape) * scale)


def conv(name, x, y, out, inp, k, stride=1, pad=0, groups=1, bias=True, one_d=False):
    shape = (out, inp // groups, k) if one_d else (out, inp // groups, k, k)
    w = tensor(name + ".w", shape, 1.0 / np.sqrt(inp // groups * k * k))
    inputs = [x, w] + ([tensor(name + ".b", (out,), 0.1)] if bias else [])
    dims = 1 if one_d else 2
    return helper.make_node("Conv", inputs, [y], kernel_shape=[k] * dims, strides=[stride] * dims, pads=[pad] * 2 * dims,
                            group=groups, name=name)


def bn(name, x, y, channels):
    scale = values(name + ".scale", 1 + rng.standard_normal(channels) * 0.1)
    shift = tensor(name + ".shift", (channels,), 0.1)
    mean = tensor(name + ".mean", (channels,), 0.1)
    var = values(name + ".var", 0.5 + rng.random(channels))
    return helper.make_node("BatchNormalization", [x, scale, shift, mean, var], [y], epsilon=1e-5, name=name)


nodes = [
    helper.make_node("GlobalAveragePool", ["x"], ["g"]),
    # y1: the gate
    conv("squeeze", "g", "s", 6, 24, 1), helper.make_node("Relu", ["s"], ["rs"]), conv("excite", "rs", "e", 24, 6, 1),
    helper.make_node("HardSigmoid", ["e"], ["gate"], alpha=0.2, beta=0.5), helper.make_node("Mul", ["x", "gate"], ["y1"]),
    # y2
    conv("p2", "g", "c2", 40, 24, 1, bias=False), bn("bn2", "c2", "b2", 40), helper.make_node("Relu", ["b2"], ["y2"]),
    # y3
    conv("p3", "g", "y3", 17, 24, 1, stride=2),
    # y4: one-dimensional
    helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=0),
    helper.make_node("ReduceMean", ["m"], ["m1"], axes=[2], keepdims=1),
    conv("p4", "m1", "y4", 5, 24, 1, one_d=True),
    # near misses
    conv("m1", "g", "n1", 8, 24, 1, groups=2),
    conv("m2", "g", "n2", 8, 24, 1, pad=1),
    conv("m3", "g", "n3", 8, 24, 3, pad=1),
    helper.make_node("Relu", ["x"], ["rx"]), conv("m4", "rx", "n4", 8, 24, 1),
]
outputs = ["y1", "y2", "y3", "y4", "n1", "n2", "n3", "n4"]
for o in outputs:
    nodes.append(helper.make_node("Flatten", [o], ["f" + o], axis=1))
nodes.append(helper.make_node("Concat", ["f" + o for o in outputs], ["y"], axis=1))
width = 24 * 60 + 40 + 17 + 5 + 8 + 8 * 9 + 8 + 8 * 60
graph = helper.make_graph(nodes, "squeeze_excite", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 24, 6, 10])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", width])], initializer=initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_squeeze_excite.py")
model.ir_version = 7
checker.check_model(model)
save(model, os.path.join(here, "Models", "onnx_squeeze_excite.onnx"))
print("onnx_squeeze_excite: written")
