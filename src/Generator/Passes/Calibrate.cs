using System;
using System.Collections.Generic;
using ModelCompiler.Generator.Graph;
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

    public static Dictionary<string, float> Run(ModelGraph graph, bool[] live, float[] inputs, int samples, long flopsPerSample,
        Func<string, float[]> readTensor, Func<Node, bool> quantized)
    {
        samples = (int)Math.Max(1, Math.Min(samples, MaxFlops / Math.Max(1, flopsPerSample)));
        var values = new double[graph.Nodes.Count][];
        var ranges = new Dictionary<string, float>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        float[] Tensor(string name) => tensors.TryGetValue(name, out float[]? t) ? t : tensors[name] = readTensor(name);

        foreach (Node node in graph.Nodes)
        {
            if (!live[node.Id]) continue;
            int[] inputsOf = node.Inputs;
            double[] x = inputsOf.Length > 0 ? values[inputsOf[0]] : Array.Empty<double>();
            if (node.IsConstant && node.Kind != OpKind.Parameter)
            {
                values[node.Id] = EvaluationContext.Doubles(FoldConstants.Values(node, readTensor)); // folded at build time
                continue;
            }
            switch (node.Kind)
            {
                case OpKind.Input:
                    values[node.Id] = Array.ConvertAll(Slice(inputs, samples * node.ElementCount), v => (double)v);
                    break;
                case OpKind.Parameter:
                    values[node.Id] = Array.ConvertAll(Tensor(node.Weight!.Name), v => (double)v);
                    break;
                default:
                    // A quantized Linear's calibrated range: the largest magnitude its input reaches over the samples.
                    if (node.Kind == OpKind.Linear && quantized(node))
                    {
                        double amax = 0;
                        foreach (double v in x) amax = Math.Max(amax, Math.Abs(v));
                        string name = node.Source.Name!;
                        ranges[name] = ranges.TryGetValue(name, out float seen) ? Math.Max(seen, (float)amax) : (float)amax;
                    }
                    values[node.Id] = OpCatalogue.Evaluate(node.Kind)(new EvaluationContext(node, graph, values, samples, Tensor));
                    break;
            }
        }
        return ranges;
    }

    private static float[] Slice(float[] values, int count)
    {
        if (values.Length == count) return values;
        var slice = new float[count];
        Array.Copy(values, slice, count);
        return slice;
    }
}
