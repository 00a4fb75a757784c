using System;
using System.IO;

namespace ModelCompiler.Generator.Import;

/// <summary>
/// The one place the generator touches a file. Roslyn has no API for binary AdditionalFiles (roslyn#47292):
/// <c>AdditionalText.GetText()</c> on a binary file fails the build with CS2015, so the bytes are read from the
/// AdditionalText's path. Because the compiler does not track that read, the pipeline keys each file on its identity
/// (<see cref="WeightsFileRef"/>) and each model on the hash of the bytes it read.
/// </summary>
internal static class WeightsFileReader
{
#pragma warning disable RS1035 // File IO is banned in analyzers; reading a binary AdditionalFile has no other route (see above).
    public static (long Length, long LastWriteTicks) Identity(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"Could not find file '{path}'.", path);
        return (info.Length, info.LastWriteTimeUtc.Ticks);
    }

    /// <summary>Reads a whole file, refusing one over <paramref name="maxBytes"/> before reading anything (<see cref="FileTooLargeException"/>).</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes = Model.BuildOptions.DefaultMaxFileBytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        long length = stream.Length;
        if (length > maxBytes || length > Kernels.SizeMath.MaxElements) throw new FileTooLargeException(path, length, maxBytes);
        var bytes = new byte[length];
        int read = 0;
        while (read < bytes.Length)
        {
            int n = stream.Read(bytes, read, bytes.Length - read);
            if (n == 0) throw new IOException($"'{path}' ended after {read} of {length} bytes (it changed while it was read)");
            read += n;
        }
        return bytes;
    }
#pragma warning restore RS1035
}

/// <summary>A file past the generator's size limit: MC0014, naming the file, its size and the setting that raises the limit.</summary>
internal sealed class FileTooLargeException : IOException
{
    public FileTooLargeException(string path, long length, long limit)
        : base($"'{System.IO.Path.GetFileName(path)}' is {length:N0} bytes; the generator reads files of at most {Math.Min(limit, Kernels.SizeMath.MaxElements):N0} bytes "
            + "(raise the limit with the MSBuild property ModelCompilerMaxFileBytes, up to 2 GiB; or keep the weights out of the build and load them at run time)")
    {
    }
}
