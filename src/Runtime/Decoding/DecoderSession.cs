using System;
using System.Collections.Generic;
using ModelCompiler.Kernels;

namespace ModelCompiler;

/// <summary>
/// One sequence through a compiled decoder (a model whose <c>Forward</c> uses <see cref="Tensor.CachedAttention"/>):
/// the keys and values of every position so far (<see cref="KvCache"/>, allocated once), and the position the next token
/// takes. <see cref="Prefill"/> runs a prompt (as a GEMM over its tokens, in chunks), <see cref="Decode"/> one token;
/// both give the logits of what comes next. Generated models return one from <c>CreateSession</c>.
/// </summary>
/// <remarks>
/// Calls on one session are serialized (a lock); sessions are independent, so run one per conversation and as many at
/// once as there are cores. Nothing is allocated per token. A session keeps the keys and values computed with the
/// weights in use when each token ran: after <c>LoadWeights</c>, <see cref="Reset"/> it.
/// </remarks>
public abstract class DecoderSession : IDisposable
{
    private readonly object _gate = new();
    private readonly float[] _ids;
    private readonly float[] _chunkLogits;
    private readonly KvCache _cache;
    private readonly int _chunkRows;
    private readonly int _tokenLimit;
    private readonly bool _lastRowAlone;
    private readonly KernelWorkers? _workers;
    private readonly string[] _linearLayers;
    private readonly (int In, int Out)[] _linearShapes;

    /// <summary>A session of <paramref name="maxTokens"/> positions, for a model with <paramref name="vocabulary"/> logits per token.</summary>
    /// <param name="maxTokens">Positions the cache holds: prompt and generated tokens together.</param>
    /// <param name="vocabulary">Logits per token (the model's output length).</param>
    /// <param name="tokenLimit">Token ids are whole numbers below this (the embedding table's rows).</param>
    /// <param name="chunkRows">Most tokens the compiled code runs at once.</param>
    /// <param name="kvWidths">Key/value values per position of each attention layer, in order.</param>
    /// <param name="lastRowAlone">Whether <see cref="Run"/> can compute the last token's logits alone (the kernels after the last attention on its row only).</param>
    /// <param name="maxDegreeOfParallelism">Threads that share each large matrix product (the caller and workers the session starts): 1 stays on the calling thread, -1 uses every core.</param>
    /// <param name="linearLayers">The model's Linear layers in the order <see cref="AdapterLayers"/> lists them, with <paramref name="linearShapes"/> their (input, output) widths: what an adapter binds to.</param>
    /// <param name="linearShapes">Each Linear layer's input and output widths, as pairs: in₀, out₀, in₁, out₁, ….</param>
    /// <param name="cacheFormat">How the key/value cache stores each value.</param>
    /// <param name="kvHeadSizes">The head size of each attention layer (default: one head per layer).</param>
    protected DecoderSession(int maxTokens, int vocabulary, int tokenLimit, int chunkRows, ReadOnlySpan<int> kvWidths, bool lastRowAlone = false,
        int maxDegreeOfParallelism = 1, string[]? linearLayers = null, ReadOnlySpan<int> linearShapes = default,
        KvCacheFormat cacheFormat = KvCacheFormat.Float32, ReadOnlySpan<int> kvHeadSizes = default)
    {
        _linearLayers = linearLayers ?? Array.Empty<string>();
        if (linearShapes.Length != 2 * _linearLayers.Length)
            throw new ArgumentException("Each Linear layer needs its input and output widths.", nameof(linearShapes));
        _linearShapes = new (int, int)[_linearLayers.Length];
        for (int i = 0; i < _linearShapes.Length; i++) _linearShapes[i] = (linearShapes[2 * i], linearShapes[2 * i + 1]);
        if (maxDegreeOfParallelism is 0 or < -1)
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Use -1 for every core, or a positive number of threads.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabulary);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkRows);
        _cache = new KvCache(maxTokens, kvWidths, cacheFormat, kvHeadSizes);
        VocabularySize = vocabulary;
        _tokenLimit = tokenLimit;
        _chunkRows = chunkRows;
        _ids = new float[chunkRows];
        _lastRowAlone = lastRowAlone;
        _chunkLogits = new float[checked((lastRowAlone ? 1 : chunkRows) * vocabulary)];
        int threads = maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        if (threads > 1) _workers = new KernelWorkers(threads);
    }

    /// <summary>Positions the session holds, prompt and generated tokens together.</summary>
    public int MaxTokens => _cache.MaxTokens;

    /// <summary>Logits per token.</summary>
    public int VocabularySize { get; }

    /// <summary>Tokens run so far: the position the next token takes.</summary>
    public int Position { get; private set; }

    /// <summary>Threads each large matrix product is shared among (1: the calling thread alone).</summary>
    public int DegreeOfParallelism => _workers?.Parts ?? 1;

    /// <summary>Bytes the key/value cache takes.</summary>
    public virtual long CacheBytes => _cache.Bytes;

    /// <summary>How the key/value cache stores each value.</summary>
    public KvCacheFormat CacheFormat => _cache.Format;

    /// <summary>
    /// Runs <paramref name="tokens"/> at the next positions and writes the logits of the token after the last
    /// (<see cref="VocabularySize"/> floats), or, when <paramref name="logits"/> has room for
    /// <c>tokens.Length × VocabularySize</c>, the logits after every one of them (for perplexity).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="tokens"/> is empty or does not fit in the cache, or <paramref name="logits"/> has another length; nothing is run.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token id is not in the vocabulary; nothing is run.</exception>
    public void Prefill(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        lock (_gate)
        {
            if (tokens.IsEmpty) throw new ArgumentException("Prefill needs at least one token.", nameof(tokens));
            if (tokens.Length > MaxTokens - Position)
                throw new ArgumentException($"{tokens.Length} tokens do not fit: the session is at position {Position} of {MaxTokens}.", nameof(tokens));
            bool every = logits.Length == (long)tokens.Length * VocabularySize && tokens.Length > 1;
            if (!every && logits.Length != VocabularySize)
                throw new ArgumentException($"Expected {VocabularySize} logits (the next token's) or {(long)tokens.Length * VocabularySize} (after every token), got {logits.Length}.", nameof(logits));
            foreach (int token in tokens) CheckToken(token, nameof(tokens));
            for (int start = 0; start < tokens.Length; start += _chunkRows)
            {
                int rows = Math.Min(_chunkRows, tokens.Length - start);
                for (int r = 0; r < rows; r++) _ids[r] = tokens[start + r];
                bool lastChunk = start + rows == tokens.Length;
                if (every) RunPinned(_ids.AsSpan(0, rows), logits.Slice(start * VocabularySize, rows * VocabularySize), rows, lastRowOnly: false);
                else if (_lastRowAlone) RunPinned(_ids.AsSpan(0, rows), lastChunk ? logits : _chunkLogits, rows, lastRowOnly: true);
                else
                {
                    Span<float> chunk = _chunkLogits.AsSpan(0, rows * VocabularySize);
                    RunPinned(_ids.AsSpan(0, rows), chunk, rows, lastRowOnly: false);
                    if (lastChunk) chunk.Slice((rows - 1) * VocabularySize).CopyTo(logits);
                }
                Position += rows;
            }
        }
    }

    /// <summary>Runs one token at the next position and writes the logits of the token after it.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="token"/> is not in the vocabulary; nothing is run.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is not <see cref="VocabularySize"/> long, or the cache is full; nothing is run.</exception>
    public void Decode(int token, Span<float> logits)
    {
        lock (_gate)
        {
            CheckToken(token, nameof(token));
            if (logits.Length != VocabularySize) throw new ArgumentException($"Expected {VocabularySize} logits, got {logits.Length}.", nameof(logits));
            if (Position >= MaxTokens) throw new ArgumentException($"The session is full ({MaxTokens} positions); Reset it or create a larger one.", nameof(token));
            _ids[0] = token;
            RunPinned(_ids.AsSpan(0, 1), logits, 1, lastRowOnly: true);
            Position++;
        }
    }

    /// <summary>
    /// The model's perplexity on <paramref name="tokens"/> as one sequence from position 0: exp of the mean negative
    /// log-likelihood of each token after the first, given those before it (PyTorch's cross entropy over the shifted
    /// logits). Starts a new sequence, as <see cref="Reset"/>, and leaves the session after the tokens; allocates the
    /// logits of every token (tokens × <see cref="VocabularySize"/> floats).
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two tokens, or more than <see cref="MaxTokens"/>; nothing is run.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token id is not in the vocabulary; nothing is run.</exception>
    public double Perplexity(ReadOnlySpan<int> tokens)
    {
        if (tokens.Length < 2) throw new ArgumentException("Perplexity needs at least two tokens.", nameof(tokens));
        if (tokens.Length > MaxTokens) throw new ArgumentException($"{tokens.Length} tokens do not fit a session of {MaxTokens}.", nameof(tokens));
        foreach (int token in tokens) CheckToken(token, nameof(tokens));
        var logits = new float[checked(tokens.Length * VocabularySize)];
        lock (_gate)
        {
            Position = 0;
            Prefill(tokens, logits);
        }
        double negativeLogLikelihood = 0;
        for (int t = 0; t + 1 < tokens.Length; t++)
        {
            ReadOnlySpan<float> row = logits.AsSpan(t * VocabularySize, VocabularySize);
            float max = float.NegativeInfinity;
            foreach (float v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (float v in row) sum += Math.Exp(v - (double)max);
            negativeLogLikelihood += max + Math.Log(sum) - row[tokens[t + 1]];
        }
        return Math.Exp(negativeLogLikelihood / (tokens.Length - 1));
    }

    /// <summary>The LoRA adapter the session's tokens run with (<see cref="SetAdapter"/>), or null for the model's own weights.</summary>
    public LoraAdapter? Adapter { get; private set; }

    /// <summary>The adapter's layers bound to the model's Linear layers (null where a layer is not adapted), for <see cref="Run"/>; null without an adapter.</summary>
    protected LoraLayer?[]? AdapterLayers { get; private set; }

    /// <summary>
    /// Runs the next tokens with <paramref name="adapter"/> switched on (null: the model's own weights): each Linear layer it
    /// adapts computes <c>W x + s · B (A x)</c> on the compiled weights (float32, int8 or int4), so sessions with different
    /// adapters share one base. Checked against the model first: every adapted layer must be one of its Linear layers, with
    /// its widths. The cache keeps what earlier tokens computed: <see cref="Reset"/> to start a sequence with the adapter.
    /// </summary>
    /// <exception cref="ArgumentException">The adapter does not fit the model (the message says where); the session is unchanged.</exception>
    /// <exception cref="NotSupportedException">The session cannot switch adapters (a GPU session: merge the adapter at build time instead).</exception>
    public void SetAdapter(LoraAdapter? adapter)
    {
        if (adapter is not null && !SupportsAdapters)
            throw new NotSupportedException("This session cannot switch adapters at run time; merge the adapter at build time ([CompileModel(Adapter = \"…\")]) instead.");
        LoraLayer?[]? bound = adapter?.Bind(_linearLayers, _linearShapes, nameof(adapter));
        lock (_gate)
        {
            Adapter = adapter;
            AdapterLayers = bound;
        }
    }

    /// <summary>Starts a new sequence: the next token takes position 0 (the cache is overwritten as it goes).</summary>
    public void Reset()
    {
        lock (_gate) Position = 0;
    }

    /// <summary>
    /// Runs <paramref name="prompt"/> after the tokens so far, then yields up to <paramref name="maxNewTokens"/> tokens as
    /// they are chosen by <paramref name="sampler"/> (greedy when null), each run in turn. Stops early at
    /// <paramref name="endToken"/> (not yielded) or when the cache is full.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is empty or does not fit, or a count is negative (thrown at the call, before anything runs).</exception>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, int maxNewTokens, Sampler? sampler = null, int? endToken = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        if (prompt.Count == 0) throw new ArgumentException("Generation needs a prompt of at least one token.", nameof(prompt));
        var tokens = new int[prompt.Count];
        for (int i = 0; i < tokens.Length; i++) CheckToken(tokens[i] = prompt[i], nameof(prompt));
        if (tokens.Length > MaxTokens - Position)
            throw new ArgumentException($"{tokens.Length} prompt tokens do not fit: the session is at position {Position} of {MaxTokens}.", nameof(prompt));
        return Generating(tokens, maxNewTokens, sampler ?? Sampler.Greedy, endToken);
    }

    private IEnumerable<int> Generating(int[] prompt, int maxNewTokens, Sampler sampler, int? endToken)
    {
        var logits = new float[VocabularySize];
        Prefill(prompt, logits);
        for (int produced = 0; produced < maxNewTokens; produced++)
        {
            int token = sampler.Sample(logits);
            if (token == endToken) yield break;
            yield return token;
            if (produced + 1 == maxNewTokens || Position >= MaxTokens) yield break;
            Decode(token, logits);
        }
    }

    /// <summary>Whether <see cref="SetAdapter"/> can switch an adapter on (the compiled CPU sessions can).</summary>
    protected virtual bool SupportsAdapters => true;

    /// <summary>Stops the session's worker threads, if it has any (<c>maxDegreeOfParallelism</c> above 1), and frees what a derived session holds; the session cannot run after.</summary>
    public void Dispose()
    {
        lock (_gate) Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the session's resources (called once per <see cref="Dispose()"/>, under the session's lock); a derived session frees its own, then calls this.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing) _workers?.Dispose();
    }

    /// <summary>
    /// Runs the compiled model over <paramref name="rows"/> tokens at positions <c>position…</c>, writing each one's logits,
    /// or with <paramref name="lastRowOnly"/> (only when the session was created with <c>lastRowAlone</c>) the last one's;
    /// <paramref name="workers"/>, when not null, share the large matrix products (the spans are pinned for the call).
    /// </summary>
    protected abstract void Run(ReadOnlySpan<float> ids, Span<float> logits, int rows, KvCache cache, int position, bool lastRowOnly, KernelWorkers? workers);

    /// <summary><see cref="Run"/> with both spans pinned: worker threads write the logits through a pointer.</summary>
    private unsafe void RunPinned(ReadOnlySpan<float> ids, Span<float> logits, int rows, bool lastRowOnly)
    {
        fixed (float* pinnedIds = ids)
        fixed (float* pinnedLogits = logits)
            Run(ids, logits, rows, _cache, Position, lastRowOnly, _workers);
    }

    private void CheckToken(int token, string parameter)
    {
        if ((uint)token >= (uint)_tokenLimit)
            throw new ArgumentOutOfRangeException(parameter, token, $"Token ids are in [0, {_tokenLimit}).");
    }
}
