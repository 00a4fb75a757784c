"""Makes Models/onnx_attention.onnx: attention written the three ways exporters write it, batch-first with the batch free
(x [N, 12, 32], 4 heads of 8), each MatMul(q, kᵀ) → Softmax → MatMul(·, v):

- as F.scaled_dot_product_attention exports (torch ≥ 2.0): √scale multiplied into q and into kᵀ (written out here,
  Debian's torch 1.13 has no SDPA);
- unscaled, softmax(q·kᵀ)·v: the compiled kernel's own 1/√e must be undone on q;
- q·kᵀ / √e whose probabilities are also a model output (the heads' mean, as nn.MultiheadAttention's need_weights
  returns them): the probabilities are read twice, so this one stays MatMul, Softmax, MatMul;
- as GPT-2's export: (q·kᵀ) / √e plus a causal mask kept as a buffer (0 on and below the diagonal, −∞ above): the
  compiled kernel's causal attention;
- as BERT-style exports with a position bias: (q·kᵀ) / √e plus a constant [L, L] bias: the kernel's additive mask.

Run from this folder with Debian's Python:  /usr/bin/python3 make_attention.py
Outputs: y [N, 12, 32] (the five attentions summed, then an output projection) and weights [N, 12, 12].
OnnxAttentionTests checks both against ONNX Runtime and that four of the five became the attention kernel.
"""
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (torch.nn.Linear(32, 32) for _ in range(4))
        self.register_buffer("causal", torch.triu(torch.full((12, 12), float("-inf")), diagonal=1))
        self.register_buffer("bias", torch.randn(12, 12) * 0.5)

    def forward(self, x):
        n, length, width = x.shape

        def heads(t):
            return t.view(n, length, 4, 8).transpose(1, 2)  # [N, H, L, e]

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        root = 8 ** -0.25
        sdpa = torch.softmax((q * root) @ (k.transpose(-2, -1) * root), dim=-1) @ v
        plain = torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
        probabilities = torch.softmax(q @ k.transpose(-2, -1) / 8 ** 0.5, dim=-1)
        weighted = probabilities @ v
        causal = torch.softmax((q @ k.transpose(-2, -1)) / 8 ** 0.5 + self.causal, dim=-1) @ v
        biased = torch.softmax((q @ k.transpose(-2, -1)) / 8 ** 0.5 + self.bias, dim=-1) @ v
        y = (sdpa + plain + weighted + causal + biased).transpose(1, 2).reshape(n, length, width)
        return self.o(y), probabilities.mean(dim=1)


torch.manual_seed(2026)
model = Attention().eval()
x = torch.randn(2, 12, 32)
torch.onnx.export(model, (x,), os.path.join(here, "Models", "onnx_attention.onnx"), input_names=["x"], output_names=["y", "weights"],
                  dynamic_axes={"x": {0: "N"}, "y": {0: "N"}, "weights": {0: "N"}}, opset_version=17)
