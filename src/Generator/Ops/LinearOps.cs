using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;
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
        catalogue.Lower(LowerLinear, KernelKind.Linear);
        catalogue.Lower(LowerMatMul, KernelKind.MatMul);
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
        // A transposed weight (GPT-2's Conv1D) is described as the file stores it, [in, out].
        string stored = weight.Transposed ? $"{op.Name}.weight is [{inFeatures}, {outFeatures}], [in, out]" : $"{op.Name}.weight is {Node.Format(weight.Shape)}";
        if (x.Shape.Length == 0 || x.Shape[x.Shape.Length - 1] != inFeatures)
            return c.Mismatch($"Linear '{op.Name}' expects {inFeatures} input features ({stored}), but its input is {c.Shape(x)}");
        SafeTensorEntry? bias = c.Optional(op.BiasName ?? op.Name + ".bias", out bool badBias);
        if (badBias) return null;
        if (bias is not null && (bias.Shape.Length != 1 || bias.Shape[0] != outFeatures))
            return c.Mismatch($"Linear '{op.Name}': {op.Name}.bias must be [{outFeatures}] but is {Node.Format(bias.Shape)}");
        int[] shape = (int[])x.Shape.Clone();
        shape[shape.Length - 1] = outFeatures;
        return new Node(op, shape, isConstant: false) { Weight = weight, Bias = bias };
    }

    /// <summary>MatMul: batched <c>[…, m, k] · […, k, n]</c> (values, or a weight of one matrix per leading index), or <c>[…, m, k]</c> by a <c>[k, n]</c> weight.</summary>
    private static Node? MatMul(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node a = inputs[0], b = inputs[1];
        if (a.IsConstant) return c.NotOnConstants();
        if (a.Shape.Length < 2) return c.Mismatch($"MatMul needs samples of at least [m, k], but gets {c.Shape(a)}");
        int k = a.Shape[a.Shape.Length - 1];
        // A weight is one [k, n] matrix for all, or one per leading index of a sample ([G, k, n]: a grouped convolution's).
        bool fits = b.IsConstant && b.Shape.Length == 2
            ? b.Shape[0] == k
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
        int n = context.Node.Weight!.Shape[0], k = context.Node.Weight.Shape[1];
        float[] w = context.Tensor(context.Node.Weight.Name);
        float[]? b = context.Node.Bias is null ? null : context.Tensor(context.Node.Bias.Name);
        double[] x = context.X;
        int rows = x.Length / k;
        var y = new double[rows * n];
        // The weights widened once, so the dot products run on double vectors (calibration evaluates whole prompts: a
        // decoder's GPTQ runs thousands of tokens through every layer at build time).
        double[] weights = EvaluationContext.Doubles(w);
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < n; j++)
                y[r * n + j] = (float)((b?[j] ?? 0) + DoubleVectors.Dot(x, r * k, weights, j * k, k));
        }
        return y;
    }

    /// <summary>MatMul through ReferenceOps.MatMul.</summary>
    private static double[] EvaluateMatMul(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        double[][] values = context.Values;
        Node a = context.Graph.Nodes[inputsOf[0]], b = context.Graph.Nodes[inputsOf[1]];
        int m = a.Shape[a.Shape.Length - 2], k = a.Shape[a.Shape.Length - 1], n = context.Node.Shape[context.Node.Shape.Length - 1];
        int period = b.IsConstant && b.Shape.Length > 2 ? b.ElementCount / (k * n) : 0;
        return EvaluationContext.Doubles(ReferenceOps.MatMul(EvaluationContext.Floats(x), EvaluationContext.Floats(values[b.Id]), x.Length / (m * k), m, k, n,
            b.IsConstant && period == 0 ? 0 : k * n, period));
    }

    /// <summary>A Linear: float32 or int4 weights packed in 16-output panels, int8 codes packed for the dot-product instructions; the bias padded.</summary>
    private static KernelPlan LowerLinear(LoweringContext context)
    {
        int n = context.Root.Weight!.Shape[0], k = context.Root.Weight.Shape[1];
        int rowsPerSample = context.Input.ElementCount / k;
        string weight = context.Root.Weight.Name;
        bool quantized = IsQuantized(context.Model, context.Root);
        bool int4 = IsInt4(context.Model, context.Root);
        // A decoder reads every weight once per token: its int4 weights stay at 4 bits (Kernels.Int4Linear).
        bool int4Packed = int4 && context.Graph.IsDecoder;
        int padded = QuantizedPanelLayout.PanelCount(n) * QuantizedPanelLayout.PanelWidth;
        // Float32: weights packed in 16-column panels. Int8: codes packed for the dot-product instructions,
        // one scale and one column sum per output. Then the bias, padded to whole panels.
        // Int4: embedded compactly, expanded at start-up into the float32 panel layout.
        string? norm = context.Root.FoldedNorm;
        float epsilon = context.Root.FoldedEpsilon;
        int weightOffset = quantized
            ? context.Blob(WeightLayoutKind.QuantizedLinear, weight, (QuantizedPanelLayout.PackedBytes(n, k) + 3) / 4, n, k, null, 0).Offset
            : int4Packed ? context.Blob(WeightLayoutKind.Int4Panels, weight, Int4PanelLayout.Floats(n, k), n, k, null, 0).Offset
            : context.Blob(int4 ? WeightLayoutKind.Int4Linear : WeightLayoutKind.PackedLinear, weight, PanelLayout.PackedLength(n, k), n, k, norm, epsilon).Offset;
        int scalesOffset = quantized ? context.Blob(WeightLayoutKind.WeightScales, weight, padded, n, k, null, 0).Offset : 0;
        int sumsOffset = quantized ? context.Blob(WeightLayoutKind.ColumnSums, weight, padded, n, k, null, 0).Offset : 0;
        WeightBlob bias = context.Blob(WeightLayoutKind.PaddedBias, context.Root.Bias?.Name ?? "", PanelLayout.PaddedBiasLength(n), n, 0, norm, epsilon);
        string title = $"Linear{(quantized ? " (int8)" : int4Packed ? " (int4 weights, dequantized in registers)" : int4 ? " (int4 weights)" : "")} \"{context.Root.Source.Name}\": {Node.Format(context.Input.Shape)} → {Node.Format(context.Root.Shape)}"
            + (context.Root.Bias is null ? "" : ", + bias") + (norm is null ? "" : $", BatchNorm \"{norm}\" folded in") + context.After;
        var linear = new LinearOp(rowsPerSample, k, n, quantized ? LinearWeights.Int8 : int4Packed ? LinearWeights.Int4Packed : int4 ? LinearWeights.Int4 : LinearWeights.Float32, weightOffset, bias.Offset)
        {
            ScalesOffset = scalesOffset,
            SumsOffset = sumsOffset,
            Layer = context.Root.Source.Name ?? "",
            WeightError = quantized ? WeightError(context.ReadTensor(weight), n, k) : int4 ? Int4Error(context.ReadTensor(weight), n, k) : 0,
        };
        return new KernelPlan(context.Index, title, context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, linear, context.Epilogue.ToEquatableArray(), 2L * k * n * rowsPerSample);
    }

    /// <summary>MatMul of two values, or of a value and a weight (then one matrix for all).</summary>
    private static KernelPlan LowerMatMul(LoweringContext context)
    {
        Node a = context.Input, b = context.Graph.Nodes[context.Root.Inputs[1]];
        int m = a.Shape[a.Shape.Length - 2], k = a.Shape[a.Shape.Length - 1], n = context.Root.Shape[context.Root.Shape.Length - 1];
        int count = a.ElementCount / (m * k);
        // A weight of several matrices (one per leading index) is one cycle every sample reads again.
        int period = b.IsConstant && b.Shape.Length > 2 ? count : 0;
        return new KernelPlan(context.Index,
            $"MatMul: {Node.Format(a.Shape)} · {LoweringContext.Describe(b)} → {Node.Format(context.Root.Shape)}" + context.After,
            context.Sources.ToEquatableArray(), context.Where(a), context.Where(b), context.Output,
            new MatMulOp(count, m, k, n, b.IsConstant && period == 0 ? 0 : k * n, period), context.Epilogue.ToEquatableArray(),
            2L * count * m * k * n);
    }

    /// <summary>Whether a Linear runs in int8: the model asks for it and does not keep this layer in float32.</summary>
    public static bool IsQuantized(ModelDeclaration model, Node linear) =>
        model.Quantize is Quantization.Int8 or Quantization.Int8Static && !model.FloatLayers.Contains(linear.Source.Name!);

    /// <summary>Whether a Linear's weights are stored as int4.</summary>
    public static bool IsInt4(ModelDeclaration model, Node linear) =>
        model.Quantize is Quantization.Int4 or Quantization.Int4Gptq && !model.FloatLayers.Contains(linear.Source.Name!);

    private static double Int4Error(float[] weight, int n, int k) => WeightErrorOf(weight, Int4Quantization.RoundTrip(weight, n, k));

    /// <summary>max |w − q·s| / max |w|: how far the weights the model runs with are from the file's.</summary>
    public static double WeightErrorOf(float[] weight, float[] restored)
    {
        double maxError = 0, maxWeight = 0;
        for (int i = 0; i < weight.Length; i++)
        {
            maxWeight = Math.Max(maxWeight, Math.Abs(weight[i]));
            maxError = Math.Max(maxError, Math.Abs(weight[i] - (double)restored[i]));
        }
        return maxWeight == 0 ? 0 : maxError / maxWeight;
    }

    private static double WeightError(float[] weight, int n, int k)
    {
        var scales = new float[n];
        sbyte[] codes = Int8Quantization.QuantizeWeights(weight, n, k, scales);
        double maxError = 0, maxWeight = 0;
        for (int j = 0; j < n; j++)
        {
            for (int i = 0; i < k; i++)
            {
                maxWeight = Math.Max(maxWeight, Math.Abs(weight[j * k + i]));
                maxError = Math.Max(maxError, Math.Abs(weight[j * k + i] - codes[j * k + i] * (double)scales[j]));
            }
        }
        return maxWeight == 0 ? 0 : maxError / maxWeight;
    }
}
