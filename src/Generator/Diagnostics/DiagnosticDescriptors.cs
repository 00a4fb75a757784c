using Microsoft.CodeAnalysis;

namespace ModelCompiler.Generator.Diagnostics;

/// <summary>
/// Every diagnostic ModelCompiler reports. Ids are stable; each has a page under docs/diagnostics/ and is
/// listed in AnalyzerReleases.Shipped.md.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "ModelCompiler";

    /// <summary>Where each id's page lives, relative to the repository root; <c>{0}</c> is the id.</summary>
    public const string HelpLinkFormat = "https://github.com/ModelCompiler/ModelCompiler/blob/main/docs/diagnostics/{0}.md";

    private static DiagnosticDescriptor Error(string id, string title, string message, string description) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, description,
            helpLinkUri: string.Format(System.Globalization.CultureInfo.InvariantCulture, HelpLinkFormat, id));

    /// <summary>Format: <c>The model class '{0}' must be declared partial so that ModelCompiler can add its Predict methods</c>.</summary>
    public static readonly DiagnosticDescriptor ClassNotPartial = Error("MC0001",
        "Model class must be partial",
        "The model class '{0}' must be declared partial so that ModelCompiler can add its Predict methods",
        "A [CompileModel] class, and every class it is nested in, must be declared 'partial'.");

    /// <summary>Format: <c>Weights file '{0}' is not among the project's AdditionalFiles; {1}</c>: "did you mean" a listed file, or how to list it.</summary>
    public static readonly DiagnosticDescriptor WeightsFileNotFound = Error("MC0002",
        "Weights file not found",
        "Weights file '{0}' is not among the project's AdditionalFiles; {1}",
        "The generator only sees files listed as AdditionalFiles. The Weights path is matched against the end of each AdditionalFiles path.");

    /// <summary>Format: <c>Weights file '{0}' cannot be used: {1}</c>.</summary>
    public static readonly DiagnosticDescriptor WeightsFileInvalid = Error("MC0003",
        "Weights file is unreadable or malformed",
        "Weights file '{0}' cannot be used: {1}",
        "The weights file must be a valid safetensors file with F32, F16 or BF16 tensors.");

    /// <summary>Format: <c>Weight '{0}' is not in '{1}'; nearest names: {2}</c>.</summary>
    public static readonly DiagnosticDescriptor WeightNotFound = Error("MC0004",
        "Weight not found",
        "Weight '{0}' is not in '{1}'; nearest names: {2}",
        "Linear(\"name\") reads 'name.weight' (and 'name.bias' if present); Parameter(\"name\") reads 'name'.");

    /// <summary>Format: <c>{0}</c> (the message names the op and both shapes).</summary>
    public static readonly DiagnosticDescriptor ShapeMismatch = Error("MC0005",
        "Shape mismatch",
        "{0}",
        "Shapes are checked at build time; the message gives both shapes involved.");

    /// <summary>Format: <c>'{0}' is not supported in a model's Forward body: {1}</c>.</summary>
    public static readonly DiagnosticDescriptor UnsupportedConstruct = Error("MC0006",
        "Unsupported construct in a model",
        "'{0}' is not supported in a model's Forward body: {1}",
        "Forward may use Tensor methods (Linear, Relu, Gelu, Silu, Sigmoid, Tanh, Softmax, LogSoftmax, LayerNorm, Dropout, MultiHeadAttention, Conv2d, MaxPool2d, GlobalAvgPool, BatchNorm, Embedding, Mean, Add, Mul, Flatten, Reshape, Parameter), + and * operators, locals, constants, interpolated strings, and calls to static helper methods with bodies.");

    /// <summary>Format: <c>Input '{0}' needs a static shape: {1}</c>.</summary>
    public static readonly DiagnosticDescriptor InputShapeMissing = Error("MC0007",
        "Input without a static shape",
        "Input '{0}' needs a static shape: {1}",
        "Give the input parameter [Shape(…)] with the positive dimensions of one sample, e.g. [Shape(64)] Tensor pixels.");

    /// <summary>Format: <c>ModelCompiler failed to compile model '{0}': {1}</c>.</summary>
    public static readonly DiagnosticDescriptor InternalError = Error("MC0008",
        "Internal compiler error",
        "ModelCompiler failed to compile model '{0}': {1}",
        "An unexpected failure inside the generator. The build goes on without the model's generated code; please report the message.");

    /// <summary>Format: <c>Model '{0}' needs a method 'static Tensor Forward([Shape(…)] Tensor input)' with a body: {1}</c>.</summary>
    public static readonly DiagnosticDescriptor ForwardMethodInvalid = Error("MC0009",
        "Forward method missing or invalid",
        "Model '{0}' needs a method 'static Tensor Forward([Shape(…)] Tensor input)' with a body: {1}",
        "The generator compiles the class's static Forward method; it takes one Tensor and returns a Tensor.");

    /// <summary>Format: <c>{0}</c> (the message names the setting and what is wrong with it).</summary>
    public static readonly DiagnosticDescriptor QuantizationInvalid = Error("MC0011",
        "Quantization setting invalid",
        "{0}",
        "Quantize must be a mode this version supports, and FloatLayers must name Linear layers of the model.");

    /// <summary>Format: <c>Calibration file '{0}' cannot be used: {1}</c>.</summary>
    public static readonly DiagnosticDescriptor CalibrationInvalid = Error("MC0012",
        "Calibration file missing or malformed",
        "Calibration file '{0}' cannot be used: {1}",
        "Int8Static calibrates activation ranges on a safetensors file, listed in AdditionalFiles, whose tensor 'input' is [N, …sample shape].");

    /// <summary>Format: <c>[CompileModel] on '{0}' needs Weights = "….safetensors"</c>.</summary>
    public static readonly DiagnosticDescriptor WeightsNotSpecified = Error("MC0010",
        "Weights file not specified",
        "[CompileModel] on '{0}' needs Weights = \"….safetensors\"",
        "Name the model's safetensors file in the attribute and list it in AdditionalFiles.");

    /// <summary>Format: <c>ONNX node '{0}' ({1}, domain '{2}', opset {3}) cannot be compiled: {4}</c>.</summary>
    public static readonly DiagnosticDescriptor OnnxUnsupported = Error("MC0013",
        "ONNX feature not supported",
        "{0} cannot be compiled: {1}",
        "The ONNX importer lowers a set of operators onto the compiler's kernels (docs/onnx.md); this node is outside it, or uses attributes or inputs it does not handle, or an input or output of the graph has a type or a varying dimension a compiled model does not take (Dims fixes a named dimension).");

    /// <summary>Format: <c>{0}</c> (the message names the limit, the value that passed it, and the setting that raises it, if any).</summary>
    public static readonly DiagnosticDescriptor LimitExceeded = Error("MC0014",
        "Model or file past a limit",
        "{0}",
        "The generator runs inside the compiler and the IDE, so the work it does and the code it emits are bounded: a weights or ONNX file's size, an ONNX graph's node count, a plan's kernel count.");
}
