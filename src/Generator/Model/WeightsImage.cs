using System;
using System.Collections.Generic;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Model;

/// <summary>
/// The weight tensors a model was compiled against, as one safetensors image in memory: the weights file's bytes, or
/// for an ONNX model the image its initializers were laid out into (built once, by the import). It travels from the
/// models step to the weights step so that nothing after the models step reads a file or imports again.
/// </summary>
/// <remarks>
/// Equal by identity of content (the file's path, the image's length and the FNV-1a hash of what was read), not by
/// comparing the bytes: the incremental pipeline compares step outputs on every edit, and a hash comparison costs
/// nothing where a byte comparison would cost a pass over the weights. A changed file has a new hash.
/// </remarks>
internal sealed class WeightsImage : IEquatable<WeightsImage>
{
    public WeightsImage(string path, string hash, byte[] bytes, SafeTensorsHeader header)
    {
        Path = path;
        Hash = hash;
        Bytes = bytes;
        Header = header;
    }

    private WeightsImage(WeightsImage image, string hash, Dictionary<string, float[]> merged)
        : this(image.Path, hash, image.Bytes, image.Header)
    {
        _merged = merged;
    }

    private readonly Dictionary<string, float[]>? _merged;

    /// <summary>
    /// This image with some tensors replaced by values computed at build time (a LoRA adapter merged in), keyed by the
    /// name a reader asks for (a transposed view's name for a transposed Linear); <paramref name="hash"/> names the
    /// replacement (the adapter's files), so an image with another adapter is another image.
    /// </summary>
    public WeightsImage WithMerged(Dictionary<string, float[]> merged, string hash) => new(this, Hash + "+" + hash, merged);

    /// <summary>Whether <paramref name="name"/> was replaced by <see cref="WithMerged"/>.</summary>
    public bool IsMerged(string name) => _merged is not null && _merged.ContainsKey(name);

    /// <summary>The file the image came from (for ONNX: the model file).</summary>
    public string Path { get; }

    /// <summary>FNV-1a of the bytes read (for ONNX: combined with each external data file's).</summary>
    public string Hash { get; }

    /// <summary>A safetensors image.</summary>
    public byte[] Bytes { get; }

    public SafeTensorsHeader Header { get; }

    /// <summary>A tensor's values as float32, row-major.</summary>
    public float[] Read(string name) =>
        _merged is not null && _merged.TryGetValue(name, out float[]? merged) ? (float[])merged.Clone()
        : Header.ReadFloat32(Bytes, Header.Find(name) ?? throw new InvalidOperationException($"tensor {name} is not in {System.IO.Path.GetFileName(Path)}"));

    public bool Equals(WeightsImage? other) =>
        other is not null && Path == other.Path && Hash == other.Hash && Bytes.Length == other.Bytes.Length;

    public override bool Equals(object? obj) => Equals(obj as WeightsImage);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Hash);
}
