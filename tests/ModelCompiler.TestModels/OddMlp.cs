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

/// <summary>OddMlp with its weights read at start-up from odd_mlp.safetensors beside the application.</summary>
[CompileModel(Weights = "odd_mlp.safetensors", WeightsStorage = WeightsStorage.File)]
public static partial class OddMlpFromFile
{
    static Tensor Forward([Shape(17)] Tensor x) =>
        x.Linear("l1").Gelu()
         .Linear("l2").Tanh()
         .Linear("l3").Sigmoid();
}

/// <summary>ReluMlpInt8 read from its file: int8 quantization done at start-up must equal the build-time one.</summary>
[CompileModel(Weights = "relu_mlp.safetensors", Quantize = Quantization.Int8, WeightsStorage = WeightsStorage.File)]
public static partial class ReluMlpInt8FromFile
{
    static Tensor Forward([Shape(17)] Tensor x) =>
        x.Linear("a").Relu().Linear("b").Relu().Linear("c");
}
