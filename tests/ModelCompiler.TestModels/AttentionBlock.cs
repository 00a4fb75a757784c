namespace ModelCompiler.TestModels;

/// <summary>The attention half of a transformer encoder layer: 6 positions of 16 features, 4 heads, residual, LayerNorm.</summary>
[CompileModel(Weights = "attention_block.safetensors")]
public static partial class AttentionBlock
{
    static Tensor Forward([Shape(6, 5)] Tensor x)
    {
        Tensor h = x.Linear("embed");
        h = (h + h.MultiHeadAttention("attn", heads: 4)).LayerNorm("norm");
        return h.Gelu().Linear("head");
    }
}

/// <summary>The same block with int8 projections (attn.in_proj and attn.out_proj included).</summary>
[CompileModel(Weights = "attention_block.safetensors", Quantize = Quantization.Int8)]
public static partial class AttentionBlockInt8
{
    static Tensor Forward([Shape(6, 5)] Tensor x)
    {
        Tensor h = x.Linear("embed");
        h = (h + h.MultiHeadAttention("attn", heads: 4)).LayerNorm("norm");
        return h.Gelu().Linear("head");
    }
}
