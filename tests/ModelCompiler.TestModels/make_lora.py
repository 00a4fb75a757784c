"""Makes LoRA adapters in PEFT's layout for the toy decoders, and what PyTorch computes with them.

Models/lora_a, lora_b (for tiny_llama.safetensors) and lora_gpt2 (for tiny_gpt2.safetensors) each hold
adapter_model.safetensors and adapter_config.json as PEFT's save_pretrained writes them: tensors
base_model.model.{module}.lora_A.weight [r, in] and .lora_B.weight [out, r]; the configuration's r, lora_alpha,
use_rslora, fan_in_fan_out. The adapters' B matrices are random (a trained adapter's; PEFT starts them at zero).

- lora_a: q_proj and v_proj of both layers, r 4, lora_alpha 8 (scale 2).
- lora_b: o_proj, mlp.gate_proj (SiLU after it) and mlp.down_proj, r 8, lora_alpha 16 with rsLoRA (scale 16/√8).
- lora_gpt2: attn.c_attn and mlp.c_fc (GELU after it) of GPT-2's Conv1D layers (fan_in_fan_out), named as PEFT names
  GPT2LMHeadModel's modules (transformer.h.0.…), r 4, lora_alpha 4.

Each layer computes as PEFT's LoraLayer (peft/tuners/lora/layer.py, Linear.forward, which Debian does not package):
result = base_layer(x) + lora_B(lora_A(dropout(x))) * scaling, scaling = lora_alpha / r (or / √r with use_rslora).
Models/lora.reference.safetensors holds tokens [40] and the logits after each token with each adapter
(logits_a, logits_b, logits_gpt2) and without (logits_base, logits_gpt2_base).

Run from this folder with Debian's Python after make_llama.py and make_gpt2.py:  /usr/bin/python3 make_lora.py
LoraTests compares the compiled models, merged at build time and switched at run time, against these.
"""
import json
import math
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tools"))
import safetensors_io  # noqa: E402


def definitions(script, stop):
    """The classes of a make_*.py script (its code before it builds the model)."""
    source = open(os.path.join(here, script)).read()
    scope = {"__file__": os.path.join(here, script), "__name__": "definitions"}
    exec(source[:source.index(stop)], scope)
    return scope


def loaded(scope, model_class, weights):
    model = scope[model_class]().eval()
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in safetensors_io.load(os.path.join(here, "Models", weights)).items()}
    model.load_state_dict(state)
    return model


class LoraLinear(torch.nn.Module):
    """peft.tuners.lora.layer.Linear for inference: the base layer, then + lora_B(lora_A(x)) * scaling."""

    def __init__(self, base, r, alpha, rslora, generator, inputs, outputs):
        super().__init__()
        self.base_layer = base
        self.lora_A = torch.nn.Linear(inputs, r, bias=False)
        self.lora_B = torch.nn.Linear(r, outputs, bias=False)
        with torch.no_grad():
            self.lora_A.weight.copy_(torch.randn(r, inputs, generator=generator) / math.sqrt(inputs))
            self.lora_B.weight.copy_(0.5 * torch.randn(outputs, r, generator=generator) / math.sqrt(r))
        self.scaling = alpha / math.sqrt(r) if rslora else alpha / r

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(x)) * self.scaling


def adapt(model, targets, r, alpha, rslora, seed, shape):
    generator = torch.Generator().manual_seed(seed)
    adapted = {}
    for name, module in list(model.named_modules()):
        if not any(name.endswith(t) for t in targets):
            continue
        parent = model.get_submodule(name.rsplit(".", 1)[0])
        inputs, outputs = shape(module)
        layer = LoraLinear(module, r, alpha, rslora, generator, inputs, outputs)
        setattr(parent, name.rsplit(".", 1)[1], layer)
        adapted[name] = layer
    return adapted


def save(folder, adapted, r, alpha, rslora, targets, fan_in_fan_out, prefix=""):
    os.makedirs(os.path.join(here, "Models", folder), exist_ok=True)
    tensors = {}
    for name, layer in adapted.items():
        tensors[f"base_model.model.{prefix}{name}.lora_A.weight"] = layer.lora_A.weight.detach().numpy()
        tensors[f"base_model.model.{prefix}{name}.lora_B.weight"] = layer.lora_B.weight.detach().numpy()
    safetensors_io.save(os.path.join(here, "Models", folder, "adapter_model.safetensors"), tensors)
    config = {  # the keys PEFT 0.13's LoraConfig.save_pretrained writes
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": None, "bias": "none", "fan_in_fan_out": fan_in_fan_out,
        "inference_mode": True, "init_lora_weights": True, "layer_replication": None, "layers_pattern": None, "layers_to_transform": None,
        "loftq_config": {}, "lora_alpha": alpha, "lora_dropout": 0.05, "megatron_config": None, "megatron_core": "megatron.core",
        "modules_to_save": None, "peft_type": "LORA", "r": r, "rank_pattern": {}, "revision": None, "target_modules": targets,
        "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": rslora}
    with open(os.path.join(here, "Models", folder, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


llama = definitions("make_llama.py", "model = TinyLlama().eval()")
gpt2 = definitions("make_gpt2.py", "model = TinyGpt2().eval()")
tokens = torch.from_numpy(np.array(safetensors_io.load(os.path.join(here, "Models", "tiny_llama.reference.safetensors"))["tokens"])).long()
linear_shape = lambda m: (m.in_features, m.out_features)  # noqa: E731
conv1d_shape = lambda m: tuple(m.weight.shape)  # noqa: E731  Conv1D's weight is [in, out]
reference = {"tokens": tokens.float().numpy()}
with torch.no_grad():
    base = loaded(llama, "TinyLlama", "tiny_llama.safetensors")
    reference["logits_base"] = base(tokens).numpy()
    for folder, targets, r, alpha, rslora, seed in [("lora_a", ["q_proj", "v_proj"], 4, 8, False, 1),
                                                    ("lora_b", ["o_proj", "gate_proj", "down_proj"], 8, 16, True, 2)]:
        model = loaded(llama, "TinyLlama", "tiny_llama.safetensors")
        adapted = adapt(model, targets, r, alpha, rslora, seed, linear_shape)
        save(folder, adapted, r, alpha, rslora, targets, False)
        reference["logits_" + folder[-1]] = model(tokens).numpy()
    model = loaded(gpt2, "TinyGpt2", "tiny_gpt2.safetensors")
    reference["logits_gpt2_base"] = model(tokens).numpy()
    adapted = adapt(model, ["c_attn", "c_fc"], 4, 4, False, 3, conv1d_shape)
    save("lora_gpt2", adapted, 4, 4, False, ["c_attn", "c_fc"], True, prefix="transformer.")
    reference["logits_gpt2"] = model(tokens).numpy()
for key in ("a", "b", "gpt2"):
    base_key = "logits_gpt2_base" if key == "gpt2" else "logits_base"
    change = np.abs(reference["logits_" + key] - reference[base_key]).max() / np.abs(reference[base_key]).max()
    print(f"adapter {key} moves the logits by {change:.3f} of their scale")
safetensors_io.save(os.path.join(here, "Models", "lora.reference.safetensors"), reference)
