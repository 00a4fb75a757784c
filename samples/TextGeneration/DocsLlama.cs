using ModelCompiler;

namespace TextGeneration;

/// <summary>
/// A Llama trained by train.py on the Python documentation (2 M parameters: hidden 192, 4 layers, 6 query heads over 2
/// key/value heads of 32, SwiGLU 512, vocabulary 2,048, the lm_head tied to the embeddings), in Hugging Face's names.
/// Forward describes one token; the generator gives the class CreateSession (prefill, decode, generate).
/// </summary>
[CompileModel(Weights = "docs_llama.safetensors")]
public static partial class DocsLlama
{
    private const int Layers = 4, Heads = 6, KvHeads = 2, HeadSize = 32;

    static Tensor Forward([Shape(1)] Tensor token) => Decoder(token);

    internal static Tensor Decoder(Tensor token)
    {
        Tensor x = token.Embedding("model.embed_tokens");
        for (int i = 0; i < Layers; i++) x = Layer(x, $"model.layers.{i}");
        return x.RmsNorm("model.norm", epsilon: 1e-5f).Linear("model.embed_tokens"); // tied: the embedding table is lm_head
    }

    static Tensor Layer(Tensor x, string layer)
    {
        Tensor h = x.RmsNorm($"{layer}.input_layernorm", epsilon: 1e-5f);
        Tensor q = h.Linear($"{layer}.self_attn.q_proj").Rotary(HeadSize);
        Tensor k = h.Linear($"{layer}.self_attn.k_proj").Rotary(HeadSize);
        Tensor v = h.Linear($"{layer}.self_attn.v_proj");
        x = x + q.CachedAttention(k, v, Heads, KvHeads).Linear($"{layer}.self_attn.o_proj");
        h = x.RmsNorm($"{layer}.post_attention_layernorm", epsilon: 1e-5f);
        return x + (h.Linear($"{layer}.mlp.gate_proj").Silu() * h.Linear($"{layer}.mlp.up_proj")).Linear($"{layer}.mlp.down_proj");
    }
}

/// <summary>int8 weights (per output channel), int8 activations per row.</summary>
[CompileModel(Weights = "docs_llama.safetensors", Quantize = Quantization.Int8)]
public static partial class DocsLlamaInt8
{
    static Tensor Forward([Shape(1)] Tensor token) => DocsLlama.Decoder(token);
}

/// <summary>int4 weights rounded to nearest (32 per scale), kept at 4 bits.</summary>
[CompileModel(Weights = "docs_llama.safetensors", Quantize = Quantization.Int4)]
public static partial class DocsLlamaInt4
{
    static Tensor Forward([Shape(1)] Tensor token) => DocsLlama.Decoder(token);
}

/// <summary>int4 weights rounded by GPTQ at build time on 32 sequences of the training text (act-order).</summary>
[CompileModel(Weights = "docs_llama.safetensors", Quantize = Quantization.Int4Gptq, Calibration = "docs_llama_tokens.safetensors")]
public static partial class DocsLlamaGptq
{
    static Tensor Forward([Shape(1)] Tensor token) => DocsLlama.Decoder(token);
}
