using System;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Ops;

/// <summary>Element-wise ops: the functions of one value that fuse into a kernel's epilogue, and broadcasting Add and Mul.</summary>
internal static class ElementwiseOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Unary, OpKind.Relu, OpKind.Sigmoid, OpKind.Tanh, OpKind.Gelu, OpKind.GeluTanh, OpKind.Silu, OpKind.Erf, OpKind.Sqrt, OpKind.Exp, OpKind.Reciprocal, OpKind.QuantizeLinear, OpKind.LeakyRelu, OpKind.ClampMin, OpKind.ClampMax, OpKind.AddScalar, OpKind.MulScalar, OpKind.Dropout);
        catalogue.Shape(Broadcast, OpKind.Add, OpKind.Mul);
    }

    /// <summary>Activations, scalar <c>+</c>/<c>×</c>, clamps, QuantizeLinear, Dropout: the input's shape; on a weight tensor, a constant (Passes/FoldConstants).</summary>
    private static Node? Unary(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        // On a weight tensor: a constant, computed at build time (Passes/FoldConstants).
        return new Node(op, inputs[0].Shape, isConstant: inputs[0].IsConstant);
    }

    /// <summary>Add, Mul: NumPy broadcasting over the per-sample shapes (a weight tensor never reaches the batch dimension).</summary>
    private static Node? Broadcast(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node a = inputs[0], b = inputs[1];
        // Activations carry a leading batch dimension; a weight tensor does not. Broadcasting is NumPy's on
        // the full shapes, so two activations need the same rank and a weight tensor may not reach the batch.
        if (!a.IsConstant && !b.IsConstant && a.Shape.Length != b.Shape.Length)
            return c.Mismatch($"{op.Kind}: shapes {c.Shape(a)} and {c.Shape(b)} do not broadcast (per-sample ranks differ)");
        Node activation = a.IsConstant ? b : a, other = a.IsConstant ? a : b;
        if (other.IsConstant && other.Shape.Length > activation.Shape.Length)
            return c.Mismatch($"{op.Kind}: weight '{other.Source.Name ?? other.Source.Text}' {c.Shape(other)} has more dimensions than a sample {c.Shape(activation)}");
        int rank = Math.Max(a.Shape.Length, b.Shape.Length);
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            int da = ShapeContext.DimFromRight(a.Shape, rank - 1 - d), db = ShapeContext.DimFromRight(b.Shape, rank - 1 - d);
            if (da != db && da != 1 && db != 1)
                return c.Mismatch($"{op.Kind}: shapes {c.Shape(a)} and {c.Shape(b)} do not broadcast");
            shape[d] = da == 1 ? db : da;
        }
        // Two weight tensors: a constant, computed at build time (Passes/FoldConstants).
        return new Node(op, shape, isConstant: a.IsConstant && b.IsConstant);
    }
}
