using ModelCompiler.Generator.Helpers;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Model;

/// <summary>
/// What one kernel computes, with its kind's settings by name: one record per kind of runtime kernel, so that no
/// emitter decodes a setting by position and a setting means one thing. Offsets are into the weights buffer, in floats.
/// </summary>
internal abstract record KernelOp
{
    public abstract KernelKind Kind { get; }

    /// <summary>Rows the kernel runs per sample, where it runs over rows; 1 otherwise.</summary>
    public virtual int RowsPerSample => 1;

    /// <summary>Values a row kernel reads and writes per row (Linear: its inputs and outputs); 0 for kernels without rows.</summary>
    public (int In, int Out) RowWidths => this switch
    {
        LinearOp l => (l.K, l.N),
        ElementwiseOp e => (e.Width, e.Width),
        SoftmaxOp s => (s.Width, s.Width),
        LayerNormOp n => (n.Width, n.Width),
        RmsNormOp n => (n.Width, n.Width),
        _ => (0, 0),
    };
}

/// <summary>How a Linear layer's weights are stored.</summary>
internal enum LinearWeights
{
    Float32,
    Int8,
    /// <summary>int4, expanded into float32 panels at start-up (smaller assemblies; the model computes in float32).</summary>
    Int4,
    /// <summary>int4 kept at 4 bits in the weights buffer and dequantized in registers (Int4PanelLayout, Kernels.Int4Linear): a decoder's, whose decode step is bound by weight bytes.</summary>
    Int4Packed,
}

/// <summary>
/// <c>y = x · Wᵀ + b</c> over rows of <see cref="K"/> inputs, <see cref="N"/> outputs: float32 and int4 weights packed in
/// 16-output panels (int4 expanded into them at start-up), int8 codes packed for the dot-product instructions.
/// </summary>
/// <param name="Rows">Rows per sample: the input's per-sample dimensions before the last.</param>
internal sealed record LinearOp(int Rows, int K, int N, LinearWeights Weights, int WeightOffset, int BiasOffset) : KernelOp
{
    public override KernelKind Kind => KernelKind.Linear;
    public override int RowsPerSample => Rows;

    /// <summary>The layer's name (<c>Linear("…")</c>): what a LoRA adapter switched on a decoder's session names.</summary>
    public string Layer { get; init; } = "";

    /// <summary>The layer's place among the model's Linear layers (set when the plan is whole, Passes/LowerToPlan): its entry in a session's adapter.</summary>
    public int Slot { get; init; }

    /// <summary>Int8: the per-output scales and the per-output sums of codes.</summary>
    public int ScalesOffset { get; init; }
    public int SumsOffset { get; init; }

    /// <summary>Int8 and int4: max |w − q·s| / max |w| over the layer, measured at build time.</summary>
    public double WeightError { get; init; }

    /// <summary>Int4Gptq: tr(E H Eᵀ) / tr(W H Wᵀ) of GPTQ's rounding on the calibration inputs (H = Σ x xᵀ); −1 otherwise.</summary>
    public double GptqError { get; init; } = -1;

    /// <summary>Int4Gptq: the same for round-to-nearest, for comparison.</summary>
    public double RoundToNearestError { get; init; }

    /// <summary>Int8Static: the calibrated largest input magnitude; negative for per-row ranges at run time.</summary>
    public float StaticRange { get; init; } = -1f;
}

/// <summary>The epilogue alone, over <see cref="Width"/> values per sample.</summary>
internal sealed record ElementwiseOp(int Width) : KernelOp
{
    public override KernelKind Kind => KernelKind.Elementwise;
}

/// <summary>The model's output is its input, or a view of it: a copy of <see cref="Width"/> values per sample.</summary>
internal sealed record CopyOp(int Width) : KernelOp
{
    public override KernelKind Kind => KernelKind.Copy;
}

/// <summary>Each of <see cref="Ids"/> ids per sample picks a row of <see cref="Width"/> from a table of <see cref="TableRows"/>.</summary>
internal sealed record EmbeddingOp(int Ids, int Width, int TableRows, int TableOffset) : KernelOp
{
    public override KernelKind Kind => KernelKind.Embedding;
    public override int RowsPerSample => Ids;
}

/// <summary>A reduction (<see cref="Reduction"/>) over one dimension of <see cref="Reduced"/>, between <see cref="Outer"/> and <see cref="Inner"/> values.</summary>
internal sealed record ReduceOp(int Outer, int Reduced, int Inner, ReduceKind Reduction) : KernelOp
{
    public override KernelKind Kind => KernelKind.Reduce;
    public override int RowsPerSample => Outer;
}

/// <summary>BatchNorm as a per-channel scale and shift over <see cref="Spatial"/> values per channel.</summary>
internal sealed record ChannelAffineOp(int Channels, int Spatial, int ScaleOffset, int ShiftOffset) : KernelOp
{
    /// <summary>A per-channel constant (the kernel's B operand, one value per channel) added before the scale and shift.</summary>
    public bool Biased { get; init; }

    public override KernelKind Kind => KernelKind.BatchNorm;
}

/// <summary>How a convolution is computed.</summary>
internal enum ConvAlgorithm { Im2Col, Depthwise, Direct, Winograd }

/// <summary>
/// A convolution, 1-D or 2-D (<see cref="ConvGeometry"/>, the record the kernels take), its filters (as PyTorch stores
/// them; Winograd: transformed at build time) and its bias, one per output channel. Winograd's
/// <paramref name="WinogradTile"/> is its output tile's side, F(2×2, 3×3) or F(4×4, 3×3) (<c>KernelScratch.WinogradTile</c>).
/// </summary>
internal sealed record ConvOp(ConvAlgorithm Algorithm, ConvGeometry Geometry, int WeightOffset, int BiasOffset, int WinogradTile = 2) : KernelOp
{
    public override KernelKind Kind => Algorithm switch
    {
        ConvAlgorithm.Depthwise => KernelKind.Depthwise,
        ConvAlgorithm.Direct => KernelKind.DirectConv,
        ConvAlgorithm.Winograd => KernelKind.Winograd,
        _ => KernelKind.Conv2d,
    };

    /// <summary>Output values per sample (a fused 2×2 max pool halves each side).</summary>
    public int OutputsPerSample => Geometry.Pooled
        ? Geometry.OutChannels * (Geometry.OutHeight / 2) * (Geometry.OutWidth / 2)
        : Geometry.OutChannels * Geometry.OutHeight * Geometry.OutWidth;
}

/// <summary>Max or average pooling of square windows over <c>[Channels, Height, Width]</c> (average: zero padding counted).</summary>
internal sealed record PoolOp(bool Max, int Channels, int Height, int Width, int Window, int Stride, int Padding, int OutHeight, int OutWidth) : KernelOp
{
    public override KernelKind Kind => Max ? KernelKind.MaxPool2d : KernelKind.AvgPool2d;
}

/// <summary>
/// Pooling along one axis of <c>[Outer, Length, Inner]</c> per sample (Kernels.AxisPool): taps at
/// <c>j·Stride − PadBegin + t·Dilation</c>; an average divides by the taps inside <c>[CountFrom, CountTo)</c>.
/// </summary>
internal sealed record AxisPoolOp(int Outer, int Length, int Inner, int Window, int Stride, int PadBegin, int Dilation, int OutLength, bool Max,
    int CountFrom, int CountTo) : KernelOp
{
    public override KernelKind Kind => KernelKind.AxisPool;
    public override int RowsPerSample => Outer;
}

/// <summary>Resampling along one axis of <c>[Outer, Length, Inner]</c> per sample by a table of taps (Kernels.AxisResample; the table is operand B).</summary>
internal sealed record AxisResampleOp(int Outer, int Length, int Inner, int OutLength, int Taps, float Fill) : KernelOp
{
    public override KernelKind Kind => KernelKind.AxisResample;
    public override int RowsPerSample => Outer;
}

/// <summary>GridSample of <see cref="Pairs"/> (input, grid) pairs per sample (Kernels.GridSample; the grid is operand B).</summary>
internal sealed record GridSampleOp(int Pairs, int Channels, int Height, int Width, int OutHeight, int OutWidth, GridSampleMode Mode, GridSamplePadding Padding, bool AlignCorners) : KernelOp
{
    public override KernelKind Kind => KernelKind.GridSample;
}

/// <summary>Gather (GatherElements) along one axis of <c>[Outer, Length, Inner]</c> per sample (Kernels.Gather; the indices are operand B, <see cref="IndicesPerSample"/> apart).</summary>
internal sealed record GatherOp(int Outer, int Length, int Inner, int Count, bool Elements, int IndicesPerSample) : KernelOp
{
    public override KernelKind Kind => KernelKind.Gather;
}

/// <summary>
/// ScatterElements along one axis of <c>[Outer, Length, Inner]</c> (indices and updates <c>[Outer, Count, Inner]</c>), or
/// ScatterND (<see cref="Dims"/> the indexed dimensions, Count tuples, slices of Inner) per sample (Kernels.Scatter: the
/// indices are operand B, the updates C; a per-sample size 0 is a constant shared by every sample).
/// </summary>
internal sealed record ScatterOp(int Outer, int Length, int Inner, int Count, EquatableArray<int> Dims, ScatterReduction Reduction,
    int DataPerSample, int IndicesPerSample, int UpdatesPerSample) : KernelOp
{
    public override KernelKind Kind => KernelKind.Scatter;
}

/// <summary>Hardmax over rows of <see cref="Width"/> (Kernels.Hardmax).</summary>
internal sealed record HardmaxOp(int Rows, int Width) : KernelOp
{
    public override KernelKind Kind => KernelKind.Hardmax;
    public override int RowsPerSample => Rows;
}

/// <summary>The mean of each channel's <see cref="Spatial"/> values.</summary>
internal sealed record GlobalAvgPoolOp(int Channels, int Spatial) : KernelOp
{
    public override KernelKind Kind => KernelKind.GlobalAvgPool;
}

/// <summary>softmax(q·kᵀ/√e + mask)·v per head, by blocks of queries through the GEMM or flash-style (<see cref="AttentionGeometry"/>, the record the kernel takes).</summary>
internal sealed record AttentionOp(AttentionGeometry Geometry) : KernelOp
{
    public override KernelKind Kind => KernelKind.Attention;
}

/// <summary>
/// Transpose, Permute, Slice, Windows (one or several composed): a copy of <see cref="Shape"/> per sample, read through
/// <see cref="SourceStrides"/> and written through <see cref="DestinationStrides"/> (each per sample first).
/// </summary>
internal sealed record StridedOp(EquatableArray<int> Shape, EquatableArray<int> SourceStrides, EquatableArray<int> DestinationStrides) : KernelOp
{
    public override KernelKind Kind => KernelKind.Strided;
}

/// <summary>Two strided copies side by side: A's part at the start of each output sample, B's at <see cref="BOutputOffset"/>.</summary>
internal sealed record ConcatOp(EquatableArray<int> AShape, EquatableArray<int> AStrides, EquatableArray<int> BShape, EquatableArray<int> BStrides,
    EquatableArray<int> DestinationStrides, int BOutputOffset) : KernelOp
{
    public override KernelKind Kind => KernelKind.Concat;
}

/// <summary>
/// <see cref="Count"/> products <c>[M, K] · [K, N]</c> per sample; B's matrices <see cref="BStride"/> apart (0: one for all),
/// and with <see cref="BPeriod"/> &gt; 0 a cycle of that many weight matrices shared by every sample (product p reads
/// matrix <c>p mod BPeriod</c>: a grouped convolution's filters).
/// </summary>
internal sealed record MatMulOp(int Count, int M, int K, int N, int BStride, int BPeriod = 0) : KernelOp
{
    public override KernelKind Kind => KernelKind.MatMul;
    public override int RowsPerSample => Count;
}

/// <summary>LayerNorm over rows of <see cref="Width"/> (after a residual add when the kernel has a B operand).</summary>
internal sealed record LayerNormOp(int Rows, int Width, int GammaOffset, int BetaOffset, float Epsilon) : KernelOp
{
    public override KernelKind Kind => KernelKind.LayerNorm;
    public override int RowsPerSample => Rows;
}

/// <summary>Softmax or LogSoftmax over rows of <see cref="Width"/>.</summary>
internal sealed record SoftmaxOp(int Rows, int Width, bool Log) : KernelOp
{
    public override KernelKind Kind => Log ? KernelKind.LogSoftmax : KernelKind.Softmax;
    public override int RowsPerSample => Rows;
}

/// <summary>
/// A broadcasting Add, Mul, Maximum, Minimum or other function of two values (<see cref="Operation"/>; for
/// <c>Binary</c>, <see cref="Function"/>) over <see cref="Shape"/> per sample; each operand's strides per sample first,
/// 0 where broadcast.
/// </summary>
internal sealed record BroadcastOp(KernelKind Operation, EquatableArray<int> Shape, EquatableArray<int> AStrides, EquatableArray<int> BStrides,
    BinaryFunction Function = BinaryFunction.Power) : KernelOp
{
    public override KernelKind Kind => Operation;

    /// <summary>The runtime's operator struct (Kernels/Operators: BinaryOperators, ComparisonOperators, PowerOperators).</summary>
    public string OperatorName => Operation switch
    {
        KernelKind.Binary => Function + "Operator",
        KernelKind.Mul => "MultiplyOperator",
        KernelKind.Maximum => "MaximumOperator",
        KernelKind.Minimum => "MinimumOperator",
        _ => "AddOperator",
    };
}

/// <summary>RMS normalization over rows of <see cref="Width"/> (Kernels.RowRmsNorm).</summary>
internal sealed record RmsNormOp(int Rows, int Width, int GammaOffset, float Epsilon) : KernelOp
{
    public override KernelKind Kind => KernelKind.RmsNorm;
    public override int RowsPerSample => Rows;
}

/// <summary>Rotary position embeddings on a decoder token's row of <see cref="Width"/> (Kernels.Rotary), heads of <see cref="HeadSize"/>.</summary>
internal sealed record RotaryOp(int Width, int HeadSize, float Theta) : KernelOp
{
    public override KernelKind Kind => KernelKind.Rotary;
}

/// <summary>
/// Learned position embeddings on a decoder token's row of <see cref="Width"/> (Kernels.PositionEmbedding): row p of the
/// <c>[Positions, Width]</c> table at <see cref="TableOffset"/> added at position p.
/// </summary>
internal sealed record PositionEmbeddingOp(int Width, int Positions, int TableOffset) : KernelOp
{
    public override KernelKind Kind => KernelKind.PositionEmbedding;
}

/// <summary>
/// Causal grouped-query attention over the decoder's key/value cache (Kernels.CachedAttention): the queries are
/// operand A, keys B, values C; <see cref="Slot"/> is the layer's place in the cache (attention layers in order).
/// </summary>
internal sealed record CachedAttentionOp(int Heads, int KvHeads, int HeadSize, int Slot) : KernelOp
{
    public override KernelKind Kind => KernelKind.CachedAttention;

    /// <summary>Values each position keeps in the cache: keys (and as many values) of every key/value head.</summary>
    public int KvWidth => KvHeads * HeadSize;
}
