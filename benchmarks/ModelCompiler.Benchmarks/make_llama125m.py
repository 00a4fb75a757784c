"""Writes Models/llama125m.safetensors: a Llama-style decoder of realistic proportions with random weights (issue 17's
speed yardstick): hidden 768, 12 layers, 12 heads of 64 over 4 key/value heads, SwiGLU of 2,048, vocabulary 32,000, an
untied lm_head; 125 M parameters, 500 MB in float32, Hugging Face's tensor names. Too large to check in, so
ModelCompiler.Benchmarks compiles Llama125M (Llama.cs) only when this file is there:

    /usr/bin/python3 benchmarks/ModelCompiler.Benchmarks/make_llama125m.py
    dotnet run --project benchmarks/ModelCompiler.Benchmarks -c Release -- --filter '*Llama*'

numpy only; about ten seconds.
"""
import json
import os
import struct

import numpy as np

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD, FFN, VOCAB = 768, 12, 12, 4, 64, 2048, 32000
here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(125)

shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN), "model.norm.weight": (HIDDEN,), "lm_head.weight": (VOCAB, HIDDEN)}
for i in range(LAYERS):
    p = f"model.layers.{i}."
    shapes.update({
        p + "input_layernorm.weight": (HIDDEN,), p + "post_attention_layernorm.weight": (HIDDEN,),
        p + "self_attn.q_proj.weight": (HEADS * HEAD, HIDDEN), p + "self_attn.k_proj.weight": (KV_HEADS * HEAD, HIDDEN),
        p + "self_attn.v_proj.weight": (KV_HEADS * HEAD, HIDDEN), p + "self_attn.o_proj.weight": (HIDDEN, HEADS * HEAD),
        p + "mlp.gate_proj.weight": (FFN, HIDDEN), p + "mlp.up_proj.weight": (FFN, HIDDEN), p + "mlp.down_proj.weight": (HIDDEN, FFN),
    })

header, offset = {}, 0
for name in sorted(shapes):
    size = 4 * int(np.prod(shapes[name]))
    header[name] = {"dtype": "F32", "shape": list(shapes[name]), "data_offsets": [offset, offset + size]}
    offset += size
encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
encoded += b" " * (-len(encoded) % 8)
path = os.path.join(here, "Models", "llama125m.safetensors")
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(encoded)))
    f.write(encoded)
    for name in sorted(shapes):
        if name.endswith("norm.weight"):
            values = np.ones(shapes[name], dtype="<f4")
        else:
            values = (rng.standard_normal(shapes[name], dtype=np.float32) * 0.02).astype("<f4")
        f.write(values.tobytes())
print(f"{path}: {sum(int(np.prod(s)) for s in shapes.values()):,} parameters, {offset:,} bytes")
