"""Makes Models/gptq_reference.safetensors: GPTQ on one small layer, as the reference implementation computes it.

`fasterquant` below is IST-DASLab/gptq's GPTQ.fasterquant (gptq.py, with the static_groups option AutoGPTQ added),
transcribed line by line in float64; only its quantizer is ModelCompiler's int4 grid instead of the repository's
asymmetric one: per output row and block of 32 inputs, scale = fp16(max|w| / 7) and q = clamp(round_half_even(w / s),
-7, 7) (Int4Quantization.cs). The Hessian is add_batch's, H = 2/N · Σ x xᵀ.

The layer: W [24, 200] random; calibration inputs X [300, 200] with correlated features (random mixing) and one dead
feature (column 37 always zero). Saved: weight, inputs, and the dequantized results for lazy batches of 64 columns:
gptq (contiguous groups found as the columns are reached), gptq_act_order (columns in order of decreasing Hessian
diagonal, static groups), rtn (round to nearest).

Also writes Models/tiny_llama_calibration.safetensors (below), TinyLlamaGptq's calibration token sequences.

Run from this folder with Debian's Python:  /usr/bin/python3 make_gptq.py
GptqTests compares ModelCompiler's Gptq against it.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import safetensors_io  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20261206)
ROWS, COLUMNS, SAMPLES, BLOCK, GROUP = 24, 200, 300, 64, 32


def find_params(w):
    """The grid for w [rows, columns of one group]: one scale per row (Int4Quantization.Encode's)."""
    amax = w.abs().amax(dim=1).float() / 7
    return torch.from_numpy(amax.numpy().astype(np.float16).clip(max=65504).astype(np.float64))


def quantize(w, scale):
    scale = scale if w.dim() == 1 else scale[:, None]
    q = torch.where(scale == 0, torch.zeros_like(w), torch.clamp(torch.round(w / torch.where(scale == 0, torch.ones_like(scale), scale)), -7, 7))
    return q * scale


def fasterquant(W, H, blocksize=BLOCK, percdamp=.01, groupsize=GROUP, actorder=False, static_groups=False):
    W = W.clone().double()
    H = H.clone()
    columns = W.shape[1]
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    if static_groups:
        groups = []
        for i in range(0, columns, groupsize):
            groups.append(find_params(W[:, i:(i + groupsize)]))
    if actorder:
        perm = torch.argsort(torch.diag(H), descending=True)
        W = W[:, perm]
        H = H[perm][:, perm]
        invperm = torch.argsort(perm)
    Q = torch.zeros_like(W)
    damp = percdamp * torch.mean(torch.diag(H))
    diag = torch.arange(columns)
    H[diag, diag] += damp
    H = torch.linalg.cholesky(H)
    H = torch.cholesky_inverse(H)
    H = torch.linalg.cholesky(H, upper=True)
    Hinv = H
    scale = None
    for i1 in range(0, columns, blocksize):
        i2 = min(i1 + blocksize, columns)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if not static_groups:
                if (i1 + i) % groupsize == 0:
                    scale = find_params(W[:, (i1 + i):(i1 + i + groupsize)])
            else:
                idx = i1 + i
                if actorder:
                    idx = perm[idx]
                scale = groups[idx // groupsize]
            q = quantize(w, scale)
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    if actorder:
        Q = Q[:, invperm]
    return Q


weight = torch.randn(ROWS, COLUMNS).double() * 0.05
inputs = (torch.randn(SAMPLES, COLUMNS) @ (torch.eye(COLUMNS) + 0.3 * torch.randn(COLUMNS, COLUMNS))).double()
inputs[:, 37] = 0
inputs = inputs.float().double()  # the file holds float32 inputs; the Hessian is built from those
weight = weight.float().double()
hessian = 2 / SAMPLES * inputs.t() @ inputs

rtn = torch.cat([quantize(weight[:, i:i + GROUP], find_params(weight[:, i:i + GROUP])) for i in range(0, COLUMNS, GROUP)], 1)
gptq = fasterquant(weight, hessian)
act_order = fasterquant(weight, hessian, actorder=True, static_groups=True)


def output_error(q):
    e = weight - q
    return float(torch.trace(e @ hessian @ e.t()) / torch.trace(weight @ hessian @ weight.t()))


# TinyLlamaGptq's calibration set: 32 sequences of 48 token ids of tiny_llama.safetensors' vocabulary of 96, as int64
# (as a tokenizer gives them), and 'heldout', 3 sequences of 40 (float32 ids) the generator reports perplexities on.
calibration = torch.randint(0, 96, (32, 48))
safetensors_io.save(os.path.join(here, "Models", "tiny_llama_calibration.safetensors"),
                    {"input": calibration.numpy(), "heldout": torch.randint(0, 96, (3, 40)).numpy()}, dtype={"input": "I64"})

print(f"relative output error: rtn {output_error(rtn):.5f}, gptq {output_error(gptq):.5f}, act-order {output_error(act_order):.5f}")
safetensors_io.save(os.path.join(here, "Models", "gptq_reference.safetensors"), {
    "weight": weight.numpy(), "inputs": inputs.numpy(), "rtn": rtn.numpy(), "gptq": gptq.numpy(), "gptq_act_order": act_order.numpy()})
