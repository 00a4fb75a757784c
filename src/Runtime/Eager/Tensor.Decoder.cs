using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>
    /// RMS normalization over the last dimension, Llama's <c>LlamaRMSNorm</c>: <c>x / √(mean(x²) + eps)</c> times
    /// <c><paramref name="name"/>.weight</c>.
    /// </summary>
    public Tensor RmsNorm(string name, float epsilon = 1e-6f)
    {
        Tensor gamma = RequireWeight(name + ".weight");
        int width = Rank == 0 ? 0 : _shape[^1];
        if (gamma.Rank != 1 || gamma._shape[0] != width)
            throw new InvalidOperationException($"RmsNorm '{name}': {name}.weight must be [{width}] but is {Format(gamma.Shape)}.");
        var result = new float[_data.Length];
        DecoderReference.RmsNorm(_data, gamma._data, epsilon, result, width);
        return Create((int[])_shape.Clone(), result);
    }

    /// <summary>
    /// Rotary position embeddings (RoPE) in the rotate-half layout of Hugging Face's Llama, on every head of
    /// <paramref name="headSize"/> values in the last dimension: values <c>i</c> and <c>i + headSize/2</c> are rotated by
    /// <c>p · θ^(−2i/headSize)</c> at position <c>p</c>. A decoder's samples are one token each, the tokens of one
    /// sequence in order, so a sample's position is its index in the batch (after the session's earlier tokens, when
    /// compiled). Each sample must be one row.
    /// </summary>
    public Tensor Rotary(int headSize, float theta = 10000f)
    {
        int width = DecoderRow("Rotary");
        if (headSize <= 0 || headSize % 2 != 0 || width % headSize != 0)
            throw new ArgumentOutOfRangeException(nameof(headSize), headSize, $"Rotary: the head size must be even and divide the row of {width}.");
        if (!(theta > 0) || float.IsPositiveInfinity(theta)) throw new ArgumentOutOfRangeException(nameof(theta), theta, "Rotary: θ is a positive number.");
        var result = new float[_data.Length];
        DecoderReference.Rotary(_data, result, width, headSize, theta, position: 0);
        return Create((int[])_shape.Clone(), result);
    }

    /// <summary>
    /// Learned position embeddings, GPT-2's <c>wpe</c>: each token's row plus row <c>p</c> of
    /// <c><paramref name="name"/>.weight</c> (<c>[positions, width]</c>) at its position <c>p</c>. A decoder's samples are
    /// one token each, the tokens of one sequence in order, so a sample's position is its index in the batch (after the
    /// session's earlier tokens, when compiled); a sequence holds at most as many tokens as the table has rows (a compiled
    /// session's <c>maxTokens</c> too).
    /// </summary>
    public Tensor AddPositions(string name)
    {
        int width = DecoderRow("AddPositions");
        Tensor table = RequireWeight(name + ".weight");
        if (table.Rank != 2 || table._shape[1] != width)
            throw new InvalidOperationException($"AddPositions '{name}': {name}.weight must be [positions, {width}] but is {Format(table.Shape)}.");
        if (_shape[0] > table._shape[0])
            throw new ArgumentException($"AddPositions '{name}': {_shape[0]} tokens, but {name}.weight has positions for {table._shape[0]}.");
        var result = new float[_data.Length];
        DecoderReference.AddPositions(_data, table._data, result, width, position: 0);
        return Create((int[])_shape.Clone(), result);
    }

    /// <summary>
    /// Causal grouped-query attention with a key/value cache, as a decoder's self-attention: this tensor holds each token's
    /// queries (<paramref name="heads"/> heads), <paramref name="key"/> and <paramref name="value"/> its keys and values
    /// (<paramref name="kvHeads"/> heads of the same size; query head <c>h</c> reads key/value head
    /// <c>h / (heads / kvHeads)</c>), and each token attends to itself and every earlier token, <c>softmax(q·kᵀ/√e)·v</c>.
    /// Samples are tokens of one sequence in order (a sample is one row): eagerly the batch is the whole sequence; compiled,
    /// a model that uses this op gets a session (<c>CreateSession</c>) whose cache keeps every earlier token's keys and
    /// values, so <c>Decode</c> runs one token at a time.
    /// </summary>
    public Tensor CachedAttention(Tensor key, Tensor value, int heads, int kvHeads)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        int width = DecoderRow("CachedAttention"), kvWidth = key.DecoderRow("CachedAttention"), valueWidth = value.DecoderRow("CachedAttention");
        if (heads <= 0 || width % heads != 0) throw new ArgumentOutOfRangeException(nameof(heads), heads, $"CachedAttention: {width} query values do not split into {heads} heads.");
        int headSize = width / heads;
        if (kvHeads <= 0 || heads % kvHeads != 0 || kvWidth != kvHeads * headSize || valueWidth != kvWidth)
            throw new ArgumentOutOfRangeException(nameof(kvHeads), kvHeads, $"CachedAttention: {heads} heads of {headSize} need keys and values of kvHeads × {headSize} values with kvHeads dividing {heads}; got keys of {kvWidth}, values of {valueWidth}.");
        if (key._shape[0] != _shape[0] || value._shape[0] != _shape[0])
            throw new ArgumentException($"CachedAttention: queries, keys and values must have one row per token; got {_shape[0]}, {key._shape[0]} and {value._shape[0]}.", nameof(key));
        var result = new float[_data.Length];
        DecoderReference.CausalAttention(_data, key._data, value._data, result, _shape[0], heads, kvHeads, headSize);
        return Create((int[])_shape.Clone(), result, key);
    }

    /// <summary>The width of a decoder tensor's samples, each of which must be one row.</summary>
    private int DecoderRow(string op)
    {
        if (Rank < 2 || _data.Length != _shape[0] * _shape[^1])
            throw new InvalidOperationException($"{op} needs one row per sample (a token each); got {Format(Shape)}.");
        return _shape[^1];
    }
}
