using System;
using System.Collections.Generic;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;
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
        catalogue.Lower(LowerBatchNorm, KernelKind.BatchNorm);
        catalogue.Lower(LowerLayerNorm, KernelKind.LayerNorm);
        catalogue.Lower(LowerSoftmax, KernelKind.Softmax, KernelKind.LogSoftmax);
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

    /// <summary>A BatchNorm not folded into a layer: a per-channel scale and shift.</summary>
    private static KernelPlan LowerBatchNorm(LoweringContext context)
    {
        int index = context.Index;
        Func<Node, Operand> where = context.Where;
        BlobMaker blob = context.Blob;
        Node rootNode = context.Root;
        Node input = context.Input;
        List<string> sources = context.Sources;
        Operand output = context.Output;
        string norm = rootNode.Source.Name!;
        int channels = input.Shape[0];
        WeightBlob scale = blob(WeightLayoutKind.BatchNormScale, norm + ".weight", channels, channels, 0, norm, rootNode.Source.Scalar);
        WeightBlob shift = blob(WeightLayoutKind.BatchNormShift, norm + ".weight", channels, channels, 0, norm, rootNode.Source.Scalar);
        return new KernelPlan(index, $"BatchNorm \"{norm}\" over {channels} channels of {Node.Format(input.Shape)}, as a scale and shift",
            sources.ToEquatableArray(), where(input), null, output, new ChannelAffineOp(channels, input.ElementCount / channels, scale.Offset, shift.Offset),
            EquatableArray<EpilogueStep>.Empty, 2L * input.ElementCount);
    }

    /// <summary>LayerNorm over rows, after the residual Add it absorbed if any.</summary>
    private static KernelPlan LowerLayerNorm(LoweringContext context)
    {
        int index = context.Index;
        FusionGroup group = context.Group;
        ModelGraph graph = context.Graph;
        Func<Node, Operand> where = context.Where;
        BlobMaker blob = context.Blob;
        Node rootNode = context.Root;
        Node input = context.Input;
        List<string> sources = context.Sources;
        Operand output = context.Output;
        if (group.Residual is { } add) input = graph.Nodes[add.Inputs[0]];
        int width = input.Shape[input.Shape.Length - 1];
        WeightBlob gamma = blob(WeightLayoutKind.Raw, rootNode.Weight!.Name, width, 0, 0, null, 0);
        WeightBlob beta = rootNode.Bias is null
            ? blob(WeightLayoutKind.PaddedBias, "", PanelLayout.PaddedBiasLength(width), width, 0, null, 0)
            : blob(WeightLayoutKind.Raw, rootNode.Bias.Name, width, 0, 0, null, 0);
        return new KernelPlan(index,
            (group.Residual is null ? "" : "Residual add, then ") + $"LayerNorm \"{rootNode.Source.Name}\" over the last dimension of {Node.Format(input.Shape)}" + (rootNode.Bias is null ? "" : ", + bias"),
            sources.ToEquatableArray(), where(input), group.Residual is null ? null : where(graph.Nodes[group.Residual.Inputs[1]]), output,
            new LayerNormOp(input.ElementCount / Math.Max(1, width), width, gamma.Offset, beta.Offset, rootNode.Source.Scalar),
            EquatableArray<EpilogueStep>.Empty, 8L * input.ElementCount);
    }

    /// <summary>Softmax or LogSoftmax over rows.</summary>
    private static KernelPlan LowerSoftmax(LoweringContext context)
    {
        int index = context.Index;
        FusionGroup group = context.Group;
        Func<Node, Operand> where = context.Where;
        Node input = context.Input;
        List<string> sources = context.Sources;
        Operand output = context.Output;
        int width = input.Shape[input.Shape.Length - 1];
        return new KernelPlan(index, $"{group.Kind} over the last dimension of {Node.Format(input.Shape)}",
            sources.ToEquatableArray(), where(input), null, output, new SoftmaxOp(input.ElementCount / Math.Max(1, width), width, group.Kind == KernelKind.LogSoftmax),
            EquatableArray<EpilogueStep>.Empty, 4L * input.ElementCount);
    }
}
