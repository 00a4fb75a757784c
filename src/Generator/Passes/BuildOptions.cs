namespace ModelCompiler.Generator.Passes;

/// <summary>
/// The project's settings that shape a build, from MSBuild properties (<c>build_property.X</c>): an equatable value, so an
/// edit that leaves them alone leaves every model cached.
/// </summary>
/// <param name="EmbedLimit">Weights up to this many bytes are embedded under <c>WeightsStorage.Auto</c> (ModelCompilerEmbedLimit).</param>
/// <param name="MaxFileBytes">The largest weights, ONNX or external data file the generator reads (ModelCompilerMaxFileBytes).</param>
internal sealed record BuildOptions(long EmbedLimit, long MaxFileBytes)
{
    public static readonly BuildOptions Default = new(ModelBuilder.DefaultEmbedLimit, Import.WeightsFileReader.DefaultMaxBytes);
}
