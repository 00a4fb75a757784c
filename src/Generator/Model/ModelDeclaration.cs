using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Model;

/// <summary>A model input: its name (the Forward parameter's, or the ONNX graph input's), its per-sample shape, and the element type callers pass.</summary>
internal sealed record ModelValue(string Name, EquatableArray<int> Shape, ElementType Type = ElementType.Float32);

/// <summary>A model output: the op that computes it, its name (the ONNX graph output's; null for Forward's return value), and the element type callers get.</summary>
internal sealed record ModelOutput(int Op, string? Name, ElementType Type = ElementType.Float32);

/// <summary>A type the model class is nested in, to re-open it in generated code.</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>
/// What the parser learns from a <c>[CompileModel]</c> class, before any file is read: a value with no
/// symbol, syntax node or compilation in it, so the incremental pipeline can cache it. Every part is named where it is
/// built (object initializers), none by position.
/// </summary>
internal sealed record ModelDeclaration
{
    /// <summary>Where the class is: its namespace, the types around it, its name and file, and the span of its name.</summary>
    public string? Namespace { get; init; }
    public EquatableArray<ContainingType> ContainingTypes { get; init; } = EquatableArray<ContainingType>.Empty;
    public string ClassName { get; init; } = "";
    public string SourceFileName { get; init; } = "";
    public LocationInfo? ClassLocation { get; init; }

    /// <summary>The weights (or ONNX) file the attribute names, and the span of that argument.</summary>
    public string? WeightsFile { get; init; }
    public LocationInfo? WeightsLocation { get; init; }
    public WeightsStorage WeightsStorage { get; init; }

    /// <summary>The quantization asked for, the Linear layers kept in float32, and the span of the argument.</summary>
    public Quantization Quantize { get; init; }
    public EquatableArray<string> FloatLayers { get; init; } = EquatableArray<string>.Empty;
    public LocationInfo? QuantizeLocation { get; init; }

    /// <summary>An ONNX model's named dimensions fixed by the attribute ("height=640", checked by the parser).</summary>
    public EquatableArray<string> Dims { get; init; } = EquatableArray<string>.Empty;

    /// <summary>Int8Static: the calibration file, and the span of the argument.</summary>
    public string? CalibrationFile { get; init; }

    /// <summary>Int4Gptq: act-order (<c>GptqActOrder</c>, default true).</summary>
    public bool GptqActOrder { get; init; } = true;
    public LocationInfo? CalibrationLocation { get; init; }

    /// <summary>A LoRA adapter merged at build time (<c>Adapter = "…"</c>), and where the attribute names it.</summary>
    public string? AdapterFile { get; init; }
    public LocationInfo? AdapterLocation { get; init; }

    /// <summary>
    /// The model's inputs, in order: Forward's parameter with the per-sample shape its <c>[Shape]</c> declares, or the ONNX
    /// graph's inputs (those that are not initializers). Each is an <c>Input</c> op whose <see cref="InputIndex"/> says which.
    /// </summary>
    public EquatableArray<ModelValue> Inputs { get; init; } = EquatableArray<ModelValue>.Empty;

    /// <summary>The first input's name and shape (a model declared in C# has one).</summary>
    public string InputName => Inputs.Count > 0 ? Inputs[0].Name : "";
    public EquatableArray<int> InputShape => Inputs.Count > 0 ? Inputs[0].Shape : EquatableArray<int>.Empty;

    /// <summary>The ops Forward records, in order (inputs before users).</summary>
    public EquatableArray<RecordedOp> Ops { get; init; } = EquatableArray<RecordedOp>.Empty;

    /// <summary>The model's outputs, in order: Forward's return value, or the ONNX graph's outputs (none before any op).</summary>
    public EquatableArray<ModelOutput> Outputs { get; init; } = EquatableArray<ModelOutput>.Empty;

    /// <summary>The op of the first output (-1 before any).</summary>
    public int OutputOp => Outputs.Count > 0 ? Outputs[0].Op : -1;

    /// <summary>What the parser reported.</summary>
    public EquatableArray<DiagnosticInfo> Diagnostics { get; init; } = EquatableArray<DiagnosticInfo>.Empty;

    public string FullName => Namespace is null ? ClassName : Namespace + "." + ClassName;

    /// <summary>
    /// Compiled from an ONNX file (<see cref="WeightsFile"/> names it): the input, shape and ops are not known until the
    /// file is read, in the next step (<c>Import/OnnxImporter</c>).
    /// </summary>
    public bool IsOnnx { get; init; }

    /// <summary>The first output's name (the ONNX graph's, once the file is read).</summary>
    public string? OutputName => Outputs.Count > 0 ? Outputs[0].Name : null;

    /// <summary>A <c>Dims</c> entry "name=value" (a positive int), or null when it is not one.</summary>
    public static (string Name, long Value)? DimsEntry(string entry)
    {
        int equals = entry.LastIndexOf('=');
        if (equals <= 0) return null;
        string name = entry.Substring(0, equals).Trim();
        return name.Length > 0 && long.TryParse(entry.Substring(equals + 1).Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value)
            && value is > 0 and <= int.MaxValue ? (name, value) : null;
    }

    /// <summary>The valid <see cref="Dims"/> entries by name (the parser reports the others).</summary>
    public System.Collections.Generic.Dictionary<string, long> FixedDims()
    {
        var dims = new System.Collections.Generic.Dictionary<string, long>(System.StringComparer.Ordinal);
        foreach (string entry in Dims)
            if (DimsEntry(entry) is { } d) dims[d.Name] = d.Value;
        return dims;
    }
}
