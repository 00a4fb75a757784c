using System.Linq;
using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Model;

/// <summary>A model input or output in the plan: its name (null for Forward's return value), per-sample shape and length, and the element type callers pass or get.</summary>
internal sealed record PlanValue(string? Name, EquatableArray<int> Shape, int Length, ElementType Type = ElementType.Float32);

/// <summary>A tensor of the weights file the plan's weights are laid out from, with the shape the model was compiled for.</summary>
internal sealed record FileTensor(string Name, EquatableArray<int> Shape);

/// <summary>An ONNX model's file (or one of its external data files) that the runtime reads weights from: its name, length and FNV-1a hash.</summary>
internal sealed record OnnxFilePart(string FileName, long Length, string Hash);

/// <summary>
/// A weight tensor an ONNX model reads from its files at start-up: <see cref="Rows"/> × <see cref="Columns"/> float32
/// at byte <see cref="Offset"/> of <see cref="ModelPlan.OnnxFiles"/>[<see cref="File"/>], transposed into
/// [Columns, Rows] when <see cref="Transposed"/>.
/// </summary>
internal sealed record OnnxFileTensor(string Name, int File, long Offset, long Rows, long Columns, bool Transposed);

/// <summary>Int8Static: a Linear layer's calibrated input range (largest magnitude).</summary>
internal sealed record LayerRange(string Layer, float Range);

/// <summary>Int4Gptq with held-out sequences in the calibration file: perplexities measured at build time on <see cref="Tokens"/> tokens.</summary>
internal sealed record HeldOutPerplexity(int Tokens, double Float32, double RoundToNearest, double Gptq);

/// <summary>A Linear layer whose int4 codes GPTQ chose: its name, the blob holding them (panels: a decoder's Int4Panels, else the encoding), its size.</summary>
internal sealed record Int4Layer(string Layer, string Blob, bool Panels, int N, int K);

/// <summary>Everything the emitter needs, as a value: the output of the passes, cached by the incremental pipeline.</summary>
internal sealed record ModelPlan(
    string? Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string ClassName,
    string SourceFileName,
    string InputName,
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

    /// <summary>Int4Gptq: whether GPTQ rounded each layer's inputs in act-order.</summary>
    public bool GptqActOrder { get; init; }

    /// <summary>Int4Gptq: the Linear layers GPTQ rounded and the blobs holding their codes (the eager reference runs with them too).</summary>
    public EquatableArray<Int4Layer> GptqLayers { get; init; } = EquatableArray<Int4Layer>.Empty;

    /// <summary>Int4Gptq: held-out perplexity with float32, round-to-nearest and GPTQ weights, when the calibration file has 'heldout'.</summary>
    public HeldOutPerplexity? GptqPerplexity { get; init; }

    /// <summary>What the header says of a LoRA adapter merged at build time (<c>Adapter = "…"</c>), or null.</summary>
    public string? AdapterNote { get; init; }
    public EquatableArray<string> FloatLayers { get; init; }

    /// <summary>Int8Static: every calibrated layer's input range, for the eager reference.</summary>
    public EquatableArray<LayerRange> StaticRanges { get; init; }

    /// <summary>Bytes the model's weight tensors take in float32, for the size report.</summary>
    public long Float32Bytes { get; init; }

    /// <summary>Compiled from an ONNX file: no Forward method, so no eager entry points.</summary>
    public bool IsOnnx { get; init; }

    /// <summary>
    /// An ONNX model whose weights are not embedded: the files it reads them from at start-up (the model file, then its
    /// external data files), each checked by length and hash. Empty otherwise.
    /// </summary>
    public EquatableArray<OnnxFilePart> OnnxFiles { get; init; } = EquatableArray<OnnxFilePart>.Empty;

    /// <summary>The weight tensors read from <see cref="OnnxFiles"/>; a blob reading any other tensor (one computed at build time) is embedded.</summary>
    public EquatableArray<OnnxFileTensor> OnnxTensors { get; init; } = EquatableArray<OnnxFileTensor>.Empty;

    /// <summary>
    /// Whether the blob's laid-out values are in the assembly: every blob when the weights are embedded; otherwise only
    /// what exists at build time alone — GPTQ's int4 codes, and an ONNX model's blobs that read a tensor computed at build
    /// time (a folded constant is in the model's own file, and a zero bias is nowhere), and layers a LoRA adapter was merged into.
    /// </summary>
    public bool Embeds(WeightBlob blob) =>
        !blob.IsZero && !blob.IsFolded && (EmbedWeights || blob.Int4Encoded.Count > 0 || blob.Merged || IsOnnx && blob.ReadTensors().Any(t => !OnnxTensors.Any(s => s.Name == t)));

    /// <summary>
    /// The tensors of the weights file the blobs read (their own and a folded BatchNorm's), in first-use order, with their
    /// shapes: what <c>LoadWeights</c> checks a replacement file against. Empty for ONNX models.
    /// </summary>
    public EquatableArray<FileTensor> FileTensors { get; init; } = EquatableArray<FileTensor>.Empty;

    /// <summary>
    /// Why the weights cannot be replaced at run time (constants folded from them at build time, activation ranges
    /// calibrated with them), or null when <c>LoadWeights</c> can replace them.
    /// </summary>
    public string? FixedWeightsReason { get; init; }

    /// <summary>The ONNX graph's output name (null for a model declared in C#).</summary>
    public string? OutputName { get; init; }

    /// <summary>
    /// Every input and output, in order (the first are <see cref="InputName"/>, <see cref="InputShape"/>, … above). A model
    /// with more than one of either gets a <c>Predict</c> with one span per input and per output.
    /// </summary>
    public EquatableArray<PlanValue> Inputs { get; init; } = EquatableArray<PlanValue>.Empty;
    public EquatableArray<PlanValue> Outputs { get; init; } = EquatableArray<PlanValue>.Empty;

    /// <summary>
    /// More than one input or output, or one that is not float32: such a model gets the <c>Predict</c> with a span per
    /// value, typed as the file types it (converted at the edges).
    /// </summary>
    public bool HasSeveralValues => Inputs.Count > 1 || Outputs.Count > 1 || HasTypedValues;

    /// <summary>
    /// A decoder (its Forward uses Rotary or CachedAttention): each sample is one token at a position, so the model gets a
    /// session (<c>CreateSession</c>, a key/value cache) instead of <c>Predict</c>.
    /// </summary>
    public bool IsDecoder => Kernels.Any(k => k.Kind is KernelKind.Rotary or KernelKind.CachedAttention or KernelKind.PositionEmbedding);

    /// <summary>A decoder with learned positions holds at most this many tokens (the tables' rows); 0 when it has none.</summary>
    public int PositionLimit => Kernels.Select(k => k.Op).OfType<PositionEmbeddingOp>().Select(p => p.Positions).DefaultIfEmpty(0).Min();

    /// <summary>A decoder's cache: the key/value values per position of each CachedAttention, in slot order.</summary>
    public EquatableArray<int> CacheWidths => Kernels.Select(k => k.Op).OfType<CachedAttentionOp>().OrderBy(a => a.Slot).Select(a => a.KvWidth).ToEquatableArray();

    /// <summary>A decoder's cache: the head size of each CachedAttention, in slot order.</summary>
    public EquatableArray<int> CacheHeadSizes => Kernels.Select(k => k.Op).OfType<CachedAttentionOp>().OrderBy(a => a.Slot).Select(a => a.HeadSize).ToEquatableArray();

    /// <summary>A decoder's token ids are below this: the rows of the embedding table its input goes through (0 when none does).</summary>
    public int TokenLimit => Kernels.Where(k => k.A.Buffer == BufferKind.Input).Select(k => k.Op).OfType<EmbeddingOp>().Select(e => e.TableRows).FirstOrDefault();

    /// <summary>An input or output that is not float32.</summary>
    public bool HasTypedValues
    {
        get
        {
            foreach (PlanValue v in Inputs) if (v.Type != ElementType.Float32) return true;
            foreach (PlanValue v in Outputs) if (v.Type != ElementType.Float32) return true;
            return false;
        }
    }

    /// <summary>
    /// The GPU entry point's decisions (Passes/PlanGpu), when one is generated: the project references ModelCompiler.Gpu,
    /// and every kernel has a GPU form.
    /// </summary>
    public GpuPlan? GpuPlan { get; init; }

    /// <summary>Whether a GPU entry point is generated.</summary>
    public bool Gpu => GpuPlan is not null;

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
    /// <summary>The weights the plan's blobs are laid out from, when they are embedded (the weights step's input).</summary>
    public WeightsImage? Image { get; init; }

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
