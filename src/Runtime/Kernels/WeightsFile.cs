using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
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
    /// Reads a replacement weights file from <paramref name="path"/> (a retrained model's, say) and checks it against the
    /// tensors the model was compiled with: each must be present, F32, F16 or BF16, and of the same shape. Other
    /// tensors in the file are ignored. Nothing is kept when it does not fit.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a safetensors file, or does not fit the model (the message lists what differs).</exception>
    public static WeightsFile Load(string path, IReadOnlyList<WeightTensor> expected)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(expected);
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"The weights file {full} was not found.", full);
        byte[] bytes = File.ReadAllBytes(full);
        SafeTensorsHeader header;
        try
        {
            header = SafeTensorsHeader.Parse(bytes);
        }
        catch (SafeTensorsFormatException e)
        {
            throw new InvalidDataException($"{full} is not a safetensors file the model can read: {e.Message}", e);
        }
        var problems = new List<string>();
        foreach (WeightTensor tensor in expected)
        {
            SafeTensorEntry? entry = header.Find(tensor.Name);
            if (entry is null)
            {
                List<string> near = NameSuggestions.Nearest(tensor.Name, header.Entries.Select(e => e.Name));
                problems.Add($"it has no tensor '{tensor.Name}' {Format(tensor.Shape)}" + (near.Count > 0 ? $" (nearest: {string.Join(", ", near)})" : ""));
            }
            else if (!SafeTensorsHeader.IsFloat(entry))
                problems.Add($"'{tensor.Name}' is {entry.DType}; the model reads F32, F16 or BF16");
            else if (!entry.Shape.AsSpan().SequenceEqual(tensor.Shape))
                problems.Add($"'{tensor.Name}' is {Format(entry.Shape)}, the model was compiled for {Format(tensor.Shape)}");
        }
        if (problems.Count > 0)
        {
            const int shown = 10;
            string more = problems.Count > shown ? $"; and {problems.Count - shown} more" : "";
            throw new InvalidDataException($"{full} does not fit the compiled model: {string.Join("; ", problems.Take(shown))}{more}. " +
                "The weights in use are unchanged; a model with other layer sizes needs a rebuild.");
        }
        return new WeightsFile(full, bytes, header);
    }

    private static string Format(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";

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
