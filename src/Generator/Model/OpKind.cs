namespace ModelCompiler.Generator.Model;

/// <summary>The operations of the graph IR; each maps to one eager <c>Tensor</c> method of the same name.</summary>
internal enum OpKind
{
    Input,
    Parameter,
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    Gelu,
    GeluTanh,
    AddScalar,
    MulScalar,
    Softmax,
    LogSoftmax,
    Add,
    Mul,
    Flatten,
    Reshape,
    Silu,
    Dropout,
    LayerNorm,
    AttentionCore,
    Conv2d,
    MaxPool2d,
    GlobalAvgPool,
    BatchNorm,
    Embedding,
    /// <summary>A reduction over one dimension (ReduceSettings: which, and what it computes; the C# <c>Tensor.Mean</c>).</summary>
    Reduce,
    Conv1d,
    AvgPool2d,
    /// <summary>Max or average pooling along one sample axis (AxisPoolSettings): ONNX's general MaxPool and AveragePool, one pass per spatial axis.</summary>
    AxisPool,
    /// <summary>Resampling along one sample axis by a table of taps (the constant second input; AxisResampleSettings): ONNX Resize, one pass per axis.</summary>
    AxisResample,
    /// <summary>1 at the first largest value of the last dimension, 0 elsewhere (ONNX Hardmax).</summary>
    Hardmax,
    Transpose,
    Permute,
    Slice,
    Concat,
    MatMul,
    Attention,
    Erf,
    LeakyRelu,
    ClampMin,
    ClampMax,
    Unsqueeze,
    Squeeze,
    Sqrt,
    Exp,
    Reciprocal,
    /// <summary>ONNX QuantizeLinear on an activation: clamp(round_half_even(x / scale) + zero, low, high) as a float (Scalar: scale; Ints: zero, low, high).</summary>
    QuantizeLinear,
    Log,
    Abs,
    Floor,
    Ceil,
    Round,
    Sign,
    Softplus,
    Softsign,
    /// <summary>x where x &gt; 0, else Scalar · (eˣ − 1).</summary>
    Elu,
    Sin,
    Cos,
    Tan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Asin,
    Acos,
    Atan,
    /// <summary>x where x &gt; Scalar, else 0 (ONNX ThresholdedRelu; PyTorch's nn.Threshold(Scalar, 0)).</summary>
    ThresholdedRelu,
    /// <summary>x + bias where x &lt; −Scalar, x − bias where x &gt; Scalar, else 0 (ONNX Shrink; bias in <c>ShrinkSettings</c>).</summary>
    Shrink,
    /// <summary>x · clamp(x / 6 + 1/2, 0, 1) (ONNX HardSwish, and x · clip(x + 3, 0, 6) / 6 as exporters write it out).</summary>
    HardSwish,
    /// <summary>The larger of two values, broadcasting as Add (ONNX Max; torch.maximum).</summary>
    Maximum,
    /// <summary>The smaller of two values, broadcasting as Add (ONNX Min; torch.minimum).</summary>
    Minimum,
    /// <summary>Another function of two values, broadcasting as Add (BinarySettings: power, remainder, a comparison, Where's halves).</summary>
    Binary,
    /// <summary>
    /// The sliding windows of a convolution (im2col as a view; WindowsSettings): <c>[…, C, S₁…Sₛ]</c> →
    /// <c>[…, O₁…Oₛ, C, K₁…Kₛ]</c>, one row of channel × taps per output position. A strided copy: ONNX's general Conv and ConvTranspose.
    /// </summary>
    Windows,
    /// <summary>The input read at the points of a grid (GridSampleSettings): ONNX GridSample, PyTorch's grid_sample.</summary>
    GridSample,
    /// <summary>ONNX Gather and GatherElements by indices known only at run time (GatherSettings), the indices the second input.</summary>
    GatherAlong,
    /// <summary>ONNX ScatterND and ScatterElements (ScatterSettings): the data, indices known only at run time, the updates.</summary>
    ScatterAlong,
    /// <summary>x / √(mean(x²) + Scalar) · <c>name.weight</c> over the last dimension (Llama's RMSNorm).</summary>
    RmsNorm,
    /// <summary>Rotary position embeddings on each head of a decoder token's row (RotarySettings), at the token's position.</summary>
    Rotary,
    /// <summary>Learned position embeddings: row p of <c>name.weight</c> added to a decoder token's row at position p (GPT-2's wpe).</summary>
    PositionEmbedding,
    /// <summary>Causal grouped-query attention of a decoder's tokens over the key/value cache (CachedAttentionSettings): queries, keys, values.</summary>
    CachedAttention,
}

/// <summary>What each op is, in one place, for every pass and emitter.</summary>
internal static class OpKinds
{
    /// <summary>Element-wise functions of one value: fusable into the epilogue of the kernel that produces their input.</summary>
    public static bool IsUnaryElementwise(OpKind kind) => kind is OpKind.Relu or OpKind.Sigmoid or OpKind.Tanh
        or OpKind.Gelu or OpKind.GeluTanh or OpKind.Silu or OpKind.Erf or OpKind.Sqrt or OpKind.Exp or OpKind.Reciprocal or OpKind.QuantizeLinear or OpKind.AddScalar or OpKind.MulScalar
        or OpKind.LeakyRelu or OpKind.ClampMin or OpKind.ClampMax
        or OpKind.Log or OpKind.Abs or OpKind.Floor or OpKind.Ceil or OpKind.Round or OpKind.Sign or OpKind.Softplus or OpKind.Softsign or OpKind.Elu
        or OpKind.Sin or OpKind.Cos or OpKind.Tan or OpKind.Sinh or OpKind.Cosh or OpKind.Asinh or OpKind.Acosh or OpKind.Atanh
        or OpKind.Asin or OpKind.Acos or OpKind.Atan or OpKind.ThresholdedRelu or OpKind.Shrink or OpKind.HardSwish;

    /// <summary>Ops that make a model a decoder: they read a token's position or the key/value cache (Ops/DecoderOps).</summary>
    public static bool IsDecoder(OpKind kind) => kind is OpKind.Rotary or OpKind.CachedAttention or OpKind.PositionEmbedding;

    /// <summary>Ops that only reinterpret their input (a new shape, or Dropout's identity at inference): no kernel, the same storage.</summary>
    public static bool IsView(OpKind kind) => kind is OpKind.Flatten or OpKind.Reshape or OpKind.Dropout or OpKind.Unsqueeze or OpKind.Squeeze;

    /// <summary>Ops that copy values to new places without computing (one strided copy each).</summary>
    public static bool IsLayout(OpKind kind) => kind is OpKind.Transpose or OpKind.Permute or OpKind.Slice or OpKind.Windows;

    /// <summary>The eager method name, for messages and comments.</summary>
    public static string MethodName(OpKind kind) => kind switch
    {
        OpKind.Attention => "ScaledDotProductAttention",
        OpKind.AttentionCore => "MultiHeadAttention",
        OpKind.CachedAttention => "CachedAttention",
        OpKind.PositionEmbedding => "AddPositions",
        OpKind.AddScalar => "Add",
        OpKind.MulScalar => "Mul",
        OpKind.GeluTanh => "Gelu",
        OpKind.Reduce => "Mean",
        OpKind.ClampMin or OpKind.ClampMax => "Clamp",
        _ => kind.ToString(),
    };
}
