using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>
/// What an op's shape rule sees: the op, the nodes of its inputs, the weights file's header and the declaration, and
/// how it reports. A rule returns the op's node, or null after reporting exactly one diagnostic at the op.
/// </summary>
internal sealed class ShapeContext
{
    private readonly List<Node> _nodes;
    private readonly SafeTensorsHeader _weights;
    private readonly List<DiagnosticInfo> _diagnostics;

    public ShapeContext(RecordedOp op, List<Node> nodes, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics)
    {
        Op = op;
        _nodes = nodes;
        Model = model;
        _weights = weights;
        _diagnostics = diagnostics;
        Inputs = op.Inputs.Select(i => nodes[i]).ToArray();
    }

    public RecordedOp Op { get; }
    public Node[] Inputs { get; }
    public ModelDeclaration Model { get; }

    /// <summary>MC0004/MC0005 at the op, naming the declared input the shapes follow from.</summary>
    public Node? Mismatch(string message)
    {
        _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, Op.Location, message + DeclaredInput()));
        return null;
    }

    /// <summary>MC0006: an op that runs on activations only, applied to a weight tensor alone.</summary>
    public Node? NotOnConstants()
    {
        _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, Op.Location, Op.Text,
            $"{OpKinds.MethodName(Op.Kind)} applies to the model's activations, not to a weight tensor alone"));
        return null;
    }

    public string Shape(Node n) => Node.Format(n.Shape);

    /// <summary>A tensor the op needs: MC0007 (with the nearest names) when absent, MC0003 when not a float tensor.</summary>
    public SafeTensorEntry? Find(string name)
    {
        SafeTensorEntry? entry = _weights.Find(name);
        if (entry is not null && !SafeTensorsHeader.IsFloat(entry))
        {
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, Op.NameLocation ?? Op.Location, Model.WeightsFile ?? "",
                $"tensor '{name}' has dtype {entry.DType}; ModelCompiler reads F32, F16 and BF16 weights"));
            return null;
        }
        if (entry is null && name.EndsWith(SafeTensorsHeader.TransposedSuffix, System.StringComparison.Ordinal))
        {
            // A weight read transposed (Linear(…, transposed: true)): the diagnostic names the tensor as it is stored.
            string stored = name.Substring(0, name.Length - SafeTensorsHeader.TransposedSuffix.Length);
            if (_weights.Find(stored) is { } matrix)
            {
                Mismatch($"'{stored}' is read transposed, [in, out], so it must be a matrix, but is {Node.Format(matrix.Shape)}");
                return null;
            }
            name = stored;
        }
        if (entry is null)
        {
            List<string> nearest = NameSuggestions.Nearest(name, _weights.Entries.Select(e => e.Name));
            _diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightNotFound, Op.NameLocation ?? Op.Location, name,
                Model.WeightsFile ?? "", nearest.Count == 0 ? "(the file holds no tensors)" : string.Join(", ", nearest)));
        }
        return entry;
    }

    /// <summary>An optional tensor (a bias): absent is fine; present but not a float tensor is MC0003 (<paramref name="bad"/>).</summary>
    public SafeTensorEntry? Optional(string name, out bool bad)
    {
        bad = false;
        if (_weights.Find(name) is null) return null;
        SafeTensorEntry? entry = Find(name);
        bad = entry is null;
        return entry;
    }

    /// <summary>A sample dimension, negative ones counted from the end; null when there is no such dimension.</summary>
    public static int? Axis(int dimension, int rank)
    {
        int d = dimension < 0 ? dimension + rank : dimension;
        return d >= 0 && d < rank ? d : null;
    }

    /// <summary>What is wrong with an attention mask, if anything: it must be [queries, keys], a weight or per sample.</summary>
    public static string? MaskError(Node mask, int queries, int keys) =>
        mask.Shape.Length == 2 && mask.Shape[0] == queries && mask.Shape[1] == keys ? null
            : $"the mask must be [{queries}, {keys}] ({(mask.IsConstant ? "a weight" : "per sample")}), but is {Node.Format(mask.Shape)}";

    /// <summary>A dimension counted from the right, 1 past the rank (NumPy broadcasting).</summary>
    public static int DimFromRight(int[] shape, int fromRight) => fromRight < shape.Length ? shape[shape.Length - 1 - fromRight] : 1;

    /// <summary>
    /// Where an activation's shape comes from, for a shape error three ops after a wrong <c>[Shape]</c>: the declared input
    /// shape and the line that declares it (or the ONNX file's input). Empty for an op on weights alone.
    /// </summary>
    private string DeclaredInput()
    {
        if (_nodes.Count == 0 || !Op.Inputs.Any(i => i < _nodes.Count && !_nodes[i].IsConstant)) return "";
        string dims = string.Join(", ", Model.InputShape);
        if (Model.IsOnnx || _nodes[0].Source.Location is not { } at)
            return $" (it follows from input '{Model.InputName}', [N, {dims}] in the ONNX file)";
        return $" (it follows from input '{Model.InputName}', declared [Shape({dims})] at {System.IO.Path.GetFileName(at.FilePath)}({at.LineSpan.Start.Line + 1}))";
    }
}
