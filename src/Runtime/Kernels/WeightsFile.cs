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
    private readonly Func<string, float[]> _read;

    private WeightsFile(string path, byte[] bytes, SafeTensorsHeader header)
    {
        Path = path;
        _read = tensor =>
        {
            SafeTensorEntry entry = header.Find(tensor)
                ?? throw new InvalidOperationException($"{path} has no tensor '{tensor}', which the model was compiled with.");
            return header.ReadFloat32(bytes, entry);
        };
    }

    private WeightsFile(string path, Func<string, float[]> read)
    {
        Path = path;
        _read = read;
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
    /// The weights of an ONNX model compiled without embedding them: reads each of <paramref name="parts"/> (the model
    /// file, its external data files) from the application's directory, checks it against the file the model was compiled
    /// with, and reads <paramref name="tensors"/> from where the file keeps them. Throws
    /// <see cref="FileNotFoundException"/> when a file is missing and <see cref="InvalidOperationException"/> when it is
    /// not the file the model was compiled with; nothing is kept then.
    /// </summary>
    public static WeightsFile OpenOnnx(OnnxWeightsPart[] parts, OnnxWeightsTensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(tensors);
        var files = new byte[parts.Length][];
        for (int i = 0; i < parts.Length; i++)
        {
            OnnxWeightsPart part = parts[i];
            string path = System.IO.Path.Combine(AppContext.BaseDirectory, part.FileName);
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"The model's ONNX file was not found at {path}. An ONNX model whose weights are not embedded reads them from beside the application: " +
                    $"copy {part.FileName} to the output directory (the ModelCompiler package does this for the project's *.onnx files and their external data).", path);
            byte[] bytes = File.ReadAllBytes(path);
            if (bytes.Length != part.Length || WeightLayout.Hash(bytes) != part.Hash)
                throw new InvalidOperationException(
                    $"{path} is not the ONNX file the model was compiled with (expected {part.Length} bytes with FNV-1a {part.Hash}, found {bytes.Length} bytes). Rebuild, or restore that file.");
            files[i] = bytes;
        }
        var byName = new Dictionary<string, OnnxWeightsTensor>(StringComparer.Ordinal);
        foreach (OnnxWeightsTensor t in tensors) byName[t.Name] = t;
        string where = parts.Length == 0 ? "" : System.IO.Path.Combine(AppContext.BaseDirectory, parts[0].FileName);
        return new WeightsFile(where, tensor =>
        {
            if (!byName.TryGetValue(tensor, out OnnxWeightsTensor t) || (uint)t.File >= (uint)files.Length)
                throw new InvalidOperationException($"The model reads tensor '{tensor}', which its generated code does not place in {where}.");
            return ReadOnnx(files[t.File], t);
        });
    }

    /// <summary>
    /// A tensor's floats from the bytes of its (hash-checked) file, transposed where it says; checked bounds all the same.
    /// </summary>
    private static float[] ReadOnnx(byte[] file, OnnxWeightsTensor t)
    {
        if (t.Rows < 0 || t.Columns < 0 || t.Offset < 0) throw new InvalidOperationException($"Tensor '{t.Name}' has a negative size or offset.");
        long count = (long)t.Rows * t.Columns;
        if (count > SizeMath.MaxElements || t.Offset > file.Length - 4 * count)
            throw new InvalidOperationException($"Tensor '{t.Name}' ({t.Rows} × {t.Columns} floats at byte {t.Offset}) lies outside its file of {file.Length} bytes.");
        ReadOnlySpan<float> stored = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.AsSpan((int)t.Offset, (int)(4 * count)));
        var result = new float[count];
        if (!t.Transposed) stored.CopyTo(result);
        else
            for (int r = 0; r < t.Rows; r++)
                for (int c = 0; c < t.Columns; c++) result[(long)c * t.Rows + r] = stored[r * t.Columns + c];
        return result;
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
                // A weight read transposed (a Linear with transposed: true) is named as the file stores it: [in, out].
                bool transposed = tensor.Name.EndsWith(SafeTensorsHeader.TransposedSuffix, StringComparison.Ordinal) && tensor.Shape.Length == 2;
                string name = transposed ? tensor.Name.Substring(0, tensor.Name.Length - SafeTensorsHeader.TransposedSuffix.Length) : tensor.Name;
                string shape = transposed ? $"[{tensor.Shape[1]}, {tensor.Shape[0]}]" : Format(tensor.Shape);
                List<string> near = NameSuggestions.Nearest(name, header.Entries.Select(e => e.Name));
                problems.Add($"it has no tensor '{name}' {shape}" + (near.Count > 0 ? $" (nearest: {string.Join(", ", near)})" : ""));
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
        WeightLayout.Loaded(kind, _read, tensor, norm, epsilon, n, k, floats).CopyTo(buffer.Span.Slice(offset, floats));
    }
}
