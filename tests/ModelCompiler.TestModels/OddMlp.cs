namespace ModelCompiler.TestModels;

/// <summary>Sizes that are no multiple of any vector width: 17 → 100 → 3 → 1 (the last layer has no bias).</summary>
[CompileModel(Weights = "odd_mlp.safetensors")]
public static partial class OddMlp
{
    static Tensor Forward([Shape(17)] Tensor x) =>
        x.Linear("l1").Gelu()
         .Linear("l2").Tanh()
         .Linear("l3").Sigmoid();
}
