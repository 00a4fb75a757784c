"""PyTorch eager beside the compiled GPU session (benchmarks/gpu/device.sh runs it on the GPU machine): the
TextGeneration sample's Llama (docs_llama.safetensors: hidden 192, 4 layers, 6 query heads over 2 key/value heads of
32, SwiGLU 512, vocabulary 2,048, lm_head tied to the embeddings), written as Hugging Face's Llama computes it, with a
key/value cache allocated once on the device. Prints a markdown table: a 128-token prefill (ms) and a decode step
after it (µs, tokens/s), float32, batch 1, each the median of synchronized runs after a warm-up. Runs on the CPU where
there is no CUDA device (then it only checks itself: `/usr/bin/python3 benchmarks/gpu/torch_llama.py
samples/TextGeneration/docs_llama.safetensors`), and prints the greedy next tokens after the prompt, which the
compiled session must pick too.

    python3 torch_llama.py docs_llama.safetensors
"""
import json
import struct
import sys
import time

import torch

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD, EPS, THETA = 192, 4, 6, 2, 32, 1e-5, 10000.0
PROMPT, STEPS = 128, 200
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        stored = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[info["dtype"]]  # the sample keeps F16
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=stored).reshape(info["shape"]).float().to(device)
    return tensors


w = load(sys.argv[1])
inv_freq = 1.0 / (THETA ** (torch.arange(0, HEAD, 2, dtype=torch.int64).float() / HEAD)).to(device)
capacity = PROMPT + STEPS + 16
cache = torch.zeros(LAYERS, 2, KV_HEADS, capacity, HEAD, device=device)


def norm(x, weight):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def rope(x, positions):
    freqs = positions[:, None].float() * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def step(tokens, start):
    """tokens [t] at positions start…, the cache written in place; returns the last token's logits."""
    t = tokens.shape[0]
    end = start + t
    positions = torch.arange(start, end, device=device)
    x = w["model.embed_tokens.weight"][tokens]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        h = norm(x, w[p + "input_layernorm.weight"])
        q = rope((h @ w[p + "self_attn.q_proj.weight"].T).view(t, HEADS, HEAD).transpose(0, 1), positions)
        cache[i, 0, :, start:end] = rope((h @ w[p + "self_attn.k_proj.weight"].T).view(t, KV_HEADS, HEAD).transpose(0, 1), positions)
        cache[i, 1, :, start:end] = (h @ w[p + "self_attn.v_proj.weight"].T).view(t, KV_HEADS, HEAD).transpose(0, 1)
        keys = cache[i, 0, :, :end].repeat_interleave(HEADS // KV_HEADS, dim=0)
        values = cache[i, 1, :, :end].repeat_interleave(HEADS // KV_HEADS, dim=0)
        scores = q @ keys.transpose(1, 2) * HEAD ** -0.5
        if t > 1:
            scores = scores + torch.full((t, end), float("-inf"), device=device).triu(start + 1)
        a = (torch.softmax(scores, dim=-1) @ values).transpose(0, 1).reshape(t, HIDDEN)
        x = x + a @ w[p + "self_attn.o_proj.weight"].T
        h = norm(x, w[p + "post_attention_layernorm.weight"])
        x = x + (torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    return norm(x[-1:], w["model.norm.weight"]) @ w["model.embed_tokens.weight"].T


def synchronize():
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_ms(fn, runs):
    for _ in range(3):
        fn()
    synchronize()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        synchronize()
        times.append((time.perf_counter() - began) * 1000)
    return sorted(times)[len(times) // 2]


prompt = torch.tensor([(i * 37 + 11) % 2048 for i in range(PROMPT)], device=device)
with torch.no_grad():
    greedy = []
    logits = step(prompt, 0)
    for position in range(PROMPT, PROMPT + 8):
        token = int(logits.argmax())
        greedy.append(token)
        logits = step(torch.tensor([token], device=device), position)
    prefill = median_ms(lambda: step(prompt, 0), 20)
    state = {"position": PROMPT}

    def decode():
        if state["position"] == capacity:
            state["position"] = PROMPT
        step(torch.tensor([7], device=device), state["position"])
        state["position"] += 1

    decode_ms = median_ms(decode, STEPS)

name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
print(f"| PyTorch {torch.__version__} eager, DocsLlama float32 ({name}) | value |")
print("|---|---:|")
print(f"| prefill of {PROMPT} (ms) | {prefill:.2f} |")
print(f"| decode step after it (µs, tokens/s) | {decode_ms * 1000:.0f} µs, {1000 / decode_ms:.0f}/s |")
print(f"| greedy tokens after the prompt | {' '.join(map(str, greedy))} |")
