using System;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>Normalizations over a dimension: LayerNorm, BatchNorm (inference), Softmax and LogSoftmax.</summary>
internal static class NormalizationOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(LayerNorm, OpKind.LayerNorm);
        catalogue.Shape(BatchNorm, OpKind.BatchNorm);
        catalogue.Shape(Softmax, OpKind.Softmax, OpKind.LogSoftmax);
        catalogue.Evaluate(EvaluateLayerNorm, OpKind.LayerNorm);
        catalogue.Evaluate(EvaluateSoftmax, OpKind.Softmax, OpKind.LogSoftmax);
        catalogue.Evaluate(EvaluateBatchNorm, OpKind.BatchNorm);
    }

    /// <summary>LayerNorm over the last dimension: <c>name.weight</c> and optional <c>name.bias</c> of that width.</summary>
    private static Node? LayerNorm(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        if (x.Shape.Length == 0) return c.Mismatch("LayerNorm needs at least one dimension per sample");
        int width = x.Shape[x.Shape.Length - 1];
        SafeTensorEntry? gamma = c.Find(op.Name + ".weight");
        if (gamma is null) return null;
        if (gamma.Shape.Length != 1 || gamma.Shape[0] != width)
            return c.Mismatch($"LayerNorm '{op.Name}' normalizes {width} values ({c.Shape(x)}), but {op.Name}.weight is {Node.Format(gamma.Shape)}");
        SafeTensorEntry? beta = c.Optional(op.Name + ".bias", out bool badBeta);
        if (badBeta) return null;
        if (beta is not null && (beta.Shape.Length != 1 || beta.Shape[0] != width))
            return c.Mismatch($"LayerNorm '{op.Name}': {op.Name}.bias must be [{width}] but is {Node.Format(beta.Shape)}");
        return new Node(op, x.Shape, isConstant: false) { Weight = gamma, Bias = beta };
    }

    /// <summary>BatchNorm (inference) over the channel dimension: weight, bias, running mean and variance, one per channel.</summary>
    private static Node? BatchNorm(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        if (x.Shape.Length == 0) return c.Mismatch($"BatchNorm '{op.Name}' needs samples with a channel dimension");
        int channels = x.Shape[0];
        SafeTensorEntry? weight = null;
        foreach (string part in new[] { "weight", "bias", "running_mean", "running_var" })
        {
            SafeTensorEntry? entry = c.Find(op.Name + "." + part);
            if (entry is null) return null;
            if (entry.Shape.Length != 1 || entry.Shape[0] != channels)
                return c.Mismatch($"BatchNorm '{op.Name}' normalizes {channels} channels ({c.Shape(x)}), but {op.Name}.{part} is {Node.Format(entry.Shape)}");
            weight ??= entry;
        }
        return new Node(op, x.Shape, isConstant: false) { Weight = weight };
    }

    /// <summary>Softmax, LogSoftmax over the last dimension.</summary>
    private static Node? Softmax(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        if (inputs[0].IsConstant) return c.NotOnConstants();
        return inputs[0].Shape.Length == 0
            ? c.Mismatch($"{op.Kind} needs at least one dimension per sample")
            : new Node(op, inputs[0].Shape, isConstant: false);
    }

    /// <summary>LayerNorm in double per row.</summary>
    private static double[] EvaluateLayerNorm(EvaluationContext context)
    {
        Node node = context.Node;
        double[] x = context.X;
        int width = node.Shape[node.Shape.Length - 1];
        float[] gamma = context.Tensor(node.Weight!.Name);
        float[]? beta = node.Bias is null ? null : context.Tensor(node.Bias.Name);
        var y = new double[x.Length];
        for (int start = 0; width > 0 && start < x.Length; start += width)
        {
            double mean = 0, variance = 0;
            for (int j = 0; j < width; j++) mean += x[start + j];
            mean /= width;
            for (int j = 0; j < width; j++) variance += (x[start + j] - mean) * (x[start + j] - mean);
            double inverse = 1 / Math.Sqrt(variance / width + node.Source.Scalar);
            for (int j = 0; j < width; j++) y[start + j] = (float)((x[start + j] - mean) * inverse * gamma[j] + (beta?[j] ?? 0));
        }
        return y;
    }

    /// <summary>Softmax, LogSoftmax in double per row.</summary>
    private static double[] EvaluateSoftmax(EvaluationContext context)
    {
        Node node = context.Node;
        double[] x = context.X;
        int width = node.Shape[node.Shape.Length - 1];
        var y = new double[x.Length];
        for (int start = 0; width > 0 && start + width <= x.Length; start += width)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < width; j++) max = Math.Max(max, x[start + j]);
            for (int j = 0; j < width; j++) sum += Math.Exp(x[start + j] - max);
            for (int j = 0; j < width; j++)
                y[start + j] = (float)(node.Kind == OpKind.LogSoftmax ? x[start + j] - max - Math.Log(sum) : Math.Exp(x[start + j] - max) / sum);
        }
        return y;
    }

    /// <summary>BatchNorm as the eager reference computes it.</summary>
    private static double[] EvaluateBatchNorm(EvaluationContext context)
    {
        Node node = context.Node;
        double[] x = context.X;
        string norm = node.Source.Name!;
        float[] gamma = context.Tensor(norm + ".weight"), beta = context.Tensor(norm + ".bias"), mean = context.Tensor(norm + ".running_mean"), variance = context.Tensor(norm + ".running_var");
        int channels = node.Shape[0], inner = node.ElementCount / channels;
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i / inner % channels;
            y[i] = (float)((x[i] - mean[c]) / Math.Sqrt(variance[c] + (double)node.Source.Scalar) * gamma[c] + beta[c]);
        }
        return y;
    }
}
