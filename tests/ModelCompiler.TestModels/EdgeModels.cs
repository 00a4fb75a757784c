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
