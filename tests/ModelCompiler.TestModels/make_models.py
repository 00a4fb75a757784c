"""Makes the test models' weights and PyTorch reference outputs.

Run from this folder with Debian's Python:  /usr/bin/python3 make_models.py
For each model, Models/<name>.safetensors holds the weights (read by the generator at build time) and
Models/<name>.reference.safetensors holds inputs and the outputs PyTorch computes for them (float32),
which the tests compare the compiled model against. The torch modules below are the PyTorch twins of the
C# Forward methods in this folder; keep the two in step.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import safetensors_io  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(1234)


class OddMlp(torch.nn.Module):
    """OddMlp.cs: sizes that are not multiples of any vector width (17, 100, 3, 1), no bias on the last layer."""
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(17, 100)
        self.l2 = torch.nn.Linear(100, 3)
        self.l3 = torch.nn.Linear(3, 1, bias=False)

    def forward(self, x):
        h = F.gelu(self.l1(x))
        h = torch.tanh(self.l2(h))
        return torch.sigmoid(self.l3(h))


class WideMlp(torch.nn.Module):
    """WideMlp.cs: a 784-wide input, the tanh form of GELU, log-softmax over 17 classes."""
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(784, 64)
        self.classes = torch.nn.Linear(64, 17)

    def forward(self, x):
        h = F.gelu(self.hidden(x), approximate="tanh")
        return F.log_softmax(self.classes(h), dim=-1)


class Zoo(torch.nn.Module):
    """Zoo.cs: 2-D samples, a weight tensor broadcast, scalars, flatten, a helper method, a loop,
    a residual add of two activations, reshape, log-softmax over the last dimension."""
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(5, 8)
        self.scale = torch.nn.Parameter(torch.randn(8))
        self.mix0 = torch.nn.Linear(32, 32)
        self.mix1 = torch.nn.Linear(32, 32)
        self.head = torch.nn.Module()
        self.head.fc = torch.nn.Linear(32, 6)

    def forward(self, x):
        h = torch.relu(self.proj(x))
        h = h * self.scale + 0.5
        f = torch.flatten(h, 1)
        for layer in (self.mix0, self.mix1):
            f = torch.tanh(layer(f))
        y = F.gelu(self.head.fc(f))
        y = y + torch.sigmoid(y)
        return F.log_softmax(y.reshape(-1, 2, 3), dim=-1) * 2.0


class ReluMlp(torch.nn.Module):
    """ReluMlpInt8.cs: only ReLU between the layers, so the int8 model equals its eager reference bit for bit."""
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(17, 64)
        self.b = torch.nn.Linear(64, 100)
        self.c = torch.nn.Linear(100, 10)

    def forward(self, x):
        return self.c(torch.relu(self.b(torch.relu(self.a(x)))))


class NormMlp(torch.nn.Module):
    """NormMlp.cs: per-row Linear over [5, 8] samples, LayerNorm, SiLU, dropout (identity at inference)."""
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(8, 24)
        self.norm = torch.nn.LayerNorm(24)
        self.drop = torch.nn.Dropout(0.1)
        self.out = torch.nn.Linear(24, 7)
        with torch.no_grad():  # a trained-looking affine part, not the identity
            self.norm.weight.copy_(torch.randn(24) * 0.5 + 1)
            self.norm.bias.copy_(torch.randn(24) * 0.1)

    def forward(self, x):
        return self.out(self.drop(F.silu(self.norm(self.proj(x)))))


class AttentionBlock(torch.nn.Module):
    """AttentionBlock.cs: a transformer encoder layer's attention half over 6 positions of 16 features, 4 heads."""
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(5, 16)
        self.attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)
        self.norm = torch.nn.LayerNorm(16)
        self.head = torch.nn.Linear(16, 3)

    def forward(self, x):
        h = self.embed(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        h = self.norm(h + a)
        return self.head(F.gelu(h))


class SmallCnn(torch.nn.Module):
    """SmallCnn.cs: convolutions (padding, stride 2), ReLU, max pooling, global average pooling, a Linear head."""
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.head = torch.nn.Linear(6, 10)

    def forward(self, x):
        h = F.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = torch.relu(self.conv2(h))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class BnCnn(torch.nn.Module):
    """BnCnn.cs: BatchNorm after convolutions (folded into them at build time) and after pooling (a scale and shift)."""
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.conv2 = torch.nn.Conv2d(4, 6, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(6)
        self.bn3 = torch.nn.BatchNorm1d(6)
        self.head = torch.nn.Linear(6, 10)
        with torch.no_grad():  # statistics as after training, not the initial identity
            for bn in (self.bn1, self.bn2, self.bn3):
                bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 0.2)
                bn.running_var.copy_(torch.rand_like(bn.running_var) + 0.5)
                bn.weight.copy_(torch.randn_like(bn.weight) * 0.2 + 1)
                bn.bias.copy_(torch.randn_like(bn.bias) * 0.1)

    def forward(self, x):
        h = F.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        h = torch.relu(self.bn2(self.conv2(h)))
        return self.head(self.bn3(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)))


class LayoutZoo(torch.nn.Module):
    """LayoutZoo.cs: split, reshape, transpose, permute, concat and slice around attention written three ways
    (scaled dot-product with a causal mask and with a per-sample mask, MatMul + Softmax, MultiheadAttention with a
    weight mask and causal), and a MatMul by a weight. PyTorch 1.13 has no F.scaled_dot_product_attention, so
    attention is written out here: softmax(q·kᵀ/√e + mask)·v."""
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)
        self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.mask = torch.nn.Parameter(torch.randn(6, 6))
        self.proj = torch.nn.Parameter(torch.randn(8, 5) * 0.3)
        self.out = torch.nn.Linear(12, 7)

    @staticmethod
    def sdpa(q, k, v, mask=None, causal=False):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores + mask
        if causal:
            scores = scores.masked_fill(torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).triu(1), float("-inf"))
        return torch.softmax(scores, dim=-1) @ v

    def forward(self, x):
        def heads(t):
            return t.reshape(-1, 6, 2, 4).transpose(1, 2)
        q, k, v = (heads(t) for t in self.qkv(x).split(8, dim=-1))
        causal = self.sdpa(q, k, v, causal=True)
        scores = torch.softmax(q @ k.transpose(-2, -1) * 0.5, dim=-1)
        written = scores @ v
        both = torch.cat((causal, written), -1).permute(0, 2, 1, 3).reshape(-1, 6, 16)
        plain = self.sdpa(q, k, v, mask=scores[:, 0].unsqueeze(1)).transpose(1, 2).reshape(-1, 6, 8)
        masked, _ = self.attn(x, x, x, attn_mask=self.mask, need_weights=False)
        hidden = torch.ones(6, 6, dtype=torch.bool).triu(1)
        causal_mha, _ = self.attn(x, x, x, attn_mask=torch.zeros(6, 6).masked_fill(hidden, float("-inf")), need_weights=False)
        mixed = masked @ self.proj
        left = torch.cat((self.out(both[..., 2:14]), mixed), 2)
        return torch.tanh(torch.cat((left, (causal_mha + plain)[..., 0:4]), 2))


class GroupedCnn(torch.nn.Module):
    """GroupedCnn.cs: depthwise convolutions (a channel multiplier of 2 with BatchNorm folded in; strided and dilated
    without bias), a grouped convolution, average pooling with padding, grouped and strided 1-D convolutions."""
    def __init__(self):
        super().__init__()
        self.dw = torch.nn.Conv2d(4, 8, 3, padding=1, groups=4)
        self.bn0 = torch.nn.BatchNorm2d(8)
        self.dws = torch.nn.Conv2d(4, 4, 3, stride=2, padding=2, dilation=2, groups=4, bias=False)
        self.grouped = torch.nn.Conv2d(8, 6, 3, stride=2, groups=2)
        self.bn1 = torch.nn.BatchNorm2d(6)
        self.c1 = torch.nn.Conv1d(6, 6, 3, padding=2, dilation=2, groups=3)
        self.c2 = torch.nn.Conv1d(6, 5, 3, stride=2)
        self.bn2 = torch.nn.BatchNorm1d(5)
        self.fc = torch.nn.Linear(9, 3)
        with torch.no_grad():
            for bn in (self.bn0, self.bn1, self.bn2):
                bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 0.2)
                bn.running_var.copy_(torch.rand_like(bn.running_var) + 0.5)
                bn.weight.copy_(torch.randn_like(bn.weight) * 0.2 + 1)
                bn.bias.copy_(torch.randn_like(bn.bias) * 0.1)

    def forward(self, x):
        h = torch.relu(self.bn0(self.dw(x)))
        s = self.dws(x)
        h = F.silu(self.bn1(self.grouped(h)))
        h = F.avg_pool2d(h, 3, stride=1, padding=1)
        line = self.c1(h.reshape(-1, 6, 30))
        line = self.bn2(self.c2(line))
        return self.fc(torch.cat((line.mean(2), F.adaptive_avg_pool2d(s, 1).flatten(1)), 1))


class ResBlock(torch.nn.Module):
    """ResBlock.cs: a ResNet basic block at 64 channels on 24×24 (wide enough for Winograd F(2×2, 3×3)), BatchNorm folded."""
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
                bn.weight.copy_(torch.randn_like(bn.weight) * 0.2 + 1)
                bn.bias.copy_(torch.randn_like(bn.bias) * 0.1)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + x)


def export(name, model, sample_shape, batch=37):
    model.eval()
    safetensors_io.save(os.path.join(here, "Models", name + ".safetensors"), safetensors_io.state_dict(model))
    x = torch.randn(batch, *sample_shape) * 1.5
    with torch.no_grad():
        y = model(x)
    safetensors_io.save(os.path.join(here, "Models", name + ".reference.safetensors"),
                        {"input": x.numpy(), "output": y.numpy()})
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, output {tuple(y.shape)}")


os.makedirs(os.path.join(here, "Models"), exist_ok=True)
export("odd_mlp", OddMlp(), (17,))
export("wide_mlp", WideMlp(), (784,))
export("zoo", Zoo(), (4, 5))
export("relu_mlp", ReluMlp(), (17,))
# Int8Static calibration inputs for ReluMlpInt8Static.
safetensors_io.save(os.path.join(here, "Models", "relu_mlp.calibration.safetensors"), {"input": (torch.randn(64, 17) * 1.5).numpy()})
export("norm_mlp", NormMlp(), (5, 8))
export("attention_block", AttentionBlock(), (6, 5))
export("small_cnn", SmallCnn(), (1, 8, 8))
export("bn_cnn", BnCnn(), (1, 8, 8))
export("layout_zoo", LayoutZoo(), (6, 8))
export("grouped_cnn", GroupedCnn(), (4, 7, 21))
export("res_block", ResBlock(), (64, 24, 24), batch=3)


class FunctionZoo(torch.nn.Module):
    """FunctionZoo.cs: the functions of one value after the first set — Softplus and Log as a kernel of their own on the
    input, Elu and Softsign fused into a Linear's store, Abs, Sign, Floor, Ceil and Round of another's output, and the
    larger and the smaller of two activations, and the trigonometric and hyperbolic functions."""
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(6, 16)
        self.b = torch.nn.Linear(16, 8)

    def forward(self, x):
        h = F.softsign(F.elu(self.a(torch.log(F.softplus(x))), alpha=0.7))
        g = self.b(h)
        return torch.cat([g.abs(), torch.sign(g), torch.floor(g * 3), torch.ceil(g * 3), torch.round(g * 3),
                          torch.maximum(g, h[:, :8]), torch.minimum(g, h[:, 8:]),
                          torch.sin(g), torch.cos(g), torch.tan(h), torch.sinh(g), torch.cosh(g), torch.asinh(g * 3),
                          torch.acosh(g.abs() + 1), torch.atanh(h * 0.9),
                          torch.asin(h), torch.acos(h * 0.99), torch.atan(g * 3)], dim=1)


torch.manual_seed(16)
export("function_zoo", FunctionZoo(), (6,))


class OnnxMix(torch.nn.Module):
    """OnnxModels.cs (OnnxMix): exported to ONNX (opset 17), compiled from the graph: Linear on 3-D inputs (MatMul + Add),
    exact GELU (PyTorch writes it with Erf), LayerNormalization, Transpose, Concat, scalar arithmetic, Softmax."""
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(6, 12)
        self.norm = torch.nn.LayerNorm(12)
        self.mix = torch.nn.Linear(8, 5)
        self.side = torch.nn.Linear(8, 5)

    def forward(self, x):
        h = self.norm(F.gelu(self.proj(x)))
        a = self.mix(h.transpose(1, 2))
        b = self.side(x.transpose(1, 2))
        return torch.softmax(torch.cat((a, b), 1) * 2.0 - 1.0, dim=-1)


mix = OnnxMix().eval()
torch.onnx.export(mix, torch.zeros(1, 8, 6), os.path.join(here, "Models", "onnx_mix.onnx"), input_names=["tokens"],
                  output_names=["probabilities"], dynamic_axes={"tokens": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=17)
print("onnx_mix: exported to ONNX (opset 17)")


class OnnxActivations(torch.nn.Module):
    """OnnxModels.cs (OnnxActivations): LeakyReLU, ReLU6 and clamp (ONNX LeakyRelu and Clip), average pooling."""
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.head = torch.nn.Linear(64, 5)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.1)
        h = F.avg_pool2d(F.relu6(self.conv2(h)), 2)
        return torch.clamp(self.head(torch.flatten(h, 1)), -1.0, 1.0)


torch.onnx.export(OnnxActivations().eval(), torch.zeros(1, 1, 8, 8), os.path.join(here, "Models", "onnx_activations.onnx"),
                  input_names=["image"], output_names=["scores"], dynamic_axes={"image": {0: "batch"}, "scores": {0: "batch"}},
                  opset_version=13)
print("onnx_activations: exported to ONNX (opset 13)")


class OnnxReduce(torch.nn.Module):
    """OnnxModels.cs (OnnxReduce): ReduceMean with and without keepdims, Unsqueeze and Squeeze (opset 13: axes as inputs),
    Slice to the end of two axes (ends written as INT64_MAX) and from a negative start."""
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x):
        h = x - x.mean(-1, keepdim=True)
        h = h.unsqueeze(1).squeeze(1)[:, 1:, 2:]
        return self.fc(torch.relu(h))[:, -3:].mean(1)


torch.onnx.export(OnnxReduce().eval(), torch.zeros(1, 6, 8), os.path.join(here, "Models", "onnx_reduce.onnx"), input_names=["x"],
                  output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
print("onnx_reduce: exported to ONNX (opset 13)")



class OnnxEncoder(torch.nn.Module):
    """OnnxModels.cs (OnnxEncoder): a pre-norm transformer block written as people write them, exported at opset 13 with a
    dynamic batch: reshape targets computed from x.shape (Shape, Gather, Unsqueeze, Concat, Div, Cast), Split, LayerNorm
    decomposed (ReduceMean, Sub, Pow, Sqrt, Div), exact GELU (Div, Erf, Add, Mul, Mul), attention scaled by a folded
    Pow, and a final x.view(x.size(0), -1)."""
    def __init__(self, d=32, h=4):
        super().__init__()
        self.h = h
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.o = torch.nn.Linear(d, d)
        self.ln1 = torch.nn.LayerNorm(d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.f1 = torch.nn.Linear(d, 64)
        self.f2 = torch.nn.Linear(64, d)
        with torch.no_grad():  # LayerNorms that are not the identity
            for ln in (self.ln1, self.ln2):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.2, 0.2)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q = q.view(b, n, self.h, d // self.h).transpose(1, 2)
        k = k.view(b, n, self.h, d // self.h).transpose(1, 2)
        v = v.view(b, n, self.h, d // self.h).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-2, -1) / (d // self.h) ** 0.5, dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, n, d))
        x = x + self.f2(F.gelu(self.f1(self.ln2(x))))
        return x.view(x.size(0), -1)


torch.manual_seed(21)
encoder = OnnxEncoder().eval()
torch.onnx.export(encoder, torch.zeros(2, 8, 32), os.path.join(here, "Models", "onnx_encoder.onnx"), input_names=["x"],
                  output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
print("onnx_encoder: exported to ONNX (opset 13)")

# The same model with its weights in an external data file beside it (as large models are saved).
import onnx  # noqa: E402
external = onnx.load(os.path.join(here, "Models", "onnx_encoder.onnx"))
if os.path.exists(os.path.join(here, "Models", "onnx_external.onnx.data")):
    os.remove(os.path.join(here, "Models", "onnx_external.onnx.data"))  # save_model appends to an existing file
onnx.save_model(external, os.path.join(here, "Models", "onnx_external.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="onnx_external.onnx.data", size_threshold=0)
print("onnx_external: saved with external data")


class OnnxElementwise(torch.nn.Module):
    """OnnxModels.cs (OnnxElementwise): Sqrt, Exp, Reciprocal, Pow, Neg, a constant minus and divided by an activation,
    one activation divided by another, x[:, 0] and x[:, [1, 2, 4]] (Gather), and x.view(x.size(0), -1) after a Conv
    (opset 11)."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.fc = torch.nn.Linear(3 * 6 * 6 + 6 + 3 * 3, 5)

    def forward(self, x):
        h = torch.sigmoid(self.conv(x)) + 0.5            # (0.5, 1.5): safe for Sqrt and division
        g = torch.sqrt(h) + torch.exp(-h) + torch.reciprocal(h) + h ** 2 - h ** 0.5 / h
        g = 2.0 - g + 1.0 / (h + 1.0)
        first = g[:, 0, :, 0]                            # Gather with scalar indices
        picked = g[:, :, [1, 2, 4], 1]                   # Gather with a list
        return self.fc(torch.cat([g.view(g.size(0), -1), first, picked.reshape(picked.size(0), -1)], 1))


torch.manual_seed(22)
torch.onnx.export(OnnxElementwise().eval(), torch.zeros(2, 2, 6, 6), os.path.join(here, "Models", "onnx_elementwise.onnx"),
                  input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=11)
print("onnx_elementwise: exported to ONNX (opset 11)")


def onnx_dequantized():
    """OnnxModels.cs (OnnxDequantized): weights stored as int8 with per-channel scales and zero points
    (DequantizeLinear on initializers, as ONNX Runtime's QDQ format writes them), dequantized at build time."""
    from onnx import helper, TensorProto, numpy_helper
    rng = np.random.default_rng(23)
    w = rng.integers(-127, 128, size=(16, 8), dtype=np.int8)           # [in, out] for MatMul
    scale = rng.uniform(0.002, 0.02, size=8).astype(np.float32)
    zero = rng.integers(-3, 4, size=8, dtype=np.int8)
    bias = rng.normal(size=8).astype(np.float32)
    w2 = rng.integers(0, 256, size=(8, 4), dtype=np.uint8)
    nodes = [
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], axis=1),
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "bias"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("DequantizeLinear", ["w2_q", "w2_scale", "w2_zero"], ["w2"]),
        helper.make_node("MatMul", ["r", "w2"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "dequantized", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
                              [numpy_helper.from_array(w, "w_q"), numpy_helper.from_array(scale, "w_scale"),
                               numpy_helper.from_array(zero, "w_zero"), numpy_helper.from_array(bias, "bias"),
                               numpy_helper.from_array(w2, "w2_q"), numpy_helper.from_array(np.array(0.01, np.float32), "w2_scale"),
                               numpy_helper.from_array(np.array(128, np.uint8), "w2_zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(here, "Models", "onnx_dequantized.onnx"))
    print("onnx_dequantized: written (opset 13)")


onnx_dequantized()


def onnx_hostile_names():
    """GeneratorDiagnosticsTests: names that must not break generated code (line breaks end comments, quotes end
    literals, < and & break XML docs): an ONNX file is input a build may get from anywhere."""
    from onnx import helper, TensorProto, numpy_helper
    rng = np.random.default_rng(24)
    x, y = 'x"\n<in> & \u2028', 'y\r\n}class Injected{}//'
    nodes = [
        helper.make_node("Gemm", [x, "w\n}class Injected2{}", "b<&>"], ["h"], name="gemm\n}class Injected3{} /*", transB=1),
        helper.make_node("Relu", ["h"], [y], name="relu\u2029\u0085 </summary> \\"),
    ]
    graph = helper.make_graph(nodes, "hostile\nnames", [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["batch", 3])],
                              [numpy_helper.from_array(rng.normal(size=(3, 4)).astype(np.float32), "w\n}class Injected2{}"),
                               numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "b<&>")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, os.path.join(here, "Models", "onnx_hostile_names.onnx"))
    print("onnx_hostile_names: written (opset 13)")


onnx_hostile_names()


def onnx_shape_ops():
    """OnnxModels.cs (OnnxShapeOps): the operators that only ever run on constants, folded at build time — Size, Shape
    (with start), Range, ConstantOfShape, Equal, Less, Greater, Where, Abs, Neg, Sqrt and Pow of constants, Transpose,
    Flatten, Squeeze, Unsqueeze, Slice (a negative step) and Reshape of constants — feeding an addend and a computed
    reshape target; written with onnx.helper."""
    from onnx import helper, TensorProto, numpy_helper
    i64 = lambda name, values: numpy_helper.from_array(np.array(values, dtype=np.int64), name)
    f32 = lambda name, values: numpy_helper.from_array(np.array(values, dtype=np.float32), name)
    nodes = [
        # per-sample elements: Size(x) / batch = 24, without knowing the batch
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Size", ["x"], ["size"]),
        helper.make_node("Div", ["size", "batch"], ["per_sample"]),
        helper.make_node("Shape", ["x"], ["tail"], start=-1),                       # [6]
        helper.make_node("Range", ["zero", "six", "one"], ["r"]),                    # [0 .. 5]
        helper.make_node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
        helper.make_node("ConstantOfShape", ["tail"], ["twos"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])),
        helper.make_node("Equal", ["r", "three"], ["is3"]),
        helper.make_node("Where", ["is3", "twos", "rf"], ["w1"]),                    # [0, 1, 2, 2, 4, 5]
        helper.make_node("Less", ["rf", "half6"], ["small"]),
        helper.make_node("Greater", ["rf", "one_f"], ["big"]),
        helper.make_node("Neg", ["rf"], ["negr"]),
        helper.make_node("Abs", ["negr"], ["absr"]),
        helper.make_node("Sqrt", ["absr"], ["sq"]),
        helper.make_node("Pow", ["sq", "two_f"], ["back"]),                          # [0 .. 5] again
        helper.make_node("Where", ["small", "back", "w1"], ["w2"]),
        helper.make_node("Where", ["big", "w2", "minus1"], ["addend6"]),             # [-1, 1, 2, 2, 4, 5]
        helper.make_node("Reshape", ["grid", "shape23"], ["g23"]),                   # [[0,1,2],[3,4,5]]
        helper.make_node("Transpose", ["g23"], ["g32"], perm=[1, 0]),                # [[0,3],[1,4],[2,5]]
        helper.make_node("Flatten", ["g32"], ["gflat"], axis=0),                     # [1, 6]
        helper.make_node("Squeeze", ["gflat", "zero1"], ["g6"]),
        helper.make_node("Slice", ["g6", "minus1_i", "big_neg", "zero1", "minus1_i"], ["g6r"]),  # reversed
        helper.make_node("Add", ["addend6", "g6r"], ["addend"]),
        helper.make_node("Unsqueeze", ["addend", "zero1"], ["addend16"]),            # [1, 6]: broadcast over [4, 6]
        helper.make_node("Add", ["x", "addend16"], ["y0"]),
        helper.make_node("Unsqueeze", ["batch", "zero1"], ["batch1"]),
        helper.make_node("Unsqueeze", ["per_sample", "zero1"], ["per1"]),
        helper.make_node("Concat", ["batch1", "per1"], ["target"], axis=0),         # [batch, 24]
        helper.make_node("Reshape", ["y0", "target"], ["y"]),
    ]
    inits = [i64("zero", 0), i64("six", 6), i64("one", 1), i64("three", 3), f32("half6", 2.5), f32("one_f", 0.5),
             f32("two_f", 2.0), f32("minus1", -1.0), f32("grid", [0, 1, 2, 3, 4, 5]), i64("shape23", [2, 3]),
             i64("zero1", [0]), i64("minus1_i", [-1]), i64("big_neg", [-(2 ** 63)])]
    graph = helper.make_graph(nodes, "shape_ops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 24])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(here, "Models", "onnx_shape_ops.onnx"))
    print("onnx_shape_ops: written (opset 15)")


onnx_shape_ops()


class OnnxEmbedding(torch.nn.Module):
    """OnnxModels.cs (OnnxEmbedding): token ids given as floats, cast to int64 and looked up in a table (Cast, Gather),
    plus positions, a mean over the sequence and a Linear (opset 13)."""
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(20, 8)
        self.pos = torch.nn.Parameter(torch.randn(6, 8) * 0.1)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(torch.tanh(self.emb(x.long()) + self.pos).mean(1))


torch.manual_seed(25)
torch.onnx.export(OnnxEmbedding().eval(), torch.zeros(2, 6), os.path.join(here, "Models", "onnx_embedding.onnx"),
                  input_names=["ids"], output_names=["y"], dynamic_axes={"ids": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
print("onnx_embedding: exported to ONNX (opset 13)")


def onnx_quantized_activations():
    """OnnxModels.cs (OnnxQuantized): activations quantized in the graph, as ONNX Runtime's static quantization writes
    them: QuantizeLinear → DequantizeLinear around a MatMul of dequantized weights (QDQ), and QuantizeLinear →
    MatMulInteger → Cast → Mul (integer GEMM), both reading the input so that every code is exact; opset 13."""
    from onnx import helper, TensorProto, numpy_helper
    rng = np.random.default_rng(26)
    w1 = rng.integers(-127, 128, size=(16, 8), dtype=np.int8)
    w2 = rng.integers(-127, 128, size=(16, 8), dtype=np.int8)
    t = lambda name, value: numpy_helper.from_array(np.asarray(value), name)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["qx"]),                       # uint8, zero point 128
        helper.make_node("DequantizeLinear", ["qx", "sx", "zx"], ["dx"]),
        helper.make_node("DequantizeLinear", ["w1", "s1"], ["dw1"], axis=1),
        helper.make_node("MatMul", ["dx", "dw1"], ["h1"]),
        helper.make_node("QuantizeLinear", ["x", "sx2", "zx2"], ["qx2"]),                    # int8, zero point -3
        helper.make_node("MatMulInteger", ["qx2", "w2", "zx2", "zw2"], ["i2"]),
        helper.make_node("Cast", ["i2"], ["f2"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["f2", "s2"], ["h2"]),
        helper.make_node("Add", ["h1", "h2"], ["y"]),
    ]
    inits = [t("sx", np.float32(0.02)), t("zx", np.uint8(128)), t("w1", w1), t("s1", rng.uniform(0.001, 0.01, 8).astype(np.float32)),
             t("sx2", np.float32(0.015)), t("zx2", np.int8(-3)), t("w2", w2), t("zw2", np.int8(2)),
             t("s2", np.float32(0.015 * 0.004))]
    graph = helper.make_graph(nodes, "quantized", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(here, "Models", "onnx_quantized.onnx"))
    print("onnx_quantized: written (opset 13)")


def onnx_opset20():
    """OnnxModels.cs (OnnxOpset20): Gelu as an operator (opset 20, both forms), Dropout in inference (opset 13's
    training_mode input absent), LogSoftmax, and Hardmax beside it; Greater, Where, Mod and Pow of two values; written with onnx.helper (onnx 1.12's checker predates
    opset 20)."""
    from onnx import helper, TensorProto, numpy_helper
    rng = np.random.default_rng(27)
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
        helper.make_node("Gelu", ["h"], ["g"]),
        helper.make_node("Dropout", ["g"], ["d"]),
        helper.make_node("Gelu", ["d"], ["g2"], approximate="tanh"),
        helper.make_node("LogSoftmax", ["g2"], ["ls"], axis=-1),
        helper.make_node("Hardmax", ["g2"], ["hm"], axis=-1),
        # Functions of two values (one broadcasting kernel each, on the GPU too): a comparison cast to float, Where,
        # Mod, and Pow by a value of the graph.
        helper.make_node("Greater", ["g2", "quarter"], ["gt"]),
        helper.make_node("Cast", ["gt"], ["gtf"], to=TensorProto.FLOAT),
        helper.make_node("Where", ["gt", "g2", "minus_three"], ["wh"]),
        helper.make_node("Mod", ["g2", "seven_tenths"], ["md"], fmod=1),
        helper.make_node("Abs", ["g2"], ["ab"]),
        helper.make_node("Add", ["ab", "half"], ["base"]),
        helper.make_node("Pow", ["base", "g2"], ["pw"]),
        helper.make_node("Concat", ["ls", "hm", "gtf", "wh", "md", "pw"], ["y"], axis=1),
    ]
    inits = [numpy_helper.from_array(rng.normal(size=(6, 10)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=6).astype(np.float32), "b"),
             numpy_helper.from_array(np.array(0.25, np.float32), "quarter"),
             numpy_helper.from_array(np.array(-3.0, np.float32), "minus_three"),
             numpy_helper.from_array(np.array(0.7, np.float32), "seven_tenths"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    graph = helper.make_graph(nodes, "opset20", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 36])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 8
    onnx.save(model, os.path.join(here, "Models", "onnx_opset20.onnx"))
    print("onnx_opset20: written (opset 20)")


onnx_quantized_activations()
onnx_opset20()


class OnnxMobile(torch.nn.Module):
    """OnnxModels.cs (OnnxMobile): MobileNetV3's activations — Hardswish, and a squeeze-and-excitation gate with
    Hardsigmoid — and a ReduceSum (opset 14)."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 8, 3, padding=1)
        self.squeeze = torch.nn.Linear(8, 4)
        self.excite = torch.nn.Linear(4, 8)
        self.head = torch.nn.Linear(8 * 5, 3)

    def forward(self, x):
        h = F.hardswish(self.conv(x))                                  # [B, 8, 5, 5]
        gate = F.hardsigmoid(self.excite(F.relu(self.squeeze(h.mean(3).mean(2)))))  # [B, 8]
        h = h * gate.unsqueeze(-1).unsqueeze(-1)
        return self.head(h.sum(3).flatten(1))


torch.manual_seed(28)
torch.onnx.export(OnnxMobile().eval(), torch.zeros(2, 2, 5, 5), os.path.join(here, "Models", "onnx_mobile.onnx"), input_names=["x"],
                  output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=14)
print("onnx_mobile: exported to ONNX (opset 14)")


class OnnxStateful(torch.nn.Module):
    """OnnxModels.cs (OnnxStateful): several inputs and outputs, as a streaming detector has them: a frame, a recurrent
    state and a gain in; a score, the next state and the frame's features out (one of them also read by the rest)."""
    def __init__(self):
        super().__init__()
        self.frame = torch.nn.Linear(12, 8)
        self.mix = torch.nn.Linear(16, 8)
        self.score = torch.nn.Linear(8, 3)

    def forward(self, frame, state, gain):
        features = torch.tanh(self.frame(frame))
        h = torch.relu(self.mix(torch.cat([features, state.flatten(1)], dim=1))) * gain
        next_state = (0.5 * state + 0.5 * h.view(-1, 2, 4))
        return torch.softmax(self.score(h), dim=-1), next_state, features


torch.manual_seed(15)
torch.onnx.export(OnnxStateful().eval(), (torch.zeros(1, 12), torch.zeros(1, 2, 4), torch.zeros(1, 1)),
                  os.path.join(here, "Models", "onnx_stateful.onnx"), input_names=["frame", "state", "gain"],
                  output_names=["score", "next_state", "features"],
                  dynamic_axes={n: {0: "batch"} for n in ["frame", "state", "gain", "score", "next_state", "features"]}, opset_version=13)
print("onnx_stateful: exported to ONNX (opset 13)")


class OnnxLayoutOps(torch.nn.Module):
    """OnnxModels.cs (OnnxLayoutOps): layout operators exporters write — DepthToSpace (pixel_shuffle), SpaceToDepth-style
    blocks, Tile (repeat), Expand, ReduceMax over two axes, a Softmax along the channels, a nearest Resize by 2 × 3,
    ConvTranspose (stride 2 with output_padding; grouped with a rectangular kernel), and the pools the square 2-D kernels
    do not cover (one AxisPool pass per axis): rectangular and dilated, an average not counting padding, 1-D and 3-D; and
    Resize by other factors (one AxisResample pass per axis): bilinear up and down, bicubic with align_corners, nearest;
    and Pad (reflect, a constant, replicate)."""
    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1)
        self.grouped = torch.nn.ConvTranspose2d(8, 4, (2, 3), groups=2, padding=(0, 1))
        self.instance = torch.nn.InstanceNorm2d(8, affine=True)
        self.group = torch.nn.GroupNorm(2, 8)

    def forward(self, x):  # x [N, 8, 4, 4]
        shuffled = F.pixel_shuffle(x, 2)                      # [N, 2, 8, 8]
        tiled = shuffled.repeat(1, 1, 1, 2)                   # [N, 2, 8, 16]
        expanded = x.mean(dim=1, keepdim=True).expand(-1, 3, 4, 4)
        peaks = torch.amax(x, dim=(2, 3))                     # [N, 8]
        upsampled = F.interpolate(x[:, :2], scale_factor=(2, 3), mode="nearest")  # [N, 2, 8, 12]: Resize, nearest
        return torch.cat([tiled.flatten(1), expanded.flatten(1), peaks, torch.softmax(x, dim=1).flatten(1), upsampled.flatten(1),
                          self.up(x).flatten(1), torch.relu(self.grouped(x)).flatten(1),
                          self.instance(x).flatten(1), self.group(x).flatten(1),
                          F.max_pool2d(x, (2, 3), stride=(2, 1), padding=(1, 1), dilation=(1, 2)).flatten(1),
                          F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False).flatten(1),
                          F.max_pool1d(x.flatten(2), 3, stride=2, ceil_mode=True).flatten(1),
                          F.avg_pool3d(x.unsqueeze(1), 2, stride=1).flatten(1),
                          F.interpolate(x, scale_factor=1.5, mode="bilinear").flatten(1),
                          F.interpolate(x, size=(6, 7), mode="bicubic", align_corners=True).flatten(1),
                          F.interpolate(x, scale_factor=0.5, mode="bilinear").flatten(1),
                          F.interpolate(x, size=(6, 5), mode="nearest").flatten(1),
                          F.pad(x, (1, 2, 2, 0), mode="reflect").flatten(1), F.pad(x, (0, 1, 1, 1), value=0.5).flatten(1),
                          F.pad(x, (2, 1, 0, 3), mode="replicate").flatten(1)], dim=1)


torch.manual_seed(17)
layout_ops = OnnxLayoutOps().eval()
with torch.no_grad():  # affine parameters other than the initial ones and zeros
    for p in list(layout_ops.instance.parameters()) + list(layout_ops.group.parameters()):
        p.copy_(torch.randn_like(p))
torch.onnx.export(layout_ops, torch.zeros(1, 8, 4, 4), os.path.join(here, "Models", "onnx_layout_ops.onnx"), input_names=["x"],
                  output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
print("onnx_layout_ops: exported to ONNX (opset 13)")
