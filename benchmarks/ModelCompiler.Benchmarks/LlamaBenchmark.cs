#if LLAMA125M
using System;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;

namespace ModelCompiler.Benchmarks;

/// <summary>
/// Issue 17's yardstick: Llama125M's decode step (one token after a cache of 128…639 positions) and a 128-token prefill,
/// float32, int8 and int4 weights, beside the limit memory sets: every weight is read once per decoded token, so
/// tokens/s cannot exceed measured read bandwidth ÷ weight bytes (<see cref="BandwidthBenchmark"/> measures it).
/// </summary>
[MemoryDiagnoser]
public class LlamaBenchmark
{
    private const int Prompt = 128, Cycle = 512;
    private DecoderSession _session = null!;
    private readonly int[] _prompt = new int[Prompt];
    private float[] _logits = Array.Empty<float>();

    [Params("Float32", "Int8", "Int4")]
    public string Weights { get; set; } = "Float32";

    /// <summary>Threads sharing each matrix product (the session's maxDegreeOfParallelism).</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _session = Weights switch
        {
            "Int8" => Llama125MInt8.CreateSession(Prompt + Cycle, Threads),
            "Int4" => Llama125MInt4.CreateSession(Prompt + Cycle, Threads),
            _ => Llama125M.CreateSession(Prompt + Cycle, Threads),
        };
        for (int i = 0; i < Prompt; i++) _prompt[i] = (i * 7919 + 13) % 32000;
        _logits = new float[_session.VocabularySize];
        _session.Prefill(_prompt, _logits);
    }

    [GlobalCleanup]
    public void GlobalCleanup() => _session.Dispose();

    /// <summary>One decode step; every 512 steps the sequence starts again from the 128-token prompt (not timed apart: 1/512 of a prefill per step).</summary>
    [Benchmark]
    public float Decode()
    {
        if (_session.Position == _session.MaxTokens)
        {
            _session.Reset();
            _session.Prefill(_prompt, _logits);
        }
        _session.Decode((_session.Position * 31) % 32000, _logits);
        return _logits[0];
    }

    /// <summary>A 128-token prompt from position 0.</summary>
    [Benchmark]
    public float Prefill128()
    {
        _session.Reset();
        _session.Prefill(_prompt, _logits);
        return _logits[0];
    }
}

/// <summary>Read bandwidth from memory on 1 and 2 threads: a sum over 512 MB (more than any cache), Vector256 loads.</summary>
public class BandwidthBenchmark
{
    private const int Floats = 128 << 20;
    private float[] _data = Array.Empty<float>();

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _data = GC.AllocateUninitializedArray<float>(Floats, pinned: true);
        new Random(1).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_data.AsSpan()));
        for (int i = 0; i < _data.Length; i++) if (!float.IsFinite(_data[i])) _data[i] = 0;
    }

    /// <summary>Reads 512 MB once; bytes ÷ time is the bandwidth.</summary>
    [Benchmark]
    public float Read512MB()
    {
        if (Threads == 1) return Sum(0, Floats);
        var sums = new float[Threads];
        int part = Floats / Threads;
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t => sums[t] = Sum(t * part, part));
        return sums[0] + sums[1];
    }

    private float Sum(int start, int count)
    {
        ref float x = ref _data[start];
        Vector256<float> a = Vector256<float>.Zero, b = a, c = a, d = a;
        for (int i = 0; i + 32 <= count; i += 32)
        {
            a += Vector256.LoadUnsafe(ref x, (nuint)i);
            b += Vector256.LoadUnsafe(ref x, (nuint)i + 8);
            c += Vector256.LoadUnsafe(ref x, (nuint)i + 16);
            d += Vector256.LoadUnsafe(ref x, (nuint)i + 24);
        }
        return Vector256.Sum(a + b + c + d);
    }
}
#endif
