"""PyTorch eager beside the compiled Llama125M: the same weights (Models/llama125m.safetensors, from make_llama125m.py),
the same decoder (make_llama.py's torch twin of Hugging Face's Llama, at full size), a key/value cache, batch 1, float32.
Prints ms per decoded token (after a 128-token prompt, 128 tokens decoded) and ms per 128-token prefill, on 1 and 2
threads. The baseline for docs/performance.md's language-model table:

    /usr/bin/python3 benchmarks/ModelCompiler.Benchmarks/torch_llama125m.py
"""
import json
import os
import struct
import time

import numpy as np
import torch

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD, EPS, THETA = 768, 12, 12, 4, 64, 1e-6, 10000.0
here = os.path.dirname(os.path.abspath(__file__))


def load(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    return {name: torch.from_numpy(np.frombuffer(data, dtype="<f4", count=int(np.prod(e["shape"])), offset=e["data_offsets"][0]).reshape(e["shape"]).copy())
            for name, e in header.items()}


w = load(os.path.join(here, "Models", "llama125m.safetensors"))
inv_freq = 1.0 / (THETA ** (torch.arange(0, HEAD, 2, dtype=torch.int64).float() / HEAD))


def norm(x, weight):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def rope(x, positions):
    freqs = positions[:, None].float() * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def step(tokens, cache, start):
    """tokens [t] at positions start…; cache: per layer [keys, values] of [KV_HEADS, positions, HEAD]; returns the last logits."""
    t = tokens.shape[0]
    positions = torch.arange(start, start + t)
    x = w["model.embed_tokens.weight"][tokens]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        h = norm(x, w[p + "input_layernorm.weight"])
        q = rope((h @ w[p + "self_attn.q_proj.weight"].T).view(t, HEADS, HEAD).transpose(0, 1), positions)
        k = rope((h @ w[p + "self_attn.k_proj.weight"].T).view(t, KV_HEADS, HEAD).transpose(0, 1), positions)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).view(t, KV_HEADS, HEAD).transpose(0, 1)
        cache[i][0] = k if cache[i][0] is None else torch.cat((cache[i][0], k), dim=1)
        cache[i][1] = v if cache[i][1] is None else torch.cat((cache[i][1], v), dim=1)
        keys = cache[i][0].repeat_interleave(HEADS // KV_HEADS, dim=0)
        values = cache[i][1].repeat_interleave(HEADS // KV_HEADS, dim=0)
        scores = q @ keys.transpose(1, 2) * HEAD ** -0.5
        if t > 1:
            scores = scores + torch.full((t, keys.shape[1]), float("-inf")).triu(keys.shape[1] - t + 1)
        a = (torch.softmax(scores, dim=-1) @ values).transpose(0, 1).reshape(t, HIDDEN)
        x = x + a @ w[p + "self_attn.o_proj.weight"].T
        h = norm(x, w[p + "post_attention_layernorm.weight"])
        x = x + (torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    return norm(x[-1:], w["model.norm.weight"]) @ w["lm_head.weight"].T


prompt = torch.tensor([(i * 7919 + 13) % 32000 for i in range(128)])
with torch.no_grad():
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times = []
        for _ in range(3):
            cache = [[None, None] for _ in range(LAYERS)]
            began = time.perf_counter()
            logits = step(prompt, cache, 0)
            prefill = time.perf_counter() - began
            began = time.perf_counter()
            for n in range(128):
                logits = step(torch.tensor([int(logits.argmax())]), cache, 128 + n)
            times.append(((time.perf_counter() - began) / 128, prefill))
        decode, prefill = min(times)
        print(f"PyTorch {torch.__version__} eager, {threads} thread(s): decode {decode * 1000:.1f} ms/token, prefill of 128 {prefill * 1000:.0f} ms")
