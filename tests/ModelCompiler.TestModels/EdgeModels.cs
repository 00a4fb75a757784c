namespace ModelCompiler.TestModels;

/// <summary>Forward returns its input reshaped: no kernel but a copy to the output.</summary>
[CompileModel(Weights = "odd_mlp.safetensors")]
public static partial class ReshapeOnly
{
    static Tensor Forward([Shape(3, 4)] Tensor x) => x.Reshape(12);
}

/// <summary>Element-wise ops with no Linear: one fused element-wise kernel straight into the output.</summary>
[CompileModel(Weights = "odd_mlp.safetensors")]
public static partial class ElementwiseOnly
{
    static Tensor Forward([Shape(37)] Tensor x) => (x.Relu() * 2f + 1f).Tanh();
}

/// <summary>A value read by two later kernels (it must stay live in the arena), and a layer applied twice.</summary>
[CompileModel(Weights = "relu_mlp.safetensors")]
public static partial class TwoReaders
{
    static Tensor Forward([Shape(17)] Tensor x)
    {
        Tensor h = x.Linear("a");
        Tensor g = h.Relu();
        return (h * g).Linear("b") + g.Linear("b");
    }
}

/// <summary>Arithmetic on weight tensors alone, folded into constants at build time: no kernel computes it.</summary>
[CompileModel(Weights = "zoo.safetensors")]
public static partial class FoldedConstants
{
    static Tensor Forward([Shape(4, 5)] Tensor x)
    {
        Tensor scale = (x.Parameter("scale") * 0.5f + 1f).Sigmoid();   // [8], folded
        Tensor both = scale * x.Parameter("scale");                     // [8], folded from two constants
        return x.Linear("proj").Relu() * both + scale.Tanh();          // [4, 8]
    }
}

/// <summary>Leaky ReLU and clamping (ReLU6) fused into Linear epilogues and into a standalone element-wise kernel.</summary>
[CompileModel(Weights = "odd_mlp.safetensors")]
public static partial class LeakyClamp
{
    static Tensor Forward([Shape(17)] Tensor x)
    {
        Tensor h = x.Linear("l1").LeakyRelu(0.2f).Clamp(-0.5f, 6f);   // [100]
        Tensor g = x.Clamp(0f, 6f).LeakyRelu(3f);                      // no producer: one element-wise kernel
        return h.Linear("l2").Clamp(-1f, 1f) * 2f + g.Linear("l1").Mean(0).Reshape(1).Clamp(-100f, 100f);
    }
}

/// <summary>Sqrt, Exp and Reciprocal fused into Linear epilogues and into a standalone element-wise kernel.</summary>
[CompileModel(Weights = "odd_mlp.safetensors")]
public static partial class PositiveMath
{
    static Tensor Forward([Shape(17)] Tensor x)
    {
        Tensor h = x.Linear("l1").Sigmoid().Sqrt() + x.Linear("l1").Tanh().Exp();   // [100]
        Tensor g = (x.Sigmoid() + 0.5f).Reciprocal().Sqrt();                         // no producer: one element-wise kernel
        return h.Linear("l2").Tanh().Exp().Reciprocal() + g.Mean(0).Reshape(1);
    }
}

/// <summary>Unsqueeze and Squeeze (views, no kernel), and a mean kept as a dimension of size 1 that broadcasts back.</summary>
[CompileModel(Weights = "zoo.safetensors")]
public static partial class SqueezeMean
{
    static Tensor Forward([Shape(4, 5)] Tensor x)
    {
        Tensor h = x.Linear("proj").Unsqueeze(0).Squeeze(0);   // [4, 8]
        Tensor centre = h.Mean(1).Unsqueeze(-1);              // [4, 1]
        return (h + centre * -1f).Unsqueeze(1).Relu();         // [4, 1, 8]
    }
}

/// <summary>
/// Residual Adds right after a Linear: the GPU code folds each into the GEMM's store. The first Linear's output is read
/// again after the Add (its store stays), the second's only by the Add (its store goes).
/// </summary>
[CompileModel(Weights = "relu_mlp.safetensors")]
public static partial class ResidualLinear
{
    static Tensor Forward([Shape(17)] Tensor x) => Network(x);

    internal static Tensor Network(Tensor x)
    {
        Tensor g = x.Linear("a").Relu();
        Tensor r = (g * 0.5f).Linear("b");
        Tensor h = g.Linear("b");
        Tensor kept = (h + r).Relu().Concat(h.Sigmoid(), 0);
        Tensor s = (g * -0.25f).Linear("b");
        return kept.Concat(((g + 1f).Linear("b").Tanh() + s) * 2f, 0);
    }
}

/// <summary>A residual Add right after a convolution: the convolution adds it in its store, then the ReLU (on the GPU too, an implicit GEMM).</summary>
[CompileModel(Weights = "small_cnn.safetensors")]
public static partial class ConvResidual
{
    static Tensor Forward([Shape(1, 8, 8)] Tensor x)
    {
        Tensor r = x.Conv2d("conv1", padding: 2, dilation: 2);
        Tensor h = x.Conv2d("conv1", padding: 1);
        return (h + r).Relu();
    }
}

/// <summary>ResidualLinear with int8 weights: the Adds fold into the int8 GEMM's store on the GPU.</summary>
[CompileModel(Weights = "relu_mlp.safetensors", Quantize = Quantization.Int8)]
public static partial class ResidualLinearInt8
{
    static Tensor Forward([Shape(17)] Tensor x) => ResidualLinear.Network(x);
}

/// <summary>
/// Every element-wise and row op applied to the input itself, so that no Linear turns a NaN into a row of NaN first:
/// WidthCheck feeds NaN, ±Inf, ±0 and denormals through it and compares each op with the eager reference. Each op alone
/// (a one-step operator), a chain after a scalar step (a multi-step operator, the struct a GEMM's store inlines), a
/// residual Add with an epilogue (Broadcast), softmax, log-softmax and the pools.
/// </summary>
[CompileModel(Weights = "odd_mlp.safetensors")]
public static partial class SpecialValues
{
    static Tensor Forward([Shape(4, 16)] Tensor x)
    {
        Tensor each = x.Relu().Concat(x.Sigmoid(), 1).Concat(x.Tanh(), 1).Concat(x.Gelu(), 1)
            .Concat(x.Gelu(GeluApproximation.Tanh), 1).Concat(x.Silu(), 1).Concat(x.Erf(), 1).Concat(x.Sqrt(), 1)
            .Concat(x.Exp(), 1).Concat(x.Reciprocal(), 1).Concat(x.LeakyRelu(0.1f), 1).Concat(x.Clamp(-1f, 1f), 1);   // [4, 192]
        Tensor chained = (x * 1f).Relu().Clamp(-1f, 0.75f).Concat((x + 0f).LeakyRelu(0.2f).Sigmoid(), 1)
            .Concat((x * 1f).Tanh().Sqrt(), 1);                                                                    // [4, 48]
        Tensor residual = (x + x.Sigmoid()).Relu();                                                             // [4, 16]
        Tensor rows = x.Softmax().Concat(x.LogSoftmax(), 1);                                                    // [4, 32]
        Tensor planes = x.Reshape(1, 4, 16);
        Tensor pools = planes.MaxPool2d(2).Flatten().Concat(planes.AvgPool2d(2).Flatten(), 0).Reshape(4, 8);   // [4, 8]
        return each.Concat(chained, 1).Concat(residual, 1).Concat(rows, 1).Concat(pools, 1).Flatten();
    }
}
