using System;
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
        catalogue.Shape(Softmax, OpKind.Softmax, OpKind.LogSoftmax, OpKind.Hardmax);
        catalogue.Evaluate(EvaluateHardmax, OpKind.Hardmax);
        catalogue.Lower(LowerHardmax, KernelKind.Hardmax);
        catalogue.Evaluate(EvaluateLayerNorm, OpKind.LayerNorm);
        catalogue.Evaluate(EvaluateSoftmax, OpKind.Softmax, OpKind.LogSoftmax);
        catalogue.ByName(onnx: false, OpKind.Softmax, OpKind.LogSoftmax); // ONNX's have an axis (Import/OnnxImporter.Normalization)
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
        int width = context.Node.Shape[context.Node.Shape.Length - 1];
        float[] gamma = context.Tensor(context.Node.Weight!.Name);
        float[]? beta = context.Node.Bias is null ? null : context.Tensor(context.Node.Bias.Name);
        var y = new double[context.X.Length];
        for (int start = 0; width > 0 && start < context.X.Length; start += width)
        {
            double mean = 0, variance = 0;
            for (int j = 0; j < width; j++) mean += context.X[start + j];
            mean /= width;
            for (int j = 0; j < width; j++) variance += (context.X[start + j] - mean) * (context.X[start + j] - mean);
            double inverse = 1 / Math.Sqrt(variance / width + context.Node.Source.Scalar);
            for (int j = 0; j < width; j++) y[start + j] = (float)((context.X[start + j] - mean) * inverse * gamma[j] + (beta?[j] ?? 0));
        }
        return y;
    }

    /// <summary>Hardmax per row: 1 at the first NaN, else at the first largest value.</summary>
    private static double[] EvaluateHardmax(EvaluationContext context)
    {
        int width = context.Node.Shape[context.Node.Shape.Length - 1];
        var y = new double[context.X.Length];
        for (int start = 0; width > 0 && start + width <= context.X.Length; start += width)
        {
            int best = 0;
            for (int j = 1; j < width && !double.IsNaN(context.X[start + best]); j++)
                if (double.IsNaN(context.X[start + j]) || context.X[start + j] > context.X[start + best]) best = j;
            y[start + best] = 1;
        }
        return y;
    }

    /// <summary>Softmax, LogSoftmax in double per row.</summary>
    private static double[] EvaluateSoftmax(EvaluationContext context)
    {
        int width = context.Node.Shape[context.Node.Shape.Length - 1];
        var y = new double[context.X.Length];
        for (int start = 0; width > 0 && start + width <= context.X.Length; start += width)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < width; j++) max = Math.Max(max, context.X[start + j]);
            for (int j = 0; j < width; j++) sum += Math.Exp(context.X[start + j] - max);
            for (int j = 0; j < width; j++)
                y[start + j] = (float)(context.Node.Kind == OpKind.LogSoftmax ? context.X[start + j] - max - Math.Log(sum) : Math.Exp(context.X[start + j] - max) / sum);
        }
        return y;
    }

    /// <summary>BatchNorm as the eager reference computes it.</summary>
    private static double[] EvaluateBatchNorm(EvaluationContext context)
    {
        string norm = context.Node.Source.Name!;
        float[] gamma = context.Tensor(norm + ".weight"), beta = context.Tensor(norm + ".bias"), mean = context.Tensor(norm + ".running_mean"), variance = context.Tensor(norm + ".running_var");
        int channels = context.Node.Shape[0], inner = context.Node.ElementCount / channels;
        var y = new double[context.X.Length];
        for (int i = 0; i < context.X.Length; i++)
        {
            int c = i / inner % channels;
            y[i] = (float)((context.X[i] - mean[c]) / Math.Sqrt(variance[c] + (double)context.Node.Source.Scalar) * gamma[c] + beta[c]);
        }
        return y;
    }

    /// <summary>A BatchNorm not folded into a layer: a per-channel scale and shift.</summary>
    private static KernelPlan LowerBatchNorm(LoweringContext context)
    {
        string norm = context.Root.Source.Name!;
        int channels = context.Input.Shape[0];
        Node input = context.Input;
        Node? bias = null;
        if (context.Group.ChannelBias is { } add)
        {
            // The Add of a per-channel constant before the norm, in the same pass: its computed operand is the kernel's input.
            int constant = ElementwiseOps.ChannelConstant(context.Graph, add);
            bias = context.Graph.Nodes[add.Inputs[constant]];
            input = context.Graph.Nodes[add.Inputs[1 - constant]];
        }
        WeightBlob scale = context.Blob(WeightLayoutKind.BatchNormScale, norm + ".weight", channels, channels, 0, norm, context.Root.Source.Scalar);
        WeightBlob shift = context.Blob(WeightLayoutKind.BatchNormShift, norm + ".weight", channels, channels, 0, norm, context.Root.Source.Scalar);
        string title = (bias is null ? "" : $"+ {LoweringContext.Describe(bias)}, then ") + $"BatchNorm \"{norm}\" over {channels} channels of {Node.Format(input.Shape)}, as a scale and shift";
        return new KernelPlan(context.Index, LoweringContext.Capitalize(title) + context.After,
            context.Sources.ToEquatableArray(), context.Where(input), bias is null ? null : context.Where(bias), context.Output,
            new ChannelAffineOp(channels, input.ElementCount / channels, scale.Offset, shift.Offset) { Biased = bias is not null },
            context.Epilogue.ToEquatableArray(), (bias is null ? 2L : 3L) * input.ElementCount + (long)context.Epilogue.Count * input.ElementCount);
    }

    /// <summary>LayerNorm over rows, after the residual Add it absorbed if any.</summary>
    private static KernelPlan LowerLayerNorm(LoweringContext context)
    {
        Node input = context.Input;
        if (context.Group.Residual is { } add) input = context.Graph.Nodes[add.Inputs[0]];
        int width = input.Shape[input.Shape.Length - 1];
        WeightBlob gamma = context.Blob(WeightLayoutKind.Raw, context.Root.Weight!.Name, width, 0, 0, null, 0);
        WeightBlob beta = context.Root.Bias is null
            ? context.Blob(WeightLayoutKind.PaddedBias, "", PanelLayout.PaddedBiasLength(width), width, 0, null, 0)
            : context.Blob(WeightLayoutKind.Raw, context.Root.Bias.Name, width, 0, 0, null, 0);
        return new KernelPlan(context.Index,
            (context.Group.Residual is null ? "" : "Residual add, then ") + $"LayerNorm \"{context.Root.Source.Name}\" over the last dimension of {Node.Format(input.Shape)}" + (context.Root.Bias is null ? "" : ", + bias"),
            context.Sources.ToEquatableArray(), context.Where(input), context.Group.Residual is null ? null : context.Where(context.Graph.Nodes[context.Group.Residual.Inputs[1]]), context.Output,
            new LayerNormOp(input.ElementCount / Math.Max(1, width), width, gamma.Offset, beta.Offset, context.Root.Source.Scalar),
            EquatableArray<EpilogueStep>.Empty, 8L * input.ElementCount);
    }

    /// <summary>Hardmax over rows.</summary>
    private static KernelPlan LowerHardmax(LoweringContext context)
    {
        int width = context.Input.Shape[context.Input.Shape.Length - 1];
        return new KernelPlan(context.Index, $"Hardmax over the last dimension of {Node.Format(context.Input.Shape)}",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, new HardmaxOp(context.Input.ElementCount / Math.Max(1, width), width),
            EquatableArray<EpilogueStep>.Empty, 2L * context.Input.ElementCount);
    }

    /// <summary>Softmax or LogSoftmax over rows.</summary>
    private static KernelPlan LowerSoftmax(LoweringContext context)
    {
        int width = context.Input.Shape[context.Input.Shape.Length - 1];
        return new KernelPlan(context.Index, $"{context.Group.Kind} over the last dimension of {Node.Format(context.Input.Shape)}",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, new SoftmaxOp(context.Input.ElementCount / Math.Max(1, width), width, context.Group.Kind == KernelKind.LogSoftmax),
            EquatableArray<EpilogueStep>.Empty, 4L * context.Input.ElementCount);
    }
}
