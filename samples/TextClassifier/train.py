"""Trains the TextClassifier sample: a one-layer transformer encoder on a synthetic token task, exported for the sample.

Task: sequences of 12 tokens from a vocabulary of 16; the class is which of tokens 1, 2, 3 occurs most often
(sequences with a tie are not generated). Attention has to look at the whole sequence to answer.
Run from this folder with Debian's Python:  /usr/bin/python3 train.py
Writes text_classifier.safetensors (weights) and text_classifier_test.safetensors (tokens [N, 12] as floats,
labels [N], PyTorch's probabilities [N, 3]).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tools"))
import safetensors_io  # noqa: E402

torch.manual_seed(0)
rng = np.random.default_rng(0)
VOCAB, LENGTH = 16, 12


def make(count):
    tokens, labels = [], []
    while len(tokens) < count:
        t = rng.integers(0, VOCAB, LENGTH)
        counts = [(t == k).sum() for k in (1, 2, 3)]
        if sorted(counts)[-1] == sorted(counts)[-2]:
            continue  # a tie: no single answer
        tokens.append(t)
        labels.append(int(np.argmax(counts)))
    return np.array(tokens), np.array(labels)


class TextClassifier(torch.nn.Module):
    # The same network as TextClassifier.Forward in TextClassifier.cs.
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(VOCAB, 16)
        self.pos = torch.nn.Parameter(torch.randn(LENGTH, 16) * 0.1)
        self.attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)
        self.norm1 = torch.nn.LayerNorm(16)
        self.ff1 = torch.nn.Linear(16, 32)
        self.ff2 = torch.nn.Linear(32, 16)
        self.norm2 = torch.nn.LayerNorm(16)
        self.head = torch.nn.Linear(16, 3)

    def forward(self, tokens):
        h = self.emb(tokens) + self.pos
        a, _ = self.attn(h, h, h, need_weights=False)
        h = self.norm1(h + a)
        h = self.norm2(h + self.ff2(F.gelu(self.ff1(h))))
        return torch.softmax(self.head(h.mean(1)), dim=-1)


x_train, y_train = make(4000)
x_test, y_test = make(600)
model = TextClassifier()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
for step in range(600):
    optimizer.zero_grad()
    loss = F.nll_loss(torch.log(model(xt) + 1e-12), yt)
    loss.backward()
    optimizer.step()
model.eval()
with torch.no_grad():
    probs = model(torch.from_numpy(x_test)).numpy()
print(f"held-out accuracy (PyTorch): {float((probs.argmax(1) == y_test).mean()):.4f} on {len(y_test)} sequences")
safetensors_io.save(os.path.join(here, "text_classifier.safetensors"), safetensors_io.state_dict(model))
safetensors_io.save(os.path.join(here, "text_classifier_test.safetensors"),
                    {"tokens": x_test.astype(np.float32), "labels": y_test.astype(np.float32), "probabilities": probs})
