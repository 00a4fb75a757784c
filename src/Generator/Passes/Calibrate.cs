using System;
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;

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
            if (node.IsConstant && node.Kind != OpKind.Parameter)
            {
                values[node.Id] = Doubles(FoldConstants.Values(node, readTensor)); // folded at build time
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
                case OpKind.Relu: values[node.Id] = Map(x, ReferenceMath.Relu); break;
                case OpKind.Sigmoid: values[node.Id] = Map(x, ReferenceMath.Sigmoid); break;
                case OpKind.Tanh: values[node.Id] = Map(x, Math.Tanh); break;
                case OpKind.Gelu: values[node.Id] = Map(x, ReferenceMath.Gelu); break;
                case OpKind.GeluTanh: values[node.Id] = Map(x, ReferenceMath.GeluTanh); break;
                case OpKind.Silu: values[node.Id] = Map(x, ReferenceMath.Silu); break;
                case OpKind.Erf: values[node.Id] = Map(x, ReferenceMath.Erf); break;
                case OpKind.Sqrt: values[node.Id] = Map(x, Math.Sqrt); break;
                case OpKind.Exp: values[node.Id] = Map(x, Math.Exp); break;
                case OpKind.Reciprocal: values[node.Id] = Map(x, v => 1 / v); break;
                case OpKind.QuantizeLinear: values[node.Id] = Map(x, v => Quantize(v, node.Source.Scalar, (QuantizeCodes)node.Source.Settings!)); break;
                case OpKind.LeakyRelu: values[node.Id] = Map(x, v => v >= 0 ? v : (float)v * node.Source.Scalar); break;
                case OpKind.ClampMin: values[node.Id] = Map(x, v => v < node.Source.Scalar ? node.Source.Scalar : v); break;
                case OpKind.ClampMax: values[node.Id] = Map(x, v => v > node.Source.Scalar ? node.Source.Scalar : v); break;
                case OpKind.AttentionCore:
                {
                    (int heads, bool causal) = (AttentionSettings)node.Source.Settings!;
                    int model = node.Shape[1], sequence = node.Shape[0];
                    Node? mask = inputsOf.Length > 1 ? graph.Nodes[inputsOf[1]] : null;
                    float[] qkv = Floats(x), y = new float[samples * sequence * model];
                    ReferenceOps.Attention(qkv, qkv, model, qkv, 2 * model, mask is null ? null : Floats(values[mask.Id]), y, samples,
                        AttentionGeometry.Packed(sequence, heads, model / heads, mask is { IsConstant: false } ? sequence * sequence : 0, causal));
                    values[node.Id] = Doubles(y);
                    break;
                }
                case OpKind.Attention:
                {
                    Node q = graph.Nodes[inputsOf[0]], key = graph.Nodes[inputsOf[1]], value = graph.Nodes[inputsOf[2]];
                    Node? mask = inputsOf.Length > 3 ? graph.Nodes[inputsOf[3]] : null;
                    int rank = q.Shape.Length, queries = q.Shape[rank - 2], keys = key.Shape[rank - 2];
                    var y = new float[samples * node.ElementCount];
                    ReferenceOps.Attention(Floats(x), Floats(values[key.Id]), 0, Floats(values[value.Id]), 0, mask is null ? null : Floats(values[mask.Id]), y, samples,
                        AttentionGeometry.Separate(q.ElementCount / (queries * q.Shape[rank - 1]), queries, keys, q.Shape[rank - 1], value.Shape[rank - 1],
                            mask is { IsConstant: false } ? queries * keys : 0, ((AttentionSettings)node.Source.Settings!).Causal));
                    values[node.Id] = Doubles(y);
                    break;
                }
                case OpKind.MatMul:
                {
                    Node a = graph.Nodes[inputsOf[0]], b = graph.Nodes[inputsOf[1]];
                    int m = a.Shape[a.Shape.Length - 2], k = a.Shape[a.Shape.Length - 1], n = node.Shape[node.Shape.Length - 1];
                    values[node.Id] = Doubles(ReferenceOps.MatMul(Floats(x), Floats(values[b.Id]), x.Length / (m * k), m, k, n, b.IsConstant ? 0 : k * n));
                    break;
                }
                case OpKind.Transpose or OpKind.Permute or OpKind.Slice or OpKind.Concat:
                {
                    // The compiled plan's own strides (per sample first), run over the calibration samples.
                    Node a = graph.Nodes[inputsOf[0]];
                    int[] inStrides = ReferenceOps.DenseStrides(a.Shape), outStrides = ReferenceOps.DenseStrides(node.Shape);
                    var y = new float[samples * node.ElementCount];
                    int[] Full(int sample, int[] strides) => new[] { sample }.Concat(strides).ToArray();
                    int[] shape = new[] { samples }.Concat(node.Kind == OpKind.Concat ? a.Shape : node.Shape).ToArray();
                    if (node.Kind == OpKind.Slice)
                        ReferenceOps.StridedCopy(Floats(x), ((SliceSettings)node.Resolved!).Start * inStrides[((SliceSettings)node.Resolved).Axis], Full(a.ElementCount, inStrides), y, 0, Full(node.ElementCount, outStrides), shape);
                    else if (node.Kind == OpKind.Concat)
                    {
                        Node b = graph.Nodes[inputsOf[1]];
                        int axis = ((AxisSettings)node.Resolved!).Axis;
                        ReferenceOps.StridedCopy(Floats(x), 0, Full(a.ElementCount, inStrides), y, 0, Full(node.ElementCount, outStrides), shape);
                        ReferenceOps.StridedCopy(Floats(values[b.Id]), 0, Full(b.ElementCount, ReferenceOps.DenseStrides(b.Shape)), y, a.Shape[axis] * outStrides[axis],
                            Full(node.ElementCount, outStrides), new[] { samples }.Concat(b.Shape).ToArray());
                    }
                    else
                        ReferenceOps.StridedCopy(Floats(x), 0, Full(a.ElementCount, ((PermuteSettings)node.Resolved!).Order.Select(d => inStrides[d]).ToArray()), y, 0, Full(node.ElementCount, outStrides), shape);
                    values[node.Id] = Doubles(y);
                    break;
                }
                case OpKind.Conv2d or OpKind.Conv1d:
                {
                    Node input = graph.Nodes[inputsOf[0]];
                    int[] w = node.Weight!.Shape;
                    bool oneD = node.Kind == OpKind.Conv1d;
                    int c = input.Shape[0], h = oneD ? 1 : input.Shape[1], wi = input.Shape[input.Shape.Length - 1];
                    int oh = oneD ? 1 : node.Shape[1], ow = node.Shape[node.Shape.Length - 1];
                    var settings = (ConvSettings)node.Source.Settings!;
                    values[node.Id] = Doubles(ReferenceOps.Conv2d(Floats(x), samples, c, h, wi, Tensor(node.Weight.Name), node.Bias is null ? null : Tensor(node.Bias.Name),
                        w[0], oneD ? 1 : w[2], w[w.Length - 1], settings.Stride, settings.Padding, settings.Dilation, settings.Groups, oh, ow, oneD ? 0 : -1));
                    break;
                }
                case OpKind.MaxPool2d or OpKind.AvgPool2d:
                {
                    Node input = graph.Nodes[inputsOf[0]];
                    var pool = (PoolSettings)node.Source.Settings!;
                    values[node.Id] = Doubles(ReferenceOps.Pool2d(Floats(x), samples * input.Shape[0], input.Shape[1], input.Shape[2], pool.Window, pool.Stride, pool.Padding,
                        node.Shape[1], node.Shape[2], node.Kind == OpKind.AvgPool2d));
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
                    int dimension = ((AxisSettings)node.Source.Settings!).Axis, reduce = input.Shape[dimension];
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
                case OpKind.Flatten or OpKind.Reshape or OpKind.Dropout or OpKind.Unsqueeze or OpKind.Squeeze: // the same values
                    values[node.Id] = x;
                    break;
                default:
                    throw new InvalidOperationException($"calibration cannot run {node.Kind} yet");
            }
        }
        return ranges;
    }

    private static float[] Floats(double[] values) => Array.ConvertAll(values, v => (float)v);

    private static double[] Doubles(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>ONNX QuantizeLinear in float, as the kernels compute it: clamp(round_half_even(x / scale) + zero, low, high).</summary>
    public static double Quantize(double x, float scale, QuantizeCodes codes) =>
        Math.Max(codes.Low, Math.Min(codes.High, Math.Round((float)x / scale, MidpointRounding.ToEven) + codes.Zero));

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
