"""Makes Models/encoder_layer_sf.onnx and encoder_layer_bf.onnx: a standard nn.TransformerEncoderLayer (d_model 64, 4 heads,
feed-forward 128, ReLU, post-norm, dropout off), exported by torch.onnx.export as users export it, sequence-first (the
module's default, batch_first=False: x is [sequence, batch, d]) and batch-first. Seeded: the same weights each run.

Run from this folder with Debian's Python:  /usr/bin/python3 make_encoder_layer.py
OnnxThirdPartyTests checks both against ONNX Runtime.
"""
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))
for batch_first, name in [(False, "encoder_layer_sf.onnx"), (True, "encoder_layer_bf.onnx")]:
    torch.manual_seed(2026)
    layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.0, batch_first=batch_first).eval()
    x = torch.randn((2, 10, 64) if batch_first else (10, 2, 64))
    axis = 0 if batch_first else 1
    torch.onnx.export(layer, (x,), os.path.join(here, "Models", name), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {axis: "batch"}, "y": {axis: "batch"}}, opset_version=17)
