using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Parsing;

/// <summary>
/// One op of a model's Forward body, as the partial evaluator found it: what it is, what it consumes,
/// its constant arguments, and where in the source it came from. Shapes are not known yet (they need the weights).
/// </summary>
/// <param name="Id">Index in <see cref="ModelDeclaration.Ops"/>; inputs always have smaller ids.</param>
/// <param name="Name">Weight name (Linear, Parameter).</param>
/// <param name="Scalar">Constant operand (AddScalar, MulScalar).</param>
/// <param name="Ints">Constant dimensions (Reshape).</param>
/// <param name="Location">The call, e.g. <c>Linear("fc1")</c>: where shape errors point.</param>
/// <param name="NameLocation">The weight-name argument, when it is written in this call: where a missing weight points.</param>
/// <param name="Text">The call's source text, for comments in the generated code.</param>
internal sealed record DslOp(
    int Id,
    OpKind Kind,
    EquatableArray<int> Inputs,
    string? Name,
    float Scalar,
    EquatableArray<int> Ints,
    LocationInfo? Location,
    LocationInfo? NameLocation,
    string Text)
{
    /// <summary>Linear: the weight tensor, when it is not <c>Name.weight</c> (MultiheadAttention's <c>in_proj_weight</c>).</summary>
    public string? WeightName { get; init; }

    /// <summary>Linear: the bias tensor, when it is not <c>Name.bias</c>.</summary>
    public string? BiasName { get; init; }
}

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
    EquatableArray<DslOp> Ops,
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
