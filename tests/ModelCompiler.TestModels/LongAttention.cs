namespace ModelCompiler.TestModels;

/// <summary>
/// Attention over 80 positions: more than one block of queries and several tiles of keys for the GPU's flash-style
/// kernel (64 queries a block, 32 keys a tile, the last of each partial), with a per-sample mask, causal, and one head
/// of 8 features as well as two of 4.
/// </summary>
[CompileModel(Weights = "layout_zoo.safetensors")]
public static partial class LongAttention
{
    static Tensor Forward([Shape(80, 8)] Tensor x)
    {
        Tensor[] qkv = x.Linear("qkv").Split(-1, 8, 8, 8);                        // three [80, 8]
        Tensor q = Heads(qkv[0]), k = Heads(qkv[1]), v = Heads(qkv[2]);            // [2, 80, 4] each
        Tensor mask = x.MatMul(x.Transpose(0, 1)) * 0.1f;                          // [80, 80], per sample
        Tensor masked = q.ScaledDotProductAttention(k, v, mask: mask).Transpose(0, 1).Reshape(80, 8);
        Tensor single = qkv[0].ScaledDotProductAttention(qkv[1], qkv[2], causal: true); // one head of 8
        return masked + single + x.MultiHeadAttention("attn", heads: 2, causal: true);
    }

    static Tensor Heads(Tensor t) => t.Reshape(80, 2, 4).Transpose(0, 1);
}
