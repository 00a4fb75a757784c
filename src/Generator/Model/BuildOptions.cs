namespace ModelCompiler.Generator.Model;

/// <summary>
/// The project's settings that shape a build, from MSBuild properties (<c>build_property.X</c>): an equatable value, so an
/// edit that leaves them alone leaves every model cached.
/// </summary>
/// <param name="EmbedLimit">Weights up to this many bytes are embedded under <c>WeightsStorage.Auto</c> (ModelCompilerEmbedLimit).</param>
/// <param name="MaxFileBytes">The largest weights, ONNX or external data file the generator reads (ModelCompilerMaxFileBytes).</param>
internal sealed record BuildOptions(long EmbedLimit, long MaxFileBytes)
{
    /// <summary>Weights up to this many bytes are embedded when the model says <c>WeightsStorage.Auto</c>.</summary>
    public const long DefaultEmbedLimit = 16L * 1024 * 1024;

    /// <summary>The largest file the generator reads by default; a byte array holds at most ~2 GiB.</summary>
    public const long DefaultMaxFileBytes = 1L << 30;

    public static readonly BuildOptions Default = new(DefaultEmbedLimit, DefaultMaxFileBytes);
}
