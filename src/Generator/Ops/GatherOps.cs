using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Ops;

/// <summary>GatherAlong: ONNX Gather and GatherElements by indices known only at run time (Kernels.Gather).</summary>
internal static class GatherOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(GatherAlong, OpKind.GatherAlong);
        catalogue.Evaluate(EvaluateGather, OpKind.GatherAlong);
        catalogue.Lower(LowerGather, KernelKind.Gather);
    }

    /// <summary>
    /// Gather: <c>x[…a, n, …b]</c> by indices <c>I</c> gives <c>[…a, I…, …b]</c>; GatherElements: indices of x's shape but
    /// along the axis (any length there) give the indices' shape. The indices are a value or a constant.
    /// </summary>
    private static Node? GatherAlong(ShapeContext c)
    {
        Node x = c.Inputs[0], indices = c.Inputs[1];
        if (x.IsConstant) return c.NotOnConstants();
        var s = (GatherSettings)c.Op.Settings!;
        if (s.Axis < 0 || s.Axis >= x.Shape.Length) return c.Mismatch($"Gather: a sample of {c.Shape(x)} has no dimension {s.Axis}");
        int[] shape;
        if (s.Elements)
        {
            if (indices.Shape.Length != x.Shape.Length || Enumerable.Range(0, x.Shape.Length).Any(d => d != s.Axis && indices.Shape[d] != x.Shape[d]))
                return c.Mismatch($"GatherElements: indices of {c.Shape(indices)} must have the shape of {c.Shape(x)} but along dimension {s.Axis}");
            shape = (int[])indices.Shape.Clone();
        }
        else shape = x.Shape.Take(s.Axis).Concat(indices.Shape).Concat(x.Shape.Skip(s.Axis + 1)).ToArray();
        if (shape.Length == 0) shape = new[] { 1 };
        return SizeMath.Product(shape) > int.MaxValue ? c.Mismatch($"Gather: the output {Node.Format(shape)} is too large") : new Node(c.Op, shape, isConstant: false);
    }

    private static GatherOp GatherOf(ModelGraph graph, Node node)
    {
        Node x = graph.Nodes[node.Inputs[0]], indices = graph.Nodes[node.Inputs[1]];
        var s = (GatherSettings)node.Source.Settings!;
        int outer = x.Shape.Take(s.Axis).Aggregate(1, (p, d) => checked(p * d)), inner = x.Shape.Skip(s.Axis + 1).Aggregate(1, (p, d) => checked(p * d));
        int count = s.Elements ? indices.Shape[s.Axis] : indices.ElementCount;
        return new GatherOp(outer, x.Shape[s.Axis], inner, count, s.Elements, indices.IsConstant ? 0 : indices.ElementCount);
    }

    /// <summary>Gather by the definition, value by value (an index naming no place gives NaN, as the kernel).</summary>
    private static double[] EvaluateGather(EvaluationContext context)
    {
        GatherOp g = GatherOf(context.Graph, context.Node);
        double[] x = context.X, indices = context.Values[context.Node.Inputs[1]];
        var y = new double[(long)context.Samples * g.Outer * g.Count * g.Inner];
        for (long s = 0; s < context.Samples; s++)
        for (long o = 0; o < g.Outer; o++)
        for (long j = 0; j < g.Count; j++)
        for (long i = 0; i < g.Inner; i++)
        {
            double index = indices[s * g.IndicesPerSample + (g.Elements ? (o * g.Count + j) * g.Inner + i : j)];
            bool whole = index >= -g.Length && index < g.Length && index == Math.Floor(index);
            long at = whole ? (long)index + (index < 0 ? g.Length : 0) : 0;
            y[((s * g.Outer + o) * g.Count + j) * g.Inner + i] = whole ? x[((s * g.Outer + o) * g.Length + at) * g.Inner + i] : double.NaN;
        }
        return y;
    }

    /// <summary>Gather: one pass, a copy (or a value) a pick.</summary>
    private static KernelPlan LowerGather(LoweringContext context)
    {
        GatherOp op = GatherOf(context.Graph, context.Root);
        Node indices = context.Graph.Nodes[context.Root.Inputs[1]];
        string title = $"{(op.Elements ? "GatherElements" : "Gather")} along dimension {((GatherSettings)context.Root.Source.Settings!).Axis} by {LoweringContext.Describe(indices)}: "
            + $"{Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}";
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), context.Where(indices), context.Output, op,
            EquatableArray<EpilogueStep>.Empty, 0);
    }
}
