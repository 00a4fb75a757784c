using System;

namespace ModelCompiler;

public sealed partial class Tensor
{
    /// <summary><c>max(x, 0)</c>, element-wise.</summary>
    public Tensor Relu() => Map(ReferenceMath.Relu);

    /// <summary><c>1 / (1 + e^-x)</c>, element-wise.</summary>
    public Tensor Sigmoid() => Map(ReferenceMath.Sigmoid);

    /// <summary><c>tanh(x)</c>, element-wise.</summary>
    public Tensor Tanh() => Map(Math.Tanh);

    /// <summary>GELU, element-wise, exact (erf) or with PyTorch's tanh approximation.</summary>
    public Tensor Gelu(GeluApproximation approximate = GeluApproximation.None) => approximate == GeluApproximation.Tanh
        ? Map(ReferenceMath.GeluTanh)
        : Map(ReferenceMath.Gelu);

    /// <summary>Leaky ReLU, element-wise: <c>x</c> where <c>x ≥ 0</c>, else <c>slope · x</c> (PyTorch's <c>F.leaky_relu(x, slope)</c>).</summary>
    public Tensor LeakyRelu(float slope = 0.01f) => Map(x => x >= 0 ? x : (float)x * slope);

    /// <summary>
    /// Each value limited to <c>[min, max]</c> (PyTorch's <c>torch.clamp</c>; <c>Clamp(0, 6)</c> is ReLU6). NaN stays NaN.
    /// </summary>
    public Tensor Clamp(float min, float max)
    {
        if (!(min <= max)) throw new ArgumentException($"Clamp: min {min} is above max {max}.", nameof(min));
        return Map(x => x < min ? min : x > max ? max : x);
    }

    /// <summary>The error function, element-wise (ONNX's <c>Erf</c>; GELU is written with it when exported from PyTorch).</summary>
    public Tensor Erf() => Map(ReferenceMath.Erf);

    /// <summary>The square root, element-wise (<c>torch.sqrt</c>; ONNX's <c>Sqrt</c>). Negative values give NaN.</summary>
    public Tensor Sqrt() => Map(Math.Sqrt);

    /// <summary><c>e^x</c>, element-wise (<c>torch.exp</c>).</summary>
    public Tensor Exp() => Map(Math.Exp);

    /// <summary><c>1 / x</c>, element-wise (<c>torch.reciprocal</c>); ONNX's <c>Div</c> by an activation is a multiplication by it.</summary>
    public Tensor Reciprocal() => Map(v => 1 / v);

    /// <summary>The natural logarithm, element-wise (<c>torch.log</c>; ONNX's <c>Log</c>).</summary>
    public Tensor Log() => Map(Math.Log);

    /// <summary>The magnitude, element-wise (<c>torch.abs</c>).</summary>
    public Tensor Abs() => Map(Math.Abs);

    /// <summary>Rounding down, element-wise (<c>torch.floor</c>).</summary>
    public Tensor Floor() => Map(Math.Floor);

    /// <summary>Rounding up, element-wise (<c>torch.ceil</c>; ONNX's <c>Ceil</c>).</summary>
    public Tensor Ceil() => Map(Math.Ceiling);

    /// <summary>Rounding to the nearest integer, halves to even, element-wise (<c>torch.round</c>).</summary>
    public Tensor Round() => Map(v => Math.Round(v, MidpointRounding.ToEven));

    /// <summary>The sign, element-wise (<c>torch.sign</c>): 1, −1, or the value itself for ±0 and NaN.</summary>
    public Tensor Sign() => Map(ReferenceMath.Sign);

    /// <summary><c>log(1 + eˣ)</c>, element-wise (<c>F.softplus</c> with beta 1).</summary>
    public Tensor Softplus() => Map(ReferenceMath.Softplus);

    /// <summary><c>x / (1 + |x|)</c>, element-wise (<c>F.softsign</c>).</summary>
    public Tensor Softsign() => Map(ReferenceMath.Softsign);

    /// <summary><c>x</c> where <c>x &gt; 0</c>, else <c>alpha · (eˣ − 1)</c>, element-wise (<c>F.elu</c>).</summary>
    public Tensor Elu(float alpha = 1f) => Map(v => ReferenceMath.Elu(v, alpha));

    /// <summary>The sine, element-wise (<c>torch.sin</c>).</summary>
    public Tensor Sin() => Map(Math.Sin);

    /// <summary>The cosine, element-wise (<c>torch.cos</c>).</summary>
    public Tensor Cos() => Map(Math.Cos);

    /// <summary>The tangent, element-wise (<c>torch.tan</c>).</summary>
    public Tensor Tan() => Map(Math.Tan);

    /// <summary>The hyperbolic sine, element-wise (<c>torch.sinh</c>).</summary>
    public Tensor Sinh() => Map(Math.Sinh);

    /// <summary>The hyperbolic cosine, element-wise (<c>torch.cosh</c>).</summary>
    public Tensor Cosh() => Map(Math.Cosh);

    /// <summary>The inverse hyperbolic sine, element-wise (<c>torch.asinh</c>).</summary>
    public Tensor Asinh() => Map(ReferenceMath.Asinh);

    /// <summary>The inverse hyperbolic cosine, element-wise (<c>torch.acosh</c>): NaN below 1.</summary>
    public Tensor Acosh() => Map(ReferenceMath.Acosh);

    /// <summary>The inverse hyperbolic tangent, element-wise (<c>torch.atanh</c>).</summary>
    public Tensor Atanh() => Map(ReferenceMath.Atanh);

    /// <summary>The arcsine, element-wise (<c>torch.asin</c>): NaN outside [−1, 1].</summary>
    public Tensor Asin() => Map(Math.Asin);

    /// <summary>The arccosine, element-wise (<c>torch.acos</c>): NaN outside [−1, 1].</summary>
    public Tensor Acos() => Map(Math.Acos);

    /// <summary>The arctangent, element-wise (<c>torch.atan</c>).</summary>
    public Tensor Atan() => Map(Math.Atan);

    /// <summary><c>x / (1 + e^-x)</c> (SiLU), element-wise.</summary>
    public Tensor Silu() => Map(ReferenceMath.Silu);

    /// <summary>Dropout at inference: the identity (<paramref name="probability"/> only documents the training setting).</summary>
    public Tensor Dropout(float probability = 0.5f) => probability is < 0f or > 1f
        ? throw new ArgumentOutOfRangeException(nameof(probability), probability, "A dropout probability lies in [0, 1].")
        : this;

    /// <summary>
    /// Layer normalization over the last dimension, PyTorch's <c>nn.LayerNorm</c>: <c>(x − mean) / √(var + eps)</c>
    /// with the biased variance, times <c><paramref name="name"/>.weight</c> plus the optional <c><paramref name="name"/>.bias</c>.
    /// </summary>
    public Tensor LayerNorm(string name, float epsilon = 1e-5f)
    {
        Tensor gamma = RequireWeight(name + ".weight");
        int width = Rank == 0 ? 0 : _shape[^1];
        if (gamma.Rank != 1 || gamma._shape[0] != width)
            throw new InvalidOperationException($"LayerNorm '{name}': {name}.weight must be [{width}] but is {Format(gamma.Shape)}.");
        float[]? beta = WeightSource!.TryGetTensor(name + ".bias", out Tensor b) ? b._data : null;
        var result = new float[_data.Length];
        for (int start = 0; width > 0 && start < _data.Length; start += width)
        {
            double mean = 0, variance = 0;
            for (int j = 0; j < width; j++) mean += _data[start + j];
            mean /= width;
            for (int j = 0; j < width; j++) variance += (_data[start + j] - mean) * (_data[start + j] - mean);
            variance /= width;
            double inverse = 1 / Math.Sqrt(variance + epsilon);
            for (int j = 0; j < width; j++)
                result[start + j] = (float)((_data[start + j] - mean) * inverse * gamma._data[j] + (beta?[j] ?? 0));
        }
        return Create((int[])_shape.Clone(), result);
    }

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
