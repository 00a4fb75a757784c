namespace ModelCompiler.TestModels;

/// <summary>A transformer-style block's pieces: per-row Linear over [5, 8] samples, LayerNorm, SiLU, Dropout.</summary>
[CompileModel(Weights = "norm_mlp.safetensors")]
public static partial class NormMlp
{
    static Tensor Forward([Shape(5, 8)] Tensor x) =>
        x.Linear("proj").LayerNorm("norm").Silu().Dropout(0.1f).Linear("out");
}
