namespace ModelCompiler.TestModels;

/// <summary>A 784-wide input, GELU's tanh form, log-softmax over 17 classes.</summary>
[CompileModel(Weights = "wide_mlp.safetensors")]
public static partial class WideMlp
{
    static Tensor Forward([Shape(784)] Tensor x)
    {
        Tensor hidden = x.Linear("hidden").Gelu(GeluApproximation.Tanh);
        return hidden.Linear("classes").LogSoftmax();
    }
}
