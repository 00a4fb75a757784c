using ModelCompiler;

namespace TextClassifier;

/// <summary>
/// A one-layer transformer encoder over 12 tokens (ids 0–15, given as floats): which of tokens 1, 2 and 3 occurs most.
/// </summary>
[CompileModel(Weights = "text_classifier.safetensors")]
public static partial class TokenCountClassifier
{
    static Tensor Forward([Shape(12)] Tensor tokens)
    {
        Tensor h = tokens.Embedding("emb") + tokens.Parameter("pos");              // [12, 16]
        h = (h + h.MultiHeadAttention("attn", heads: 4)).LayerNorm("norm1");
        h = (h + h.Linear("ff1").Gelu().Linear("ff2")).LayerNorm("norm2");
        return h.Mean(0).Linear("head").Softmax();                                // mean over the 12 positions
    }
}
