namespace ModelCompiler.TestModels;

/// <summary>
/// A ResNet basic block, 64 channels on 24×24: two 3×3 convolutions through Winograd F(2×2, 3×3), BatchNorm folded into
/// their filters in the Winograd domain, ReLU, and the residual connection.
/// </summary>
[CompileModel(Weights = "res_block.safetensors")]
public static partial class ResBlock
{
    static Tensor Forward([Shape(64, 24, 24)] Tensor x)
    {
        Tensor h = x.Conv2d("conv1", padding: 1).BatchNorm("bn1").Relu();
        return (h.Conv2d("conv2", padding: 1).BatchNorm("bn2") + x).Relu();
    }
}
