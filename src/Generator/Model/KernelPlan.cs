using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Model;

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
