using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Ops;

/// <summary>ScatterAlong: ONNX ScatterND and ScatterElements by indices known only at run time (Kernels.Scatter).</summary>
internal static class ScatterOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(ScatterAlong, OpKind.ScatterAlong);
        catalogue.Evaluate(EvaluateScatter, OpKind.ScatterAlong);
        catalogue.Lower(LowerScatter, KernelKind.Scatter);
    }

    /// <summary>
    /// The data's shape. ScatterElements: indices and updates of one shape, the data's but along the axis (any length
    /// there). ScatterND: indices <c>[…, k]</c> with 1 ≤ k ≤ the data's rank, updates holding a slice of the data's last
    /// dimensions from k on per tuple.
    /// </summary>
    private static Node? ScatterAlong(ShapeContext c)
    {
        Node data = c.Inputs[0], indices = c.Inputs[1], updates = c.Inputs[2];
        var s = (ScatterSettings)c.Op.Settings!;
        if (data.IsConstant && indices.IsConstant && updates.IsConstant) return c.NotOnConstants();
        if (s.Elements)
        {
            if (s.Axis < 0 || s.Axis >= data.Shape.Length) return c.Mismatch($"ScatterElements: a sample of {c.Shape(data)} has no dimension {s.Axis}");
            if (!indices.Shape.SequenceEqual(updates.Shape) || indices.Shape.Length != data.Shape.Length
                || Enumerable.Range(0, data.Shape.Length).Any(d => d != s.Axis && indices.Shape[d] != data.Shape[d]))
                return c.Mismatch($"ScatterElements: indices {c.Shape(indices)} and updates {c.Shape(updates)} must have one shape, that of {c.Shape(data)} but along dimension {s.Axis}");
        }
        else
        {
            int depth = indices.Shape.Length == 0 ? 0 : indices.Shape[indices.Shape.Length - 1];
            if (depth < 1 || depth > data.Shape.Length)
                return c.Mismatch($"ScatterND: indices {c.Shape(indices)} must end in a dimension of 1 to {data.Shape.Length} (the data's rank)");
            long tuples = SizeMath.Product(indices.Shape.Take(indices.Shape.Length - 1).ToArray()), slice = SizeMath.Product(data.Shape.Skip(depth).ToArray());
            if (updates.ElementCount != tuples * slice)
                return c.Mismatch($"ScatterND: updates {c.Shape(updates)} must hold {tuples} slices of {Node.Format(data.Shape.Skip(depth).ToArray())}");
        }
        return new Node(c.Op, (int[])data.Shape.Clone(), isConstant: false);
    }

    private static ScatterOp ScatterOf(ModelGraph graph, Node node)
    {
        Node data = graph.Nodes[node.Inputs[0]], indices = graph.Nodes[node.Inputs[1]], updates = graph.Nodes[node.Inputs[2]];
        var s = (ScatterSettings)node.Source.Settings!;
        int PerSample(Node n) => n.IsConstant ? 0 : n.ElementCount;
        if (s.Elements)
        {
            int outer = data.Shape.Take(s.Axis).Aggregate(1, (p, d) => checked(p * d)), inner = data.Shape.Skip(s.Axis + 1).Aggregate(1, (p, d) => checked(p * d));
            return new ScatterOp(outer, data.Shape[s.Axis], inner, indices.Shape[s.Axis], EquatableArray<int>.Empty, s.Reduction,
                PerSample(data), PerSample(indices), PerSample(updates));
        }
        int depth = indices.Shape[indices.Shape.Length - 1];
        int[] dims = data.Shape.Take(depth).ToArray();
        return new ScatterOp(1, dims.Aggregate(1, (p, d) => checked(p * d)), data.Shape.Skip(depth).Aggregate(1, (p, d) => checked(p * d)),
            indices.ElementCount / depth, dims.ToEquatableArray(), s.Reduction, PerSample(data), PerSample(indices), PerSample(updates));
    }

    /// <summary>Scatter by the definition, update by update in index order (an index naming no place is skipped, as the kernel).</summary>
    private static double[] EvaluateScatter(EvaluationContext context)
    {
        ScatterOp g = ScatterOf(context.Graph, context.Node);
        double[] data = context.X, indices = context.Values[context.Node.Inputs[1]], updates = context.Values[context.Node.Inputs[2]];
        long sample = (long)g.Outer * g.Length * g.Inner;
        var y = new double[context.Samples * sample];
        int depth = g.Dims.Count;
        static long Place(double index, int length) =>
            index >= -length && index < length && index == Math.Floor(index) ? (long)index + (index < 0 ? length : 0) : -1;
        void Combine(long at, double update) => y[at] = g.Reduction switch
        {
            ScatterReduction.Add => (float)(y[at] + update),
            ScatterReduction.Mul => (float)(y[at] * update),
            ScatterReduction.Max => Math.Max(y[at], update),
            ScatterReduction.Min => Math.Min(y[at], update),
            _ => update,
        };
        for (long s = 0; s < context.Samples; s++)
        {
            Array.Copy(data, s * g.DataPerSample, y, s * sample, sample);
            if (depth == 0)
            {
                for (long o = 0; o < g.Outer; o++)
                for (long j = 0; j < g.Count; j++)
                for (long i = 0; i < g.Inner; i++)
                {
                    long u = (o * g.Count + j) * g.Inner + i;
                    long at = Place(indices[s * g.IndicesPerSample + u], g.Length);
                    if (at >= 0) Combine(s * sample + (o * g.Length + at) * g.Inner + i, updates[s * g.UpdatesPerSample + u]);
                }
                continue;
            }
            for (long u = 0; u < g.Count; u++)
            {
                long place = 0;
                bool valid = true;
                for (int d = 0; d < depth && valid; d++)
                {
                    long at = Place(indices[s * g.IndicesPerSample + u * depth + d], g.Dims[d]);
                    valid = at >= 0;
                    place = place * g.Dims[d] + at;
                }
                if (!valid) continue;
                for (long i = 0; i < g.Inner; i++) Combine(s * sample + place * g.Inner + i, updates[s * g.UpdatesPerSample + u * g.Inner + i]);
            }
        }
        return y;
    }

    /// <summary>Scatter: the data copied, then each update written in index order.</summary>
    private static KernelPlan LowerScatter(LoweringContext context)
    {
        ScatterOp op = ScatterOf(context.Graph, context.Root);
        var s = (ScatterSettings)context.Root.Source.Settings!;
        Node indices = context.Graph.Nodes[context.Root.Inputs[1]], updates = context.Graph.Nodes[context.Root.Inputs[2]];
        string how = op.Reduction == ScatterReduction.None ? "" : $", combined by {op.Reduction.ToString().ToLowerInvariant()}";
        string title = (s.Elements ? $"ScatterElements along dimension {s.Axis}" : $"ScatterND of {op.Count} slice{(op.Count == 1 ? "" : "s")} of {op.Inner}")
            + $" by {LoweringContext.Describe(indices)}{how}: {Node.Format(context.Input.Shape)}";
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), context.Where(indices), context.Output, op,
            EquatableArray<EpilogueStep>.Empty, 0)
        { C = context.Where(updates) };
    }
}
