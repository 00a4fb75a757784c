using System;
using System.Collections.Generic;
using ModelCompiler.Weights;

namespace ModelCompiler;

/// <summary>
/// A dense, row-major float32 tensor and the eager reference ops a model's <c>Forward</c> is written with.
/// </summary>
/// <remarks>
/// Executed as-is, <c>Forward</c> is the eager reference: every op below is plain, clear code (double
/// accumulation where it matters) and allocates its result. The source generator compiles the same
/// <c>Forward</c> into fused kernels, and every compiled kernel is tested against these ops.
/// Activations carry the batch as their leading dimension; shapes written in a model
/// (<c>[Shape(…)]</c>, <see cref="Reshape"/>) are per sample and leave it out.
/// A tensor remembers the weights it was created with, so <c>x.Linear("fc1")</c> can find
/// <c>fc1.weight</c> and <c>fc1.bias</c>.
/// </remarks>
public sealed partial class Tensor
{
    private readonly int[] _shape;
    private readonly float[] _data;

    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of <paramref name="shape"/>.</summary>
    public Tensor(int[] shape, float[] data) : this(shape, data, null) { }

    private Tensor(int[] shape, float[] data, IWeightSource? weights, EagerQuantization? quantization = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Dimensions must be non-negative; got [{string.Join(", ", shape)}].", nameof(shape));
            count *= d;
        }
        if (count != data.Length)
            throw new ArgumentException($"Shape [{string.Join(", ", shape)}] holds {count} values but data has {data.Length}.", nameof(data));
        _shape = shape;
        _data = data;
        WeightSource = weights;
        Quantization = quantization;
    }

    /// <summary>
    /// Creates a batch of <paramref name="batch"/> samples of <paramref name="sampleShape"/> (copied from
    /// <paramref name="data"/>), bound to <paramref name="weights"/> for the ops that read weights.
    /// </summary>
    public static Tensor FromBatch(ReadOnlySpan<float> data, int batch, ReadOnlySpan<int> sampleShape, IWeightSource? weights = null,
        EagerQuantization? quantization = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        var shape = new int[sampleShape.Length + 1];
        shape[0] = batch;
        sampleShape.CopyTo(shape.AsSpan(1));
        long count = batch;
        foreach (int d in sampleShape) count *= d;
        if (data.Length != count)
            throw new ArgumentException($"Expected data to hold {count} floats ({batch} × [{string.Join(", ", sampleShape.ToArray())}]), but it holds {data.Length}.", nameof(data));
        return new Tensor(shape, data.ToArray(), weights, quantization);
    }

    /// <summary>The weights this tensor's ops look names up in, if any.</summary>
    public IWeightSource? WeightSource { get; }

    /// <summary>How <see cref="Linear"/> quantizes, as the compiled model does; null for float32 throughout.</summary>
    public EagerQuantization? Quantization { get; }

    /// <summary>The dimensions, batch first for activations.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<float> Data => _data;

    /// <summary>A copy of the values.</summary>
    public float[] ToArray() => (float[])_data.Clone();

    /// <inheritdoc/>
    public override string ToString() => $"Tensor[{string.Join(", ", _shape)}]";

    private Tensor Create(int[] shape, float[] data, Tensor? other = null) =>
        new(shape, data, WeightSource ?? other?.WeightSource, Quantization ?? other?.Quantization);

    private Tensor Map(Func<double, double> f)
    {
        var result = new float[_data.Length];
        for (int i = 0; i < result.Length; i++) result[i] = (float)f(_data[i]);
        return Create((int[])_shape.Clone(), result);
    }

    private Tensor RequireWeight(string name)
    {
        if (WeightSource is null)
            throw new InvalidOperationException($"Weight '{name}' is needed, but this tensor has no weights: create the input with Tensor.FromBatch(…, weights).");
        if (!WeightSource.TryGetTensor(name, out Tensor tensor))
            throw new KeyNotFoundException(MissingWeightMessage(WeightSource, name));
        return tensor;
    }

    internal static string MissingWeightMessage(IWeightSource weights, string name)
    {
        List<string> nearest = NameSuggestions.Nearest(name, weights.Names);
        return nearest.Count == 0
            ? $"Weight '{name}' not found: the weights file holds no tensors."
            : $"Weight '{name}' not found. Nearest names: {string.Join(", ", nearest)}.";
    }

    private static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
