#if LLAMA125M
namespace ModelCompiler.Benchmarks;

/// <summary>
/// A Llama-style decoder of realistic proportions (random weights from make_llama125m.py, compiled only when that file is
/// there): hidden 768, 12 layers, 12 heads over 4 key/value heads, SwiGLU of 2,048, vocabulary 32,000. Weights are read
/// from the file at start-up (500 MB; too large to embed).
/// </summary>
[CompileModel(Weights = "llama125m.safetensors")]
public static partial class Llama125M
{
    static Tensor Forward([Shape(1)] Tensor token) => Llama.Decoder(token);
}

/// <summary>The same decoder with int8 weights.</summary>
[CompileModel(Weights = "llama125m.safetensors", Quantize = Quantization.Int8)]
public static partial class Llama125MInt8
{
    static Tensor Forward([Shape(1)] Tensor token) => Llama.Decoder(token);
}

/// <summary>The same decoder with int4 weights.</summary>
[CompileModel(Weights = "llama125m.safetensors", Quantize = Quantization.Int4)]
public static partial class Llama125MInt4
{
    static Tensor Forward([Shape(1)] Tensor token) => Llama.Decoder(token);
}

/// <summary>Llama's decoder as Hugging Face's checkpoints name it (tests/ModelCompiler.TestModels/TinyLlama.cs at toy size).</summary>
public static class Llama
{
    private const int Layers = 12, Heads = 12, KvHeads = 4, HeadSize = 64;

    internal static Tensor Decoder(Tensor token)
    {
        Tensor x = token.Embedding("model.embed_tokens");
        for (int i = 0; i < Layers; i++)
        {
            string layer = $"model.layers.{i}";
            Tensor h = x.RmsNorm($"{layer}.input_layernorm");
            Tensor q = h.Linear($"{layer}.self_attn.q_proj").Rotary(HeadSize);
            Tensor k = h.Linear($"{layer}.self_attn.k_proj").Rotary(HeadSize);
            Tensor v = h.Linear($"{layer}.self_attn.v_proj");
            x = x + q.CachedAttention(k, v, Heads, KvHeads).Linear($"{layer}.self_attn.o_proj");
            h = x.RmsNorm($"{layer}.post_attention_layernorm");
            x = x + (h.Linear($"{layer}.mlp.gate_proj").Silu() * h.Linear($"{layer}.mlp.up_proj")).Linear($"{layer}.mlp.down_proj");
        }
        return x.RmsNorm("model.norm").Linear("lm_head");
    }
}
#endif
