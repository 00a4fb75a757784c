using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ModelCompiler.Gpu;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// A decoder's GPU session (<c>CreateGpuSession</c>: the cache on the device, rotary tables, attention over the cache, a
/// matrix-vector kernel per Linear for decode steps) against its CPU session, which DecoderTests and Gpt2Tests hold to
/// the eager reference and PyTorch, on ILGPU's CPU accelerator (32-wide warps simulated, as GpuTests).
/// </summary>
public sealed class GpuDecoderTests : IDisposable
{
    private readonly Context _context = Context.Create(builder => builder.CPU(CPUDeviceKind.Nvidia));
    private readonly Accelerator _accelerator;

    public GpuDecoderTests() => _accelerator = _context.CreateCPUAccelerator(0);

    public void Dispose()
    {
        _accelerator.Dispose();
        _context.Dispose();
    }

    private static readonly (string Name, Type Model, Func<int, DecoderSession> Cpu)[] Decoders =
    {
        ("TinyLlama", typeof(TinyLlama), n => TinyLlama.CreateSession(n)),
        ("TinyLlamaInt8", typeof(TinyLlamaInt8), n => TinyLlamaInt8.CreateSession(n)),
        ("TinyLlamaInt4", typeof(TinyLlamaInt4), n => TinyLlamaInt4.CreateSession(n)),
        ("TinyLlamaGptq", typeof(TinyLlamaGptq), n => TinyLlamaGptq.CreateSession(n)),
        ("TinyGpt2", typeof(TinyGpt2), n => TinyGpt2.CreateSession(n)),
        ("TinyGpt2Int4", typeof(TinyGpt2Int4), n => TinyGpt2Int4.CreateSession(n)),
        ("TinyGpt2FromFile", typeof(TinyGpt2FromFile), n => TinyGpt2FromFile.CreateSession(n)),
    };

    /// <summary>
    /// Each decoder with a prompt of 12 tokens (the fast tier runs three; ILGPU's CPU accelerator is slow), and TinyLlama
    /// with 300 (slow tier): five chunks of 64 rows, and attention over more than one chunk of 256 keys.
    /// </summary>
    public static TheoryData<string, int> Runs()
    {
        var data = new TheoryData<string, int>();
        foreach (var decoder in Decoders)
            data.Add(decoder.Name is "TinyLlama" or "TinyLlamaInt4" or "TinyGpt2" ? new TheoryDataRow<string, int>(decoder.Name, 12) : Tier.SlowRow(new TheoryDataRow<string, int>(decoder.Name, 12)));
        data.Add(Tier.SlowRow(new TheoryDataRow<string, int>("TinyLlama", 300)));
        return data;
    }

    private GpuDecoderSession Gpu(Type model, int maxTokens) =>
        (GpuDecoderSession)model.GetMethod("CreateGpuSession")!.Invoke(null, new object[] { _accelerator, maxTokens })!;

    [Theory]
    [MemberData(nameof(Runs))]
    public void A_GPU_session_gives_the_CPU_session_logits_after_every_token(string name, int prompt)
    {
        (_, Type model, Func<int, DecoderSession> cpu) = Array.Find(Decoders, d => d.Name == name);
        const int More = 3, Steps = 3;
        int total = prompt + More + Steps;
        int[] tokens = Enumerable.Range(0, total).Select(i => (i * 37 + 11) % 50).ToArray();
        using DecoderSession expectedSession = cpu(total);
        using GpuDecoderSession gpu = Gpu(model, total);
        int vocabulary = gpu.VocabularySize;
        Assert.Equal(expectedSession.VocabularySize, vocabulary);

        // A prompt (the tiled GEMMs), three more tokens (the matrix-vector kernels, every token's logits), then decode
        // steps; the whole sequence's logits on each side.
        float[] Run(DecoderSession session)
        {
            var logits = new float[total * vocabulary];
            session.Prefill(tokens.AsSpan(0, prompt), logits.AsSpan(0, prompt * vocabulary));
            session.Prefill(tokens.AsSpan(prompt, More), logits.AsSpan(prompt * vocabulary, More * vocabulary));
            for (int i = prompt + More; i < total; i++) session.Decode(tokens[i], logits.AsSpan(i * vocabulary, vocabulary));
            Assert.Equal(total, session.Position);
            return logits;
        }
        float[] expected = Run(expectedSession), actual = Run(gpu);
        // Int4 layers round their activations to int8 per block: a float-order difference now and then moves one code.
        if (name.Contains("Int4", StringComparison.Ordinal) || name.Contains("Gptq", StringComparison.Ordinal))
            Numerics.AssertRowsAgreeButForCodeFlips(actual, expected, vocabulary);
        else
            Assert.InRange(Numerics.RelativeError(actual, expected), 0, 1e-4);

        // Next-token logits alone (the last row copied back) after a reset: the same as that row of a full run.
        gpu.Reset();
        var last = new float[vocabulary];
        gpu.Prefill(tokens.AsSpan(0, prompt), last);
        Assert.InRange(Numerics.RelativeError(last, actual.AsSpan((prompt - 1) * vocabulary, vocabulary)), 0, 1e-5);
    }

    [Fact]
    public void Greedy_generation_on_the_GPU_picks_the_CPU_tokens()
    {
        int[] prompt = { 3, 14, 15, 9, 2, 6 };
        using DecoderSession cpu = TinyLlama.CreateSession(32);
        using GpuDecoderSession gpu = TinyLlama.CreateGpuSession(_accelerator, 32);
        Assert.Equal(cpu.CacheBytes, gpu.CacheBytes); // float32, the same layout, on the device
        int[] expected = cpu.Generate(prompt, 12).ToArray(), actual = gpu.Generate(prompt, 12).ToArray();
        Assert.Equal(12, expected.Length);
        Assert.Equal(expected, actual);
        Assert.Equal(prompt.Length + 11, gpu.Position);
        Assert.Equal(cpu.Perplexity(prompt.Concat(expected).ToArray()), gpu.Perplexity(prompt.Concat(expected).ToArray()), 4);
    }

    [Fact]
    public void A_GPU_session_refuses_what_it_cannot_run_and_writes_nothing()
    {
        using GpuDecoderSession gpu = TinyGpt2.CreateGpuSession(_accelerator, 8);
        var logits = new float[gpu.VocabularySize];
        Array.Fill(logits, 42f);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => gpu.Decode(gpu.VocabularySize + 5, logits));
        Assert.Equal("token", e.ParamName);
        Assert.Throws<ArgumentException>(() => gpu.Prefill(new int[9], logits)); // past maxTokens
        Assert.All(logits, v => Assert.Equal(42f, v));
        Assert.Equal(0, gpu.Position);
        // The learned positions bound the session, as on the CPU.
        var tooLong = Assert.Throws<System.Reflection.TargetInvocationException>(() => Gpu(typeof(TinyGpt2), TinyGpt2.MaxPositions + 1));
        Assert.Equal("maxTokens", Assert.IsType<ArgumentOutOfRangeException>(tooLong.InnerException).ParamName);
        // Adapters are merged at build time on the GPU; switching one is refused (null, the model's own weights, is not).
        LoraAdapter adapter = LoraAdapter.Load(System.IO.Path.Combine(Numerics.ModelsFolder, "lora_a"));
        Assert.Throws<NotSupportedException>(() => gpu.SetAdapter(adapter));
        gpu.SetAdapter(null);
    }

    [Fact]
    public void A_disposed_GPU_session_or_accelerator_throws_instead_of_ending_the_process()
    {
        using Context context = Context.Create(builder => builder.CPU(CPUDeviceKind.Nvidia));
        Accelerator accelerator = context.CreateCPUAccelerator(0);
        GpuDecoderSession gpu = TinyLlama.CreateGpuSession(accelerator, 8);
        var logits = new float[gpu.VocabularySize];
        gpu.Decode(1, logits);
        accelerator.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gpu.Decode(2, logits));
        gpu.Dispose();
        gpu.Dispose(); // twice is harmless
        Assert.Throws<ObjectDisposedException>(() => gpu.Decode(2, logits));
    }

    [Fact]
    public void Every_decoder_GPU_kernel_compiles_to_PTX_and_OpenCL_C()
    {
        foreach (var decoder in Decoders)
        {
            System.Reflection.MethodInfo[] kernels = GpuTests.KernelMethods(decoder.Model);
            // The cached attention's store, and (but for int8 layers, which run their integer GEMM) the matrix-vector kernels.
            if (!decoder.Name.Contains("Int8", StringComparison.Ordinal)) Assert.Contains(kernels, k => k.Name.EndsWith("Gemv", StringComparison.Ordinal));
            Assert.Contains(kernels, k => k.Name.EndsWith("Store", StringComparison.Ordinal));
            GpuTests.CompileForDevices(kernels);
        }
    }
}
