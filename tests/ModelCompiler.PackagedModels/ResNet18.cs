namespace ModelCompiler.PackagedModels;

/// <summary>
/// ResNet-18 as ML.NET ships it (Microsoft.ML.DnnImageFeaturizer.ResNet18): the image features before the classifier,
/// [3, 224, 224] in, [512, 1, 1] out. Conv with asymmetric padding, BatchNormalization (opset 8), Relu, Add, MaxPool, AveragePool.
/// </summary>
[CompileModel(Onnx = "ResNet18.onnx")]
public static partial class ResNet18;
