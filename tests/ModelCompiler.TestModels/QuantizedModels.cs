namespace ModelCompiler.TestModels;

/// <summary>Int8 with only ReLU between layers: the compiled model must equal its eager reference bit for bit.</summary>
[CompileModel(Weights = "relu_mlp.safetensors", Quantize = Quantization.Int8)]
public static partial class ReluMlpInt8
{
    static Tensor Forward([Shape(17)] Tensor x) =>
        x.Linear("a").Relu().Linear("b").Relu().Linear("c");
}

/// <summary>WideMlp in int8, with its last layer kept in float32.</summary>
[CompileModel(Weights = "wide_mlp.safetensors", Quantize = Quantization.Int8, FloatLayers = new[] { "classes" })]
public static partial class WideMlpInt8
{
    static Tensor Forward([Shape(784)] Tensor x) =>
        x.Linear("hidden").Gelu(GeluApproximation.Tanh).Linear("classes").LogSoftmax();
}

/// <summary>Zoo in int8: Linear over 2-D samples (4 rows per sample), broadcasting, a loop and a helper.</summary>
[CompileModel(Weights = "zoo.safetensors", Quantize = Quantization.Int8)]
public static partial class ZooInt8
{
    static Tensor Forward([Shape(4, 5)] Tensor x)
    {
        var h = x.Linear("proj").Relu();
        h = h * x.Parameter("scale") + 0.5f;
        var f = h.Flatten();
        for (int i = 0; i < 2; i++)
            f = f.Linear($"mix{i}").Tanh();
        var y = f.Linear("head.fc").Gelu();
        y = y + y.Sigmoid();
        return y.Reshape(2, 3).LogSoftmax() * 2f;
    }
}

/// <summary>OddMlp with int4 weights: K of 17, 100 and 3, none a multiple of the 32-weight block.</summary>
[CompileModel(Weights = "odd_mlp.safetensors", Quantize = Quantization.Int4)]
public static partial class OddMlpInt4
{
    static Tensor Forward([Shape(17)] Tensor x) =>
        x.Linear("l1").Gelu().Linear("l2").Tanh().Linear("l3").Sigmoid();
}

/// <summary>ReluMlpInt8 with activation ranges calibrated at build time: still equal to its eager reference bit for bit.</summary>
[CompileModel(Weights = "relu_mlp.safetensors", Quantize = Quantization.Int8Static, Calibration = "relu_mlp.calibration.safetensors")]
public static partial class ReluMlpInt8Static
{
    static Tensor Forward([Shape(17)] Tensor x) =>
        x.Linear("a").Relu().Linear("b").Relu().Linear("c");
}

/// <summary>The Digits classifier with ranges calibrated on 256 training images.</summary>
[CompileModel(Weights = "digits.safetensors", Quantize = Quantization.Int8Static, Calibration = "digits_calibration.safetensors")]
public static partial class DigitsInt8Static
{
    static Tensor Forward([Shape(64)] Tensor pixels) => Digits.DigitsClassifier.Network(pixels);
}
