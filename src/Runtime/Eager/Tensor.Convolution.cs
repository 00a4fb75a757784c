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

public sealed partial class Tensor
{
    /// <summary>
    /// Inference batch normalization over the first dimension of each sample (channels), PyTorch's
    /// <c>nn.BatchNorm1d</c>/<c>nn.BatchNorm2d</c> in <c>eval()</c>: <c>(x − running_mean) / √(running_var + eps) · weight + bias</c>,
    /// reading <c>name.weight</c>, <c>name.bias</c>, <c>name.running_mean</c> and <c>name.running_var</c>.
    /// </summary>
    public Tensor BatchNorm(string name, float epsilon = 1e-5f)
    {
        if (Rank < 2) throw new InvalidOperationException($"BatchNorm '{name}' needs samples with a channel dimension; got {Format(Shape)}.");
        int channels = _shape[1], inner = _data.Length / (_shape[0] * channels);
        float[] weight = RequireWeight(name + ".weight")._data, bias = RequireWeight(name + ".bias")._data;
        float[] mean = RequireWeight(name + ".running_mean")._data, variance = RequireWeight(name + ".running_var")._data;
        if (weight.Length != channels || bias.Length != channels || mean.Length != channels || variance.Length != channels)
            throw new InvalidOperationException($"BatchNorm '{name}': its tensors must have {channels} values, one per channel.");
        var result = new float[_data.Length];
        for (int n = 0; n < _shape[0]; n++)
        for (int c = 0; c < channels; c++)
        {
            double inverse = 1 / Math.Sqrt(variance[c] + (double)epsilon);
            for (int i = 0; i < inner; i++)
            {
                int at = (n * channels + c) * inner + i;
                result[at] = (float)((_data[at] - mean[c]) * inverse * weight[c] + bias[c]);
            }
        }
        return Create((int[])_shape.Clone(), result);
    }
}
