using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary><c>max(x, 0)</c>, element-wise.</summary>
    public Tensor Relu() => Map(x => x > 0 ? x : (x <= 0 ? 0 : x));

    /// <summary><c>1 / (1 + e^-x)</c>, element-wise.</summary>
    public Tensor Sigmoid() => Map(x => 1.0 / (1.0 + Math.Exp(-x)));

    /// <summary><c>tanh(x)</c>, element-wise.</summary>
    public Tensor Tanh() => Map(Math.Tanh);

    /// <summary>GELU, element-wise, exact (erf) or with PyTorch's tanh approximation.</summary>
    public Tensor Gelu(GeluApproximation approximate = GeluApproximation.None) => approximate == GeluApproximation.Tanh
        ? Map(x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))))
        : Map(x => 0.5 * x * (1 + ReferenceMath.Erf(x / Math.Sqrt(2))));

    /// <summary>Softmax over the last dimension.</summary>
    public Tensor Softmax() => SoftmaxCore(log: false);

    /// <summary>Log-softmax over the last dimension.</summary>
    public Tensor LogSoftmax() => SoftmaxCore(log: true);

    private Tensor SoftmaxCore(bool log)
    {
        if (Rank == 0) throw new InvalidOperationException("Softmax needs at least one dimension.");
        int width = _shape[^1];
        var result = new float[_data.Length];
        for (int start = 0; start + width <= _data.Length && width > 0; start += width)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < width; j++) max = Math.Max(max, _data[start + j]);
            double sum = 0;
            for (int j = 0; j < width; j++) sum += Math.Exp(_data[start + j] - max);
            for (int j = 0; j < width; j++)
            {
                double shifted = _data[start + j] - max;
                result[start + j] = (float)(log ? shifted - Math.Log(sum) : Math.Exp(shifted) / sum);
            }
        }
        return Create((int[])_shape.Clone(), result);
    }
}
