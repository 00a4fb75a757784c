namespace ModelCompiler.TestModels;

// LoRA adapters merged at build time (make_lora.py makes them in PEFT's layout; LoraTests). Switching adapters at run
// time needs no model of its own: any compiled decoder's session takes one (SetAdapter).

/// <summary>TinyLlama with adapter A (q_proj and v_proj, r 4) merged into its float32 weights.</summary>
[CompileModel(Weights = "tiny_llama.safetensors", Adapter = "lora_a/adapter_model.safetensors")]
public static partial class TinyLlamaLoraA
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyLlama.Decoder(token);
}

/// <summary>
/// TinyLlama with adapter B (o_proj, gate_proj and down_proj, r 8, rsLoRA) merged, read from the file at start-up but for
/// the merged layers, which exist only at build time and are embedded.
/// </summary>
[CompileModel(Weights = "tiny_llama.safetensors", Adapter = "lora_b/adapter_model.safetensors", WeightsStorage = WeightsStorage.File)]
public static partial class TinyLlamaLoraBFromFile
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyLlama.Decoder(token);
}

/// <summary>Adapter B merged before the weights are rounded to int4 (what QLoRA's merge-then-quantize deploys).</summary>
[CompileModel(Weights = "tiny_llama.safetensors", Adapter = "lora_b/adapter_model.safetensors", Quantize = Quantization.Int4)]
public static partial class TinyLlamaLoraBInt4
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyLlama.Decoder(token);
}

/// <summary>TinyGpt2 with a Conv1D adapter (c_attn and c_fc, fan_in_fan_out, PEFT's transformer.h.… names) merged.</summary>
[CompileModel(Weights = "tiny_gpt2.safetensors", Adapter = "lora_gpt2/adapter_model.safetensors")]
public static partial class TinyGpt2Lora
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyGpt2.Decoder(token);
}
