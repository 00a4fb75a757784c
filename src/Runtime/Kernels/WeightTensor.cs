using System;

namespace ModelCompiler.Kernels;

/// <summary>
/// A tensor a compiled model reads from its weights file, with the shape it was compiled for: what
/// <see cref="WeightsFile.Load"/> checks a replacement file against.
/// </summary>
public sealed class WeightTensor
{
    /// <summary>A tensor named <paramref name="name"/> of shape <paramref name="shape"/>.</summary>
    public WeightTensor(string name, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        Name = name;
        Shape = shape;
    }

    /// <summary>The tensor's name in the safetensors file.</summary>
    public string Name { get; }

    /// <summary>Its shape.</summary>
    public int[] Shape { get; }
}
