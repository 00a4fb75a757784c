using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>Matrix products: a Linear layer on its weights, and MatMul of two values (or a value and a weight).</summary>
internal static class LinearOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Linear, OpKind.Linear);
        catalogue.Shape(MatMul, OpKind.MatMul);
        catalogue.Evaluate(EvaluateLinear, OpKind.Linear);
        catalogue.Evaluate(EvaluateMatMul, OpKind.MatMul);
    }

    /// <summary>Linear: <c>x · Wᵀ + b</c> on the last dimension; W is <c>[out, in]</c>, b optional <c>[out]</c>.</summary>
    private static Node? Linear(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        SafeTensorEntry? weight = c.Find(op.WeightName ?? op.Name + ".weight");
        if (weight is null) return null;
        if (weight.Shape.Length != 2)
            return c.Mismatch($"Linear '{op.Name}': {op.Name}.weight must be [out, in] but is {Node.Format(weight.Shape)}");
        int outFeatures = weight.Shape[0], inFeatures = weight.Shape[1];
        if (x.Shape.Length == 0 || x.Shape[x.Shape.Length - 1] != inFeatures)
            return c.Mismatch($"Linear '{op.Name}' expects {inFeatures} input features ({op.Name}.weight is {Node.Format(weight.Shape)}), but its input is {c.Shape(x)}");
        SafeTensorEntry? bias = c.Optional(op.BiasName ?? op.Name + ".bias", out bool badBias);
        if (badBias) return null;
        if (bias is not null && (bias.Shape.Length != 1 || bias.Shape[0] != outFeatures))
            return c.Mismatch($"Linear '{op.Name}': {op.Name}.bias must be [{outFeatures}] but is {Node.Format(bias.Shape)}");
        int[] shape = (int[])x.Shape.Clone();
        shape[shape.Length - 1] = outFeatures;
        return new Node(op, shape, isConstant: false) { Weight = weight, Bias = bias };
    }

    /// <summary>MatMul: batched <c>[…, m, k] · […, k, n]</c>, or <c>[…, m, k]</c> by a <c>[k, n]</c> weight.</summary>
    private static Node? MatMul(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node a = inputs[0], b = inputs[1];
        if (a.IsConstant) return c.NotOnConstants();
        if (a.Shape.Length < 2) return c.Mismatch($"MatMul needs samples of at least [m, k], but gets {c.Shape(a)}");
        int k = a.Shape[a.Shape.Length - 1];
        bool fits = b.IsConstant
            ? b.Shape.Length == 2 && b.Shape[0] == k
            : b.Shape.Length == a.Shape.Length && b.Shape[b.Shape.Length - 2] == k && a.Shape.Take(a.Shape.Length - 2).SequenceEqual(b.Shape.Take(b.Shape.Length - 2));
        if (!fits)
            return c.Mismatch($"MatMul: {c.Shape(a)} times {(b.IsConstant ? $"weight '{b.Source.Name ?? b.Source.Text}' " : "")}{c.Shape(b)} does not multiply (expected {(b.IsConstant ? $"a [{k}, n] weight" : $"[…, {k}, n] with the same leading dimensions")})");
        int[] shape = (int[])a.Shape.Clone();
        shape[shape.Length - 1] = b.Shape[b.Shape.Length - 1];
        return new Node(op, shape, isConstant: false);
    }

    /// <summary>Linear in double per output, one rounding to float, as the eager reference.</summary>
    private static double[] EvaluateLinear(EvaluationContext context)
    {
        Node node = context.Node;
        double[] x = context.X;
        int n = node.Weight!.Shape[0], k = node.Weight.Shape[1];
        float[] w = context.Tensor(node.Weight.Name);
        float[]? b = node.Bias is null ? null : context.Tensor(node.Bias.Name);
        int rows = x.Length / k;
        var y = new double[rows * n];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = b?[j] ?? 0;
                for (int i = 0; i < k; i++) sum += x[r * k + i] * w[j * k + i];
                y[r * n + j] = (float)sum;
            }
        }
        return y;
    }

    /// <summary>MatMul through ReferenceOps.MatMul.</summary>
    private static double[] EvaluateMatMul(EvaluationContext context)
    {
        Node node = context.Node;
        ModelGraph graph = context.Graph;
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        double[][] values = context.Values;
        Node a = graph.Nodes[inputsOf[0]], b = graph.Nodes[inputsOf[1]];
        int m = a.Shape[a.Shape.Length - 2], k = a.Shape[a.Shape.Length - 1], n = node.Shape[node.Shape.Length - 1];
        return EvaluationContext.Doubles(ReferenceOps.MatMul(EvaluationContext.Floats(x), EvaluationContext.Floats(values[b.Id]), x.Length / (m * k), m, k, n, b.IsConstant ? 0 : k * n));
    }
}
