"""Trains the Digits sample's classifier on scikit-learn's 8x8 digits and exports what the sample needs.

Run from this folder with Debian's Python (it has torch and sklearn):  /usr/bin/python3 train.py
(`train.py --calibration-only` writes only the calibration file.)
Writes:
  digits.safetensors       the model's weights (fc1, fc2, out), read by the generator at build time
  digits_test.safetensors  the held-out set: pixels [N, 64] (scaled to [0, 1]), labels [N],
                           and probabilities [N, 10] computed by PyTorch (the tests compare against them)
  digits_calibration.safetensors  256 training images as 'input' [256, 64]: the calibration set for Int8Static
"""
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import safetensors_io  # noqa: E402

torch.manual_seed(0)
digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)
y = digits.target.astype(np.int64)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
here = os.path.dirname(os.path.abspath(__file__))
safetensors_io.save(os.path.join(here, "digits_calibration.safetensors"), {"input": x_train[:256]})
if "--calibration-only" in sys.argv:
    sys.exit(0)


class Classifier(torch.nn.Module):
    # The same network as DigitsClassifier.Forward: 64 -> 64 -> 32 -> 10, ReLU, softmax.
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 64)
        self.fc2 = torch.nn.Linear(64, 32)
        self.out = torch.nn.Linear(32, 10)

    def forward(self, pixels):
        h = torch.relu(self.fc1(pixels))
        h = torch.relu(self.fc2(h))
        return torch.softmax(self.out(h), dim=-1)


model = Classifier()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
for epoch in range(300):
    optimizer.zero_grad()
    logits = torch.log(model(xt) + 1e-12)
    loss = torch.nn.functional.nll_loss(logits, yt)
    loss.backward()
    optimizer.step()

model.eval()
with torch.no_grad():
    probs = model(torch.from_numpy(x_test)).numpy()
accuracy = float((probs.argmax(1) == y_test).mean())
print(f"held-out accuracy (PyTorch): {accuracy:.4f} on {len(y_test)} samples")

safetensors_io.save(os.path.join(here, "digits.safetensors"), safetensors_io.state_dict(model))
safetensors_io.save(os.path.join(here, "digits_test.safetensors"),
                    {"pixels": x_test, "labels": y_test.astype(np.float32), "probabilities": probs})
