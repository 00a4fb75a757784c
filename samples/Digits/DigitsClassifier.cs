using ModelCompiler;

namespace Digits;

/// <summary>Classifies an 8×8 grey-scale digit (pixels scaled to [0, 1]) into 0–9.</summary>
[CompileModel(Weights = "digits.safetensors")]
public static partial class DigitsClassifier
{
    // Plain C# over the runtime's Tensor API. Run as-is (ForwardEager) it is the reference;
    // the generator compiles the same body into fused kernels (Predict).
    static Tensor Forward([Shape(64)] Tensor pixels) =>
        pixels.Linear("fc1").Relu()
              .Linear("fc2").Relu()
              .Linear("out").Softmax();
}
