using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Model;

/// <summary>How the GPU code runs one kernel of the plan.</summary>
internal enum GpuForm
{
    /// <summary>A Linear as a tiled GEMM.</summary>
    Gemm,

    /// <summary>An ungrouped, unpooled convolution as an implicit GEMM (its right-hand tile gathered from the input).</summary>
    ImplicitGemm,

    /// <summary>Softmax, LogSoftmax, LayerNorm: a group of threads per row.</summary>
    Rows,

    /// <summary>Attention flash-style: a group per block of queries, key tiles in shared memory.</summary>
    FlashAttention,

    /// <summary>Attention with a group per (sample, head, query).</summary>
    GroupAttention,

    /// <summary>Everything else: one thread per output value.</summary>
    PerOutput,

    /// <summary>A decoder's rotary embeddings: a thread per rotated pair, the angles from the session's table at the run's position.</summary>
    Rotary,

    /// <summary>A decoder's learned positions: a thread per value, the table row at the run's position.</summary>
    PositionEmbedding,

    /// <summary>A decoder's attention over the session's cache: a store of the rows' keys and values, then a group per (row, head).</summary>
    CachedAttention,
}

/// <summary>An int4 Linear's device form in the GPU weights buffer: its words of codes, its scales, and their counts per output.</summary>
internal sealed record Int4Place(int Codes, int Scales, int Words, int Blocks);

/// <summary>The GPU's decisions for one kernel.</summary>
/// <param name="FoldedAdd">The index of the residual Add right after this GEMM that its store computes, or -1.</param>
internal sealed record GpuKernel(int Index, GpuForm Form, int FoldedAdd = -1)
{
    /// <summary>An Add folded into the kernel before it: no launch of its own.</summary>
    public bool FusedAway { get; init; }

    /// <summary>An int4 Linear whose weights stay at 4 bits on the device: where they are.</summary>
    public Int4Place? Int4 { get; init; }

    /// <summary>A decoder's Linear that also has a matrix-vector kernel (a group per panel of 16 outputs), launched for up to <see cref="GpuPlan.GemvRows"/> rows: a decode step.</summary>
    public bool Gemv { get; init; }

    /// <summary>
    /// A decoder's int4 Linear that rounds its input rows into the scratch itself: false where the int4 Linear before it
    /// rounded the same value there and nothing since wrote over either (q, k and v of one input share one rounding).
    /// </summary>
    public bool RoundsRows { get; init; }

    /// <summary>For a <see cref="GpuForm.Rotary"/> kernel, the session's rotary table it reads (one per distinct head size and θ).</summary>
    public int RotaryTable { get; init; } = -1;
}

/// <summary>A rotary table a decoder's GPU session computes at start-up: the angles of one head size and θ.</summary>
internal sealed record RotaryTable(int HeadSize, float Theta);

/// <summary>An int4 weight's place in the GPU weights buffer (<c>ModelCompiler.Gpu.DeviceInt4</c> lays it out at start-up).</summary>
internal sealed record DeviceBlob(string Identifier, int Offset, int N, int K, string Tensor);

/// <summary>
/// The GPU weights buffer of a model with embedded int4 weights: the CPU buffer's first <see cref="Prefix"/> floats (the
/// int4 weights come last there, float32 panels the GPU does not need), then each int4 weight in its device form.
/// </summary>
internal sealed record DeviceWeights(int Prefix, int Total, EquatableArray<DeviceBlob> Blobs);

/// <summary>
/// Every GPU decision for a model, made by <c>Passes/PlanGpu</c> before Emit, so that the GPU emitter only prints: each
/// kernel's form and folded residual Add, whether the whole model also runs as one kernel for small batches, and where
/// the int4 weights go on the device.
/// </summary>
internal sealed record GpuPlan(EquatableArray<GpuKernel> Kernels, bool WholeModel, DeviceWeights? Device)
{
    /// <summary>A decoder's rotary tables, in the order its kernels refer to them (empty for other models).</summary>
    public EquatableArray<RotaryTable> RotaryTables { get; init; } = EquatableArray<RotaryTable>.Empty;

    /// <summary>A decoder's Linear layers run their matrix-vector kernel for up to this many rows (a decode step is one).</summary>
    public const int GemvRows = 4;

    /// <summary>The widest layer the whole-model kernel keeps in shared memory.</summary>
    public const int WholeWidth = 4096;

    /// <summary>Attention over at most this many keys may run a group per query (its scores in shared memory).</summary>
    public const int AttentionKeys = 4096;

    /// <summary>The widest head the flash-style kernel takes.</summary>
    public const int FlashFeatures = 128;

    /// <summary>Floats an <c>[n, k]</c> int4 weight takes on the device: ⌈k/8⌉ words and ⌈k/32⌉ scales per output (ModelCompiler.Gpu.DeviceInt4.Length).</summary>
    public static int DeviceLength(int n, int k) => checked(n * ((k + 7) / 8 + (k + 31) / 32));
}
