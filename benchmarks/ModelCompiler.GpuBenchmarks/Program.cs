// The GPU benchmark (issues 6 and 17). On a CUDA machine: benchmarks/gpu/device.sh runs it beside PyTorch and writes the table.
// Here: `dotnet run --project benchmarks/ModelCompiler.GpuBenchmarks -c Release -- --cpu` checks the harness on ILGPU's
// CPU accelerator with small sizes (its timings mean nothing).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ModelCompiler;
using ModelCompiler.Gpu;
using ModelCompiler.GpuBenchmarks;

bool cpu = args.Contains("--cpu");
string outDir = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? AppContext.BaseDirectory;
Directory.CreateDirectory(outDir);

// ILGPU's P/Invoke name for the driver is "cuda"; machines with only libcuda.so.1 need the fallback.
AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
    name == "cuda" && NativeLibrary.TryLoad("libcuda.so.1", out IntPtr handle) ? handle : IntPtr.Zero;

using Context context = Context.Create(builder => builder.Cuda().CPU(CPUDeviceKind.Nvidia));
Device device = cpu ? context.GetCPUDevices()[0] : context.Devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.Cuda)
    ?? throw new InvalidOperationException("no CUDA device (run with --cpu to check the harness on the CPU accelerator)");
using Accelerator accelerator = device.CreateAccelerator(context);
var rows = new List<(string What, string Value)>();
void Report(string what, string value)
{
    rows.Add((what, value));
    Console.WriteLine($"{what}: {value}");
}
Report("device", $"{accelerator.Name} ({accelerator.AcceleratorType})");

// The MLP: first-call cost, then the median of synchronized runs on device memory, batch by batch.
int[] batches = cpu ? new[] { 1, 2, 3 } : new[] { 1, 64, 4096 };
int maxBatch = batches.Max();
var clock = Stopwatch.StartNew();
using Mlp784.Gpu mlp = Mlp784.CreateGpu(accelerator, maxBatch);
Report("MLP CreateGpu (kernels compiled, weights uploaded)", Ms(clock.Elapsed.TotalMilliseconds));
float[] input = Random(maxBatch * Mlp784.InputLength, 1);
var output = new float[maxBatch * Mlp784.OutputLength];
clock.Restart();
mlp.Predict(input.AsSpan(0, Mlp784.InputLength), output.AsSpan(0, Mlp784.OutputLength), 1);
Report("MLP first Predict, batch 1", Ms(clock.Elapsed.TotalMilliseconds));
mlp.Warmup();

var expected = new float[batches[1] * Mlp784.OutputLength];
Mlp784.Predict(input.AsSpan(0, batches[1] * Mlp784.InputLength), expected, batches[1]);
mlp.Predict(input.AsSpan(0, batches[1] * Mlp784.InputLength), output.AsSpan(0, expected.Length), batches[1]);
Report($"MLP GPU vs CPU, batch {batches[1]} (max relative error)", RelativeError(output.AsSpan(0, expected.Length), expected).ToString("E2", CultureInfo.InvariantCulture));

using MemoryBuffer1D<float, Stride1D.Dense> x = accelerator.Allocate1D(input);
using MemoryBuffer1D<float, Stride1D.Dense> y = accelerator.Allocate1D<float>(output.Length);
foreach (int batch in batches)
{
    ArrayView<float> xv = ((ArrayView<float>)x.View).SubView(0, (long)batch * Mlp784.InputLength);
    ArrayView<float> yv = ((ArrayView<float>)y.View).SubView(0, (long)batch * Mlp784.OutputLength);
    double us = Median(() => mlp.Predict(xv, yv, batch), cpu ? 1 : 200) * 1000;
    Report($"MLP batch {batch}, device memory (µs){(batch <= mlp.FusedBatchLimit ? ", whole-model kernel" : ", a GEMM per layer")}", us.ToString("F1", CultureInfo.InvariantCulture));
    if (batch <= mlp.FusedBatchLimit)
    {
        // The same batch with a kernel per layer, for comparison.
        int limit = mlp.FusedBatchLimit;
        mlp.FusedBatchLimit = 0;
        us = Median(() => mlp.Predict(xv, yv, batch), cpu ? 1 : 200) * 1000;
        Report($"MLP batch {batch}, device memory (µs), a GEMM per layer", us.ToString("F1", CultureInfo.InvariantCulture));
        mlp.FusedBatchLimit = limit;
    }
}
{
    int batch = batches[1];
    double us = Median(() => mlp.Predict(input.AsSpan(0, batch * Mlp784.InputLength), output.AsSpan(0, batch * Mlp784.OutputLength), batch), cpu ? 1 : 200) * 1000;
    Report($"MLP batch {batch}, from and to host memory (µs)", us.ToString("F1", CultureInfo.InvariantCulture));
}

// Every sample on the GPU against its CPU code (the issue asks ≤ 1e-4), and its time at the larger batch.
foreach (Sample sample in Sample.All)
{
    int large = cpu ? 3 : 64;
    clock.Restart();
    using GpuModel model = sample.CreateGpu(accelerator, large);
    double create = clock.Elapsed.TotalMilliseconds;
    double worst = 0;
    foreach (int batch in new[] { 1, large })
    {
        float[] sampleInput = sample.Inputs(batch, batch + 7);
        var cpuOutput = new float[batch * sample.OutputLength];
        var gpuOutput = new float[batch * sample.OutputLength];
        sample.Cpu(sampleInput, cpuOutput, batch);
        model.Predict(sampleInput, gpuOutput, batch);
        worst = Math.Max(worst, RelativeError(gpuOutput, cpuOutput));
    }
    Report($"{sample.Name}: GPU vs CPU, batches 1 and {large} (max relative error)", worst.ToString("E2", CultureInfo.InvariantCulture) + (worst <= 1e-4 ? " ✓" : " ✗ over 1e-4"));
    float[] timed = sample.Inputs(large, 1);
    using MemoryBuffer1D<float, Stride1D.Dense> sx = accelerator.Allocate1D(timed);
    using MemoryBuffer1D<float, Stride1D.Dense> sy = accelerator.Allocate1D<float>((long)large * sample.OutputLength);
    double us = Median(() => model.Predict(sx.View, sy.View, large), cpu ? 1 : 200) * 1000;
    Report($"{sample.Name}: CreateGpu {Ms(create)}; batch {large}, device memory (µs)", us.ToString("F1", CultureInfo.InvariantCulture));
}

// A decoder (the TextGeneration sample's Llama, 2 M parameters) as a GPU session (CreateGpuSession: the cache on the
// device): logits against its CPU session, then a prefill's time and decode steps per second, beside the CPU session on
// this machine's cores (one thread, and every core).
foreach ((string name, Func<int, int, DecoderSession> hostSession, Func<Accelerator, int, GpuDecoderSession> gpuSession) in new (string, Func<int, int, DecoderSession>, Func<Accelerator, int, GpuDecoderSession>)[]
{
    ("DocsLlama float32", (n, threads) => TextGeneration.DocsLlama.CreateSession(n, threads), (a, n) => TextGeneration.DocsLlama.CreateGpuSession(a, n)),
    ("DocsLlama int4", (n, threads) => TextGeneration.DocsLlamaInt4.CreateSession(n, threads), (a, n) => TextGeneration.DocsLlamaInt4.CreateGpuSession(a, n)),
})
{
    int prompt = cpu ? 8 : 128, steps = cpu ? 2 : 200, length = prompt + steps + 8;
    int[] tokens = Enumerable.Range(0, prompt).Select(i => (i * 37 + 11) % 2048).ToArray();
    clock.Restart();
    using GpuDecoderSession gpu = gpuSession(accelerator, length);
    Report($"{name}: CreateGpuSession (kernels compiled, weights uploaded)", Ms(clock.Elapsed.TotalMilliseconds));
    using DecoderSession host = hostSession(length, 1);
    var onHost = new float[host.VocabularySize];
    var actual = new float[gpu.VocabularySize];
    host.Prefill(tokens, onHost);
    gpu.Prefill(tokens, actual);
    double worst = RelativeError(actual, onHost);
    for (int step = 0; step < 3; step++)
    {
        host.Decode(step + 5, onHost);
        gpu.Decode(step + 5, actual);
        worst = Math.Max(worst, RelativeError(actual, onHost));
    }
    // Int4 layers round activations per block: a float-order difference can move one code (about 1e-2 on a row).
    Report($"{name}: GPU vs CPU session, prefill {prompt} and 3 decode steps (max relative error)", worst.ToString("E2", CultureInfo.InvariantCulture));
    // Greedy tokens after the 128-token prompt torch_llama.py uses (its table prints PyTorch's for float32).
    int[] torchPrompt = Enumerable.Range(0, 128).Select(i => (i * 37 + 11) % 2048).ToArray();
    string Greedy(DecoderSession session)
    {
        session.Reset();
        return string.Join(" ", session.Generate(torchPrompt, 8));
    }
    using (DecoderSession greedyHost = hostSession(136, 1))
        Report($"{name}: greedy tokens after torch_llama.py's prompt, CPU session | GPU session",
            $"{Greedy(greedyHost)} | {(cpu ? "(not run on the CPU accelerator)" : Greedy(gpu))}");
    foreach ((string where, DecoderSession session) in new[] { ("GPU", (DecoderSession)gpu), ("CPU, 1 thread", host), ("CPU, every core", hostSession(length, -1)) })
    {
        double prefill = Median(() => { session.Reset(); session.Prefill(tokens, actual); }, cpu ? 1 : 20);
        session.Reset();
        session.Prefill(tokens, actual);
        double decode = Median(() =>
        {
            if (session.Position == session.MaxTokens)
            {
                session.Reset();
                session.Prefill(tokens, actual);
            }
            session.Decode(7, actual);
        }, steps);
        Report($"{name}, {where}: prefill of {prompt} (ms); decode step after it (µs, tokens/s)",
            $"{prefill.ToString("F2", CultureInfo.InvariantCulture)}; {(decode * 1000).ToString("F0", CultureInfo.InvariantCulture)} µs, {(1000 / decode).ToString("F0", CultureInfo.InvariantCulture)}/s");
        if (session != gpu && session != host) session.Dispose();
    }
}

// The generated GEMMs at 4096³ (GeneratedGemm.cs is the emitter's output for a 4096 → 4096 Linear, at two blockings).
if (!cpu)
{
    const int N = 4096, K = 4096, M = 4096;
    float[] a = Random(M * K, 2), w = Random(N * K + N, 3);
    using MemoryBuffer1D<float, Stride1D.Dense> ab = accelerator.Allocate1D(a), wb = accelerator.Allocate1D(w), cb = accelerator.Allocate1D<float>((long)M * N);
    // The models' blocking (64×64 tiles, 4×4 outputs a thread) and a candidate (128×128, 8×8), both as the emitter writes them.
    foreach ((string name, Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int> kernel, int tile) in new[]
    {
        ("64×64 tiles, 4×4 a thread (the models')", (Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>)GeneratedGemm.GpuK0, 64),
        ("128×128 tiles, 8×8 a thread (candidate)", GeneratedGemm.Gemm128, 128),
    })
    {
        clock.Restart();
        var gemm = accelerator.LoadStreamKernel(kernel);
        Report($"GEMM kernel compile, {name}", Ms(clock.Elapsed.TotalMilliseconds));
        var config = new KernelConfig(new Index2D(N / tile, M / tile), new Index2D(16, 16));
        cb.MemSetToZero();
        double ms = Median(() => { gemm(config, ab.View, wb.View, cb.View, M); accelerator.Synchronize(); }, 20);
        Report($"GEMM 4096³ fp32 (TFLOP/s), {name}", (2.0 * M * N * K / (ms / 1000) / 1e12).ToString("F2", CultureInfo.InvariantCulture));
        // A few outputs against a double-precision dot product (weights in 16-column panels: W[n, k] = w[((n / 16)·K + k)·16 + n % 16]).
        float[] c = cb.GetAsArray1D();
        double worst = 0;
        for (int probe = 0; probe < 16; probe++)
        {
            int m = probe * 251 % M, n = probe * 577 % N;
            double sum = w[N * K + n];
            for (int k = 0; k < K; k++) sum += (double)a[(long)m * K + k] * w[((long)(n / 16) * K + k) * 16 + n % 16];
            worst = Math.Max(worst, Math.Abs(c[(long)m * N + n] - sum) / Math.Max(1, Math.Abs(sum)));
        }
        Report($"GEMM spot check, {name} (max relative error of 16 outputs)", worst.ToString("E2", CultureInfo.InvariantCulture));
    }
}

File.WriteAllLines(Path.Combine(outDir, "modelcompiler-gpu.md"),
    new[] { "| measurement | value |", "|---|---:|" }.Concat(rows.Select(r => $"| {r.What} | {r.Value} |")));
Console.WriteLine($"written: {Path.Combine(outDir, "modelcompiler-gpu.md")}");

static string Ms(double ms) => ms.ToString("F1", CultureInfo.InvariantCulture) + " ms";

static float[] Random(int count, int seed)
{
    var random = new Random(seed);
    var values = new float[count];
    for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * 0.05f;
    return values;
}

static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
{
    double worst = 0, scale = 0;
    for (int i = 0; i < expected.Length; i++) scale = Math.Max(scale, Math.Abs(expected[i]));
    for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
    return worst / Math.Max(scale, 1e-30);
}

// Milliseconds: the median of `count` timed runs after three untimed ones.
static double Median(Action run, int count)
{
    for (int i = 0; i < 3; i++) run();
    var times = new double[count];
    var clock = new Stopwatch();
    for (int i = 0; i < count; i++)
    {
        clock.Restart();
        run();
        times[i] = clock.Elapsed.TotalMilliseconds;
    }
    Array.Sort(times);
    return times[count / 2];
}
