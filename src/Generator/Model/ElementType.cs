namespace ModelCompiler.Generator.Model;

/// <summary>
/// The element type of a model input or output as the caller passes it. Inside, every value is float32: the generated
/// <c>Predict</c> converts the other types at the model's edges (ElementConversion in the runtime), so integers are exact
/// up to 2^24 in magnitude and float16 is computed in float32 (float64 is not taken: float32 would not keep its range).
/// </summary>
internal enum ElementType
{
    Float32,
    Float16,
    Int64,
    Int32,
    Int16,
    Int8,
    UInt64,
    UInt32,
    UInt16,
    UInt8,
    Bool,
}

internal static class ElementTypes
{
    /// <summary>The C# type of a span of this element type.</summary>
    public static string CSharp(this ElementType type) => type switch
    {
        ElementType.Float16 => "global::System.Half",
        ElementType.Int64 => "long",
        ElementType.Int32 => "int",
        ElementType.Int16 => "short",
        ElementType.Int8 => "sbyte",
        ElementType.UInt64 => "ulong",
        ElementType.UInt32 => "uint",
        ElementType.UInt16 => "ushort",
        ElementType.UInt8 => "byte",
        ElementType.Bool => "bool",
        _ => "float",
    };

    /// <summary>Integer or boolean: arithmetic on it has integer semantics (Div truncates).</summary>
    public static bool IsInteger(this ElementType type) => type is not (ElementType.Float32 or ElementType.Float16);
}
