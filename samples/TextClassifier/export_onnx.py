"""Exports the trained TextClassifier (text_classifier.safetensors) to ONNX for the ONNX Runtime benchmark, without
retraining. The ONNX model takes the token ids as float [N, 12], like the compiled one, and casts them itself.
Run from this folder with Debian's Python:  /usr/bin/python3 export_onnx.py
"""
import json
import os
import struct
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
# The network definition from train.py, without running its training.
source = open(os.path.join(here, "train.py")).read().split("x_train, y_train = make(4000)")[0]
namespace = {"__file__": os.path.join(here, "train.py")}
exec(compile(source, "train.py", "exec"), namespace)
model = namespace["TextClassifier"]()
with open(os.path.join(here, "text_classifier.safetensors"), "rb") as f:
    raw = f.read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
state = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype="<f4").reshape(v["shape"]).copy())
         for k, v in header.items() if k != "__metadata__"}
state = {k: (v.long() if k.endswith("num_batches_tracked") else v) for k, v in state.items()}
model.load_state_dict(state)
model.eval()


class FloatTokens(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, tokens):
        return self.inner(tokens.long())


torch.onnx.export(FloatTokens(model), torch.zeros(1, 12), os.path.join(here, "text_classifier.onnx"), input_names=["input"],
                  output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=14)
print("wrote text_classifier.onnx")
