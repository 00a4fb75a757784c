using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>The model's input and its weight tensors: where every value starts.</summary>
internal static class SourceOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Input, OpKind.Input);
        catalogue.Shape(Parameter, OpKind.Parameter);
    }

    /// <summary>A model input: its declared per-sample shape.</summary>
    private static Node? Input(ShapeContext c)
    {
        RecordedOp op = c.Op;
        int index = op.Settings is InputIndex i ? i.Index : 0;
        return new Node(op, c.Model.Inputs[index].Shape.ToArray(), isConstant: false);
    }

    /// <summary>A weight tensor used as a value: its shape in the weights file, a constant.</summary>
    private static Node? Parameter(ShapeContext c)
    {
        RecordedOp op = c.Op;
        SafeTensorEntry? entry = c.Find(op.Name!);
        return entry is null ? null : new Node(op, entry.Shape, isConstant: true) { Weight = entry };
    }
}
