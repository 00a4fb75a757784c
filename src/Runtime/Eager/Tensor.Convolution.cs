using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>
    /// 2-D convolution, PyTorch's <c>nn.Conv2d</c> (groups = 1) on samples <c>[C, H, W]</c>: <c>name.weight</c>
    /// <c>[out, C, kh, kw]</c>, optional <c>name.bias</c> <c>[out]</c>; zero padding.
    /// </summary>
    public Tensor Conv2d(string name, int stride = 1, int padding = 0, int dilation = 1)
    {
        if (Rank != 4) throw new InvalidOperationException($"Conv2d '{name}' needs samples of [channels, height, width]; got {Format(Shape)}.");
        Tensor weight = RequireWeight(name + ".weight");
        int batch = _shape[0], c = _shape[1], h = _shape[2], w = _shape[3];
        if (weight.Rank != 4 || weight._shape[1] != c)
            throw new InvalidOperationException($"Conv2d '{name}' expects {c} input channels ({name}.weight is {Format(weight.Shape)}), input is {Format(Shape)}.");
        int outC = weight._shape[0], kh = weight._shape[2], kw = weight._shape[3];
        int oh = (h + 2 * padding - dilation * (kh - 1) - 1) / stride + 1, ow = (w + 2 * padding - dilation * (kw - 1) - 1) / stride + 1;
        float[]? bias = WeightSource!.TryGetTensor(name + ".bias", out Tensor b) ? b._data : null;
        var result = new float[batch * outC * oh * ow];
        for (int n = 0; n < batch; n++)
        for (int o = 0; o < outC; o++)
        for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
        {
            double sum = bias?[o] ?? 0;
            for (int i = 0; i < c; i++)
            for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++)
            {
                int iy = y * stride - padding + u * dilation, ix = x * stride - padding + v * dilation;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                sum += (double)_data[((n * c + i) * h + iy) * w + ix] * weight._data[((o * c + i) * kh + u) * kw + v];
            }
            result[((n * outC + o) * oh + y) * ow + x] = (float)sum;
        }
        return Create(new[] { batch, outC, oh, ow }, result);
    }

    /// <summary>2-D max pooling, PyTorch's <c>nn.MaxPool2d(kernel, stride, padding)</c> (stride defaults to kernel; padding is −∞).</summary>
    public Tensor MaxPool2d(int kernel, int stride = 0, int padding = 0)
    {
        if (Rank != 4) throw new InvalidOperationException($"MaxPool2d needs samples of [channels, height, width]; got {Format(Shape)}.");
        if (stride == 0) stride = kernel;
        int batch = _shape[0], c = _shape[1], h = _shape[2], w = _shape[3];
        int oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1;
        var result = new float[batch * c * oh * ow];
        for (int p = 0; p < batch * c; p++)
        for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
        {
            float max = float.NegativeInfinity;
            for (int u = 0; u < kernel; u++)
            for (int v = 0; v < kernel; v++)
            {
                int iy = y * stride - padding + u, ix = x * stride - padding + v;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) max = MathF.Max(max, _data[(p * h + iy) * w + ix]);
            }
            result[(p * oh + y) * ow + x] = max;
        }
        return Create(new[] { batch, c, oh, ow }, result);
    }

    /// <summary>The mean over height and width: <c>[C, H, W] → [C]</c> (PyTorch's <c>adaptive_avg_pool2d(x, 1).flatten(1)</c>).</summary>
    public Tensor GlobalAvgPool()
    {
        if (Rank != 4) throw new InvalidOperationException($"GlobalAvgPool needs samples of [channels, height, width]; got {Format(Shape)}.");
        int batch = _shape[0], c = _shape[1], area = _shape[2] * _shape[3];
        var result = new float[batch * c];
        for (int p = 0; p < batch * c; p++)
        {
            double sum = 0;
            for (int i = 0; i < area; i++) sum += _data[p * area + i];
            result[p] = (float)(sum / area);
        }
        return Create(new[] { batch, c }, result);
    }
}
