"""Makes Models/tiny_gpt2.safetensors (a small GPT-2 with random weights, the tensor names of the Hugging Face hub's gpt2
checkpoint) and Models/tiny_gpt2.reference.safetensors (what PyTorch computes with it).

GPT-2's architecture at toy size (TinyGpt2.cs is its C# twin; keep the two in step): vocabulary 96, 256 positions,
hidden 64, 2 layers, 4 heads of 16, MLP of 4 × 64, pre-LayerNorm (eps 1e-5), "gelu_new" (tanh-approximated GELU),
learned position embeddings (wpe), Conv1D layers whose weights are stored [in, out], lm_head tied to wte. The torch
code follows transformers' modeling_gpt2.py (Conv1D, GPT2Attention's eager path, GPT2MLP, GPT2Block, GPT2Model), which
Debian does not package, line by line. Like the hub's file it also holds each layer's causal-mask buffer
(h.{i}.attn.bias), which the compiled model does not read.

The reference holds:
- tokens [40]: a sequence; logits [40, 96]: the full-sequence forward's logits after each of its tokens.
- prompt [12] and greedy [220]: greedy generation from the prompt, each step a full forward over everything so far.

Run from this folder with Debian's Python:  /usr/bin/python3 make_gpt2.py
DecoderTests compares the compiled session against both.
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import safetensors_io  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(1)

VOCAB, POSITIONS, HIDDEN, LAYERS, HEADS, EPS = 96, 256, 64, 2, 4, 1e-5
HEAD = HIDDEN // HEADS


class Conv1D(torch.nn.Module):
    """transformers.pytorch_utils.Conv1D: a Linear whose weight is stored [in, out] (x @ W + b)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(nx, nf) * (2.0 / math.sqrt(nx)))
        self.bias = torch.nn.Parameter(0.1 * torch.randn(nf))

    def forward(self, x):
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(x.size()[:-1] + (self.weight.size(-1),))


def layer_norm():
    norm = torch.nn.LayerNorm(HIDDEN, eps=EPS)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.1 * torch.randn(HIDDEN))
        norm.bias.copy_(0.1 * torch.randn(HIDDEN))
    return norm


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("bias", torch.tril(torch.ones(POSITIONS, POSITIONS, dtype=torch.bool)).view(1, 1, POSITIONS, POSITIONS))
        self.c_attn = Conv1D(3 * HIDDEN, HIDDEN)
        self.c_proj = Conv1D(HIDDEN, HIDDEN)

    def forward(self, x):
        t = x.shape[0]
        q, k, v = self.c_attn(x).split(HIDDEN, dim=1)
        q, k, v = (z.view(t, HEADS, HEAD).transpose(0, 1) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) / torch.full([], v.size(-1) ** 0.5)
        mask = self.bias[0, 0, :t, :t]
        scores = torch.where(mask, scores, torch.tensor(torch.finfo(scores.dtype).min))
        probabilities = torch.softmax(scores, dim=-1)
        return self.c_proj((probabilities @ v).transpose(0, 1).reshape(t, HIDDEN))


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = Conv1D(4 * HIDDEN, HIDDEN)
        self.c_proj = Conv1D(HIDDEN, 4 * HIDDEN)

    def forward(self, x):
        return self.c_proj(torch.nn.functional.gelu(self.c_fc(x), approximate="tanh"))  # ACT2FN["gelu_new"]


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.attn, self.ln_2, self.mlp = layer_norm(), Attention(), layer_norm(), Mlp()

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TinyGpt2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, HIDDEN)
        self.wpe = torch.nn.Embedding(POSITIONS, HIDDEN)
        with torch.no_grad():
            self.wpe.weight.mul_(2.0)
        self.h = torch.nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln_f = layer_norm()

    def forward(self, tokens):
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[0]))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T  # GPT2LMHeadModel's lm_head, tied to wte


model = TinyGpt2().eval()
with torch.no_grad():
    tokens = torch.randint(0, VOCAB, (40,))
    logits = model(tokens)
    prompt = torch.randint(0, VOCAB, (12,))
    sequence = prompt.tolist()
    margins = []
    for _ in range(220):
        step = model(torch.tensor(sequence))[-1]
        top = torch.topk(step, 2).values
        margins.append(float(top[0] - top[1]))
        sequence.append(int(step.argmax()))
    print("smallest margin between the two most likely tokens:", min(margins))
    print("distinct generated tokens:", len(set(sequence[12:])))

state = {name: value.float().numpy() for name, value in model.state_dict().items()}
# The masks as float tensors, as the hub's file has them (F16 here, to keep the file small).
safetensors_io.save(os.path.join(here, "Models", "tiny_gpt2.safetensors"), state, dtype={k: "F16" if k.endswith(".attn.bias") else "F32" for k in state})
safetensors_io.save(os.path.join(here, "Models", "tiny_gpt2.reference.safetensors"), {
    "tokens": tokens.float().numpy(), "logits": logits.numpy(),
    "prompt": prompt.float().numpy(), "greedy": np.array(sequence[12:], dtype=np.float32)})
