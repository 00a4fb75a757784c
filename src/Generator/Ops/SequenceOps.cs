using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>Ops on sequences: Embedding (a table lookup by id) and reductions over one dimension (Mean, and ONNX's Reduce*).</summary>
internal static class SequenceOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Embedding, OpKind.Embedding);
        catalogue.Shape(Reduce, OpKind.Reduce);
        catalogue.Evaluate(EvaluateEmbedding, OpKind.Embedding);
        catalogue.Evaluate(EvaluateReduce, OpKind.Reduce);
        catalogue.Lower(LowerEmbedding, KernelKind.Embedding);
        catalogue.Lower(LowerReduce, KernelKind.Reduce);
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

    /// <summary>A reduction over one dimension of a sample: the dimension goes.</summary>
    private static Node? Reduce(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        var settings = (ReduceSettings)op.Settings!;
        int dimension = settings.Axis;
        if (dimension < 0 || dimension >= x.Shape.Length)
            return c.Mismatch($"{settings.Kind}: a sample of {c.Shape(x)} has no dimension {dimension}");
        return new Node(op, x.Shape.Where((_, d) => d != dimension).ToArray(), isConstant: false);
    }

    /// <summary>Embedding: a row of the table per id.</summary>
    private static double[] EvaluateEmbedding(EvaluationContext context)
    {
        float[] table = context.Tensor(context.Node.Weight!.Name);
        int rows = context.Node.Weight.Shape[0], width = context.Node.Weight.Shape[1];
        double[] ids = context.X;
        var y = new double[ids.Length * width];
        for (int i = 0; i < ids.Length; i++)
        {
            // The ids come from the calibration file: one that is not a row of the table stops calibration (MC0012),
            // as Predict refuses it at run time.
            double id = ids[i];
            if (!(id >= 0 && id < rows && id == Math.Floor(id)))
                throw new CalibrationInputException(
                    $"Embedding '{context.Node.Source.Name}' gets id {id.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}, which is not one of its {rows} rows");
            for (int j = 0; j < width; j++) y[i * width + j] = table[(int)id * width + j];
        }
        return y;
    }

    /// <summary>A reduction over one dimension, in double (rounded to float at the end, as the kernel's result is).</summary>
    private static double[] EvaluateReduce(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        Node input = context.Graph.Nodes[inputsOf[0]];
        var settings = (ReduceSettings)context.Node.Source.Settings!;
        int dimension = settings.Axis, reduce = input.Shape[dimension];
        int inner = 1;
        for (int d = dimension + 1; d < input.Shape.Length; d++) inner *= input.Shape[d];
        int outer = x.Length / (reduce * inner);
        var y = new double[outer * inner];
        var values = new double[reduce];
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            for (int r = 0; r < reduce; r++) values[r] = x[(o * reduce + r) * inner + i];
            y[o * inner + i] = (float)Reduced(values, settings.Kind);
        }
        return y;
    }

    /// <summary>What each reduction computes (ONNX's definitions), in double.</summary>
    public static double Reduced(double[] values, ReduceKind kind) => kind switch
    {
        ReduceKind.Mean => values.Sum() / values.Length,
        ReduceKind.Sum => values.Sum(),
        ReduceKind.Max => values.Max(),
        ReduceKind.Min => values.Min(),
        ReduceKind.Prod => values.Aggregate(1.0, (p, v) => p * v),
        ReduceKind.SumSquare => values.Sum(v => v * v),
        ReduceKind.L1 => values.Sum(Math.Abs),
        ReduceKind.L2 => Math.Sqrt(values.Sum(v => v * v)),
        ReduceKind.LogSum => Math.Log(values.Sum()),
        _ => values.Max() is var max && double.IsInfinity(max) ? max : max + Math.Log(values.Sum(v => Math.Exp(v - max))),
    };

    /// <summary>Embedding: a table lookup per id.</summary>
    private static KernelPlan LowerEmbedding(LoweringContext context)
    {
        int[] table = context.Root.Weight!.Shape;
        WeightBlob rows = context.Blob(WeightLayoutKind.Raw, context.Root.Weight.Name, table[0] * table[1], 0, 0, null, 0);
        return new KernelPlan(context.Index, $"Embedding \"{context.Root.Source.Name}\": {context.Input.ElementCount} ids → rows of {table[1]} from [{table[0]}, {table[1]}]",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, new EmbeddingOp(context.Input.ElementCount, table[1], table[0], rows.Offset),
            EquatableArray<EpilogueStep>.Empty, 0);
    }

    /// <summary>A reduction over one dimension.</summary>
    private static KernelPlan LowerReduce(LoweringContext context)
    {
        var settings = (ReduceSettings)context.Root.Source.Settings!;
        int dimension = settings.Axis;
        int outer = context.Input.Shape.Take(dimension).Aggregate(1, (p, d) => p * d), inner = context.Input.Shape.Skip(dimension + 1).Aggregate(1, (p, d) => p * d);
        return new KernelPlan(context.Index, $"{settings.Kind} over dimension {dimension} of {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, new ReduceOp(outer, context.Input.Shape[dimension], inner, settings.Kind),
            EquatableArray<EpilogueStep>.Empty, context.Input.ElementCount);
    }
}
