using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Import;

/// <summary>
/// A tensor the importer knows at build time: an initializer, a <c>Constant</c> node, or what a shape computation folds
/// to. Floats (float32, float64) or integers (every integer type and bool, as int64). An integer element may be a
/// multiple of the batch size, which is not known until run time: PyTorch's exporter computes reshape targets from
/// <c>Shape(x)</c>, and <c>x.view(x.size(0), -1)</c> must still fold to "the batch, then the rest".
/// </summary>
internal sealed class OnnxConstant
{
    public OnnxConstant(long[] dims, float[]? floats, long[]? longs, bool[]? batch = null)
    {
        Dims = dims; Floats = floats; Longs = longs; Batch = batch;
    }

    public long[] Dims { get; }

    /// <summary>The element type the file gave it (for a QuantizeLinear zero point, it sets the code range).</summary>
    public OnnxDataType Type { get; init; }
    public float[]? Floats { get; }

    /// <summary>Where the floats lie in the model's files, exactly as they are here (an initializer's raw float32 data), or null.</summary>
    public OnnxOrigin? Origin { get; init; }
    public long[]? Longs { get; }

    /// <summary>Where true, the element is <c>Longs[i]</c> × the batch size.</summary>
    public bool[]? Batch { get; }

    public bool HasBatch => Batch is not null && Array.IndexOf(Batch, true) >= 0;

    public long Count => SizeMath.Product(Dims);

    /// <summary>The integers, for an attribute-like input (axes, pads, a reshape target) that may not depend on the batch.</summary>
    public long[]? PlainLongs => HasBatch ? null : Longs;

    public string Describe(int i) =>
        Longs is null ? (Floats is null ? "?" : Floats[i].ToString("R", CultureInfo.InvariantCulture))
        : Batch is not null && Batch[i] ? (Longs[i] == 1 ? "batch" : Longs[i].ToString(CultureInfo.InvariantCulture) + "·batch")
        : Longs[i].ToString(CultureInfo.InvariantCulture);

    public string Describe() => "[" + string.Join(", ", Enumerable.Range(0, (int)Math.Min(Count, 16)).Select(Describe)) + (Count > 16 ? ", …" : "") + "]";

    /// <summary>The same elements, picked by <paramref name="source"/> (an index into this constant per new element).</summary>
    public OnnxConstant Gathered(long[] dims, IReadOnlyList<int> source) =>
        new(dims,
            Floats is null ? null : source.Select(i => Floats[i]).ToArray(),
            Longs is null ? null : source.Select(i => Longs[i]).ToArray(),
            Batch is null ? null : source.Select(i => Batch[i]).ToArray());

    /// <summary>The same constant, its floats lying at <paramref name="origin"/> in the model's files (or nowhere known).</summary>
    public OnnxConstant WithOrigin(OnnxOrigin? origin) => new(Dims, Floats, Longs, Batch) { Type = Type, Origin = origin };

    public OnnxConstant Reshaped(long[] dims) => new(dims, Floats, Longs, Batch) { Type = Type, Origin = Origin };
}
