using ModelCompiler;

namespace DigitsCnn;

/// <summary>Classifies an 8×8 grey-scale digit, given as [1, 8, 8] with pixels in [0, 1], into 0–9.</summary>
[CompileModel(Weights = "digits_cnn.safetensors")]
public static partial class DigitsCnnClassifier
{
    // Each BatchNorm is folded into the convolution before it at build time.
    static Tensor Forward([Shape(1, 8, 8)] Tensor pixels) =>
        pixels.Conv2d("conv1", padding: 1).BatchNorm("bn1").Relu().MaxPool2d(2)
              .Conv2d("conv2", padding: 1).BatchNorm("bn2").Relu()
              .GlobalAvgPool()
              .Linear("head").Softmax();
}
