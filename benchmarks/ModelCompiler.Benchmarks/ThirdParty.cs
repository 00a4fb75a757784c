namespace ModelCompiler.Benchmarks;

// Third-party ONNX files (tests/ModelCompiler.TestModels/Models/THIRD-PARTY.md), compiled here as the tests compile them.

[CompileModel(Onnx = "ch_PP-OCRv3_det_infer.onnx", Dims = new[] { "p2o.DynamicDimension.1=320", "p2o.DynamicDimension.2=320" })]
public static partial class OcrDetection;

[CompileModel(Onnx = "ch_ppocr_mobile_v2.0_cls_infer.onnx", Dims = new[] { "p2o.DynamicDimension.1=48", "p2o.DynamicDimension.2=192" })]
public static partial class OcrOrientation;

[CompileModel(Onnx = "melspectrogram.onnx", Dims = new[] { "batch_size=1", "samples=1760" })]
public static partial class MelSpectrogram;

[CompileModel(Onnx = "speech_embedding.onnx")]
public static partial class SpeechEmbedding;

[CompileModel(Onnx = "encoder_layer_sf.onnx", Dims = new[] { "batch=1" })]
public static partial class EncoderLayerSequenceFirst;

[CompileModel(Onnx = "silero_vad_op18_ifless.onnx", Dims = new[] { "batch=1", "sequence=576" })]
public static partial class SileroVad;
