using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>Ops on sequences: Embedding (a table lookup by id) and Mean over one dimension.</summary>
internal static class SequenceOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Embedding, OpKind.Embedding);
        catalogue.Shape(Mean, OpKind.Mean);
    }

    /// <summary>Embedding: each id picks a row of <c>name.weight</c> <c>[count, d]</c>.</summary>
    private static Node? Embedding(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node ids = inputs[0];
        if (ids.IsConstant) return c.NotOnConstants();
        SafeTensorEntry? table = c.Find(op.Name + ".weight");
        if (table is null) return null;
        if (table.Shape.Length != 2) return c.Mismatch($"Embedding '{op.Name}': {op.Name}.weight must be [count, d] but is {Node.Format(table.Shape)}");
        return new Node(op, ids.Shape.Concat(new[] { table.Shape[1] }).ToArray(), isConstant: false) { Weight = table };
    }

    /// <summary>Mean over one dimension of a sample.</summary>
    private static Node? Mean(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        int dimension = ((AxisSettings)op.Settings!).Axis;
        if (dimension < 0 || dimension >= x.Shape.Length)
            return c.Mismatch($"Mean: a sample of {c.Shape(x)} has no dimension {dimension}");
        return new Node(op, x.Shape.Where((_, d) => d != dimension).ToArray(), isConstant: false);
    }
}
