// Compiled into both the runtime (the eager reference) and the generator (which runs models at build time to
// calibrate Int8Static): one definition of what each of these ops computes, so the two cannot drift apart.
// Plain loops, double accumulation within an op, one rounding to float per output.
using System;

namespace ModelCompiler;

/// <summary>
/// Reference implementations of the layout, matrix, attention, convolution and pooling ops, on whole row-major
/// arrays (batch included). Chosen for clarity and accuracy, not speed: they are what compiled kernels are tested against.
/// </summary>
internal static class ReferenceOps
{
    /// <summary>
    /// Copies the elements of an n-dimensional <paramref name="shape"/> from <paramref name="source"/> to
    /// <paramref name="destination"/>, each side addressed by its own offset and strides (in elements, one per dimension).
    /// Transpose, permute, slice and concatenation are all this copy with different strides.
    /// </summary>
    public static void StridedCopy(float[] source, int sourceOffset, int[] sourceStrides, float[] destination, int destinationOffset, int[] destinationStrides, int[] shape)
    {
        long count = 1;
        foreach (int d in shape) count *= d;
        var index = new int[shape.Length];
        for (long e = 0; e < count; e++)
        {
            int s = sourceOffset, t = destinationOffset;
            for (int d = 0; d < shape.Length; d++)
            {
                s += index[d] * sourceStrides[d];
                t += index[d] * destinationStrides[d];
            }
            destination[t] = source[s];
            for (int d = shape.Length - 1; d >= 0 && ++index[d] == shape[d]; d--) index[d] = 0;
        }
    }

    /// <summary>Row-major strides of a dense <paramref name="shape"/>.</summary>
    public static int[] DenseStrides(int[] shape)
    {
        var strides = new int[shape.Length];
        int stride = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = stride;
            stride *= shape[d];
        }
        return strides;
    }

    /// <summary>
    /// <paramref name="count"/> matrix products <c>[m, k] · [k, n]</c>: the i-th reads <paramref name="a"/> at
    /// <c>i·m·k</c> and <paramref name="b"/> at <c>i·bStride</c> (0: one matrix for all; with <paramref name="bPeriod"/>, at
    /// <c>(i mod bPeriod)·bStride</c>).
    /// </summary>
    public static float[] MatMul(float[] a, float[] b, int count, int m, int k, int n, int bStride, int bPeriod = 0)
    {
        var c = new float[count * m * n];
        for (int p = 0; p < count; p++)
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int t = 0; t < k; t++) sum += (double)a[(p * m + i) * k + t] * b[(bPeriod > 0 ? p % bPeriod : p) * bStride + t * n + j];
            c[(p * m + i) * n + j] = (float)sum;
        }
        return c;
    }

    /// <summary>
    /// Scaled dot-product attention, <c>softmax(q·kᵀ/√e + mask)·v</c>, for every (sample, head) pair. Each operand is
    /// addressed by <see cref="AttentionGeometry"/>'s strides; <paramref name="mask"/> (optional, additive) is
    /// <c>[queries, keys]</c> per sample (or one for all when its sample stride is 0); <c>causal</c> hides key j from
    /// query i when j &gt; i. A row whose keys are all hidden is NaN, as in PyTorch. Keys and values start at
    /// <paramref name="kOffset"/> and <paramref name="vOffset"/> (PyTorch's packed projection keeps all three in one tensor).
    /// </summary>
    public static void Attention(float[] q, float[] k, int kOffset, float[] v, int vOffset, float[]? mask, float[] output, int samples, AttentionGeometry g)
    {
        var scores = new double[g.Keys];
        double scale = 1 / Math.Sqrt(g.HeadSize);
        for (int s = 0; s < samples; s++)
        for (int h = 0; h < g.Heads; h++)
        for (int i = 0; i < g.Queries; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < g.Keys; j++)
            {
                double dot = 0;
                for (int c = 0; c < g.HeadSize; c++)
                    dot += (double)q[s * g.QSample + h * g.QHead + i * g.QRow + c] * k[kOffset + s * g.KSample + h * g.KHead + j * g.KRow + c];
                double score = dot * scale;
                if (mask is not null) score += mask[s * g.MaskSample + i * g.MaskRow + j];
                if (g.Causal && j > i) score = double.NegativeInfinity;
                scores[j] = score;
                max = Math.Max(max, score);
            }
            double sum = 0;
            for (int j = 0; j < g.Keys; j++) sum += scores[j] = Math.Exp(scores[j] - max);
            for (int c = 0; c < g.ValueSize; c++)
            {
                double value = 0;
                for (int j = 0; j < g.Keys; j++) value += scores[j] / sum * v[vOffset + s * g.VSample + h * g.VHead + j * g.VRow + c];
                output[s * g.OSample + h * g.OHead + i * g.ORow + c] = (float)value;
            }
        }
    }

    /// <summary>
    /// PyTorch's <c>conv2d</c> with zero padding and groups: <paramref name="x"/> is <c>[batch, c, h, w]</c>,
    /// <paramref name="weight"/> <c>[out, c/groups, kh, kw]</c>. <paramref name="verticalPadding"/>, when not negative,
    /// replaces <paramref name="padding"/> at the top and bottom (0 for a 1-D convolution, run as height 1).
    /// </summary>
    public static float[] Conv2d(float[] x, int batch, int c, int h, int w, float[] weight, float[]? bias, int outC, int kh, int kw,
        int stride, int padding, int dilation, int groups, int oh, int ow, int verticalPadding = -1, int verticalStride = -1)
    {
        int padTop = verticalPadding < 0 ? padding : verticalPadding, strideDown = verticalStride < 0 ? stride : verticalStride;
        int cPerGroup = c / groups, outPerGroup = outC / groups;
        var result = new float[batch * outC * oh * ow];
        for (int n = 0; n < batch; n++)
        for (int o = 0; o < outC; o++)
        for (int y = 0; y < oh; y++)
        for (int xo = 0; xo < ow; xo++)
        {
            double sum = bias?[o] ?? 0;
            int first = o / outPerGroup * cPerGroup;
            for (int i = 0; i < cPerGroup; i++)
            for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++)
            {
                int iy = y * strideDown - padTop + u * dilation, ix = xo * stride - padding + v * dilation;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                sum += (double)x[((n * c + first + i) * h + iy) * w + ix] * weight[((o * cPerGroup + i) * kh + u) * kw + v];
            }
            result[((n * outC + o) * oh + y) * ow + xo] = (float)sum;
        }
        return result;
    }

    /// <summary>
    /// Max or average pooling of <paramref name="planes"/> planes <c>[h, w]</c>, PyTorch's <c>max_pool2d</c> (padding
    /// is −∞) and <c>avg_pool2d</c> (<c>count_include_pad=True</c>: padding counts as zeros in the average).
    /// </summary>
    public static float[] Pool2d(float[] x, int planes, int h, int w, int kernel, int stride, int padding, int oh, int ow, bool average)
    {
        var result = new float[planes * oh * ow];
        for (int p = 0; p < planes; p++)
        for (int y = 0; y < oh; y++)
        for (int xo = 0; xo < ow; xo++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int u = 0; u < kernel; u++)
            for (int v = 0; v < kernel; v++)
            {
                int iy = y * stride - padding + u, ix = xo * stride - padding + v;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                float value = x[(p * h + iy) * w + ix];
                max = Math.Max(max, value);
                sum += value;
            }
            result[(p * oh + y) * ow + xo] = (float)(average ? sum / (kernel * kernel) : max);
        }
        return result;
    }

    /// <summary>
    /// Max or average pooling along one axis of <c>[outer, length, inner]</c> (ONNX MaxPool and AveragePool, one spatial
    /// axis at a time; Kernels.AxisPool): taps at <c>j·stride − padBegin + t·dilation</c>, padding −∞ (max) or 0 (sum),
    /// the average dividing by the taps inside <c>[countFrom, countTo)</c>.
    /// </summary>
    public static float[] AxisPool(float[] x, int outer, int length, int inner, int window, int stride, int padBegin, int dilation,
        int outLength, bool max, int countFrom, int countTo)
    {
        var result = new float[outer * outLength * inner];
        for (int o = 0; o < outer; o++)
        for (int j = 0; j < outLength; j++)
        for (int i = 0; i < inner; i++)
        {
            double best = double.NegativeInfinity, sum = 0;
            int counted = 0;
            for (int t = 0; t < window; t++)
            {
                int position = j * stride - padBegin + t * dilation;
                if (position >= countFrom && position < countTo) counted++;
                if (position < 0 || position >= length) continue;
                float value = x[(o * length + position) * inner + i];
                best = float.IsNaN(value) || double.IsNaN(best) ? double.NaN : Math.Max(best, value);
                sum += value;
            }
            result[(o * outLength + j) * inner + i] = (float)(max ? best : sum / Math.Max(counted, 1));
        }
        return result;
    }
}

/// <summary>
/// Where attention finds its operands: for queries, keys, values and the output, the stride (in floats) between
/// samples, heads and rows; the mask's strides between samples (0: one mask for all) and rows. Compiled code passes
/// the same numbers to <c>Kernels.Attention</c>.
/// </summary>
#if MODELCOMPILER_GENERATOR
internal
#else
public
#endif
sealed record AttentionGeometry(
    int Heads, int Queries, int Keys, int HeadSize, int ValueSize,
    int QSample, int QHead, int QRow,
    int KSample, int KHead, int KRow,
    int VSample, int VHead, int VRow,
    int OSample, int OHead, int ORow,
    int MaskSample, int MaskRow, bool Causal)
{
    /// <summary>
    /// Multi-head self-attention on PyTorch's packed projection: a sample is <c>[sequence, 3·heads·d]</c> (queries,
    /// keys, values, head-major within each) and its output <c>[sequence, heads·d]</c>.
    /// </summary>
    public static AttentionGeometry Packed(int sequence, int heads, int headSize, int maskSample, bool causal)
    {
        int model = heads * headSize;
        return new AttentionGeometry(heads, sequence, sequence, headSize, headSize,
            sequence * 3 * model, headSize, 3 * model,
            sequence * 3 * model, headSize, 3 * model,
            sequence * 3 * model, headSize, 3 * model,
            sequence * model, headSize, model,
            maskSample, sequence, causal);
    }

    /// <summary>
    /// Attention on separate tensors <c>q [heads…, L, e]</c>, <c>k [heads…, S, e]</c>, <c>v [heads…, S, ev]</c> per sample
    /// (every leading dimension counts as a head), output <c>[heads…, L, ev]</c>.
    /// </summary>
    public static AttentionGeometry Separate(int heads, int queries, int keys, int headSize, int valueSize, int maskSample, bool causal) =>
        new(heads, queries, keys, headSize, valueSize,
            heads * queries * headSize, queries * headSize, headSize,
            heads * keys * headSize, keys * headSize, headSize,
            heads * keys * valueSize, keys * valueSize, valueSize,
            heads * queries * valueSize, queries * valueSize, valueSize,
            maskSample, keys, causal);
}
