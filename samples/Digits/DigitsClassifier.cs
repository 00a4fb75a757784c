using ModelCompiler;

namespace Digits;

/// <summary>Classifies an 8×8 grey-scale digit (pixels scaled to [0, 1]) into 0–9.</summary>
[CompileModel(Weights = "digits.safetensors")]
public static partial class DigitsClassifier
{
    // Plain C# over the runtime's Tensor API. Run as-is (ForwardEager) it is the reference;
    // the generator compiles the same body into fused kernels (Predict).
    static Tensor Forward([Shape(64)] Tensor pixels) => Network(pixels);

    /// <summary>The network, 64 → 64 → 32 → 10, shared by the float32 and the int8 model.</summary>
    internal static Tensor Network(Tensor pixels) =>
        pixels.Linear("fc1").Relu()
              .Linear("fc2").Relu()
              .Linear("out").Softmax();
}

/// <summary>The same classifier with int8 weights, quantized at build time (a quarter of the weight bytes).</summary>
[CompileModel(Weights = "digits.safetensors", Quantize = Quantization.Int8)]
public static partial class DigitsClassifierInt8
{
    static Tensor Forward([Shape(64)] Tensor pixels) => DigitsClassifier.Network(pixels);
}

/// <summary>The same classifier with int4 weights (32 per fp16 scale): an eighth of the weight bytes in the assembly.</summary>
[CompileModel(Weights = "digits.safetensors", Quantize = Quantization.Int4)]
public static partial class DigitsClassifierInt4
{
    static Tensor Forward([Shape(64)] Tensor pixels) => DigitsClassifier.Network(pixels);
}
