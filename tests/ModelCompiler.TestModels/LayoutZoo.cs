namespace ModelCompiler.TestModels;

/// <summary>
/// Layout ops (Split, Reshape, Transpose, Permute, Concat, Slice) around attention written three ways: scaled dot-product
/// attention with a causal mask and with a per-sample mask computed by the model, MatMul + Softmax by hand, and
/// MultiHeadAttention with a weight mask and causal; and a MatMul by a weight.
/// </summary>
[CompileModel(Weights = "layout_zoo.safetensors")]
public static partial class LayoutZoo
{
    static Tensor Forward([Shape(6, 8)] Tensor x)
    {
        Tensor[] qkv = x.Linear("qkv").Split(-1, 8, 8, 8);                     // three [6, 8]
        Tensor q = Heads(qkv[0]), k = Heads(qkv[1]), v = Heads(qkv[2]);         // [2, 6, 4] each
        Tensor causal = q.ScaledDotProductAttention(k, v, causal: true);        // [2, 6, 4]
        Tensor scores = (q.MatMul(k.Transpose(-2, -1)) * 0.5f).Softmax();      // [2, 6, 6]
        Tensor written = scores.MatMul(v);                                      // [2, 6, 4]
        Tensor both = causal.Concat(written, -1).Permute(1, 0, 2).Reshape(6, 16);
        Tensor firstHead = scores.Slice(0, 0, 1).Reshape(6, 6);                 // a mask computed per sample
        Tensor plain = q.ScaledDotProductAttention(k, v, mask: firstHead).Transpose(0, 1).Reshape(6, 8);
        Tensor masked = x.MultiHeadAttention("attn", heads: 2, mask: x.Parameter("mask"));
        Tensor causalMha = x.MultiHeadAttention("attn", heads: 2, causal: true);
        Tensor mixed = masked.MatMul(x.Parameter("proj"));                      // [6, 8] · [8, 5]
        Tensor left = both.Slice(-1, 2, 14).Linear("out").Concat(mixed, 1);      // [6, 12]
        return left.Concat((causalMha + plain).Slice(1, 0, 4), 1).Tanh();       // [6, 16]
    }

    static Tensor Heads(Tensor t) => t.Reshape(6, 2, 4).Transpose(0, 1);
}
