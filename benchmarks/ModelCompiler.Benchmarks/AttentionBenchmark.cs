using System;
using BenchmarkDotNet.Attributes;
using ModelCompiler.Kernels;

namespace ModelCompiler.Benchmarks;

/// <summary>
/// The decoder's attention over its key/value cache alone (<see cref="CachedAttention"/>), at Llama125M's shape (12 query
/// heads over 4 key/value heads of 64): the last 64-row chunk of a long prompt (rows 64) and one decode step (rows 1)
/// with the cache filled up to <see cref="Context"/> positions. The floating-point work is
/// <c>4 · heads · headSize · Σ positions read</c> (scores and the weighted sum of values).
/// </summary>
public class AttentionBenchmark
{
    private const int Heads = 12, KvHeads = 4, HeadSize = 64;
    private KvCache _cache = null!;
    private AlignedBuffer _q = null!, _k = null!, _v = null!, _output = null!;
    private KernelWorkers? _workers;

    /// <summary>Query rows per call: 64 (a prefill chunk) or 1 (a decode step).</summary>
    [Params(64, 1)]
    public int Rows { get; set; } = 64;

    /// <summary>Positions in the cache after the call.</summary>
    [Params(512, 2048)]
    public int Context { get; set; } = 2048;

    /// <summary>Threads sharing the call.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _cache = new KvCache(Context, new[] { KvHeads * HeadSize }, KvCacheFormat.Float32, new[] { HeadSize });
        _q = Random(Context * Heads * HeadSize, 1);
        _k = Random(Context * KvHeads * HeadSize, 2);
        _v = Random(Context * KvHeads * HeadSize, 3);
        _output = new AlignedBuffer(Context * Heads * HeadSize);
        _workers = Threads > 1 ? new KernelWorkers(Threads) : null;
        for (int position = 0; position < Context; position += 64) Attend(position, Math.Min(64, Context - position));
    }

    [GlobalCleanup]
    public void GlobalCleanup() => _workers?.Dispose();

    /// <summary>The last <see cref="Rows"/> positions, attending to every position before them.</summary>
    [Benchmark]
    public float Attention()
    {
        Attend(Context - Rows, Rows);
        return _output.Span[0];
    }

    private void Attend(int position, int rows) =>
        CachedAttention.Run(ref _q.Span[position * Heads * HeadSize], ref _k.Span[position * KvHeads * HeadSize], ref _v.Span[position * KvHeads * HeadSize],
            ref _output.Span[position * Heads * HeadSize], rows, Heads, KvHeads, HeadSize, _cache, slot: 0, position, _workers);

    private static AlignedBuffer Random(int length, int seed)
    {
        var random = new Random(seed);
        var buffer = new AlignedBuffer(length);
        for (int i = 0; i < length; i++) buffer.Span[i] = (float)(random.NextDouble() - 0.5);
        return buffer;
    }
}
