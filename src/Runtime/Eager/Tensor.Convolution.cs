using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary>
    /// 2-D convolution, PyTorch's <c>nn.Conv2d</c> on samples <c>[C, H, W]</c>: <c>name.weight</c> <c>[out, C/groups, kh, kw]</c>,
    /// optional <c>name.bias</c> <c>[out]</c>; zero padding. <paramref name="groups"/> splits the channels into groups
    /// convolved separately (<c>groups = C</c> is a depthwise convolution).
    /// </summary>
    public Tensor Conv2d(string name, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
    {
        if (Rank != 4) throw new InvalidOperationException($"Conv2d '{name}' needs samples of [channels, height, width]; got {Format(Shape)}.");
        Tensor weight = RequireWeight(name + ".weight");
        if (weight.Rank != 4) throw new InvalidOperationException($"Conv2d '{name}': {name}.weight must be [out, in/groups, kh, kw] but is {Format(weight.Shape)}.");
        return Convolve(name, weight, weight._shape[2], weight._shape[3], _shape[2], _shape[3], stride, padding, dilation, groups, new[] { _shape[0], weight._shape[0] });
    }

    /// <summary>
    /// 1-D convolution, PyTorch's <c>nn.Conv1d</c> on samples <c>[C, L]</c>: <c>name.weight</c> <c>[out, C/groups, k]</c>,
    /// optional <c>name.bias</c> <c>[out]</c>; zero padding.
    /// </summary>
    public Tensor Conv1d(string name, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
    {
        if (Rank != 3) throw new InvalidOperationException($"Conv1d '{name}' needs samples of [channels, length]; got {Format(Shape)}.");
        Tensor weight = RequireWeight(name + ".weight");
        if (weight.Rank != 3) throw new InvalidOperationException($"Conv1d '{name}': {name}.weight must be [out, in/groups, k] but is {Format(weight.Shape)}.");
        return Convolve(name, weight, 1, weight._shape[2], 1, _shape[2], stride, padding, dilation, groups, new[] { _shape[0], weight._shape[0] });
    }

    /// <summary>The convolution both Conv2d and Conv1d are (a 1-D one is a 2-D one of height 1 with no vertical padding).</summary>
    private Tensor Convolve(string name, Tensor weight, int kh, int kw, int h, int w, int stride, int padding, int dilation, int groups, int[] leading)
    {
        int batch = _shape[0], c = _shape[1], outC = weight._shape[0];
        if (stride <= 0 || dilation <= 0 || padding < 0)
            throw new ArgumentOutOfRangeException(nameof(stride), $"Convolution '{name}': stride and dilation must be positive and padding not negative.");
        if (groups <= 0 || c % groups != 0 || outC % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"Convolution '{name}': {c} input and {outC} output channels do not split into {groups} groups.");
        if (weight._shape[1] != c / groups)
            throw new InvalidOperationException($"Convolution '{name}' expects {weight._shape[1] * groups} input channels ({name}.weight is {Format(weight.Shape)}, groups {groups}), input is {Format(Shape)}.");
        bool oneD = Rank == 3;
        int oh = oneD ? 1 : (int)Kernels.SizeMath.WindowPositions(h, padding, kh, stride, dilation), ow = (int)Kernels.SizeMath.WindowPositions(w, padding, kw, stride, dilation);
        if (oh <= 0 || ow <= 0) throw new InvalidOperationException($"Convolution '{name}': the kernel does not fit {Format(Shape)}.");
        float[]? bias = WeightSource!.TryGetTensor(name + ".bias", out Tensor b) ? b._data : null;
        float[] result = oneD
            ? ReferenceOps.Conv2d(_data, batch, c, 1, w, weight._data, bias, outC, 1, kw, stride, padding, dilation, groups, 1, ow, verticalPadding: 0)
            : ReferenceOps.Conv2d(_data, batch, c, h, w, weight._data, bias, outC, kh, kw, stride, padding, dilation, groups, oh, ow);
        return Create(oneD ? new[] { leading[0], leading[1], ow } : new[] { leading[0], leading[1], oh, ow }, result);
    }

    /// <summary>2-D max pooling, PyTorch's <c>nn.MaxPool2d(kernel, stride, padding)</c> (stride defaults to kernel; padding is −∞).</summary>
    public Tensor MaxPool2d(int kernel, int stride = 0, int padding = 0) => Pool2d("MaxPool2d", kernel, stride, padding, average: false);

    /// <summary>
    /// 2-D average pooling, PyTorch's <c>nn.AvgPool2d(kernel, stride, padding)</c> (stride defaults to kernel; padding
    /// counts as zeros in the average, <c>count_include_pad=True</c>).
    /// </summary>
    public Tensor AvgPool2d(int kernel, int stride = 0, int padding = 0) => Pool2d("AvgPool2d", kernel, stride, padding, average: true);

    private Tensor Pool2d(string what, int kernel, int stride, int padding, bool average)
    {
        if (Rank != 4) throw new InvalidOperationException($"{what} needs samples of [channels, height, width]; got {Format(Shape)}.");
        if (stride == 0) stride = kernel;
        if (kernel <= 0 || stride <= 0 || padding < 0 || 2 * padding > kernel)
            throw new ArgumentOutOfRangeException(nameof(kernel), $"{what}: kernel and stride must be positive, padding at most half the kernel.");
        int batch = _shape[0], c = _shape[1], h = _shape[2], w = _shape[3];
        int oh = (int)Kernels.SizeMath.WindowPositions(h, padding, kernel, stride), ow = (int)Kernels.SizeMath.WindowPositions(w, padding, kernel, stride);
        if (oh <= 0 || ow <= 0) throw new InvalidOperationException($"{what}: a {kernel}×{kernel} window does not fit {Format(Shape)}.");
        return Create(new[] { batch, c, oh, ow }, ReferenceOps.Pool2d(_data, batch * c, h, w, kernel, stride, padding, oh, ow, average));
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
