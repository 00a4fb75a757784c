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

/// <summary>
/// A small transformer-style graph exported with opset 17 (make_models.py): Linear layers on 3-D inputs (MatMul + Add),
/// exact GELU as PyTorch writes it (Div, Erf, Add, Mul, Mul), LayerNormalization, Transpose, Concat, Softmax.
/// </summary>
[CompileModel(Onnx = "onnx_mix.onnx")]
public static partial class OnnxMix;

/// <summary>The 784 MLP from ONNX with int8 layers: quantization applies to ONNX models as to C# ones (layers take their node names).</summary>
[CompileModel(Onnx = "mlp784.onnx", Quantize = Quantization.Int8, FloatLayers = new[] { "/fc3/Gemm" })]
public static partial class Mlp784OnnxInt8;

/// <summary>LeakyRelu, Clip (ReLU6 and a clamp) and a no-op Pad before an AveragePool, from ONNX (opset 13).</summary>
[CompileModel(Onnx = "onnx_activations.onnx")]
public static partial class OnnxActivations;

/// <summary>ReduceMean with and without keepdims, Unsqueeze and Squeeze with constant axes, Slice with clamped and negative bounds (opset 13), from ONNX.</summary>
[CompileModel(Onnx = "onnx_reduce.onnx")]
public static partial class OnnxReduce;

/// <summary>
/// A pre-norm transformer block as people write it (make_models.py), opset 13 with a dynamic batch: reshape targets
/// computed from the input's shape, Split, LayerNorm decomposed into nine nodes, exact GELU, a final x.view(x.size(0), -1).
/// </summary>
[CompileModel(Onnx = "onnx_encoder.onnx")]
public static partial class OnnxEncoder;

/// <summary>The same block saved with its weights in an external data file (onnx_external.onnx.data).</summary>
[CompileModel(Onnx = "onnx_external.onnx")]
public static partial class OnnxExternal;

/// <summary>Sqrt, Exp, Reciprocal, Pow, Neg, divisions, Gather with known indices, a computed flatten (opset 11).</summary>
[CompileModel(Onnx = "onnx_elementwise.onnx")]
public static partial class OnnxElementwise;

/// <summary>Int8 and uint8 weights with per-channel and per-tensor scales (DequantizeLinear on initializers).</summary>
[CompileModel(Onnx = "onnx_dequantized.onnx")]
public static partial class OnnxDequantized;

/// <summary>Operators that only run on constants (Size, Range, ConstantOfShape, Equal, Where, …), folded at build time.</summary>
[CompileModel(Onnx = "onnx_shape_ops.onnx")]
public static partial class OnnxShapeOps;

/// <summary>An embedding from ONNX: float token ids cast to int64, then Gather from the table (the Embedding kernel).</summary>
[CompileModel(Onnx = "onnx_embedding.onnx")]
public static partial class OnnxEmbedding;

/// <summary>Activations quantized in the graph: QDQ around a MatMul, and QuantizeLinear → MatMulInteger → Cast → Mul.</summary>
[CompileModel(Onnx = "onnx_quantized.onnx")]
public static partial class OnnxQuantized;

/// <summary>Gelu as an opset-20 operator (exact and tanh), Dropout at inference, LogSoftmax and Hardmax.</summary>
[CompileModel(Onnx = "onnx_opset20.onnx")]
public static partial class OnnxOpset20;

/// <summary>MobileNetV3's activations: HardSwish, a HardSigmoid squeeze-and-excitation gate, and a ReduceSum (opset 14).</summary>
[CompileModel(Onnx = "onnx_mobile.onnx")]
public static partial class OnnxMobile;

/// <summary>
/// Several inputs and outputs, as a streaming detector has them (make_models.py): a frame, a recurrent state and a gain
/// in; a score, the next state and the frame's features out, one of them also read by the rest of the graph.
/// </summary>
[CompileModel(Onnx = "onnx_stateful.onnx")]
public static partial class OnnxStateful;

/// <summary>Layout operators as PyTorch exports them (make_models.py): DepthToSpace, Tile, Expand (its shape computed with Where), ReduceMax over two axes, Softmax along the channels, a nearest Resize by 2 × 3, ConvTranspose (strided, grouped), InstanceNormalization (InstanceNorm2d, GroupNorm), pools the square kernels do not cover (rectangular and dilated, an average without its padding, 1-D with ceil_mode, 3-D), Resize by other factors (bilinear up and down, bicubic with align_corners, nearest to 6 × 5), and Pad (reflect, a constant, edge).</summary>
[CompileModel(Onnx = "onnx_layout_ops.onnx")]
public static partial class OnnxLayoutOps;

/// <summary>
/// Recurrent operators with their weights as initializers (make_recurrent.py): a bidirectional LSTM with peepholes and
/// its initial states as model inputs, a reverse GRU with linear_before_reset, a forward GRU with a cell clip, and an
/// RNN with Relu; layout 1 (batch first), so the first dimension is the batch.
/// </summary>
[CompileModel(Onnx = "onnx_recurrent.onnx")]
public static partial class OnnxRecurrent;

/// <summary>The same graph in layout 0 (sequence first, as PyTorch exports nn.LSTM): the batch 'N' fixed at build time, compiled whole.</summary>
[CompileModel(Onnx = "onnx_recurrent_seq.onnx", Dims = new[] { "N=3" })]
public static partial class OnnxRecurrentSequenceFirst;

/// <summary>
/// Inputs and outputs that are not float32 (make_typed.py): token ids (int64), a mask (bool) and a scale in; a masked
/// embedding mean, integer division, a cast to int32 and a cast to bool out.
/// </summary>
[CompileModel(Onnx = "onnx_typed.onnx")]
public static partial class OnnxTyped;

/// <summary>
/// Comparisons, And, Or, Xor, Not, Where with −∞, Pow of two values (and by 2.5), Mod with fmod (make_typed.py): float32
/// inputs, bool and float32 outputs.
/// </summary>
[CompileModel(Onnx = "onnx_logic.onnx")]
public static partial class OnnxLogic;

/// <summary>
/// Convolutions by windows and GridSample (make_windows.py): a grouped Conv with unequal strides, dilations and
/// asymmetric pads, a grouped ConvTranspose with unequal strides and output_padding, a 3-D Conv, and GridSample of two
/// values by a grid the graph computes (bilinear/zeros, bicubic/reflection/aligned corners, nearest/border).
/// </summary>
[CompileModel(Onnx = "onnx_windows.onnx")]
public static partial class OnnxWindows;

/// <summary>
/// Silero VAD v5 (third-party: snakers4/silero-vad, MIT; Models/THIRD-PARTY.md), the If-less opset-18 export: a
/// 576-sample window (512 new, 64 of context) and the LSTM state in, the speech probability and the next state out; the
/// sample rate <c>sr</c> (an int64 scalar) picks the 16 kHz or the 8 kHz network by a data-dependent If, compiled as both
/// branches and a per-sample select. Its state is [2, batch, 128], so the graph is compiled whole, one stream a set.
/// </summary>
[CompileModel(Onnx = "silero_vad_op18_ifless.onnx", Dims = new[] { "batch=1", "sequence=576" })]
public static partial class SileroVad;

/// <summary>
/// Silero VAD's 16 kHz opset-15 export (third-party, as above): its shape checks are Ifs on constants (folded: one branch
/// each, in place) around an ONNX LSTM.
/// </summary>
[CompileModel(Onnx = "silero_vad_16k_op15.onnx", Dims = new[] { "batch=1", "sequence=576" })]
public static partial class SileroVad16k;

/// <summary>
/// PaddleOCR's PP-OCRv3 text detector (third-party: Apache-2.0; Models/THIRD-PARTY.md), a Paddle2ONNX export: MobileNetV3
/// with BatchNormalization, HardSigmoid gates and GlobalAveragePool, then an FPN of nearest Resize and two ConvTranspose to
/// a probability map. Its height and width are symbols the attribute fixes (320 × 320); the batch stays free.
/// </summary>
[CompileModel(Onnx = "ch_PP-OCRv3_det_infer.onnx", Dims = new[] { "p2o.DynamicDimension.1=320", "p2o.DynamicDimension.2=320" })]
public static partial class OcrDetection;

/// <summary>PaddleOCR's text-orientation classifier (third-party, as above): 48 × 192 crops, two classes.</summary>
[CompileModel(Onnx = "ch_ppocr_mobile_v2.0_cls_infer.onnx", Dims = new[] { "p2o.DynamicDimension.1=48", "p2o.DynamicDimension.2=192" })]
public static partial class OcrOrientation;

/// <summary>
/// openWakeWord's audio front-end (third-party: Apache-2.0; Models/THIRD-PARTY.md): 1,760 samples of 16 kHz audio to 8
/// frames of 32 log-mel bins (an STFT as two Convs, power, a mel MatMul, 10·log10, clamped 80 dB below the maximum). The
/// maximum is taken over the whole batch, so the graph is compiled whole with its batch fixed to 1: one clip a set.
/// </summary>
[CompileModel(Onnx = "melspectrogram.onnx", Dims = new[] { "batch_size=1", "samples=1760" })]
public static partial class MelSpectrogram;

/// <summary>Google's speech embedding as openWakeWord ships it (third-party, Apache-2.0): a tf2onnx export, 76 × 32 mel frames (NHWC) to 96 features.</summary>
[CompileModel(Onnx = "speech_embedding.onnx")]
public static partial class SpeechEmbedding;

/// <summary>
/// A standard nn.TransformerEncoderLayer (make_encoder_layer.py), exported sequence-first as the module's default writes
/// it: [10, batch, 64], the batch fixed to 1 by Dims (a set per sequence), compiled whole.
/// </summary>
[CompileModel(Onnx = "encoder_layer_sf.onnx", Dims = new[] { "batch=1" })]
public static partial class EncoderLayerSequenceFirst;

/// <summary>The same layer exported batch-first ([batch, 10, 64]; the export transposes to sequence-first inside): compiled whole, a set per sequence.</summary>
[CompileModel(Onnx = "encoder_layer_bf.onnx", Dims = new[] { "batch=1" })]
public static partial class EncoderLayerBatchFirst;

/// <summary>CumSum along each sample axis, forward and reverse, inclusive and exclusive, and GatherElements by indices computed from x (ArgMax, and the same counted from the end) (make_running.py).</summary>
[CompileModel(Onnx = "onnx_running.onnx")]
public static partial class OnnxRunning;

/// <summary>GroupNormalization (opset 18: scale and bias per group), 3 groups of 2 channels and 6 of one (make_group_norm.py).</summary>
[CompileModel(Onnx = "onnx_group_norm.onnx")]
public static partial class OnnxGroupNorm;

/// <summary>Upsampling as FPN heads write it (make_upsample.py): ConvTranspose with filters as large as the stride (2-D with a bias, then BatchNormalization and Relu; 1-D without) and a nearest Resize ×2.</summary>
[CompileModel(Onnx = "onnx_upsample.onnx")]
public static partial class OnnxUpsample;

/// <summary>Squeeze-excitation gates added back to the map, x + x·g, computed in one pass, beside two near misses that are not (make_scaled_residual.py).</summary>
[CompileModel(Onnx = "onnx_scaled_residual.onnx")]
public static partial class OnnxScaledResidual;

/// <summary>Convolutions whose value is added to another activation (skip connections), added in their store, beside four near misses that are not (make_skip_connection.py).</summary>
[CompileModel(Onnx = "onnx_skip_connection.onnx")]
public static partial class OnnxSkipConnection;

/// <summary>Squeeze-and-excitation gates written with 1×1 convolutions over one position, computed as Linear layers, beside near misses that stay convolutions (make_squeeze_excite.py).</summary>
[CompileModel(Onnx = "onnx_squeeze_excite.onnx")]
public static partial class OnnxSqueezeExcite;

/// <summary>Loop with a trip count known at build time (make_loop.py): a condition computed at run time (states kept where it fails), and a scan output; compiled whole.</summary>
[CompileModel(Onnx = "onnx_loop.onnx")]
public static partial class OnnxLoop;

/// <summary>
/// ONNX models whose initializers are read at start-up from the files beside the application (WeightsStorage.File),
/// not embedded: MatMul weights read transposed (OnnxEncoder), external data (OnnxExternal), Conv and a Gemm (LeNet-5),
/// an LSTM's and a GRU's gate matrices read as slices of their initializers (OnnxRecurrent). Each gives the same
/// outputs as its embedded twin (OnnxWeightsFileTests).
/// </summary>
[CompileModel(Onnx = "onnx_encoder.onnx", WeightsStorage = WeightsStorage.File)]
public static partial class OnnxEncoderFromFile;

/// <summary>OnnxExternal with its weights read from onnx_external.onnx.data beside the application.</summary>
[CompileModel(Onnx = "onnx_external.onnx", WeightsStorage = WeightsStorage.File)]
public static partial class OnnxExternalFromFile;

/// <summary>LeNet-5 with its weights read from lenet5.onnx beside the application.</summary>
[CompileModel(Onnx = "lenet5.onnx", WeightsStorage = WeightsStorage.File)]
public static partial class LeNet5OnnxFromFile;

/// <summary>OnnxRecurrent with its weights read from onnx_recurrent.onnx beside the application.</summary>
[CompileModel(Onnx = "onnx_recurrent.onnx", WeightsStorage = WeightsStorage.File)]
public static partial class OnnxRecurrentFromFile;

/// <summary>
/// Attention as exporters write it (make_attention.py), batch-first with the batch free: F.scaled_dot_product_attention's
/// √scale on q and kᵀ, an unscaled softmax(q·kᵀ)·v, one whose probabilities are also an output, GPT-2's causal −∞ buffer
/// and a constant position bias. All but the third become the flash-style attention kernel (causal, or with the bias as
/// its mask); the third keeps MatMul, Softmax, MatMul.
/// </summary>
[CompileModel(Onnx = "onnx_attention.onnx")]
public static partial class OnnxAttention;

/// <summary>ScatterND (a duplicate index) and ScatterElements (reduction add) with constant indices on computed updates (make_scatter.py), compiled whole.</summary>
[CompileModel(Onnx = "onnx_scatter.onnx")]
public static partial class OnnxScatter;

/// <summary>A decoder's key cache updated at a position given at run time: ScatterND by computed indices, none and mul (make_scatter.py).</summary>
[CompileModel(Onnx = "onnx_cache.onnx")]
public static partial class OnnxCache;
