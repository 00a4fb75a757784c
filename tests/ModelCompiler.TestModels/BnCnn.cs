namespace ModelCompiler.TestModels;

/// <summary>BatchNorm after convolutions (folded into their weights at build time) and after pooling (a scale and shift).</summary>
[CompileModel(Weights = "bn_cnn.safetensors")]
public static partial class BnCnn
{
    static Tensor Forward([Shape(1, 8, 8)] Tensor x) =>
        x.Conv2d("conv1", padding: 1).BatchNorm("bn1").Relu().MaxPool2d(2)
         .Conv2d("conv2", padding: 1).BatchNorm("bn2").Relu()
         .GlobalAvgPool().BatchNorm("bn3").Linear("head");
}
