using System;
using System.IO;

namespace ModelCompiler.Generator.Import;

/// <summary>A weights file seen among AdditionalFiles, keyed by path, length and content hash for the incremental cache.</summary>
internal sealed record WeightsFileRef(string Path, long Length, string Hash, string? Error)
{
    public static WeightsFileRef Read(string path)
    {
        try
        {
            byte[] bytes = WeightsFileReader.ReadAllBytes(path);
            return new WeightsFileRef(path, bytes.Length, Kernels.WeightLayout.Hash(bytes), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return new WeightsFileRef(path, -1, "", e.Message);
        }
    }

    /// <summary>
    /// The AdditionalFiles the generator reads (and hashes): weights, ONNX models, and an ONNX model's external data,
    /// which ONNX lets be named anything; these are the names PyTorch and onnx.save_model write.
    /// </summary>
    public static bool IsWeightsFile(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".data", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".onnx_data", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether this file is the one a model's <c>Weights = "…"</c> names: equal, or a whole-segment ending of the path.</summary>
    public bool Matches(string weights)
    {
        string path = Path.Replace('\\', '/');
        string wanted = weights.Replace('\\', '/').TrimStart('.', '/');
        return path.Equals(wanted, StringComparison.OrdinalIgnoreCase)
            || path.EndsWith("/" + wanted, StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>
/// The one place the generator reads a binary file. Roslyn has no API for binary AdditionalFiles
/// (roslyn#47292): <c>AdditionalText.GetText()</c> on a binary file fails the build with CS2015, so the
/// bytes are read from the AdditionalText's path. Because the compiler does not track that read, the
/// pipeline keys the model on the file's path, length and content hash (<see cref="WeightsFileRef"/>).
/// </summary>
internal static class WeightsFileReader
{
#pragma warning disable RS1035 // File IO is banned in analyzers; reading a binary AdditionalFile has no other route (see above).
    public static byte[] ReadAllBytes(string path) => File.ReadAllBytes(path);
#pragma warning restore RS1035
}
