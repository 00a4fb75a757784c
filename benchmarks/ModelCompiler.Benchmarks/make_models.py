"""Makes the benchmark models: the 784-512-256-10 MLP (random PyTorch initialisation) as safetensors for
ModelCompiler and as ONNX for ONNX Runtime, and the Digits sample's trained model as ONNX.

Run from this folder with Debian's Python:  /usr/bin/python3 make_models.py
"""
import os
import sys

import numpy as np
import onnx
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tools"))
import safetensors_io  # noqa: E402

torch.manual_seed(784)


class Mlp(torch.nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.fc1 = torch.nn.Linear(sizes[0], sizes[1])
        self.fc2 = torch.nn.Linear(sizes[1], sizes[2])
        self.fc3 = torch.nn.Linear(sizes[2], sizes[3])

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class Digits(torch.nn.Module):
    """The Digits sample's network (samples/Digits/train.py), loaded from its checked-in weights."""
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 64)
        self.fc2 = torch.nn.Linear(64, 32)
        self.out = torch.nn.Linear(32, 10)

    def forward(self, x):
        return torch.softmax(self.out(torch.relu(self.fc2(torch.relu(self.fc1(x))))), dim=-1)


def export_onnx(model, features, path):
    model.eval()
    torch.onnx.export(model, torch.zeros(1, features), path, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=13)


mlp = Mlp((784, 512, 256, 10))
safetensors_io.save(os.path.join(here, "Models", "mlp784.safetensors"), safetensors_io.state_dict(mlp))
export_onnx(mlp, 784, os.path.join(here, "Models", "mlp784.onnx"))

# Read the sample's weights back with the same layout the C# side uses.
import json, struct, numpy as np  # noqa: E401,E402
with open(os.path.join(here, "..", "..", "samples", "Digits", "digits.safetensors"), "rb") as f:
    raw = f.read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
digits = Digits()
state = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype="<f4").reshape(v["shape"]).copy())
         for k, v in header.items() if k != "__metadata__"}
digits.load_state_dict(state)
export_onnx(digits, 64, os.path.join(here, "Models", "digits.onnx"))
print("wrote", sorted(os.listdir(os.path.join(here, "Models"))))

# ONNX Runtime's own int8 on the same weights: the graph its dynamic quantization produces. Weights int8, symmetric
# per output channel (as ModelCompiler's Int8); activations quantized per call by DynamicQuantizeLinear (uint8,
# per tensor); MatMulInteger (u8 x s8 -> int32); then dequantize, bias and ReLU in float.
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

nodes, initializers, x = [], [], "input"
mlp_state = {k: v.detach().numpy() for k, v in mlp.state_dict().items()}
for i, (name, relu) in enumerate([("fc1", True), ("fc2", True), ("fc3", False)]):
    w, b = mlp_state[name + ".weight"], mlp_state[name + ".bias"]
    scale = (np.abs(w).max(axis=1) / 127).astype(np.float32)
    codes = np.clip(np.round(w / scale[:, None]), -127, 127).astype(np.int8)
    initializers += [numpy_helper.from_array(codes.T.copy(), f"{name}_q"), numpy_helper.from_array(scale, f"{name}_scale"),
                     numpy_helper.from_array(b.astype(np.float32), f"{name}_bias")]
    out = "output" if i == 2 else f"h{i}"
    nodes += [
        helper.make_node("DynamicQuantizeLinear", [x], [f"{name}_xq", f"{name}_xs", f"{name}_xzp"]),
        helper.make_node("MatMulInteger", [f"{name}_xq", f"{name}_q", f"{name}_xzp"], [f"{name}_acc"]),
        helper.make_node("Cast", [f"{name}_acc"], [f"{name}_accf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", [f"{name}_xs", f"{name}_scale"], [f"{name}_combined"]),
        helper.make_node("Mul", [f"{name}_accf", f"{name}_combined"], [f"{name}_y"]),
        helper.make_node("Add", [f"{name}_y", f"{name}_bias"], [f"{name}_z" if relu else out]),
    ]
    if relu:
        nodes.append(helper.make_node("Relu", [f"{name}_z"], [out]))
    x = out
graph = helper.make_graph(nodes, "mlp784_int8",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 784])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])], initializers)
int8_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
int8_model.ir_version = 7
onnx.checker.check_model(int8_model)
onnx.save(int8_model, os.path.join(here, "Models", "mlp784_int8.onnx"))
print("wrote mlp784_int8.onnx")


# Issue 4's yardsticks: a LeNet-5-sized CNN on 1x28x28 and one transformer encoder block (d 256, 4 heads, ff 1024)
# over 64 positions, random PyTorch initialisation, as safetensors and ONNX (opset 13, dynamic batch).
class LeNet5(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(400, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x):
        h = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = torch.max_pool2d(torch.relu(self.conv2(h)), 2)
        h = torch.relu(self.fc1(torch.flatten(h, 1)))
        return self.fc3(torch.relu(self.fc2(h)))


class EncoderBlock(torch.nn.Module):
    """nn.TransformerEncoderLayer(256, 4, 1024, dropout=0, batch_first=True) written out (post-norm, ReLU), with its names."""
    def __init__(self):
        super().__init__()
        self.self_attn = torch.nn.MultiheadAttention(256, 4, batch_first=True)
        self.linear1 = torch.nn.Linear(256, 1024)
        self.linear2 = torch.nn.Linear(1024, 256)
        self.norm1 = torch.nn.LayerNorm(256)
        self.norm2 = torch.nn.LayerNorm(256)

    def forward(self, x):
        a, _ = self.self_attn(x, x, x, need_weights=False)
        x = self.norm1(x + a)
        return self.norm2(x + self.linear2(torch.relu(self.linear1(x))))


for name, model, shape in (("lenet5", LeNet5(), (1, 1, 28, 28)), ("encoder_block", EncoderBlock(), (1, 64, 256))):
    model.eval()
    safetensors_io.save(os.path.join(here, "Models", name + ".safetensors"), safetensors_io.state_dict(model))
    torch.onnx.export(model, torch.zeros(*shape), os.path.join(here, "Models", name + ".onnx"), input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=13)
    print("wrote", name)


class ResBlock(torch.nn.Module):
    """A ResNet basic block (two 3x3 convolutions with BatchNorm, ReLU, residual) at 64 channels on 28x28."""
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(64)
        self.conv2 = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(64)
        with torch.no_grad():
            for bn in (self.bn1, self.bn2):
                bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 0.2)
                bn.running_var.copy_(torch.rand_like(bn.running_var) + 0.5)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + x)


block = ResBlock().eval()
safetensors_io.save(os.path.join(here, "Models", "res_block64.safetensors"), safetensors_io.state_dict(block))
torch.onnx.export(block, torch.zeros(1, 64, 28, 28), os.path.join(here, "Models", "res_block64.onnx"), input_names=["input"],
                  output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=13)
print("wrote res_block64")
