using ModelCompiler.Generator.Helpers;

using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Model;

/// <summary>
/// An op's constant settings, as recorded (by the partial evaluator from the call's arguments, or by the ONNX importer
/// from the node's attributes): one record per shape of settings, every value by name. Dimensions may be negative
/// (counted from the end); shape inference resolves them against the input's rank.
/// </summary>
internal abstract record OpSettings;

/// <summary>Conv2d, Conv1d: PyTorch's <c>conv2d</c> settings (the same value both ways in 2-D).</summary>
internal sealed record ConvSettings(int Stride, int Padding, int Dilation, int Groups) : OpSettings
{
    /// <summary>Zeros above and below each column of a 2-D convolution, when not <see cref="Padding"/> (-1: the same).</summary>
    public int VerticalPadding { get; init; } = -1;

    /// <summary>The padding above and below: <see cref="VerticalPadding"/>, or <see cref="Padding"/> when it is -1.</summary>
    public int Top => VerticalPadding < 0 ? Padding : VerticalPadding;

    /// <summary>The step between output rows of a 2-D convolution, when not <see cref="Stride"/> (-1: the same; ONNX's strides [2, 1]).</summary>
    public int VerticalStride { get; init; } = -1;

    /// <summary>The step between output rows: <see cref="VerticalStride"/>, or <see cref="Stride"/> when it is -1.</summary>
    public int Down => VerticalStride < 0 ? Stride : VerticalStride;
}

/// <summary>MaxPool2d, AvgPool2d: a square window.</summary>
internal sealed record PoolSettings(int Window, int Stride, int Padding) : OpSettings;

/// <summary>
/// AxisPool: pooling along sample dimension <paramref name="Axis"/> with ONNX's window, stride, pads and dilation; the
/// output length is ONNX's (<paramref name="Ceil"/>: ceil_mode, a last window starting past the input and its leading
/// padding dropped); an average counts the padding in its divisor when <paramref name="CountPadding"/>.
/// </summary>
internal sealed record AxisPoolSettings(int Axis, int Window, int Stride, int PadBegin, int PadEnd, int Dilation, bool Max, bool CountPadding, bool Ceil) : OpSettings
{
    /// <summary>The output length along the axis for an input of <paramref name="length"/>, or ≤ 0 when no window fits.</summary>
    public long OutLength(int length)
    {
        long reach = (long)(Window - 1) * Dilation + 1, span = length + (long)PadBegin + PadEnd - reach;
        if (span < 0) return 0;
        long positions = (Ceil ? (span + Stride - 1) / Stride : span / Stride) + 1;
        if (Ceil && (positions - 1) * Stride >= length + (long)PadBegin) positions--;
        return positions;
    }
}

/// <summary>
/// AxisResample: sample dimension <paramref name="Axis"/> becomes <paramref name="OutLength"/> long, each output the sum of
/// <paramref name="Taps"/> weighted inputs (the table, a constant <c>[OutLength, Taps, 2]</c> of index and weight pairs; a
/// negative index reads <paramref name="Fill"/>, ONNX Pad's constant).
/// </summary>
internal sealed record AxisResampleSettings(int Axis, int OutLength, int Taps, float Fill = 0f) : OpSettings;

/// <summary>What a <c>Binary</c> op computes of its two values (each the runtime's operator struct of that name, + "Operator").</summary>
internal enum BinaryFunction
{
    /// <summary>x to the power y (ONNX Pow of two values).</summary>
    Power,
    /// <summary>C's fmod: the sign of x (ONNX Mod, fmod = 1).</summary>
    Remainder,
    /// <summary>Python's %: the sign of y (ONNX Mod of integers, fmod = 0).</summary>
    FloorRemainder,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Equal,
    NotEqual,
    /// <summary>x ≠ 0 ? y : 0 (ONNX Where, its true half).</summary>
    Keep,
    /// <summary>x ≠ 0 ? 0 : y (ONNX Where, its false half).</summary>
    Drop,
    /// <summary>
    /// x + x · y, rounded as the two ops it stands for (no fused multiply-add): a Mul and the Add of its product to its
    /// first operand, fused into one kernel (Passes/FuseEpilogues); no graph node has it.
    /// </summary>
    ScaleResidual,
}

/// <summary>Binary: the function of two values.</summary>
internal sealed record BinarySettings(BinaryFunction Function) : OpSettings;

/// <summary>Shrink: what is taken from (or added to) the values beyond ±lambd (the op's Scalar).</summary>
internal sealed record ShrinkSettings(float Bias) : OpSettings;

/// <summary>Transpose: the two dimensions swapped.</summary>
internal sealed record TransposeSettings(int First, int Second) : OpSettings;

/// <summary>Permute: result dimension i is input dimension <c>Order[i]</c>.</summary>
internal sealed record PermuteSettings(EquatableArray<int> Order) : OpSettings;

/// <summary>Mean, Concat, Unsqueeze, Squeeze: the one dimension they work on.</summary>
internal sealed record AxisSettings(int Axis) : OpSettings;

/// <summary>A reduction over one dimension of a sample: which, and what it computes.</summary>
internal sealed record ReduceSettings(int Axis, ReduceKind Kind) : OpSettings;

/// <summary>An <c>Input</c> op: which of the model's inputs it is (<c>ModelDeclaration.Inputs</c>).</summary>
internal sealed record InputIndex(int Index) : OpSettings;

/// <summary>How a Slice came to be, which decides how its bounds are checked.</summary>
internal enum SliceOrigin
{
    /// <summary><c>Tensor.Slice</c> or ONNX Gather/Split: the range must lie inside the dimension.</summary>
    Exact,

    /// <summary>One part of <c>Tensor.Split</c>: the parts must also add up to the dimension (<see cref="SliceSettings.SplitTotal"/>).</summary>
    Split,

    /// <summary>ONNX Slice: bounds past either end are clamped to the dimension.</summary>
    Clamped,
}

/// <summary>Slice: <c>[Start, End)</c> of dimension <see cref="Axis"/> (negative bounds count from the end).</summary>
/// <param name="SplitTotal">A part of Split: the sum of all the parts' sizes.</param>
internal sealed record SliceSettings(int Axis, int Start, int End, SliceOrigin Origin, int SplitTotal = 0) : OpSettings;

/// <summary>
/// Windows: one window per output position over the last <c>Kernel.Length</c> dimensions (no padding: pad first), tap
/// t of axis i at <c>o·Strides[i] + t·Dilations[i]</c>; <see cref="Flipped"/> reads the taps last to first (a transposed
/// convolution's flipped filters, without flipping weights that are only known at run time).
/// </summary>
internal sealed record WindowsSettings(EquatableArray<int> Kernel, EquatableArray<int> Strides, EquatableArray<int> Dilations, bool Flipped) : OpSettings;

/// <summary>GridSample: how it interpolates, what it reads outside the input, and whether ±1 are the corner pixels' centres.</summary>
internal sealed record GridSampleSettings(GridSampleMode Mode, GridSamplePadding Padding, bool AlignCorners) : OpSettings;

/// <summary>GatherAlong: the sample axis, and whether each output value has its own index (GatherElements) or each slice (Gather).</summary>
internal sealed record GatherSettings(int Axis, bool Elements) : OpSettings;

/// <summary>ScatterAlong: ScatterElements along a sample axis, or ScatterND (<see cref="Elements"/> false, the axis unused); how updates combine.</summary>
internal sealed record ScatterSettings(int Axis, bool Elements, ModelCompiler.Kernels.ScatterReduction Reduction) : OpSettings;

/// <summary>Reshape: the per-sample dimensions.</summary>
internal sealed record ReshapeSettings(EquatableArray<int> Dimensions) : OpSettings;

/// <summary>AttentionCore (MultiHeadAttention): the number of heads; Attention and AttentionCore: whether keys after the query are hidden.</summary>
internal sealed record AttentionSettings(int Heads, bool Causal) : OpSettings;

/// <summary>Rotary: position embeddings on heads of <paramref name="HeadSize"/> values, base <paramref name="Theta"/>.</summary>
internal sealed record RotarySettings(int HeadSize, float Theta) : OpSettings;

/// <summary>CachedAttention: <paramref name="Heads"/> query heads over <paramref name="KvHeads"/> key/value heads.</summary>
internal sealed record CachedAttentionSettings(int Heads, int KvHeads) : OpSettings;

/// <summary>ONNX QuantizeLinear's integer side: <c>clamp(round(x / scale) + Zero, Low, High)</c> (the op's scalar is the scale).</summary>
internal sealed record QuantizeCodes(int Zero, int Low, int High) : OpSettings;
