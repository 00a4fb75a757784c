"""Trains the text-generation sample's language model on this machine's copy of the Python documentation.

A Llama-style decoder (Hugging Face's architecture and tensor names: RMSNorm, rotary embeddings, grouped-query
attention, SwiGLU, the lm_head tied to the embeddings) of 2 M parameters, and its tokenizer: a SentencePiece BPE model
with Llama 2's settings (byte fallback, no normalization, a dummy prefix, digits split), which Microsoft.ML.Tokenizers
reads in C#. The text: the paragraphs of the Python reference manual that ship with Python itself
(pydoc_data/topics.py) and the docstrings of about a hundred standard-library modules, every 20th paragraph held
out.

Writes, beside this script:
- tokenizer.model: the SentencePiece model (vocabulary 2,048; <unk> 0, <s> 1, </s> 2);
- docs_llama.safetensors: the weights, stored as float16 (the model computes in float32 with these values);
- docs_llama_tokens.safetensors: token sequences of 128 (float32 ids): 'input', 32 windows of the training text (the
  GPTQ calibration set), 'heldout', every held-out window; and 'perplexity', PyTorch's perplexity on 'heldout' with
  the float16-rounded weights (the sample and the tests compare theirs against it).

Run from this folder with Debian's Python (python3-torch, python3-sentencepiece), about ten minutes on two cores:
    /usr/bin/python3 train.py
"""
import importlib
import inspect
import io
import math
import os
import re
import sys
import time

import numpy as np
import pydoc_data.topics
import sentencepiece
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tools"))
import safetensors_io  # noqa: E402

VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD, FFN, EPS, THETA = 2048, 192, 4, 6, 2, 32, 512, 1e-5, 10000.0
CONTEXT, BATCH, STEPS = 128, 16, int(os.environ.get("STEPS", "1000"))
BOS, EOS = 1, 2
torch.manual_seed(20261206)
torch.set_num_threads(os.cpu_count() or 1)


MODULES = """abc argparse ast asyncio base64 bisect calendar cmd codecs collections configparser contextlib copy csv
dataclasses datetime decimal difflib dis doctest email enum fractions ftplib functools gettext glob gzip heapq hmac
html http.client http.cookies http.server imaplib importlib inspect io ipaddress itertools json locale logging mailbox
mimetypes numbers operator optparse os pathlib pdb pickle pkgutil poplib pprint queue random re reprlib sched
selectors shelve shlex shutil smtplib socket socketserver sqlite3 statistics string struct subprocess tarfile
tempfile textwrap threading timeit tokenize traceback types typing unittest urllib.parse urllib.request uuid warnings
weakref xml.dom.minidom xml.etree.ElementTree zipfile""".split()


def documents():
    """The reference manual's topics and the standard library's docstrings (modules, classes, functions, methods)."""
    for key in sorted(pydoc_data.topics.topics):
        yield pydoc_data.topics.topics[key]
    for name in MODULES:
        module = importlib.import_module(name)
        yield inspect.getdoc(module) or ""
        for _, member in sorted(vars(module).items()):
            if getattr(member, "__module__", None) == name and (inspect.isclass(member) or inspect.isfunction(member)):
                yield inspect.getdoc(member) or ""
                for _, method in sorted(vars(member).items()) if inspect.isclass(member) else ():
                    if inspect.isfunction(method):
                        yield inspect.getdoc(method) or ""


def paragraphs():
    """Prose paragraphs, whitespace collapsed (code examples and tables left out)."""
    for document in documents():
        for block in re.split(r"\n\s*\n", document):
            text = " ".join(block.split())
            prose = sum(c.isalpha() or c in " .,;:'\"()-" for c in text)
            if len(text) >= 80 and prose >= 0.9 * len(text) and not text.startswith(">>>"):
                yield text


texts = list(paragraphs())
train_texts = [t for i, t in enumerate(texts) if i % 20 != 19]
held_texts = [t for i, t in enumerate(texts) if i % 20 == 19]

model_file = io.BytesIO()
sentencepiece.SentencePieceTrainer.train(
    sentence_iterator=iter(train_texts), model_writer=model_file, vocab_size=VOCAB, model_type="bpe",
    byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
    split_digits=True, character_coverage=1.0, unk_id=0, bos_id=BOS, eos_id=EOS, pad_id=-1, num_threads=1,
    max_sentence_length=16384, minloglevel=2)
with open(os.path.join(here, "tokenizer.model"), "wb") as f:
    f.write(model_file.getvalue())
tokenizer = sentencepiece.SentencePieceProcessor(model_proto=model_file.getvalue())


def stream(items):
    ids = []
    for text in items:
        ids += [BOS] + tokenizer.encode(text) + [EOS]
    return torch.tensor(ids)


train_ids, held_ids = stream(train_texts), stream(held_texts)
print(f"{len(texts)} paragraphs; {len(train_ids)} training tokens, {len(held_ids)} held out")


def rms_norm(x, weight):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))


def rotate(x, cos, sin):  # Hugging Face's apply_rotary_pos_emb: the rotate-half layout
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


inv_freq = 1.0 / (THETA ** (torch.arange(0, HEAD, 2, dtype=torch.int64).float() / HEAD))
angles = torch.arange(CONTEXT)[:, None].float() * inv_freq[None, :]
COS, SIN = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
MASK = torch.full((CONTEXT, CONTEXT), float("-inf")).triu(1)


def parameters():
    def matrix(rows, cols, scale=1.0):
        return torch.nn.Parameter(torch.randn(rows, cols) * 0.02 * scale)

    p = {"model.embed_tokens.weight": matrix(VOCAB, HIDDEN), "model.norm.weight": torch.nn.Parameter(torch.ones(HIDDEN))}
    residual = 1 / math.sqrt(2 * LAYERS)
    for i in range(LAYERS):
        n = f"model.layers.{i}."
        p[n + "input_layernorm.weight"] = torch.nn.Parameter(torch.ones(HIDDEN))
        p[n + "post_attention_layernorm.weight"] = torch.nn.Parameter(torch.ones(HIDDEN))
        p[n + "self_attn.q_proj.weight"] = matrix(HEADS * HEAD, HIDDEN)
        p[n + "self_attn.k_proj.weight"] = matrix(KV_HEADS * HEAD, HIDDEN)
        p[n + "self_attn.v_proj.weight"] = matrix(KV_HEADS * HEAD, HIDDEN)
        p[n + "self_attn.o_proj.weight"] = matrix(HIDDEN, HEADS * HEAD, residual)
        p[n + "mlp.gate_proj.weight"] = matrix(FFN, HIDDEN)
        p[n + "mlp.up_proj.weight"] = matrix(FFN, HIDDEN)
        p[n + "mlp.down_proj.weight"] = matrix(HIDDEN, FFN, residual)
    return p


def forward(w, tokens):
    """tokens [B, T] from position 0 → logits [B, T, VOCAB] (modeling_llama.py's LlamaForCausalLM, eager attention)."""
    b, t = tokens.shape
    cos, sin = COS[:t], SIN[:t]
    x = w["model.embed_tokens.weight"][tokens]
    for i in range(LAYERS):
        n = f"model.layers.{i}."
        h = rms_norm(x, w[n + "input_layernorm.weight"])
        q = rotate((h @ w[n + "self_attn.q_proj.weight"].T).view(b, t, HEADS, HEAD).transpose(1, 2), cos, sin)
        k = rotate((h @ w[n + "self_attn.k_proj.weight"].T).view(b, t, KV_HEADS, HEAD).transpose(1, 2), cos, sin)
        v = (h @ w[n + "self_attn.v_proj.weight"].T).view(b, t, KV_HEADS, HEAD).transpose(1, 2)
        k, v = k.repeat_interleave(HEADS // KV_HEADS, 1), v.repeat_interleave(HEADS // KV_HEADS, 1)
        scores = torch.softmax(q @ k.transpose(2, 3) * HEAD ** -0.5 + MASK[:t, :t], dim=-1)
        x = x + (scores @ v).transpose(1, 2).reshape(b, t, HEADS * HEAD) @ w[n + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[n + "post_attention_layernorm.weight"])
        gate = torch.nn.functional.silu(h @ w[n + "mlp.gate_proj.weight"].T)
        x = x + (gate * (h @ w[n + "mlp.up_proj.weight"].T)) @ w[n + "mlp.down_proj.weight"].T
    return rms_norm(x, w["model.norm.weight"]) @ w["model.embed_tokens.weight"].T


def windows(ids):
    count = (len(ids) - 1) // CONTEXT
    return ids[: count * CONTEXT].view(count, CONTEXT)


def perplexity(w, sequences):
    """exp of the mean negative log-likelihood of every token after the first of each window."""
    with torch.no_grad():
        logits = forward(w, sequences)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), sequences[:, 1:].reshape(-1))
    return math.exp(float(loss))


w = parameters()
decay = [p for name, p in w.items() if name.endswith("proj.weight") or "embed" in name]
rest = [p for name, p in w.items() if not (name.endswith("proj.weight") or "embed" in name)]
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                              lr=3e-3, betas=(0.9, 0.95))
held = windows(held_ids)
start = time.time()
for step in range(STEPS):
    lr = 3e-3 * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / STEPS)))
    for group in optimizer.param_groups:
        group["lr"] = lr
    at = torch.randint(0, len(train_ids) - CONTEXT - 1, (BATCH,))
    batch = torch.stack([train_ids[a: a + CONTEXT + 1] for a in at.tolist()])
    logits = forward(w, batch[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0)
    optimizer.step()
    if step % 100 == 0 or step == STEPS - 1:
        print(f"step {step}: loss {float(loss):.3f}, {time.time() - start:.0f} s", flush=True)

rounded = {name: p.detach().half().float() for name, p in w.items()}
reference = perplexity(rounded, held)
print(f"held-out perplexity (float16 weights): {reference:.3f} over {held.shape[0]} windows of {CONTEXT}")
safetensors_io.save(os.path.join(here, "docs_llama.safetensors"), {k: v.numpy() for k, v in rounded.items()}, dtype="F16")
calibration = windows(train_ids)[torch.randperm(len(train_ids) // CONTEXT)[:32]]
safetensors_io.save(os.path.join(here, "docs_llama_tokens.safetensors"), {
    "input": calibration.float().numpy(), "heldout": held.float().numpy(), "perplexity": np.array([reference])})

prompt = "The for statement is used to"
sequence = [BOS] + tokenizer.encode(prompt)
with torch.no_grad():
    for _ in range(60):
        sequence.append(int(forward(rounded, torch.tensor([sequence[-CONTEXT:]]))[0, -1].argmax()))
print("greedy:", tokenizer.decode(sequence))
