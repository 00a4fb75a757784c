using System;
using ILGPU;
using ILGPU.Runtime;
using ModelCompiler.Kernels;

namespace ModelCompiler.Gpu;

/// <summary>
/// A compiled decoder's session on one ILGPU accelerator (<c>MyModel.CreateGpuSession(accelerator)</c>): the same
/// <see cref="DecoderSession"/> — <c>Prefill</c>, <c>Decode</c>, <c>Generate</c>, <c>Perplexity</c>, <c>Reset</c>,
/// the same checks and lock — with the weights, the key/value cache (float32, <c>[slot][keys, values][kvHead][position][e]</c>
/// as on the CPU), the rotary angles and every intermediate value on the device, allocated once. A call copies its
/// token ids up and the logits it returns down; nothing else crosses. Generated code derives from it and supplies
/// <see cref="RunKernels"/>, which launches one kernel per kernel of the model's plan.
/// </summary>
/// <remarks>
/// The cache is float32 only, and adapters cannot be switched at run time (<see cref="DecoderSession.SetAdapter"/>
/// throws <see cref="NotSupportedException"/>): merge one at build time. Every token row of a chunk runs to the logits
/// (the CPU session skips lm_head for all prompt rows but the last); only the rows asked for are copied back.
/// </remarks>
public abstract class GpuDecoderSession : DecoderSession
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _weights;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _arena;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _ids;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _logits;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _scratch;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _cache;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _rotations;
    private readonly long[] _slotStarts;
    private readonly long[] _slotLengths;
    private readonly long[] _tableStarts;
    private readonly long[] _tableLengths;
    private bool _disposed;

    /// <summary>
    /// Uploads <paramref name="weights"/>, allocates the cache for <paramref name="maxTokens"/> positions, the arena and the
    /// scratch for <paramref name="chunkRows"/> tokens, and the rotary angles of each (head size, θ) pair the model uses
    /// (<see cref="Rotary.Angles"/>: the CPU's values).
    /// </summary>
    /// <param name="accelerator">The ILGPU accelerator to run on.</param>
    /// <param name="maxTokens">Positions the session holds, prompt and generated tokens together.</param>
    /// <param name="vocabulary">Logits per token.</param>
    /// <param name="tokenLimit">Token ids are whole numbers below this.</param>
    /// <param name="chunkRows">Most tokens one launch sequence runs (a longer prompt runs in chunks).</param>
    /// <param name="arenaFloatsPerRow">Intermediate floats per token row.</param>
    /// <param name="scratchFloatsPerRow">Kernel scratch floats per token row (int4 layers' rounded activations).</param>
    /// <param name="weights">The weights buffer, in the CPU's layout.</param>
    /// <param name="kvWidths">Key/value values per position of each attention layer, in order.</param>
    /// <param name="rotaryHeadSizes">The head size of each rotary table, paired with <paramref name="rotaryThetas"/>.</param>
    /// <param name="rotaryThetas">θ of each rotary table.</param>
    /// <exception cref="ArgumentNullException"><paramref name="accelerator"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTokens"/> is not positive, or the cache would not fit.</exception>
    protected GpuDecoderSession(Accelerator accelerator, int maxTokens, int vocabulary, int tokenLimit, int chunkRows, int arenaFloatsPerRow,
        int scratchFloatsPerRow, ReadOnlySpan<float> weights, ReadOnlySpan<int> kvWidths, ReadOnlySpan<int> rotaryHeadSizes, ReadOnlySpan<float> rotaryThetas)
        : base(maxTokens, vocabulary, tokenLimit, chunkRows, ReadOnlySpan<int>.Empty, lastRowAlone: true)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (rotaryHeadSizes.Length != rotaryThetas.Length) throw new ArgumentException("One θ per rotary table.", nameof(rotaryThetas));
        Accelerator = accelerator;
        ChunkRows = chunkRows;
        _slotStarts = new long[kvWidths.Length];
        _slotLengths = new long[kvWidths.Length];
        long cache = 0;
        for (int s = 0; s < kvWidths.Length; s++)
        {
            if (kvWidths[s] <= 0) throw new ArgumentOutOfRangeException(nameof(kvWidths), kvWidths[s], "Each attention layer caches at least one value per position.");
            _slotStarts[s] = cache;
            _slotLengths[s] = checked(2L * maxTokens * kvWidths[s]);
            cache = checked(cache + _slotLengths[s]);
        }
        var tables = new float[rotaryHeadSizes.Length][];
        _tableStarts = new long[tables.Length];
        _tableLengths = new long[tables.Length];
        long rotations = 0;
        for (int t = 0; t < tables.Length; t++)
        {
            if ((long)maxTokens * rotaryHeadSizes[t] > Array.MaxLength)
                throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, $"The rotary angles of {maxTokens} positions would not fit in one array.");
            tables[t] = new float[maxTokens * rotaryHeadSizes[t]];
            Rotary.Angles(rotaryHeadSizes[t], rotaryThetas[t], maxTokens, tables[t]);
            _tableStarts[t] = rotations;
            _tableLengths[t] = tables[t].Length;
            rotations = checked(rotations + tables[t].Length);
        }
        _weights = accelerator.Allocate1D<float>(Math.Max(1, weights.Length));
        if (weights.Length > 0) ((ArrayView<float>)_weights.View).SubView(0, weights.Length).CopyFromCPU(weights);
        _arena = accelerator.Allocate1D<float>(Math.Max(1L, (long)arenaFloatsPerRow * chunkRows));
        _ids = accelerator.Allocate1D<float>(chunkRows);
        _logits = accelerator.Allocate1D<float>((long)vocabulary * chunkRows);
        _scratch = accelerator.Allocate1D<float>(Math.Max(1L, (long)scratchFloatsPerRow * chunkRows));
        _cache = accelerator.Allocate1D<float>(Math.Max(1L, cache));
        _cache.MemSetToZero();
        _rotations = accelerator.Allocate1D<float>(Math.Max(1L, rotations));
        for (int t = 0; t < tables.Length; t++) ((ArrayView<float>)_rotations.View).SubView(_tableStarts[t], _tableLengths[t]).CopyFromCPU(tables[t]);
    }

    /// <summary>The accelerator the session runs on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Tokens one launch sequence runs: the arena's rows.</summary>
    protected int ChunkRows { get; }

    /// <summary>Bytes of weights on the device.</summary>
    public long WeightBytes => _weights.LengthInBytes;

    /// <summary>Bytes the key/value cache takes on the device.</summary>
    public override long CacheBytes => _cache.LengthInBytes;

    /// <summary>The weights on the device: the CPU's buffer, the same bytes and layout.</summary>
    protected ArrayView<float> Weights => _weights.View;

    /// <summary>Intermediate values: each at its per-row offset times <see cref="ChunkRows"/>.</summary>
    protected ArrayView<float> Arena => _arena.View;

    /// <summary>The kernels' scratch (int4 layers round their input rows into it).</summary>
    protected ArrayView<float> Scratch => _scratch.View;

    /// <summary>Attention layer <paramref name="slot"/>'s part of the cache: its keys, then its values, each <c>[kvHead][position][e]</c>.</summary>
    protected ArrayView<float> CacheSlot(int slot) => ((ArrayView<float>)_cache.View).SubView(_slotStarts[slot], _slotLengths[slot]);

    /// <summary>Rotary table <paramref name="table"/>: cosine and sine of each (position, pair), as <see cref="Rotary.Angles"/> lays them out.</summary>
    protected ArrayView<float> Rotations(int table) => ((ArrayView<float>)_rotations.View).SubView(_tableStarts[table], _tableLengths[table]);

    /// <inheritdoc/>
    protected override bool SupportsAdapters => false;

    /// <inheritdoc/>
    protected sealed override void Run(ReadOnlySpan<float> ids, Span<float> logits, int rows, KvCache cache, int position, bool lastRowOnly, KernelWorkers? workers)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Accelerator.IsDisposed)
            throw new ObjectDisposedException(nameof(Accelerator), "The accelerator this session was created on has been disposed; create the session again on a live accelerator.");
        ArrayView<float> x = ((ArrayView<float>)_ids.View).SubView(0, rows);
        x.CopyFromCPU(ids.Slice(0, rows));
        ArrayView<float> y = ((ArrayView<float>)_logits.View).SubView(0, (long)rows * VocabularySize);
        RunKernels(x, y, rows, position);
        Accelerator.Synchronize();
        if (lastRowOnly) y.SubView((long)(rows - 1) * VocabularySize, VocabularySize).CopyToCPU(logits);
        else y.CopyToCPU(logits);
    }

    /// <summary>
    /// Launches the model's kernels, in order, on the accelerator's default stream: <paramref name="rows"/> tokens (ids in
    /// <paramref name="ids"/>) at positions <paramref name="position"/>… write their logits to <paramref name="logits"/>.
    /// </summary>
    protected abstract void RunKernels(ArrayView<float> ids, ArrayView<float> logits, int rows, int position);

    /// <summary>A launch grid of <paramref name="count"/> items in groups of <paramref name="group"/>, at least one group.</summary>
    protected static int Groups(long count, int group) => (int)Math.Max(1, (count + group - 1) / group);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!_disposed && disposing)
        {
            _disposed = true;
            _weights.Dispose();
            _arena.Dispose();
            _ids.Dispose();
            _logits.Dispose();
            _scratch.Dispose();
            _cache.Dispose();
            _rotations.Dispose();
        }
        base.Dispose(disposing);
    }
}
