using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>
    /// Multi-head self-attention over each sample's rows, PyTorch's <c>nn.MultiheadAttention(d, heads,
    /// batch_first=True)</c> called as <c>attn(x, x, x, attn_mask=mask, is_causal=causal)</c>: reads <c>name.in_proj_weight</c>
    /// <c>[3d, d]</c>, <c>name.in_proj_bias</c>, <c>name.out_proj.weight</c> <c>[d, d]</c> and <c>name.out_proj.bias</c>.
    /// Samples are <c>[sequence, d]</c>. <paramref name="mask"/>, if given, is added to the scores: a weight
    /// <c>[sequence, sequence]</c> for every sample, or an activation with one <c>[sequence, sequence]</c> per sample
    /// (use −∞ to hide a key). <paramref name="causal"/> hides every later position.
    /// </summary>
    public Tensor MultiHeadAttention(string name, int heads, Tensor? mask = null, bool causal = false)
    {
        if (Rank != 3) throw new InvalidOperationException($"MultiHeadAttention '{name}' needs samples of [sequence, d]; got {Format(Shape)}.");
        int d = _shape[^1];
        if (heads <= 0 || d % heads != 0)
            throw new ArgumentOutOfRangeException(nameof(heads), heads, $"MultiHeadAttention '{name}': {d} features do not split into {heads} heads.");
        int sequence = _shape[1];
        int maskSample = CheckMask(mask, sequence, sequence, "MultiHeadAttention '" + name + "'");
        Tensor qkv = LinearNamed(name + ".in_proj_weight", name + ".in_proj_bias", name + ".in_proj");
        var result = new float[_shape[0] * sequence * d];
        ReferenceOps.Attention(qkv._data, qkv._data, d, qkv._data, 2 * d, mask?._data, result, _shape[0],
            AttentionGeometry.Packed(sequence, heads, d / heads, maskSample, causal));
        return Create((int[])_shape.Clone(), result).LinearNamed(name + ".out_proj.weight", name + ".out_proj.bias", name + ".out_proj");
    }

    /// <summary>
    /// Scaled dot-product attention, PyTorch's <c>F.scaled_dot_product_attention(q, key, value, attn_mask=mask,
    /// is_causal=causal)</c>: <c>softmax(q·keyᵀ/√e + mask)·value</c> with this tensor as the queries. Samples are
    /// <c>q [h…, L, e]</c>, <c>key [h…, S, e]</c>, <c>value [h…, S, ev]</c> with the same leading (head) dimensions;
    /// the result is <c>[h…, L, ev]</c>. <paramref name="mask"/> is added to the scores: a weight <c>[L, S]</c>, or an
    /// activation with one <c>[L, S]</c> per sample; <paramref name="causal"/> hides key j from query i when j &gt; i.
    /// </summary>
    public Tensor ScaledDotProductAttention(Tensor key, Tensor value, Tensor? mask = null, bool causal = false)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (Rank < 3 || key.Rank != Rank || value.Rank != Rank)
            throw new ArgumentException($"ScaledDotProductAttention needs queries, keys and values of the same rank with samples of at least [L, e]; got {Format(Shape)}, {Format(key.Shape)}, {Format(value.Shape)}.", nameof(key));
        int queries = _shape[^2], headSize = _shape[^1], keys = key._shape[^2], valueSize = value._shape[^1];
        bool agree = key._shape[^1] == headSize && value._shape[^2] == keys;
        for (int d = 0; agree && d < Rank - 2; d++) agree = key._shape[d] == _shape[d] && value._shape[d] == _shape[d];
        if (!agree)
            throw new ArgumentException($"ScaledDotProductAttention: queries {Format(Shape)}, keys {Format(key.Shape)} and values {Format(value.Shape)} do not fit together.", nameof(key));
        int heads = 1;
        for (int d = 1; d < Rank - 2; d++) heads *= _shape[d];
        int maskSample = CheckMask(mask, queries, keys, "ScaledDotProductAttention");
        var result = new float[_shape[0] * heads * queries * valueSize];
        ReferenceOps.Attention(_data, key._data, 0, value._data, 0, mask?._data, result, _shape[0],
            AttentionGeometry.Separate(heads, queries, keys, headSize, valueSize, maskSample, causal));
        int[] shape = (int[])_shape.Clone();
        shape[^1] = valueSize;
        return Create(shape, result, key);
    }

    /// <summary>
    /// Matrix product per sample, PyTorch's <c>torch.matmul</c>: samples <c>[…, m, k]</c> times <paramref name="other"/>,
    /// either activations with samples <c>[…, k, n]</c> (the same leading dimensions) or a weight <c>[k, n]</c> shared by
    /// every sample and leading index. The result is <c>[…, m, n]</c>.
    /// </summary>
    public Tensor MatMul(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Rank < 3) throw new InvalidOperationException($"MatMul needs samples of at least [m, k]; got {Format(Shape)}.");
        int m = _shape[^2], k = _shape[^1];
        bool shared = other.Rank == 2;
        bool agree = (shared || other.Rank == Rank) && other._shape[^2] == k;
        for (int d = 0; agree && !shared && d < Rank - 2; d++) agree = other._shape[d] == _shape[d];
        if (!agree) throw new ArgumentException($"MatMul: {Format(Shape)} and {Format(other.Shape)} do not multiply.", nameof(other));
        int n = other._shape[^1], count = _data.Length / (m * k);
        float[] result = ReferenceOps.MatMul(_data, other._data, count, m, k, n, shared ? 0 : k * n);
        int[] shape = (int[])_shape.Clone();
        shape[^1] = n;
        return Create(shape, result, other);
    }

    /// <summary>Checks an attention mask; returns its stride between samples (0 for a weight shared by all).</summary>
    private int CheckMask(Tensor? mask, int queries, int keys, string what)
    {
        if (mask is null) return 0;
        bool perSample = mask.Rank == 3 && mask._shape[0] == _shape[0];
        if (!(perSample || mask.Rank == 2) || mask._shape[^2] != queries || mask._shape[^1] != keys)
            throw new ArgumentException($"{what}: the mask must be [{queries}, {keys}] (a weight, or one per sample), but is {Format(mask.Shape)}.", nameof(mask));
        return perSample ? queries * keys : 0;
    }

    /// <summary>A Linear layer whose weight and bias have the given names (as PyTorch names MultiheadAttention's).</summary>
    private Tensor LinearNamed(string weightName, string biasName, string layer)
    {
        // Reuse Linear's checks and arithmetic through a view of the weights under Linear's naming.
        var renamed = new RenamedWeights(WeightSource!, layer, weightName, biasName);
        return new Tensor(_shape, _data, renamed, Quantization).Linear(layer).WithWeights(WeightSource);
    }

    private Tensor WithWeights(IWeightSource? weights) => new(_shape, _data, weights, Quantization);

    /// <summary>Presents <c>weightName</c>/<c>biasName</c> as <c>layer.weight</c>/<c>layer.bias</c>.</summary>
    private sealed class RenamedWeights : IWeightSource
    {
        private readonly IWeightSource _inner;
        private readonly string _layer, _weight, _bias;

        public RenamedWeights(IWeightSource inner, string layer, string weight, string bias)
        {
            _inner = inner; _layer = layer; _weight = weight; _bias = bias;
        }

        public System.Collections.Generic.IReadOnlyList<string> Names => _inner.Names;

        public bool TryGetTensor(string name, out Tensor tensor) =>
            _inner.TryGetTensor(name == _layer + ".weight" ? _weight : name == _layer + ".bias" ? _bias : name, out tensor);
    }
}
