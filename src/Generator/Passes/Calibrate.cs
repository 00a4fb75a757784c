using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Ops;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// Int8Static calibration: runs the float model at build time on representative inputs and records, for every
/// quantized Linear, the largest magnitude its input reaches. Each op computes as the catalogue's reference evaluation
/// (Ops/, like the eager reference: double within an op); bounded work (<see cref="MaxFlops"/>) so a large file cannot
/// stall the build.
/// </summary>
internal static class Calibrate
{
    /// <summary>Samples × FLOPs per sample evaluated at most; further samples are not used.</summary>
    public const double MaxFlops = 2e9;

    /// <summary>Tokens × FLOPs per token evaluated at most to collect GPTQ's Hessians; further sequences are not used.</summary>
    public const double MaxHessianFlops = 2e10;

    public static Dictionary<string, float> Run(ModelGraph graph, bool[] live, float[] inputs, int samples, long flopsPerSample,
        Func<string, float[]> readTensor, Func<Node, bool> quantized)
    {
        samples = (int)Math.Max(1, Math.Min(samples, MaxFlops / Math.Max(1, flopsPerSample)));
        var ranges = new Dictionary<string, float>(StringComparer.Ordinal);
        Evaluate(graph, live, Slice(inputs, samples * graph.Nodes.First(n => n.Kind == OpKind.Input).ElementCount), samples, Cached(readTensor), (node, x) =>
        {
            // A quantized Linear's calibrated range: the largest magnitude its input reaches over the samples.
            if (!quantized(node)) return;
            double amax = 0;
            foreach (double v in x) amax = Math.Max(amax, Math.Abs(v));
            string name = node.Source.Name!;
            ranges[name] = ranges.TryGetValue(name, out float seen) ? Math.Max(seen, (float)amax) : (float)amax;
        }, CancellationToken.None);
        return ranges;
    }

    /// <summary>
    /// GPTQ's statistics: for every weight of a Linear that <paramref name="quantized"/> selects, H = Σ x xᵀ over the rows
    /// its inputs take on the calibration data (<c>[k, k]</c>, row-major; a weight two Linears share sums both). The
    /// inputs are <paramref name="runs"/> runs of <paramref name="samplesPerRun"/> samples each, <paramref name="stride"/>
    /// values apart: a decoder's token sequences (each run one sequence from position 0), or batches of independent samples.
    /// </summary>
    public static Dictionary<string, double[]> Hessians(ModelGraph graph, bool[] live, float[] inputs, int runs, int samplesPerRun, int stride, long flopsPerSample,
        Func<string, float[]> readTensor, Func<Node, bool> quantized, CancellationToken cancellationToken)
    {
        // Within the budget even for one run: a large model's run keeps only the samples (a sequence's first tokens) it affords.
        samplesPerRun = (int)Math.Max(1, Math.Min(samplesPerRun, MaxHessianFlops / Math.Max(1.0, flopsPerSample)));
        runs = (int)Math.Max(1, Math.Min(runs, MaxHessianFlops / Math.Max(1.0, (double)flopsPerSample * samplesPerRun)));
        int perRun = samplesPerRun * graph.Nodes.First(n => n.Kind == OpKind.Input).ElementCount;
        // H depends on a layer's input alone: layers reading one value (q, k and v; gate and up) share one sum, computed
        // once per run. A weight read by layers on different inputs (tied) sums theirs.
        var byInput = new Dictionary<int, double[]>();
        var inputsOf = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        Func<string, float[]> tensor = Cached(readTensor);
        var run = new float[perRun];
        var summed = new HashSet<int>();
        for (int r = 0; r < runs; r++)
        {
            Array.Copy(inputs, (long)r * stride, run, 0, perRun);
            summed.Clear();
            Evaluate(graph, live, run, samplesPerRun, tensor, (node, x) =>
            {
                if (!quantized(node)) return;
                int k = node.Weight!.Shape[1], input = node.Inputs[0];
                if (!inputsOf.TryGetValue(node.Weight.Name, out HashSet<int>? ids)) inputsOf[node.Weight.Name] = ids = new HashSet<int>();
                ids.Add(input);
                if (!summed.Add(input)) return;
                if (!byInput.TryGetValue(input, out double[]? h)) byInput[input] = h = new double[(long)k * k];
                for (int row = 0; row + k <= x.Length; row += k)
                {
                    for (int a = 0; a < k; a++) DoubleVectors.Axpy(h, (long)a * k, x, row, x[row + a], k);
                }
            }, cancellationToken);
        }
        var hessians = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, HashSet<int>> weight in inputsOf)
        {
            if (weight.Value.Count == 1)
            {
                hessians[weight.Key] = byInput[weight.Value.First()]; // shared: readers clone before changing it (Gptq.Quantize)
                continue;
            }
            double[] sum = (double[])byInput[weight.Value.First()].Clone();
            foreach (int input in weight.Value.Skip(1)) DoubleVectors.Axpy(sum, 0, byInput[input], 0, 1, sum.Length);
            hessians[weight.Key] = sum;
        }
        return hessians;
    }

    /// <summary>
    /// Runs the float model at build time on <paramref name="samples"/> samples of <paramref name="inputs"/>, each op as
    /// the catalogue's reference evaluation, and shows <paramref name="beforeLinear"/> every live Linear's input values.
    /// </summary>
    private static double[][] Evaluate(ModelGraph graph, bool[] live, float[] inputs, int samples, Func<string, float[]> tensor,
        Action<Node, double[]> beforeLinear, CancellationToken cancellationToken)
    {
        var values = new double[graph.Nodes.Count][];
        foreach (Node node in graph.Nodes)
        {
            if (!live[node.Id]) continue;
            cancellationToken.ThrowIfCancellationRequested();
            int[] inputsOf = node.Inputs;
            double[] x = inputsOf.Length > 0 ? values[inputsOf[0]] : Array.Empty<double>();
            if (node.IsConstant && node.Kind != OpKind.Parameter)
            {
                values[node.Id] = EvaluationContext.Doubles(FoldConstants.Values(node, tensor)); // folded at build time
                continue;
            }
            switch (node.Kind)
            {
                case OpKind.Input:
                    values[node.Id] = Array.ConvertAll(inputs, v => (double)v);
                    break;
                case OpKind.Parameter:
                    values[node.Id] = Array.ConvertAll(tensor(node.Weight!.Name), v => (double)v);
                    break;
                default:
                    if (node.Kind == OpKind.Linear) beforeLinear(node, x);
                    values[node.Id] = OpCatalogue.Evaluate(node.Kind)(new EvaluationContext(node, graph, values, samples, tensor));
                    break;
            }
        }
        return values;
    }

    /// <summary>Tokens × FLOPs per token evaluated at most for each build-time perplexity; later windows are not used.</summary>
    public const double MaxPerplexityFlops = 5e9;

    /// <summary>
    /// A decoder's perplexity on <paramref name="windows"/> token sequences of <paramref name="window"/> (each from
    /// position 0) with the weights <paramref name="readTensor"/> gives: exp of the mean negative log-likelihood of every
    /// token after the first of each window; and how many tokens were scored (the work is bounded by
    /// <see cref="MaxPerplexityFlops"/>; null when not even one window fits it).
    /// </summary>
    public static (double Perplexity, int Tokens)? Perplexity(ModelGraph graph, bool[] live, float[] tokens, int windows, int window, long flopsPerToken,
        Func<string, float[]> readTensor, CancellationToken cancellationToken)
    {
        if ((double)flopsPerToken * window > MaxPerplexityFlops) return null;
        windows = (int)Math.Max(1, Math.Min(windows, MaxPerplexityFlops / Math.Max(1.0, (double)flopsPerToken * window)));
        Func<string, float[]> tensor = Cached(readTensor);
        var run = new float[window];
        double negativeLogLikelihood = 0;
        int scored = 0;
        for (int w = 0; w < windows; w++)
        {
            Array.Copy(tokens, (long)w * window, run, 0, window);
            double[] logits = Evaluate(graph, live, run, window, tensor, (_, _) => { }, cancellationToken)[graph.Outputs[0]];
            int vocabulary = logits.Length / window;
            for (int t = 0; t + 1 < window; t++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int v = 0; v < vocabulary; v++) max = Math.Max(max, logits[t * vocabulary + v]);
                for (int v = 0; v < vocabulary; v++) sum += Math.Exp(logits[t * vocabulary + v] - max);
                int next = (int)run[t + 1];
                if (next < 0 || next >= vocabulary) throw new CalibrationInputException($"'heldout' holds token {run[t + 1]}, outside the vocabulary of {vocabulary}");
                negativeLogLikelihood += max + Math.Log(sum) - logits[t * vocabulary + next];
                scored++;
            }
        }
        return (Math.Exp(negativeLogLikelihood / Math.Max(1, scored)), scored);
    }

    private static Func<string, float[]> Cached(Func<string, float[]> readTensor)
    {
        var tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        return name => tensors.TryGetValue(name, out float[]? t) ? t : tensors[name] = readTensor(name);
    }

    private static float[] Slice(float[] values, int count)
    {
        if (values.Length == count) return values;
        var slice = new float[count];
        Array.Copy(values, slice, count);
        return slice;
    }
}
