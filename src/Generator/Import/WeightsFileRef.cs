using System;
using System.IO;

namespace ModelCompiler.Generator.Import;

/// <summary>
/// A weights file seen among AdditionalFiles, by identity only: its path, length and last write time. Nothing is read
/// here: a project may list files no model names (any <c>*.bin</c>, <c>*.data</c>), and the incremental pipeline
/// compares these records, so an edited file (new length or time) rebuilds the models that name it and nothing else.
/// The bytes are read once, by the model that names the file (<see cref="WeightsFileReader.ReadAllBytes"/>), which
/// hashes them for the plan.
/// </summary>
internal sealed record WeightsFileRef(string Path, long Length, long LastWriteTicks, string? Error)
{
    /// <summary>FNV-1a of the bytes, once a model has read them (<see cref="Kernels.WeightLayout.Hash"/>); empty before.</summary>
    public string Hash { get; init; } = "";

    public static WeightsFileRef Identify(string path)
    {
        try
        {
            (long length, long ticks) = WeightsFileReader.Identity(path);
            return new WeightsFileRef(path, length, ticks, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException or System.Security.SecurityException)
        {
            return new WeightsFileRef(path, -1, 0, e.Message);
        }
    }

    /// <summary>
    /// The AdditionalFiles the generator may read: weights, ONNX models, an ONNX model's external data, which ONNX lets
    /// be named anything (these are the names PyTorch and onnx.save_model write), and a LoRA adapter's configuration.
    /// </summary>
    public static bool IsWeightsFile(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".data", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".onnx_data", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)
        || string.Equals(System.IO.Path.GetFileName(path), ModelCompiler.Weights.LoraAdapterFile.ConfigFileName, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether this file is the one a model's <c>Weights = "…"</c> names: equal, or a whole-segment ending of the path.</summary>
    public bool Matches(string weights)
    {
        string path = Path.Replace('\\', '/');
        string wanted = weights.Replace('\\', '/').TrimStart('.', '/');
        return path.Equals(wanted, StringComparison.OrdinalIgnoreCase)
            || path.EndsWith("/" + wanted, StringComparison.OrdinalIgnoreCase);
    }
}
