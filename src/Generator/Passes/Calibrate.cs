using System;
using System.Collections.Generic;
using ModelCompiler.Generator.Graph;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// Int8Static calibration: runs the float model at build time on representative inputs and records, for every
/// quantized Linear, the largest magnitude its input reaches. Computes like the eager reference (double within an
/// op); bounded work (<see cref="MaxFlops"/>) so a large file cannot stall the build.
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
            switch (node.Kind)
            {
                case OpKind.Input:
                    values[node.Id] = Array.ConvertAll(Slice(inputs, samples * node.ElementCount), v => (double)v);
                    break;
                case OpKind.Parameter:
                    values[node.Id] = Array.ConvertAll(Tensor(node.Weight!.Name), v => (double)v);
                    break;
                case OpKind.Linear:
                {
                    if (quantized(node))
                    {
                        double amax = 0;
                        foreach (double v in x) amax = Math.Max(amax, Math.Abs(v));
                        string name = node.Source.Name!;
                        ranges[name] = ranges.TryGetValue(name, out float seen) ? Math.Max(seen, (float)amax) : (float)amax;
                    }
                    int n = node.Weight!.Shape[0], k = node.Weight.Shape[1];
                    float[] w = Tensor(node.Weight.Name);
                    float[]? b = node.Bias is null ? null : Tensor(node.Bias.Name);
                    int rows = x.Length / k;
                    var y = new double[rows * n];
                    for (int r = 0; r < rows; r++)
                    {
                        for (int j = 0; j < n; j++)
                        {
                            double sum = b?[j] ?? 0;
                            for (int i = 0; i < k; i++) sum += x[r * k + i] * w[j * k + i];
                            y[r * n + j] = (float)sum;
                        }
                    }
                    values[node.Id] = y;
                    break;
                }
                case OpKind.Relu: values[node.Id] = Map(x, v => v > 0 ? v : 0); break;
                case OpKind.Sigmoid: values[node.Id] = Map(x, v => 1 / (1 + Math.Exp(-v))); break;
                case OpKind.Tanh: values[node.Id] = Map(x, Math.Tanh); break;
                case OpKind.Gelu: values[node.Id] = Map(x, v => 0.5 * v * (1 + ReferenceMath.Erf(v / Math.Sqrt(2)))); break;
                case OpKind.GeluTanh: values[node.Id] = Map(x, v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))); break;
                case OpKind.Silu: values[node.Id] = Map(x, v => v / (1 + Math.Exp(-v))); break;
                case OpKind.AttentionCore:
                {
                    int heads = node.Source.Ints[0], model = node.Shape[node.Shape.Length - 1], headSize = model / heads;
                    int sequence = node.Shape[node.Shape.Length - 2], groups = x.Length / (sequence * 3 * model);
                    var y = new double[groups * sequence * model];
                    var scores = new double[sequence];
                    for (int s = 0; s < groups; s++)
                    {
                        int b = s * sequence * 3 * model;
                        for (int h = 0; h < heads; h++)
                        {
                            for (int i = 0; i < sequence; i++)
                            {
                                double max = double.NegativeInfinity, sum = 0;
                                for (int j = 0; j < sequence; j++)
                                {
                                    double dot = 0;
                                    for (int c = 0; c < headSize; c++) dot += x[b + i * 3 * model + h * headSize + c] * x[b + j * 3 * model + model + h * headSize + c];
                                    scores[j] = dot / Math.Sqrt(headSize);
                                    max = Math.Max(max, scores[j]);
                                }
                                for (int j = 0; j < sequence; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                                for (int c = 0; c < headSize; c++)
                                {
                                    double v = 0;
                                    for (int j = 0; j < sequence; j++) v += scores[j] / sum * x[b + j * 3 * model + 2 * model + h * headSize + c];
                                    y[(s * sequence + i) * model + h * headSize + c] = (float)v;
                                }
                            }
                        }
                    }
                    values[node.Id] = y;
                    break;
                }
                case OpKind.LayerNorm:
                {
                    int width = node.Shape[node.Shape.Length - 1];
                    float[] gamma = Tensor(node.Weight!.Name);
                    float[]? beta = node.Bias is null ? null : Tensor(node.Bias.Name);
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
                    values[node.Id] = y;
                    break;
                }
                case OpKind.AddScalar: values[node.Id] = Map(x, v => (float)v + node.Source.Scalar); break;
                case OpKind.MulScalar: values[node.Id] = Map(x, v => (float)v * node.Source.Scalar); break;
                case OpKind.Softmax or OpKind.LogSoftmax:
                {
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
                    values[node.Id] = y;
                    break;
                }
                case OpKind.Add or OpKind.Mul:
                {
                    Node a = graph.Nodes[inputsOf[0]], b = graph.Nodes[inputsOf[1]];
                    int[] shape = node.Shape, sa = LowerToPlan.Strides(a, shape), sb = LowerToPlan.Strides(b, shape);
                    int count = node.ElementCount;
                    double[] va = values[a.Id], vb = values[b.Id];
                    var y = new double[samples * count];
                    for (int s = 0; s < samples; s++)
                    {
                        for (int f = 0; f < count; f++)
                        {
                            int oa = s * sa[0], ob = s * sb[0], rest = f;
                            for (int d = shape.Length - 1; d >= 0; d--)
                            {
                                int index = rest % shape[d];
                                rest /= shape[d];
                                oa += index * sa[d + 1];
                                ob += index * sb[d + 1];
                            }
                            y[s * count + f] = (float)(node.Kind == OpKind.Add ? va[oa] + vb[ob] : va[oa] * vb[ob]);
                        }
                    }
                    values[node.Id] = y;
                    break;
                }
                case OpKind.Conv2d:
                {
                    Node input = graph.Nodes[inputsOf[0]];
                    int[] w = node.Weight!.Shape;
                    int c = input.Shape[0], h = input.Shape[1], wi = input.Shape[2], o = w[0], kh = w[2], kw = w[3], oh = node.Shape[1], ow = node.Shape[2];
                    int stride = node.Source.Ints[0], padding = node.Source.Ints[1], dilation = node.Source.Ints[2];
                    float[] weight = Tensor(node.Weight.Name);
                    float[]? bias = node.Bias is null ? null : Tensor(node.Bias.Name);
                    var y = new double[samples * o * oh * ow];
                    for (int n = 0; n < samples; n++)
                    for (int f = 0; f < o; f++)
                    for (int yy = 0; yy < oh; yy++)
                    for (int xx = 0; xx < ow; xx++)
                    {
                        double sum = bias?[f] ?? 0;
                        for (int i = 0; i < c; i++)
                        for (int u = 0; u < kh; u++)
                        for (int v = 0; v < kw; v++)
                        {
                            int iy = yy * stride - padding + u * dilation, ix = xx * stride - padding + v * dilation;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < wi) sum += x[((n * c + i) * h + iy) * wi + ix] * weight[((f * c + i) * kh + u) * kw + v];
                        }
                        y[((n * o + f) * oh + yy) * ow + xx] = (float)sum;
                    }
                    values[node.Id] = y;
                    break;
                }
                case OpKind.MaxPool2d:
                {
                    Node input = graph.Nodes[inputsOf[0]];
                    int planes = samples * input.Shape[0], h = input.Shape[1], wi = input.Shape[2], oh = node.Shape[1], ow = node.Shape[2];
                    int kernel = node.Source.Ints[0], stride = node.Source.Ints[1], padding = node.Source.Ints[2];
                    var y = new double[planes * oh * ow];
                    for (int p = 0; p < planes; p++)
                    for (int yy = 0; yy < oh; yy++)
                    for (int xx = 0; xx < ow; xx++)
                    {
                        double max = double.NegativeInfinity;
                        for (int u = 0; u < kernel; u++)
                        for (int v = 0; v < kernel; v++)
                        {
                            int iy = yy * stride - padding + u, ix = xx * stride - padding + v;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < wi) max = Math.Max(max, x[(p * h + iy) * wi + ix]);
                        }
                        y[(p * oh + yy) * ow + xx] = max;
                    }
                    values[node.Id] = y;
                    break;
                }
                case OpKind.GlobalAvgPool:
                {
                    Node input = graph.Nodes[inputsOf[0]];
                    int planes = samples * input.Shape[0], area = input.Shape[1] * input.Shape[2];
                    var y = new double[planes];
                    for (int p = 0; p < planes; p++)
                    {
                        double sum = 0;
                        for (int i = 0; i < area; i++) sum += x[p * area + i];
                        y[p] = (float)(sum / area);
                    }
                    values[node.Id] = y;
                    break;
                }
                case OpKind.Embedding:
                {
                    float[] table = Tensor(node.Weight!.Name);
                    int width = node.Weight.Shape[1];
                    var y = new double[x.Length * width];
                    for (int i = 0; i < x.Length; i++)
                        for (int j = 0; j < width; j++) y[i * width + j] = table[(int)x[i] * width + j];
                    values[node.Id] = y;
                    break;
                }
                case OpKind.Mean:
                {
                    Node input = graph.Nodes[inputsOf[0]];
                    int dimension = node.Source.Ints[0], reduce = input.Shape[dimension];
                    int inner = 1;
                    for (int d = dimension + 1; d < input.Shape.Length; d++) inner *= input.Shape[d];
                    int outer = x.Length / (reduce * inner);
                    var y = new double[outer * inner];
                    for (int o = 0; o < outer; o++)
                    for (int i = 0; i < inner; i++)
                    {
                        double sum = 0;
                        for (int r = 0; r < reduce; r++) sum += x[(o * reduce + r) * inner + i];
                        y[o * inner + i] = (float)(sum / reduce);
                    }
                    values[node.Id] = y;
                    break;
                }
                case OpKind.BatchNorm:
                {
                    string norm = node.Source.Name!;
                    float[] gamma = Tensor(norm + ".weight"), beta = Tensor(norm + ".bias"), mean = Tensor(norm + ".running_mean"), variance = Tensor(norm + ".running_var");
                    int channels = node.Shape[0], inner = node.ElementCount / channels;
                    var y = new double[x.Length];
                    for (int i = 0; i < x.Length; i++)
                    {
                        int c = i / inner % channels;
                        y[i] = (float)((x[i] - mean[c]) / Math.Sqrt(variance[c] + (double)node.Source.Scalar) * gamma[c] + beta[c]);
                    }
                    values[node.Id] = y;
                    break;
                }
                case OpKind.Flatten or OpKind.Reshape or OpKind.Dropout: // the same values
                    values[node.Id] = x;
                    break;
                default:
                    throw new InvalidOperationException($"calibration cannot run {node.Kind} yet");
            }
        }
        return ranges;
    }

    private static double[] Map(double[] x, Func<double, double> f)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = (float)f(x[i]);
        return y;
    }

    private static float[] Slice(float[] values, int count)
    {
        if (values.Length == count) return values;
        var slice = new float[count];
        Array.Copy(values, slice, count);
        return slice;
    }
}
