using ModelCompiler;

namespace Serving;

/// <summary>The DigitsCnn sample's network, compiled from its ONNX export: [1, 8, 8] pixels in, ten probabilities out.</summary>
[CompileModel(Onnx = "digits_cnn.onnx")]
public static partial class DigitsModel;
