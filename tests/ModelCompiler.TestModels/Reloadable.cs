namespace ModelCompiler.TestModels;

// Models whose weights WeightsReloadTests replaces at run time (LoadWeights). They are the tests' own, so that
// replacing their weights never races another test's Predict.

/// <summary>OddMlp read from its file at start-up, whose weights the tests replace.</summary>
[CompileModel(Weights = "odd_mlp.safetensors", WeightsStorage = WeightsStorage.File)]
public static partial class ReloadableMlp
{
    static Tensor Forward([Shape(17)] Tensor x) =>
        x.Linear("l1").Gelu()
         .Linear("l2").Tanh()
         .Linear("l3").Sigmoid();
}

/// <summary>BnCnn with its weights embedded (BatchNorm folded into the convolutions at load), replaced by the tests.</summary>
[CompileModel(Weights = "bn_cnn.safetensors")]
public static partial class ReloadableBnCnn
{
    static Tensor Forward([Shape(1, 8, 8)] Tensor x) =>
        x.Conv2d("conv1", padding: 1).BatchNorm("bn1").Relu().MaxPool2d(2)
         .Conv2d("conv2", padding: 1).BatchNorm("bn2").Relu()
         .GlobalAvgPool().BatchNorm("bn3").Linear("head");
}

/// <summary>TinyGpt2 with its weights embedded, replaced by the tests: its Conv1D weights are transposed again at load.</summary>
[CompileModel(Weights = "tiny_gpt2.safetensors")]
public static partial class ReloadableGpt2
{
    static Tensor Forward([Shape(1)] Tensor token) => TinyGpt2.Decoder(token);
}
