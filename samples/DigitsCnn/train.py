"""Trains the DigitsCnn sample's network on scikit-learn's 8x8 digits and exports what the sample needs.

Run from this folder with Debian's Python:  /usr/bin/python3 train.py
Writes:
  digits_cnn.safetensors       the weights (conv1, bn1, conv2, bn2, head), read by the generator at build time
  digits_cnn_test.safetensors  the held-out set: pixels [N, 1, 8, 8] in [0, 1], labels [N], and the probabilities
                               PyTorch computes [N, 10] (the sample prints its agreement with them)
  digits_cnn.onnx              the same network for ONNX Runtime (benchmarks)
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tools"))
import safetensors_io  # noqa: E402

torch.manual_seed(0)
digits = load_digits()
x = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
y = digits.target.astype(np.int64)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)


class DigitsCnn(torch.nn.Module):
    # The same network as DigitsCnn.Forward in DigitsCnn.cs.
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.head = torch.nn.Linear(16, 10)

    def forward(self, pixels):
        h = F.max_pool2d(torch.relu(self.bn1(self.conv1(pixels))), 2)
        h = torch.relu(self.bn2(self.conv2(h)))
        h = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
        return torch.softmax(self.head(h), dim=-1)


model = DigitsCnn()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
for epoch in range(200):
    model.train()
    optimizer.zero_grad()
    loss = F.nll_loss(torch.log(model(xt) + 1e-12), yt)
    loss.backward()
    optimizer.step()

model.eval()
with torch.no_grad():
    probs = model(torch.from_numpy(x_test)).numpy()
print(f"held-out accuracy (PyTorch): {float((probs.argmax(1) == y_test).mean()):.4f} on {len(y_test)} samples")

safetensors_io.save(os.path.join(here, "digits_cnn.safetensors"), safetensors_io.state_dict(model))
safetensors_io.save(os.path.join(here, "digits_cnn_test.safetensors"),
                    {"pixels": x_test, "labels": y_test.astype(np.float32), "probabilities": probs})
torch.onnx.export(model, torch.zeros(1, 1, 8, 8), os.path.join(here, "digits_cnn.onnx"), input_names=["input"],
                  output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=13)
