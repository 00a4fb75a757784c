using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Model;

/// <summary>A type the model class is nested in, to re-open it in generated code.</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>
/// What the parser learns from a <c>[CompileModel]</c> class, before any file is read: a value with no
/// symbol, syntax node or compilation in it, so the incremental pipeline can cache it.
/// </summary>
internal sealed record ModelDeclaration(
    string? Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string ClassName,
    string SourceFileName,
    LocationInfo? ClassLocation,
    string? WeightsFile,
    LocationInfo? WeightsLocation,
    Quantization Quantize,
    EquatableArray<string> FloatLayers,
    LocationInfo? QuantizeLocation,
    string? CalibrationFile,
    LocationInfo? CalibrationLocation,
    WeightsStorage WeightsStorage,
    string InputName,
    EquatableArray<int> InputShape,
    EquatableArray<RecordedOp> Ops,
    int OutputOp,
    EquatableArray<DiagnosticInfo> Diagnostics)
{
    public string FullName => Namespace is null ? ClassName : Namespace + "." + ClassName;

    /// <summary>
    /// Compiled from an ONNX file (<see cref="WeightsFile"/> names it): the input, shape and ops are not known until the
    /// file is read, in the next step (<c>Import/OnnxImporter</c>).
    /// </summary>
    public bool IsOnnx { get; init; }

    /// <summary>The ONNX graph's output name, once the file is read.</summary>
    public string? OutputName { get; init; }
}
