namespace ModelCompiler.TestModels;

/// <summary>
/// A GPT-2 at toy size (make_gpt2.py is its PyTorch twin), read from a checkpoint with the hub's tensor names as they are:
/// learned positions (<c>wpe</c>) added to the token embedding, pre-LayerNorm blocks, one <c>c_attn</c> projection split
/// into queries, keys and values, causal attention over the key/value cache (4 heads of 16, as many key/value heads),
/// the tanh GELU, Conv1D layers (weights stored [in, out], read transposed), lm_head tied to <c>wte</c>.
/// </summary>
[CompileModel(Weights = "tiny_gpt2.safetensors")]
public static partial class TinyGpt2
{
    private const int Layers = 2, Heads = 4, Hidden = 64;

    static Tensor Forward([Shape(1)] Tensor token) => Decoder(token);

    internal static Tensor Decoder(Tensor token)
    {
        Tensor x = token.Embedding("wte").AddPositions("wpe");
        for (int i = 0; i < Layers; i++) x = Block(x, $"h.{i}");
        return x.LayerNorm("ln_f").Linear("wte");
    }

    static Tensor Block(Tensor x, string block)
    {
        Tensor[] qkv = x.LayerNorm($"{block}.ln_1").Linear($"{block}.attn.c_attn", transposed: true).Split(-1, Hidden, Hidden, Hidden);
        x = x + qkv[0].CachedAttention(qkv[1], qkv[2], Heads, Heads).Linear($"{block}.attn.c_proj", transposed: true);
        Tensor h = x.LayerNorm($"{block}.ln_2").Linear($"{block}.mlp.c_fc", transposed: true).Gelu(GeluApproximation.Tanh);
        return x + h.Linear($"{block}.mlp.c_proj", transposed: true);
    }
}

/// <summary>The same GPT-2 with int4 weights (every Linear, the tied lm_head included).</summary>
[CompileModel(Weights = "tiny_gpt2.safetensors", Quantize = Quantization.Int4)]
public static partial class TinyGpt2Int4
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyGpt2.Decoder(token);
}

/// <summary>The same GPT-2 reading its weights from the file at start-up (the transposed layers laid out then).</summary>
[CompileModel(Weights = "tiny_gpt2.safetensors", WeightsStorage = WeightsStorage.File)]
public static partial class TinyGpt2FromFile
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyGpt2.Decoder(token);
}
