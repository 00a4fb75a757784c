"""Makes Models/tiny_llama.safetensors (a small Llama-style decoder with random weights, Hugging Face's tensor names)
and Models/tiny_llama.reference.safetensors (what PyTorch computes with it).

The model is Llama's architecture at toy size (TinyLlama.cs is its C# twin; keep the two in step): vocabulary 96,
hidden 64, 2 layers, 4 query heads over 2 key/value heads (grouped-query attention) of 16, SwiGLU feed-forward of 160,
RMSNorm (eps 1e-6), rotary embeddings in the rotate-half layout (theta 10000), an untied lm_head. The torch code below
follows transformers' modeling_llama.py (LlamaRMSNorm, LlamaRotaryEmbedding, apply_rotary_pos_emb, repeat_kv, eager
attention, LlamaMLP), which Debian does not package, line by line.

The reference holds:
- tokens [40]: a sequence; logits [40, 96]: the full-sequence forward's logits after each of its tokens.
- prompt [12] and greedy [220]: greedy generation from the prompt, each step a full forward over everything so far.

Run from this folder with Debian's Python:  /usr/bin/python3 make_llama.py
DecoderTests compares the compiled session against both.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import safetensors_io  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20261206)

VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD, FFN, EPS, THETA = 96, 64, 2, 4, 2, 16, 160, 1e-6, 10000.0


class RmsNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(HIDDEN))

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + EPS))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotary(positions):
    inv_freq = 1.0 / (THETA ** (torch.arange(0, HEAD, 2, dtype=torch.int64).float() / HEAD))
    freqs = positions[:, None].float() * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = torch.nn.Linear(HIDDEN, HEADS * HEAD, bias=False)
        self.k_proj = torch.nn.Linear(HIDDEN, KV_HEADS * HEAD, bias=False)
        self.v_proj = torch.nn.Linear(HIDDEN, KV_HEADS * HEAD, bias=False)
        self.o_proj = torch.nn.Linear(HEADS * HEAD, HIDDEN, bias=False)

    def forward(self, x, cos, sin):
        t = x.shape[0]
        q = self.q_proj(x).view(t, HEADS, HEAD).transpose(0, 1)
        k = self.k_proj(x).view(t, KV_HEADS, HEAD).transpose(0, 1)
        v = self.v_proj(x).view(t, KV_HEADS, HEAD).transpose(0, 1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(HEADS // KV_HEADS, dim=0)  # repeat_kv: query head h reads key/value head h // groups
        v = v.repeat_interleave(HEADS // KV_HEADS, dim=0)
        scores = q @ k.transpose(1, 2) * HEAD ** -0.5
        scores = scores + torch.full((t, t), float("-inf")).triu(1)
        probabilities = torch.softmax(scores, dim=-1, dtype=torch.float32)
        return self.o_proj((probabilities @ v).transpose(0, 1).reshape(t, HEADS * HEAD))


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = torch.nn.Linear(HIDDEN, FFN, bias=False)
        self.up_proj = torch.nn.Linear(HIDDEN, FFN, bias=False)
        self.down_proj = torch.nn.Linear(FFN, HIDDEN, bias=False)

    def forward(self, x):
        return self.down_proj(torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm, self.self_attn = RmsNorm(), Attention()
        self.post_attention_layernorm, self.mlp = RmsNorm(), Mlp()

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(VOCAB, HIDDEN)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.norm = RmsNorm()


class TinyLlama(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = Inner()
        self.lm_head = torch.nn.Linear(HIDDEN, VOCAB, bias=False)

    def forward(self, tokens):
        cos, sin = rotary(torch.arange(tokens.shape[0]))
        x = self.model.embed_tokens(tokens)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))


model = TinyLlama().eval()
with torch.no_grad():
    for name, p in model.named_parameters():  # larger weights than PyTorch's default: logits far apart, no near-ties
        if name.endswith("proj.weight") or name == "lm_head.weight":
            p.mul_(2.0)
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

safetensors_io.save(os.path.join(here, "Models", "tiny_llama.safetensors"), safetensors_io.state_dict(model))
safetensors_io.save(os.path.join(here, "Models", "tiny_llama.reference.safetensors"), {
    "tokens": tokens.float().numpy(), "logits": logits.numpy(),
    "prompt": prompt.float().numpy(), "greedy": np.array(sequence[12:], dtype=np.float32)})
