using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Parsing;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Passes;

/// <summary>Where a kernel reads or writes: a model input or output span, the per-thread arena, or the weights buffer.</summary>
internal enum BufferKind { Input, Output, Arena, Weights }

/// <summary>A place in a buffer, in floats (arena offsets are for a whole chunk of rows).</summary>
internal sealed record Operand(BufferKind Buffer, int Offset)
{
    /// <summary>
    /// The part of <see cref="Offset"/> that is a place inside each sample (a slice of a row: attention's k and v in the
    /// fused projection, a view into a value), not a place of the value in the arena. The CPU code needs only the sum;
    /// the GPU code lays values out for another number of rows, so it scales only the rest.
    /// </summary>
    public int RowOffset { get; init; }
}

/// <summary>What a kernel does; each kind maps to one runtime kernel.</summary>
internal enum KernelKind { Linear, Elementwise, Softmax, LogSoftmax, Add, Mul, Copy, LayerNorm, Attention, Conv2d, MaxPool2d, GlobalAvgPool, BatchNorm, Embedding, Mean,
    Depthwise, AvgPool2d, Strided, Concat, MatMul, DirectConv, Winograd }

/// <summary>One element-wise op of a fused epilogue.</summary>
internal sealed record EpilogueStep(OpKind Kind, float Scalar)
{
    /// <summary>QuantizeLinear: the zero point, and the lowest and highest code.</summary>
    public EquatableArray<int> Ints { get; init; } = EquatableArray<int>.Empty;
}

/// <summary>
/// One kernel of the compiled model, with everything the emitter prints: operands, constant sizes, the
/// fused epilogue, and the source it came from.
/// </summary>
/// <param name="RowsPerSample">Rows of the kernel per sample: the per-sample dimensions before the last (Linear, Softmax).</param>
/// <param name="K">Linear: input features. Softmax: row width. Elementwise/Copy: values per sample.</param>
/// <param name="N">Linear: output features.</param>
/// <param name="Shape">Add/Mul: the per-sample output shape.</param>
/// <param name="AStrides">Add/Mul: strides of A, the per-sample stride first (0 for a weight tensor), then one per dimension (0 where broadcast).</param>
internal sealed record KernelPlan(
    int Index,
    KernelKind Kind,
    string Title,
    EquatableArray<string> Sources,
    Operand A,
    Operand? B,
    Operand Output,
    int RowsPerSample,
    int K,
    int N,
    int WeightOffset,
    int BiasOffset,
    EquatableArray<EpilogueStep> Epilogue,
    EquatableArray<int> Shape,
    EquatableArray<int> AStrides,
    EquatableArray<int> BStrides,
    long FlopsPerSample)
{
    /// <summary>Linear: int8 weights (<see cref="WeightOffset"/> holds the packed codes).</summary>
    public bool Quantized { get; init; }

    /// <summary>Quantized Linear: offsets of the per-output scales and of the column sums.</summary>
    public int ScalesOffset { get; init; }
    public int SumsOffset { get; init; }

    /// <summary>Quantized Linear: max |w − q·s| / max |w| over the layer, measured at build time.</summary>
    public double WeightError { get; init; }

    /// <summary>LayerNorm: the epsilon added to the variance.</summary>
    public float Epsilon { get; init; }

    /// <summary>Int8Static: the calibrated largest input magnitude; negative for per-row ranges at run time.</summary>
    public float StaticRange { get; init; } = -1f;

    /// <summary>Attention: the values (A holds the queries, B the keys) and the optional additive mask.</summary>
    public Operand? C { get; init; }
    public Operand? Mask { get; init; }

    /// <summary>Strided, Concat: the output's strides (per sample first) where A's part goes.</summary>
    public EquatableArray<int> DestinationStrides { get; init; } = EquatableArray<int>.Empty;

    /// <summary>Concat: B's per-sample shape, and where its part starts in each output sample.</summary>
    public EquatableArray<int> BShape { get; init; } = EquatableArray<int>.Empty;
    public int BOutputOffset { get; init; }

    /// <summary>
    /// The last kernel that reads this kernel's output (its own index when none does; <see cref="int.MaxValue"/> for the
    /// model's output). The GPU code folds a residual Add into the kernel before it and skips the store no one reads.
    /// </summary>
    public int LastReader { get; init; } = int.MaxValue;
}

/// <summary>Int8Static: a Linear layer's calibrated input range (largest magnitude).</summary>
internal sealed record LayerRange(string Layer, float Range);


/// <summary>A weight tensor's place in the weights buffer; the emitter reads its values from the file and lays them out.</summary>
internal sealed record WeightBlob(string Identifier, WeightLayoutKind Kind, string Tensor, int Offset, int Floats, int N, int K)
{
    /// <summary>A BatchNorm folded into this weight or bias (or, for its scale and shift, the BatchNorm itself).</summary>
    public string? Norm { get; init; }

    /// <summary>A constant folded at build time (<see cref="Tensor"/> is then the expression it came from): its values.</summary>
    public EquatableArray<float> Folded { get; init; } = EquatableArray<float>.Empty;

    /// <summary>Whether this blob holds folded values rather than a tensor of the weights file.</summary>
    public bool IsFolded => Folded.Count > 0;
    public float Epsilon { get; init; }

    /// <summary>A zero bias with nothing folded into it: the buffer starts zeroed, nothing is embedded or read.</summary>
    public bool IsZero => Tensor.Length == 0 && Norm is null;

    /// <summary>Bytes the blob takes in the assembly (int4 weights are smaller embedded than loaded; a zero bias takes none).</summary>
    public int EmbeddedBytes => Kind == WeightLayoutKind.Int4Linear ? Int4Quantization.EncodedBytes(N, K) : IsZero ? 0 : Floats * 4;
}

/// <summary>Everything the emitter needs, as a value: the output of the passes, cached by the incremental pipeline.</summary>
internal sealed record ModelPlan(
    string? Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string ClassName,
    string SourceFileName,
    string InputName,
    string WeightsPath,
    string WeightsFile,
    long WeightsLength,
    string WeightsHash,
    EquatableArray<int> InputShape,
    EquatableArray<int> OutputShape,
    int InputLength,
    int OutputLength,
    int ChunkRows,
    int ArenaFloatsPerRow,
    long FlopsPerSample,
    int WeightFloats,
    EquatableArray<KernelPlan> Kernels,
    EquatableArray<WeightBlob> Blobs)
{
    /// <summary>The arena: every live intermediate for <see cref="ChunkRows"/> rows, then the kernels' fixed scratch.</summary>
    public int ArenaFloats => ArenaFloatsPerRow * ChunkRows + ScratchFloats;

    /// <summary>Offset of the fixed scratch (quantized activations) in the arena.</summary>
    public int ScratchOffset => ArenaFloatsPerRow * ChunkRows;

    /// <summary>Floats of fixed scratch the kernels need (int8 layers quantize activations into it).</summary>
    public int ScratchFloats { get; init; }

    /// <summary>The largest total of intermediate values live at the same time, per row: the least any arena plan can use.</summary>
    public int LiveFloatsPerRow { get; init; }

    /// <summary>The model's quantization mode (<c>ModelCompiler.Quantization</c> as int) and the layers kept in float32.</summary>
    public Quantization Quantize { get; init; }
    public EquatableArray<string> FloatLayers { get; init; }

    /// <summary>Int8Static: every calibrated layer's input range, for the eager reference.</summary>
    public EquatableArray<LayerRange> StaticRanges { get; init; }

    /// <summary>Bytes the model's weight tensors take in float32, for the size report.</summary>
    public long Float32Bytes { get; init; }

    /// <summary>Compiled from an ONNX file: no Forward method, so no eager entry points; weights always embedded.</summary>
    public bool IsOnnx { get; init; }

    /// <summary>The ONNX graph's output name (null for a model declared in C#).</summary>
    public string? OutputName { get; init; }

    /// <summary>Whether a GPU entry point is generated (the project references ModelCompiler.Gpu and every kernel has a GPU form).</summary>
    public bool Gpu { get; init; }

    /// <summary>Whether the weights are embedded (else read at start-up from the weights file beside the application).</summary>
    public bool EmbedWeights { get; init; } = true;

    /// <summary>Bytes the weights take (or would take) in the assembly.</summary>
    public long EmbeddedBytes
    {
        get
        {
            long total = 0;
            foreach (WeightBlob blob in Blobs) total += blob.EmbeddedBytes;
            return total;
        }
    }
}

/// <summary>The result of compiling one model: a plan, or the diagnostics that stopped it (and, when the class can take
/// one, a stand-in with the model's API, so that the rest of the project still binds while the error is fixed).</summary>
internal sealed record ModelResult(ModelPlan? Plan, EquatableArray<Diagnostics.DiagnosticInfo> Diagnostics)
{
    public ModelStandIn? StandIn { get; init; }
}

/// <summary>What the stand-in for a model that failed to compile needs: where the class is, and why it failed.</summary>
internal sealed record ModelStandIn(string? Namespace, EquatableArray<ContainingType> ContainingTypes, string ClassName, int InputLength, string Reason)
{
    /// <summary>The declared input shape (empty when unknown), for the stand-in's <c>InputShape</c>.</summary>
    public EquatableArray<int> InputShape { get; init; } = EquatableArray<int>.Empty;

    /// <summary>An ONNX model: the stand-in also has <c>InputName</c> and <c>OutputName</c> and no eager entry points.</summary>
    public bool IsOnnx { get; init; }
}
