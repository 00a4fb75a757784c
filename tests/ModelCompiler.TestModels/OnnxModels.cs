namespace ModelCompiler.TestModels;

/// <summary>The benchmark's 784-512-256-10 MLP as PyTorch exported it to ONNX (Gemm, Relu): compiled from the graph, no Forward.</summary>
[CompileModel(Onnx = "mlp784.onnx")]
public static partial class Mlp784Onnx;

/// <summary>LeNet-5 from ONNX (Conv, Relu, MaxPool, Flatten, Gemm).</summary>
[CompileModel(Onnx = "lenet5.onnx")]
public static partial class LeNet5Onnx;

/// <summary>The DigitsCnn sample from ONNX (its BatchNorms already folded into the convolutions by PyTorch's exporter).</summary>
[CompileModel(Onnx = "digits_cnn.onnx")]
public static partial class DigitsCnnOnnx;
