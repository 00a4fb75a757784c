using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>Convolutions and pooling over <c>[channels, height, width]</c> (1-D: <c>[channels, length]</c>).</summary>
internal static class ConvolutionOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Convolution, OpKind.Conv2d, OpKind.Conv1d);
        catalogue.Shape(Pool, OpKind.MaxPool2d, OpKind.AvgPool2d);
        catalogue.Shape(AxisPool, OpKind.AxisPool);
        catalogue.Evaluate(EvaluateAxisPool, OpKind.AxisPool);
        catalogue.Lower(LowerAxisPool, KernelKind.AxisPool);
        catalogue.Shape(AxisResample, OpKind.AxisResample);
        catalogue.Evaluate(EvaluateAxisResample, OpKind.AxisResample);
        catalogue.Lower(LowerAxisResample, KernelKind.AxisResample);
        catalogue.Shape(GlobalAvgPool, OpKind.GlobalAvgPool);
        catalogue.Evaluate(EvaluateConvolution, OpKind.Conv2d, OpKind.Conv1d);
        catalogue.Evaluate(EvaluatePool, OpKind.MaxPool2d, OpKind.AvgPool2d);
        catalogue.Evaluate(EvaluateGlobalAvgPool, OpKind.GlobalAvgPool);
        catalogue.ByName(onnx: false, OpKind.GlobalAvgPool); // ONNX's keeps [N, C, 1, 1] (Import/OnnxImporter.Convolution)
        catalogue.Lower(LowerConvolution, KernelKind.Conv2d, KernelKind.Depthwise, KernelKind.DirectConv);
        catalogue.Lower(LowerWinograd, KernelKind.Winograd);
        catalogue.Lower(LowerPool, KernelKind.MaxPool2d, KernelKind.AvgPool2d);
        catalogue.Lower(LowerGlobalAvgPool, KernelKind.GlobalAvgPool);
    }

    /// <summary>Conv2d, Conv1d: PyTorch's <c>conv2d</c> with zero padding, dilation and groups.</summary>
    private static Node? Convolution(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        bool oneD = op.Kind == OpKind.Conv1d;
        string what = $"{op.Kind} '{op.Name}'";
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        if (x.Shape.Length != (oneD ? 2 : 3))
            return c.Mismatch($"{what} needs samples of {(oneD ? "[channels, length]" : "[channels, height, width]")}, but gets {c.Shape(x)}");
        SafeTensorEntry? weight = c.Find(op.Name + ".weight");
        if (weight is null) return null;
        var settings = (ConvSettings)op.Settings!;
        (int stride, int padding, int dilation, int groups) = settings;
        if (weight.Shape.Length != (oneD ? 3 : 4))
            return c.Mismatch($"{what}: {op.Name}.weight must be {(oneD ? "[out, in/groups, k]" : "[out, in/groups, kh, kw]")} but is {Node.Format(weight.Shape)}");
        if (groups <= 0 || x.Shape[0] % groups != 0 || weight.Shape[0] % groups != 0)
            return c.Mismatch($"{what}: {x.Shape[0]} input and {weight.Shape[0]} output channels do not split into {groups} groups");
        if (weight.Shape[1] * groups != x.Shape[0])
            return c.Mismatch($"{what} expects {weight.Shape[1] * groups} input channels ({op.Name}.weight is {Node.Format(weight.Shape)}{(groups == 1 ? "" : $", groups {groups}")}), but its input is {c.Shape(x)}");
        SafeTensorEntry? bias = c.Optional(op.Name + ".bias", out bool badBias);
        if (badBias) return null;
        if (bias is not null && (bias.Shape.Length != 1 || bias.Shape[0] != weight.Shape[0]))
            return c.Mismatch($"{what}: {op.Name}.bias must be [{weight.Shape[0]}] but is {Node.Format(bias.Shape)}");
        if (stride <= 0 || settings.Down <= 0 || padding < 0 || settings.Top < 0 || dilation <= 0) return c.Mismatch($"{what}: stride and dilation must be positive and padding not negative");
        int kw = weight.Shape[weight.Shape.Length - 1], width = x.Shape[x.Shape.Length - 1];
        long ow = SizeMath.WindowPositions(width, padding, kw, stride, dilation);
        long oh = oneD ? 1 : SizeMath.WindowPositions(x.Shape[1], settings.Top, weight.Shape[2], settings.Down, dilation);
        if (oh <= 0 || ow <= 0) return c.Mismatch($"{what}: a kernel of {Node.Format(weight.Shape.Skip(2).ToArray())} does not fit {c.Shape(x)}");
        return new Node(op, oneD ? new[] { weight.Shape[0], (int)ow } : new[] { weight.Shape[0], (int)oh, (int)ow }, isConstant: false) { Weight = weight, Bias = bias };
    }

    /// <summary>MaxPool2d, AvgPool2d: square windows; padding at most half the window.</summary>
    private static Node? Pool(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        if (x.Shape.Length != 3) return c.Mismatch($"{op.Kind} needs samples of [channels, height, width], but gets {c.Shape(x)}");
        (int kernel, int stride, int padding) = (PoolSettings)op.Settings!;
        if (kernel <= 0 || stride <= 0 || padding < 0 || padding * 2 > kernel) return c.Mismatch($"{op.Kind}: kernel and stride must be positive, padding at most half the kernel");
        long oh = SizeMath.WindowPositions(x.Shape[1], padding, kernel, stride), ow = SizeMath.WindowPositions(x.Shape[2], padding, kernel, stride);
        if (oh <= 0 || ow <= 0) return c.Mismatch($"{op.Kind}: a {kernel}×{kernel} window does not fit {c.Shape(x)}");
        return new Node(op, new[] { x.Shape[0], (int)oh, (int)ow }, isConstant: false);
    }

    /// <summary>
    /// AxisPool: a positive window, stride and dilation, pads shorter than the window's reach (so every window holds a
    /// value of the input), and ONNX's output length.
    /// </summary>
    private static Node? AxisPool(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node x = c.Inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        var s = (AxisPoolSettings)op.Settings!;
        if (s.Axis < 0 || s.Axis >= x.Shape.Length) return c.Mismatch($"Pool: a sample of {c.Shape(x)} has no dimension {s.Axis}");
        long reach = (long)(s.Window - 1) * s.Dilation + 1;
        if (s.Window <= 0 || s.Stride <= 0 || s.Dilation <= 0 || s.PadBegin < 0 || s.PadEnd < 0 || s.PadBegin >= reach || s.PadEnd >= reach)
            return c.Mismatch($"Pool: window {s.Window}, stride {s.Stride} and dilation {s.Dilation} must be positive, and each pad ({s.PadBegin}, {s.PadEnd}) shorter than the window's reach ({reach})");
        long length = s.OutLength(x.Shape[s.Axis]);
        if (length <= 0 || length > int.MaxValue) return c.Mismatch($"Pool: a window reaching {reach} does not fit dimension {s.Axis} of {c.Shape(x)}");
        int[] shape = (int[])x.Shape.Clone();
        shape[s.Axis] = (int)length;
        return new Node(op, shape, isConstant: false);
    }

    /// <summary>AxisResample: an activation, and a constant table of <c>[OutLength, Taps, 2]</c>.</summary>
    private static Node? AxisResample(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node x = c.Inputs[0], table = c.Inputs[1];
        if (x.IsConstant) return c.NotOnConstants();
        var s = (AxisResampleSettings)op.Settings!;
        if (s.Axis < 0 || s.Axis >= x.Shape.Length) return c.Mismatch($"Resize: a sample of {c.Shape(x)} has no dimension {s.Axis}");
        if (!table.IsConstant || s.OutLength < 1 || s.Taps < 1 || !table.Shape.SequenceEqual(new[] { s.OutLength, s.Taps, 2 }))
            return c.Mismatch($"Resize: the table must be a constant [{s.OutLength}, {s.Taps}, 2], but is {c.Shape(table)}");
        int[] shape = (int[])x.Shape.Clone();
        shape[s.Axis] = s.OutLength;
        return new Node(op, shape, isConstant: false);
    }

    /// <summary>GlobalAvgPool: one mean per channel.</summary>
    private static Node? GlobalAvgPool(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        if (inputs[0].IsConstant) return c.NotOnConstants();
        return inputs[0].Shape.Length != 3
            ? c.Mismatch($"GlobalAvgPool needs samples of [channels, height, width], but gets {c.Shape(inputs[0])}")
            : new Node(op, new[] { inputs[0].Shape[0] }, isConstant: false);
    }

    /// <summary>Conv2d, Conv1d through ReferenceOps.Conv2d.</summary>
    private static double[] EvaluateConvolution(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        int samples = context.Samples;
        Node input = context.Graph.Nodes[inputsOf[0]];
        int[] w = context.Node.Weight!.Shape;
        bool oneD = context.Node.Kind == OpKind.Conv1d;
        int c = input.Shape[0], h = oneD ? 1 : input.Shape[1], wi = input.Shape[input.Shape.Length - 1];
        int oh = oneD ? 1 : context.Node.Shape[1], ow = context.Node.Shape[context.Node.Shape.Length - 1];
        var settings = (ConvSettings)context.Node.Source.Settings!;
        return EvaluationContext.Doubles(ReferenceOps.Conv2d(EvaluationContext.Floats(x), samples, c, h, wi, context.Tensor(context.Node.Weight.Name), context.Node.Bias is null ? null : context.Tensor(context.Node.Bias.Name),
            w[0], oneD ? 1 : w[2], w[w.Length - 1], settings.Stride, settings.Padding, settings.Dilation, settings.Groups, oh, ow, oneD ? 0 : settings.Top, oneD ? 1 : settings.Down));
    }

    /// <summary>MaxPool2d, AvgPool2d through ReferenceOps.Pool2d.</summary>
    private static double[] EvaluatePool(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        int samples = context.Samples;
        Node input = context.Graph.Nodes[inputsOf[0]];
        var pool = (PoolSettings)context.Node.Source.Settings!;
        return EvaluationContext.Doubles(ReferenceOps.Pool2d(EvaluationContext.Floats(x), samples * input.Shape[0], input.Shape[1], input.Shape[2], pool.Window, pool.Stride, pool.Padding,
            context.Node.Shape[1], context.Node.Shape[2], context.Node.Kind == OpKind.AvgPool2d));
    }

    /// <summary>AxisResample: each output the weighted sum of its taps (a negative index reads the fill; the others are clamped below the length, as the kernel reads them).</summary>
    private static double[] EvaluateAxisResample(EvaluationContext context)
    {
        Node input = context.Graph.Nodes[context.Node.Inputs[0]];
        AxisResampleOp p = AxisResampleOf(input, context.Node);
        double[] x = context.X, table = context.Values[context.Node.Inputs[1]];
        var y = new double[context.Samples * p.Outer * p.OutLength * p.Inner];
        for (long o = 0; o < (long)context.Samples * p.Outer; o++)
        for (int j = 0; j < p.OutLength; j++)
        for (int i = 0; i < p.Inner; i++)
        {
            double sum = 0;
            for (int t = 0; t < p.Taps; t++)
            {
                int index = Math.Min(p.Length - 1, (int)table[(j * p.Taps + t) * 2]);
                sum += table[(j * p.Taps + t) * 2 + 1] * (index < 0 ? p.Fill : x[(o * p.Length + index) * p.Inner + i]);
            }
            y[(o * p.OutLength + j) * p.Inner + i] = (float)sum;
        }
        return y;
    }

    private static AxisResampleOp AxisResampleOf(Node input, Node resample)
    {
        var s = (AxisResampleSettings)resample.Source.Settings!;
        int outer = input.Shape.Take(s.Axis).Aggregate(1, (p, d) => checked(p * d)), inner = input.Shape.Skip(s.Axis + 1).Aggregate(1, (p, d) => checked(p * d));
        return new AxisResampleOp(outer, input.Shape[s.Axis], inner, s.OutLength, s.Taps, s.Fill);
    }

    /// <summary>AxisResample: one pass along its axis, the table read from the weights.</summary>
    private static KernelPlan LowerAxisResample(LoweringContext context)
    {
        var s = (AxisResampleSettings)context.Root.Source.Settings!;
        AxisResampleOp op = AxisResampleOf(context.Input, context.Root);
        Node table = context.Graph.Nodes[context.Root.Inputs[1]];
        string title = $"Resize along dimension {s.Axis}, {s.Taps} tap{(s.Taps == 1 ? "" : "s")} an output: {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}";
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), context.Where(table), context.Output, op,
            EquatableArray<EpilogueStep>.Empty, 2L * context.Root.ElementCount * s.Taps);
    }

    /// <summary>AxisPool through ReferenceOps.AxisPool.</summary>
    private static double[] EvaluateAxisPool(EvaluationContext context)
    {
        Node input = context.Graph.Nodes[context.Node.Inputs[0]];
        AxisPoolOp p = AxisPoolOf(input, context.Node);
        return EvaluationContext.Doubles(ReferenceOps.AxisPool(EvaluationContext.Floats(context.X), context.Samples * p.Outer, p.Length, p.Inner, p.Window, p.Stride,
            p.PadBegin, p.Dilation, p.OutLength, p.Max, p.CountFrom, p.CountTo));
    }

    /// <summary>An AxisPool node's kernel sizes: the sample as <c>[outer, length, inner]</c> around its axis.</summary>
    private static AxisPoolOp AxisPoolOf(Node input, Node pool)
    {
        var s = (AxisPoolSettings)pool.Source.Settings!;
        int length = input.Shape[s.Axis];
        int outer = input.Shape.Take(s.Axis).Aggregate(1, (p, d) => checked(p * d)), inner = input.Shape.Skip(s.Axis + 1).Aggregate(1, (p, d) => checked(p * d));
        return new AxisPoolOp(outer, length, inner, s.Window, s.Stride, s.PadBegin, s.Dilation, pool.Shape[s.Axis], s.Max,
            s.CountPadding ? -s.PadBegin : 0, s.CountPadding ? length + s.PadEnd : length);
    }

    /// <summary>AxisPool: one pass along its axis.</summary>
    private static KernelPlan LowerAxisPool(LoweringContext context)
    {
        var s = (AxisPoolSettings)context.Root.Source.Settings!;
        AxisPoolOp pool = AxisPoolOf(context.Input, context.Root);
        string title = $"{(s.Max ? "MaxPool" : "AvgPool")} along dimension {s.Axis}: window {s.Window}, stride {s.Stride}, pads {s.PadBegin}/{s.PadEnd}"
            + (s.Dilation != 1 ? $", dilation {s.Dilation}" : "") + (!s.Max && !s.CountPadding && s.PadBegin + s.PadEnd > 0 ? ", padding not counted" : "")
            + $": {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}";
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, pool,
            EquatableArray<EpilogueStep>.Empty, (long)context.Root.ElementCount * s.Window);
    }

    /// <summary>GlobalAvgPool: each channel's mean.</summary>
    private static double[] EvaluateGlobalAvgPool(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        int samples = context.Samples;
        Node input = context.Graph.Nodes[inputsOf[0]];
        int planes = samples * input.Shape[0], area = input.Shape[1] * input.Shape[2];
        var y = new double[planes];
        for (int p = 0; p < planes; p++)
        {
            double sum = 0;
            for (int i = 0; i < area; i++) sum += x[p * area + i];
            y[p] = (float)(sum / area);
        }
        return y;
    }

    /// <summary>A convolution computed as im2col GEMM, depthwise or direct (FuseEpilogues chose), on the filters as PyTorch stores them.</summary>
    private static KernelPlan LowerConvolution(LoweringContext context)
    {
        int[] w = context.Root.Weight!.Shape;
        bool oneD = context.Root.Kind == OpKind.Conv1d, depthwise = context.Group.Kind == KernelKind.Depthwise;
        int c = context.Input.Shape[0], h = oneD ? 1 : context.Input.Shape[1], width = context.Input.Shape[context.Input.Shape.Length - 1];
        var settings = (ConvSettings)context.Root.Source.Settings!;
        (int stride, int padding, int dilation, int groups) = settings;
        int kh = oneD ? 1 : w[2], kw = w[w.Length - 1], n = w[0], k = c / groups * kh * kw;
        int oh = oneD ? 1 : context.Root.Shape[1], ow = context.Root.Shape[context.Root.Shape.Length - 1];
        var geometry = new ConvGeometry(c, h, width, n, kh, kw, stride, padding, dilation, oh, ow, groups, oneD ? 0 : settings.Top,
            VerticalStride: oneD || settings.Down == stride ? -1 : settings.Down);
        if (OverOnePosition(geometry) && !depthwise && context.Group.Pool is null && context.Group.SkipAdd is null)
            return LowerAsLinear(context, n, c);
        // Direct: how many output channels the kernel keeps in registers (8, 6 or 4), and whether it pools.
        if (context.Group.Kind == KernelKind.DirectConv)
            geometry = geometry with { ChannelBlock = KernelScratch.DirectChannelBlock(n), Pooled = context.Group.Pool is not null };
        string? norm = context.Root.FoldedNorm;
        // Every convolution kernel reads the filters as PyTorch stores them, [out, c/groups·kh·kw] (a folded
        // BatchNorm scales each output's row), and one bias per output channel.
        WeightBlob weights = context.Blob(WeightLayoutKind.Raw, context.Root.Weight.Name, n * k, n, k, norm, context.Root.FoldedEpsilon);
        WeightBlob bias = context.Blob(WeightLayoutKind.PaddedBias, context.Root.Bias?.Name ?? "", PanelLayout.PaddedBiasLength(n), n, 0, norm, context.Root.FoldedEpsilon);
        string kernelSize = oneD ? $"{kw}-wide" : $"{kh}×{kw}";
        string title = (norm is null ? "" : $"(BatchNorm \"{norm}\" folded in) ")
            + $"{(depthwise ? "Depthwise " : context.Group.Kind == KernelKind.DirectConv ? "Direct " : "")}{context.Root.Kind} \"{context.Root.Source.Name}\": {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}, {kernelSize} kernel, stride {(oneD || settings.Down == stride ? stride.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{settings.Down} × {stride}")}, padding {(oneD || settings.Top == padding ? padding.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{settings.Top} × {padding}")}"
            + (dilation == 1 ? "" : $", dilation {dilation}") + (groups == 1 || depthwise ? "" : $", {groups} groups") + (context.Root.Bias is null ? "" : ", + bias") + Skip(context)
            + context.After + (context.Group.Pool is null ? "" : $", then MaxPool2d 2×2 in the store → {Node.Format(context.Group.Pool.Shape)}");
        ConvAlgorithm algorithm = depthwise ? ConvAlgorithm.Depthwise : context.Group.Kind == KernelKind.DirectConv ? ConvAlgorithm.Direct : ConvAlgorithm.Im2Col;
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), SkipOperand(context), context.Output,
            new ConvOp(algorithm, geometry, weights.Offset, bias.Offset), context.Epilogue.ToEquatableArray(), 2L * k * n * oh * ow);
    }

    /// <summary>
    /// A 1×1 convolution of one input position (a squeeze-and-excitation block's, after the global pool): a Linear layer,
    /// <c>y = W x + b</c>. As a convolution its product is one column wide, so the GEMM filled a 16-column panel for it and
    /// gathered the column first (200 → 50 channels: 7.3 µs on Zen 3, where the Linear's matrix-vector product streams
    /// the 40 KB of filters once).
    /// </summary>
    private static bool OverOnePosition(ConvGeometry g) =>
        g.Height == 1 && g.Width == 1 && g.KernelHeight == 1 && g.KernelWidth == 1 && g.Padding == 0 && g.VerticalPadding == 0 && g.Groups == 1;

    /// <summary>
    /// <see cref="OverOnePosition"/>'s convolution lowered as a float32 Linear (Kernels.PackedLinear): the filters, <c>[out,
    /// c, 1, 1]</c> as PyTorch stores them, are the Linear's <c>[out, c]</c> weights, packed in 16-output panels at build time
    /// (a folded BatchNorm scaling each output's row, as for the convolution).
    /// </summary>
    private static KernelPlan LowerAsLinear(LoweringContext context, int n, int k)
    {
        string? norm = context.Root.FoldedNorm;
        float epsilon = context.Root.FoldedEpsilon;
        WeightBlob weights = context.Blob(WeightLayoutKind.PackedLinear, context.Root.Weight!.Name, PanelLayout.PackedLength(n, k), n, k, norm, epsilon);
        WeightBlob bias = context.Blob(WeightLayoutKind.PaddedBias, context.Root.Bias?.Name ?? "", PanelLayout.PaddedBiasLength(n), n, 0, norm, epsilon);
        string title = (norm is null ? "" : $"(BatchNorm \"{norm}\" folded in) ")
            + $"{context.Root.Kind} \"{context.Root.Source.Name}\" as a Linear (1×1 kernel over one position): {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}"
            + (context.Root.Bias is null ? "" : ", + bias") + context.After;
        var linear = new LinearOp(1, k, n, LinearWeights.Float32, weights.Offset, bias.Offset);
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, linear,
            context.Epilogue.ToEquatableArray(), 2L * k * n);
    }

    /// <summary>
    /// A 3×3, stride-1 convolution by Winograd, F(2×2, 3×3) or F(4×4, 3×3) as <c>KernelScratch.WinogradTile</c> picks for
    /// its output size, its filters transformed at build time.
    /// </summary>
    private static KernelPlan LowerWinograd(LoweringContext context)
    {
        int[] w = context.Root.Weight!.Shape;
        int c = context.Input.Shape[0], n = w[0], padding = ((ConvSettings)context.Root.Source.Settings!).Padding, oh = context.Root.Shape[1], ow = context.Root.Shape[2];
        var geometry = new ConvGeometry(c, context.Input.Shape[1], context.Input.Shape[2], n, 3, 3, 1, padding, 1, oh, ow, 1, padding);
        string? norm = context.Root.FoldedNorm;
        // The filters in the Winograd domain, G g Gᵀ, computed at build time: (m + 2)² [out, C] matrices.
        int tile = KernelScratch.WinogradTile(c, n, oh, ow);
        WeightBlob weights = context.Blob(tile == 4 ? WeightLayoutKind.WinogradF4Filters : WeightLayoutKind.WinogradFilters, context.Root.Weight.Name,
            (tile + 2) * (tile + 2) * n * c, n, c, norm, context.Root.FoldedEpsilon);
        WeightBlob bias = context.Blob(WeightLayoutKind.PaddedBias, context.Root.Bias?.Name ?? "", PanelLayout.PaddedBiasLength(n), n, 0, norm, context.Root.FoldedEpsilon);
        string title = (norm is null ? "" : $"(BatchNorm \"{norm}\" folded in) ")
            + $"Winograd F({tile}×{tile}, 3×3) Conv2d \"{context.Root.Source.Name}\": {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}, padding {padding}"
            + (context.Root.Bias is null ? "" : ", + bias") + Skip(context) + context.After;
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), SkipOperand(context), context.Output,
            new ConvOp(ConvAlgorithm.Winograd, geometry, weights.Offset, bias.Offset, tile), context.Epilogue.ToEquatableArray(), 2L * 9 * c * n * oh * ow);
    }

    /// <summary>A skip connection added in the store (<c>FusionGroup.SkipAdd</c>), as words for the title: ", then + [64, 28, 28]".</summary>
    private static string Skip(LoweringContext context) =>
        context.Group.SkipAdd is null ? "" : $", then + {Node.Format(context.Graph.Nodes[context.Group.SkipOperand].Shape)} (the skip connection)";

    /// <summary>Where a skip connection's other operand lives (the kernel's B), or null.</summary>
    private static Operand? SkipOperand(LoweringContext context) =>
        context.Group.SkipAdd is null ? null : context.Where(context.Graph.Nodes[context.Group.SkipOperand]);

    /// <summary>MaxPool2d, AvgPool2d.</summary>
    private static KernelPlan LowerPool(LoweringContext context)
    {
        (int window, int stride, int padding) = (PoolSettings)context.Root.Source.Settings!;
        var pool = new PoolOp(context.Group.Kind == KernelKind.MaxPool2d, context.Input.Shape[0], context.Input.Shape[1], context.Input.Shape[2], window, stride, padding, context.Root.Shape[1], context.Root.Shape[2]);
        return new KernelPlan(context.Index, $"{context.Group.Kind} {window}×{window}, stride {stride}, padding {padding}: {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, pool, EquatableArray<EpilogueStep>.Empty, (long)context.Root.ElementCount * window * window);
    }

    /// <summary>GlobalAvgPool.</summary>
    private static KernelPlan LowerGlobalAvgPool(LoweringContext context)
    {
        return new KernelPlan(context.Index, $"GlobalAvgPool: {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, new GlobalAvgPoolOp(context.Input.Shape[0], context.Input.Shape[1] * context.Input.Shape[2]),
            EquatableArray<EpilogueStep>.Empty, context.Input.ElementCount);
    }
}
