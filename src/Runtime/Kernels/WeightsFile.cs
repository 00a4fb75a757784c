using System;
using System.IO;
using ModelCompiler.Weights;

namespace ModelCompiler.Kernels;

/// <summary>
/// The weights of a model compiled with <see cref="WeightsStorage.File"/> (or above the embedding limit): read once,
/// at start-up, from the safetensors file beside the application, checked against the file the model was compiled
/// with, and laid out for the kernels by the same code the generator embeds weights with.
/// </summary>
public sealed class WeightsFile
{
    private readonly byte[] _bytes;
    private readonly SafeTensorsHeader _header;

    private WeightsFile(string path, byte[] bytes, SafeTensorsHeader header)
    {
        Path = path;
        _bytes = bytes;
        _header = header;
    }

    /// <summary>Where the file was read from.</summary>
    public string Path { get; }

    /// <summary>
    /// Reads <paramref name="fileName"/> from the application's directory; throws <see cref="FileNotFoundException"/>
    /// when it is missing and <see cref="InvalidOperationException"/> when it is not the file the model was compiled with.
    /// </summary>
    public static WeightsFile Open(string fileName, long expectedLength, string expectedHash)
    {
        string path = System.IO.Path.Combine(AppContext.BaseDirectory, fileName);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"The model's weights file was not found at {path}. A model whose weights are not embedded reads them from beside the application: " +
                $"copy {fileName} to the output directory (the ModelCompiler package does this for the project's *.safetensors files).", path);
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length != expectedLength || WeightLayout.Hash(bytes) != expectedHash)
            throw new InvalidOperationException(
                $"{path} is not the weights file the model was compiled with (expected {expectedLength} bytes with FNV-1a {expectedHash}, found {bytes.Length} bytes). Rebuild, or restore that file.");
        return new WeightsFile(path, bytes, SafeTensorsHeader.Parse(bytes));
    }

    /// <summary>
    /// Lays tensor <paramref name="tensor"/> out as <paramref name="kind"/> into <paramref name="floats"/> floats of
    /// <paramref name="buffer"/> at <paramref name="offset"/>; <paramref name="norm"/> names a BatchNorm folded into it.
    /// </summary>
    public void Lay(AlignedBuffer buffer, int offset, WeightLayoutKind kind, string tensor, int n, int k, int floats, string? norm = null, float epsilon = 0f)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        WeightLayout.Loaded(kind, Read, tensor, norm, epsilon, n, k, floats).CopyTo(buffer.Span.Slice(offset, floats));
    }

    private float[] Read(string tensor)
    {
        SafeTensorEntry entry = _header.Find(tensor)
            ?? throw new InvalidOperationException($"{Path} has no tensor '{tensor}', which the model was compiled with.");
        return _header.ReadFloat32(_bytes, entry);
    }
}
