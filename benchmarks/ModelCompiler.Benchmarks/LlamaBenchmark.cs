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
    public float Decode() => DecodeStep(_session, _prompt, _logits);

    /// <summary>One decode step of <paramref name="session"/>; when its cache is full it starts again from <paramref name="prompt"/>.</summary>
    internal static float DecodeStep(DecoderSession session, int[] prompt, float[] logits)
    {
        if (session.Position == session.MaxTokens)
        {
            session.Reset();
            session.Prefill(prompt, logits);
        }
        session.Decode((session.Position * 31) % 32000, logits);
        return logits[0];
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

/// <summary>
/// What the session's options cost or save on Llama125M (float32 weights, one thread): a decode step at a long context
/// (a cache of 1,024…2,047 positions, where the keys and values read per token are a tenth of the weights) with the cache
/// in float32, float16 and int8, and with a rank-16 LoRA adapter on every q_proj and v_proj switched on the session
/// (<see cref="DecoderSession.SetAdapter"/>; written here with random values).
/// </summary>
[MemoryDiagnoser]
public class LlamaOptionsBenchmark
{
    private const int Prompt = 1024, MaxTokens = 2048, Rank = 16;
    private DecoderSession _session = null!;
    private readonly int[] _prompt = new int[Prompt];
    private float[] _logits = Array.Empty<float>();

    [Params("Float32 cache", "Float16 cache", "Int8 cache", "LoRA r16 q,v")]
    public string Option { get; set; } = "Float32 cache";

    [GlobalSetup]
    public void GlobalSetup()
    {
        _session = Llama125M.CreateSession(MaxTokens, 1, Option switch
        {
            "Float16 cache" => KvCacheFormat.Float16,
            "Int8 cache" => KvCacheFormat.Int8,
            _ => KvCacheFormat.Float32,
        });
        if (Option.StartsWith("LoRA", StringComparison.Ordinal)) _session.SetAdapter(LoraAdapter.Load(RandomAdapter()));
        for (int i = 0; i < Prompt; i++) _prompt[i] = (i * 7919 + 13) % 32000;
        _logits = new float[_session.VocabularySize];
        _session.Prefill(_prompt, _logits);
        Console.WriteLine($"// {Option}: cache {_session.CacheBytes / 1048576.0:F1} MiB");
    }

    [GlobalCleanup]
    public void GlobalCleanup() => _session.Dispose();

    /// <summary>One decode step; when the cache is full the sequence starts again from the 1,024-token prompt.</summary>
    [Benchmark]
    public float DecodeLongContext() => LlamaBenchmark.DecodeStep(_session, _prompt, _logits);

    /// <summary>A PEFT-layout adapter (rank 16, lora_alpha 32) on every q_proj [768 → 768] and v_proj [768 → 256], in a temporary folder.</summary>
    private static string RandomAdapter()
    {
        string folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "llama125m-lora");
        System.IO.Directory.CreateDirectory(folder);
        var random = new Random(1);
        var tensors = new System.Collections.Generic.List<(string Name, int Rows, int Columns)>();
        for (int layer = 0; layer < 12; layer++)
        {
            foreach ((string module, int outputs) in new[] { ("q_proj", 768), ("v_proj", 256) })
            {
                string name = $"base_model.model.model.layers.{layer}.self_attn.{module}";
                tensors.Add(($"{name}.lora_A.weight", Rank, 768));
                tensors.Add(($"{name}.lora_B.weight", outputs, Rank));
            }
        }
        var header = new System.Text.StringBuilder("{");
        long offset = 0;
        foreach ((string name, int rows, int columns) in tensors)
        {
            long bytes = 4L * rows * columns;
            header.Append($"{(offset == 0 ? "" : ",")}\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{rows},{columns}],\"data_offsets\":[{offset},{offset + bytes}]}}");
            offset += bytes;
        }
        byte[] json = System.Text.Encoding.UTF8.GetBytes(header.Append('}').ToString());
        using (var file = System.IO.File.Create(System.IO.Path.Combine(folder, "adapter_model.safetensors")))
        {
            file.Write(BitConverter.GetBytes((ulong)json.Length));
            file.Write(json);
            foreach ((_, int rows, int columns) in tensors)
            {
                var values = new float[rows * columns];
                for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() - 0.5) * 0.1f;
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            }
        }
        System.IO.File.WriteAllText(System.IO.Path.Combine(folder, "adapter_config.json"), $"{{\"peft_type\": \"LORA\", \"r\": {Rank}, \"lora_alpha\": 32}}");
        return folder;
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
