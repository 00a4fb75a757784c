// Element types: which ONNX values are integers or booleans (carried as float32 inside, converted at the model's edges),
// so that the operators whose meaning depends on it (Div, Cast) compute what ONNX says.
using System;
using System.Collections.Generic;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    /// <summary>
    /// The element type a compiled model passes for an ONNX tensor type; null for the types it does not take: strings,
    /// bfloat16, complex, and float64, whose range and precision float32 arithmetic would not keep (a cast to float64
    /// inside a graph is computed in float32).
    /// </summary>
    internal static ElementType? ElementTypeOf(OnnxDataType type) => type switch
    {
        OnnxDataType.Float => ElementType.Float32,
        OnnxDataType.Float16 => ElementType.Float16,
        OnnxDataType.Int64 => ElementType.Int64,
        OnnxDataType.Int32 => ElementType.Int32,
        OnnxDataType.Int16 => ElementType.Int16,
        OnnxDataType.Int8 => ElementType.Int8,
        OnnxDataType.UInt64 => ElementType.UInt64,
        OnnxDataType.UInt32 => ElementType.UInt32,
        OnnxDataType.UInt16 => ElementType.UInt16,
        OnnxDataType.UInt8 => ElementType.UInt8,
        OnnxDataType.Bool => ElementType.Bool,
        _ => null,
    };

    /// <summary>Why an input or output of type <paramref name="type"/> is refused (<paramref name="verb"/>: "takes" or "gives").</summary>
    private static string TypeRefusal(OnnxDataType type, string verb) =>
        $"it is {type}; a compiled model {verb} float32, float16, integer and boolean tensors"
        + (type == OnnxDataType.Double ? " (float64 would be computed in float32, which keeps neither its range nor its precision: export the model in float32)" : "");

    private sealed partial class Lowering
    {
        /// <summary>The element type of each activation named so far (inputs as declared, node outputs by <see cref="Propagate"/>).</summary>
        private readonly Dictionary<string, ElementType> _types = new(StringComparer.Ordinal);

        /// <summary>A value's element type: an activation's as tracked, a constant's as the file stores it, else float32.</summary>
        private ElementType TypeOf(string value) =>
            _types.TryGetValue(value, out ElementType t) ? t
            : _constants.TryGetValue(value, out OnnxConstant? c) ? (c.Floats is null ? ElementType.Int64 : ElementTypeOf(c.Type) ?? ElementType.Float32)
            : ElementType.Float32;

        /// <summary>
        /// The element types of a lowered node's outputs, as ONNX's type rules give them: comparisons and logic give bool,
        /// ArgMax and Shape int64, Cast its <c>to</c>; the rest their first input's.
        /// </summary>
        private void Propagate(OnnxNode node)
        {
            ElementType first = node.Inputs.Count > 0 && node.Inputs[0].Length > 0 ? TypeOf(node.Inputs[0]) : ElementType.Float32;
            ElementType type = node.OpType switch
            {
                "Equal" or "Greater" or "Less" or "GreaterOrEqual" or "LessOrEqual" or "Not" or "And" or "Or" or "Xor" or "IsNaN" or "IsInf" => ElementType.Bool,
                "ArgMax" or "ArgMin" or "Shape" or "Size" or "NonZero" => ElementType.Int64,
                "Cast" => ElementTypeOf((OnnxDataType)IntAttribute(node, "to", (long)OnnxDataType.Float)) ?? ElementType.Float32, // float64: float32
                "CastLike" when node.Inputs.Count > 1 => TypeOf(node.Inputs[1]),
                "LSTM" or "GRU" or "RNN" or "Resize" or "Upsample" => first == ElementType.Float16 ? first : ElementType.Float32,
                _ => first,
            };
            for (int i = 0; i < node.Outputs.Count; i++)
            {
                string output = node.Outputs[i];
                if (output.Length == 0 || _types.ContainsKey(output) || !_activations.ContainsKey(output)) continue;
                // Dropout's second output is its mask; TopK's and MaxPool's second are indices.
                _types[output] = i == 1 && node.OpType == "Dropout" ? ElementType.Bool
                    : i == 1 && node.OpType is "TopK" or "MaxPool" ? ElementType.Int64 : type;
            }
        }

        /// <summary>Whether an activation holds integers (or booleans): its arithmetic has integer meaning.</summary>
        private bool IsIntegral(string value) => TypeOf(value).IsInteger();

        /// <summary>Rounds toward zero, as ONNX's integer Div and its Cast from floats to integers do: sign(x) · floor(|x|).</summary>
        private int Truncated(OnnxNode node, int x)
        {
            int magnitude = Record(node, OpKind.Floor, new[] { Record(node, OpKind.Abs, new[] { x }) });
            return Record(node, OpKind.Mul, new[] { Record(node, OpKind.Sign, new[] { x }), magnitude });
        }

        /// <summary>An integer constant as float32 values, for arithmetic on activations that hold integers (exact up to 2^24).</summary>
        private static OnnxConstant AsFloats(OnnxConstant c) =>
            c.Floats is null && c.Longs is not null && !c.HasBatch ? OnnxConstantFolding.Cast(c, OnnxDataType.Float) : c;
    }
}
