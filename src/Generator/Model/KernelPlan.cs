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

    /// <summary>Which model input or output (<see cref="BufferKind.Input"/>, <see cref="BufferKind.Output"/>): 0 for the first.</summary>
    public int Index { get; init; }

    /// <summary>An arena value's floats per sample (row <c>r</c> of it is <c>r · SampleStride</c> further on); 0 elsewhere.</summary>
    public int SampleStride { get; init; }

    /// <summary>
    /// An expression (of the generated code's locals) added to <see cref="Offset"/>: a decoder's kernels after its last
    /// attention skip to the last token's row this way when only its logits are asked for. Set by the emitter only.
    /// </summary>
    public string? Shift { get; init; }
}

/// <summary>What a kernel does; each kind maps to one runtime kernel.</summary>
internal enum KernelKind { Linear, Elementwise, Softmax, LogSoftmax, Add, Mul, Copy, LayerNorm, Attention, Conv2d, MaxPool2d, GlobalAvgPool, BatchNorm, Embedding, Reduce,
    Depthwise, AvgPool2d, Strided, Concat, MatMul, DirectConv, Winograd, Maximum, Minimum, AxisPool, AxisResample, Hardmax, Binary, GridSample, Gather, Scatter,
    RmsNorm, Rotary, CachedAttention, PositionEmbedding }

/// <summary>One element-wise op of a fused epilogue.</summary>
internal sealed record EpilogueStep(OpKind Kind, float Scalar)
{
    /// <summary>QuantizeLinear: the zero point and the code range (<see cref="Scalar"/> is the scale).</summary>
    public QuantizeCodes? Codes { get; init; }

    /// <summary>Shrink: the bias (<see cref="Scalar"/> is lambd).</summary>
    public float Bias { get; init; }
}

/// <summary>
/// One kernel of the compiled model, with everything the emitters print: where it reads and writes, what it computes
/// (<see cref="Op"/>, a record per kind with its settings by name), the fused epilogue, and the source it came from.
/// </summary>
/// <param name="Title">One line saying what the kernel computes, for the generated comment.</param>
/// <param name="Sources">The calls it came from, <c>File.cs(line): text</c>.</param>
/// <param name="A">The first operand (Attention: the queries).</param>
/// <param name="B">The second operand, if any (Attention: the keys; LayerNorm: the residual added first).</param>
internal sealed record KernelPlan(
    int Index,
    string Title,
    EquatableArray<string> Sources,
    Operand A,
    Operand? B,
    Operand Output,
    KernelOp Op,
    EquatableArray<EpilogueStep> Epilogue,
    long FlopsPerSample)
{
    public KernelKind Kind => Op.Kind;

    /// <summary>Rows the kernel runs per sample (the per-sample dimensions before the last, for row kernels); 1 for most.</summary>
    public int RowsPerSample => Op.RowsPerSample;

    /// <summary>A Linear with int8 weights.</summary>
    public bool Quantized => Op is LinearOp { Weights: LinearWeights.Int8 };

    /// <summary>Attention: the values, and the optional additive mask.</summary>
    public Operand? C { get; init; }
    public Operand? Mask { get; init; }

    /// <summary>
    /// The last kernel that reads this kernel's output (its own index when none does; <see cref="int.MaxValue"/> for the
    /// model's output). The GPU code folds a residual Add into the kernel before it and skips the store no one reads.
    /// </summary>
    public int LastReader { get; init; } = int.MaxValue;

    /// <summary>
    /// The arena keeps this kernel's inputs live through the next kernel (a residual Add of its output, with a GPU entry
    /// point): so the GPU code may compute that Add in this kernel's store (Passes/PlanGpu) without its output taking
    /// the inputs' place.
    /// </summary>
    public bool InputsLiveThroughNext { get; init; }
}
