namespace ModelCompiler.TestModels;

/// <summary>
/// A Llama-style decoder at toy size (make_llama.py is its PyTorch twin): Hugging Face's tensor names, RMSNorm, rotary
/// embeddings, grouped-query attention over the key/value cache (4 query heads, 2 key/value heads of 16), SwiGLU.
/// One token per sample: the compiled model is a session (CreateSession), the eager one runs the batch as the sequence.
/// </summary>
[CompileModel(Weights = "tiny_llama.safetensors")]
public static partial class TinyLlama
{
    private const int Layers = 2, Heads = 4, KvHeads = 2, HeadSize = 16;

    static Tensor Forward([Shape(1)] Tensor token) => Decoder(token);

    internal static Tensor Decoder(Tensor token)
    {
        Tensor x = token.Embedding("model.embed_tokens");
        for (int i = 0; i < Layers; i++) x = Layer(x, $"model.layers.{i}");
        return x.RmsNorm("model.norm").Linear("lm_head");
    }

    static Tensor Layer(Tensor x, string layer)
    {
        Tensor h = x.RmsNorm($"{layer}.input_layernorm");
        Tensor q = h.Linear($"{layer}.self_attn.q_proj").Rotary(HeadSize);
        Tensor k = h.Linear($"{layer}.self_attn.k_proj").Rotary(HeadSize);
        Tensor v = h.Linear($"{layer}.self_attn.v_proj");
        x = x + q.CachedAttention(k, v, Heads, KvHeads).Linear($"{layer}.self_attn.o_proj");
        h = x.RmsNorm($"{layer}.post_attention_layernorm");
        return x + (h.Linear($"{layer}.mlp.gate_proj").Silu() * h.Linear($"{layer}.mlp.up_proj")).Linear($"{layer}.mlp.down_proj");
    }
}

/// <summary>The same decoder with int8 weights (every Linear, lm_head included).</summary>
[CompileModel(Weights = "tiny_llama.safetensors", Quantize = Quantization.Int8)]
public static partial class TinyLlamaInt8
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyLlama.Decoder(token);
}

/// <summary>The same decoder with int4 weights.</summary>
[CompileModel(Weights = "tiny_llama.safetensors", Quantize = Quantization.Int4)]
public static partial class TinyLlamaInt4
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyLlama.Decoder(token);
}

/// <summary>The same decoder with int4 weights rounded by GPTQ on six token sequences (act-order, the default).</summary>
[CompileModel(Weights = "tiny_llama.safetensors", Quantize = Quantization.Int4Gptq, Calibration = "tiny_llama_calibration.safetensors")]
public static partial class TinyLlamaGptq
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyLlama.Decoder(token);
}

/// <summary>
/// GPTQ rounding each layer's inputs in order (no act-order), lm_head kept in float32, the weights read from the file at
/// start-up but for GPTQ's codes, which exist only at build time and are embedded.
/// </summary>
[CompileModel(Weights = "tiny_llama.safetensors", Quantize = Quantization.Int4Gptq, Calibration = "tiny_llama_calibration.safetensors",
    GptqActOrder = false, FloatLayers = ["lm_head"], WeightsStorage = WeightsStorage.File)]
public static partial class TinyLlamaGptqInOrder
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyLlama.Decoder(token);
}
