
namespace ModelCompiler.Benchmarks;

/// <summary>The 784-512-256-10 MLP (MNIST-sized), random weights from make_models.py.</summary>
[CompileModel(Weights = "mlp784.safetensors")]
public static partial class Mlp784
{
    static Tensor Forward([Shape(784)] Tensor x) =>
        x.Linear("fc1").Relu()
         .Linear("fc2").Relu()
         .Linear("fc3");
}

/// <summary>The same MLP with int8 weights quantized at build time.</summary>
[CompileModel(Weights = "mlp784.safetensors", Quantize = Quantization.Int8)]
public static partial class Mlp784Int8
{
    static Tensor Forward([Shape(784)] Tensor x) =>
        x.Linear("fc1").Relu()
         .Linear("fc2").Relu()
         .Linear("fc3");
}

/// <summary>The same MLP compiled from its ONNX export (Gemm, Relu): it should run exactly as fast as the C# declaration.</summary>
[CompileModel(Onnx = "mlp784.onnx")]
public static partial class Mlp784Onnx;
