using System;
using System.Collections.Generic;
using System.IO;
using ModelCompiler.Weights;

namespace ModelCompiler;

/// <summary>
/// A safetensors weights file loaded into memory, every tensor converted to float32 (F32, F16 and BF16
/// are read). The header is validated by the same code the generator uses at build time: offsets inside
/// the file, no overlapping tensors, dtype × shape equal to each tensor's byte length, a sane header size.
/// </summary>
public sealed class SafeTensors : IWeightSource
{
    private readonly Dictionary<string, Tensor> _tensors;

    private SafeTensors(Dictionary<string, Tensor> tensors, List<string> names)
    {
        _tensors = tensors;
        Names = names;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Reads a file; throws <see cref="SafeTensorsFormatException"/> (with the path) for a malformed one.</summary>
    public static SafeTensors Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return Parse(bytes);
        }
        catch (SafeTensorsFormatException e)
        {
            throw new SafeTensorsFormatException($"{path}: {e.Message}");
        }
    }

    /// <summary>Reads a whole file's bytes; throws <see cref="SafeTensorsFormatException"/> for a malformed one.</summary>
    public static SafeTensors Parse(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        SafeTensorsHeader header = SafeTensorsHeader.Parse(bytes);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (SafeTensorEntry entry in header.Entries)
        {
            // Tensors of other dtypes (a state_dict's int64 counters) are listed but cannot be used as weights.
            if (SafeTensorsHeader.IsFloat(entry)) tensors.Add(entry.Name, new Tensor((int[])entry.Shape.Clone(), header.ReadFloat32(bytes, entry)));
            names.Add(entry.Name);
        }
        return new SafeTensors(tensors, names);
    }

    /// <inheritdoc/>
    public bool TryGetTensor(string name, out Tensor tensor) => _tensors.TryGetValue(name, out tensor!);

    /// <summary>The tensor called <paramref name="name"/>; <see cref="KeyNotFoundException"/> names the nearest ones when absent.</summary>
    public Tensor this[string name] =>
        _tensors.TryGetValue(name, out Tensor? t) ? t : throw new KeyNotFoundException(Tensor.MissingWeightMessage(this, name));
}
