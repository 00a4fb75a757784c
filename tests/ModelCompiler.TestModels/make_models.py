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

