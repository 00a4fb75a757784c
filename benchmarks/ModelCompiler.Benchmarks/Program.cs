using System;
using System.Diagnostics;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using ModelCompiler.Benchmarks;

// dotnet run --project benchmarks/ModelCompiler.Benchmarks -c Release            (all benchmarks, BenchmarkDotNet)
// dotnet run --project benchmarks/ModelCompiler.Benchmarks -c Release -- --filter '*Digits*'
// dotnet run --project benchmarks/ModelCompiler.Benchmarks -c Release -- quick    (a rough Stopwatch check while developing;
//                                                                                   numbers to report come from BenchmarkDotNet)
if (args.Length == 1 && args[0] == "gemv")
{
    // Matrix-vector products of a decode step's shape (2048 × 768), float32 and int4 kept at 4 bits: µs per call.
    const int k = 768, n = 2048;
    var random = new Random(1);
    float[] Values(int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)random.NextDouble() - 0.5f;
        return values;
    }
    ModelCompiler.Kernels.AlignedBuffer Aligned(float[] values)
    {
        var buffer = new ModelCompiler.Kernels.AlignedBuffer(values.Length);
        values.CopyTo(buffer.Span);
        return buffer;
    }
    ModelCompiler.Kernels.AlignedBuffer Packed(float[] weight, int rows, int columns)
    {
        var panels = new float[ModelCompiler.Kernels.PanelLayout.PackedLength(rows, columns)];
        ModelCompiler.Kernels.PanelLayout.Pack(weight, rows, columns, panels, 0);
        return Aligned(panels);
    }
    float[] weight = Values(n * k);
    var packed = Packed(weight, n, k);
    var temp = new float[ModelCompiler.Kernels.Int4PanelLayout.Floats(n, k)];
    ModelCompiler.Kernels.Int4PanelLayout.Pack(weight, n, k, temp);
    var int4 = Aligned(temp);
    var bias = new ModelCompiler.Kernels.AlignedBuffer(n);
    var x = Aligned(Values(k));
    var y = new ModelCompiler.Kernels.AlignedBuffer(n);
    Console.WriteLine($"float32: {Median(() => ModelCompiler.Kernels.PackedLinear.Run<ModelCompiler.Kernels.IdentityOperator>(ref x.Start, k, 1, ref packed.Start, ref bias.Start, k, n, ref y.Start, n)):F1} µs (6.3 MB)");
    Console.WriteLine($"int4: {Median(() => ModelCompiler.Kernels.Int4Linear.Run<ModelCompiler.Kernels.IdentityOperator>(ref x.Start, k, 1, ref int4.Start, ref bias.Start, k, n, ref y.Start, n)):F1} µs ({int4.Length * 4 / 1e6:F1} MB)");
    // A prefill chunk's product, 64 rows, in GFLOP/s: gate/up's shape (768 → 2,048), down's, q/o's, k/v's, and one with
    // 100 MB of weights (past every cache).
    foreach ((int gk, int gn) in new[] { (768, 2048), (2048, 768), (768, 768), (768, 256), (768, 32768) })
    {
        const int chunk = 64;
        var gp = Packed(Values(gk * gn), gn, gk);
        var ga = Aligned(Values(chunk * gk));
        var gb = new ModelCompiler.Kernels.AlignedBuffer(gn);
        var gc = new ModelCompiler.Kernels.AlignedBuffer(chunk * gn);
        double us = Median(() => ModelCompiler.Kernels.PackedLinear.Run<ModelCompiler.Kernels.IdentityOperator>(ref ga.Start, gk, chunk, ref gp.Start, ref gb.Start, gk, gn, ref gc.Start, gn), 51, 2);
        Console.WriteLine($"float32 GEMM {chunk} × {gk} → {gn}: {us:F0} µs, {2.0 * chunk * gk * gn / us / 1000:F1} GFLOP/s");
    }
    {
        // A prefill chunk through all 12 layers' products, each its own weights (254 MB): the products as a prompt runs them.
        const int chunk = 64;
        (int K, int N)[] shapes = { (768, 768), (768, 256), (768, 256), (768, 768), (768, 2048), (768, 2048), (2048, 768) };
        var mats = new System.Collections.Generic.List<(ModelCompiler.Kernels.AlignedBuffer W, int K, int N)>();
        for (int layer = 0; layer < 12; layer++)
        foreach ((int sk, int sn) in shapes)
        {
            var pw = new ModelCompiler.Kernels.AlignedBuffer(ModelCompiler.Kernels.PanelLayout.PackedLength(sn, sk));
            for (int i = 0; i < pw.Length; i += 97) pw.Span[i] = (float)random.NextDouble() - 0.5f;
            mats.Add((pw, sk, sn));
        }
        var sa = Aligned(Values(chunk * 2048));
        var sb = new ModelCompiler.Kernels.AlignedBuffer(2048);
        var sc = new ModelCompiler.Kernels.AlignedBuffer(chunk * 2048);
        double flops = 0;
        foreach (var m in mats) flops += 2.0 * chunk * m.K * m.N;
        double us = Median(() => { foreach (var m in mats) ModelCompiler.Kernels.PackedLinear.Run<ModelCompiler.Kernels.IdentityOperator>(ref sa.Start, m.K, chunk, ref m.W.Start, ref sb.Start, m.K, m.N, ref sc.Start, m.N); }, 11, 1);
        Console.WriteLine($"float32 GEMM, a 64-row chunk through 84 products (254 MB of weights): {us / 1000:F1} ms, {flops / us / 1000:F1} GFLOP/s");
    }
    // The same rows 48 times over (47 MB of int4, past every cache): what a decode step's stream of weights costs.
    const int many = 48 * n;
    var large = new ModelCompiler.Kernels.AlignedBuffer(ModelCompiler.Kernels.Int4PanelLayout.Floats(many, k));
    for (int copy = 0; copy < 48; copy++) temp.CopyTo(large.Span.Slice(copy * temp.Length));
    var largeBias = new ModelCompiler.Kernels.AlignedBuffer(many);
    var largeY = new ModelCompiler.Kernels.AlignedBuffer(many);
    Console.WriteLine($"int4, {many} × {k}: {Median(() => ModelCompiler.Kernels.Int4Linear.Run<ModelCompiler.Kernels.IdentityOperator>(ref x.Start, k, 1, ref large.Start, ref largeBias.Start, k, many, ref largeY.Start, many), 31, 2):F1} µs ({large.Length * 4 / 1e6:F1} MB)");
    return;
}
#if LLAMA125M
if (args.Length == 3 && args[0] == "llama-profile")
{
    // A loop for a profiler (perf record …): llama-profile Float32|Int8|Int4 decode|prefill
    var b = new LlamaBenchmark { Weights = args[1] };
    b.GlobalSetup();
    for (int i = 0; i < (args[2] == "decode" ? 1500 : 30); i++)
        if (args[2] == "decode") b.Decode();
        else b.Prefill128();
    return;
}
if (args.Length is 1 or 2 && args[0] == "llama")
{
    // dotnet run --project benchmarks/ModelCompiler.Benchmarks -c Release -- llama [Float32|Int8|Int4]   (a rough check of the decoder yardstick)
    foreach (string weights in args.Length == 2 ? new[] { args[1] } : new[] { "Float32", "Int8", "Int4" })
    foreach (int threads in new[] { 1, 2 })
    {
        var clock = Stopwatch.StartNew();
        var b = new LlamaBenchmark { Weights = weights, Threads = threads };
        b.GlobalSetup();
        Console.WriteLine($"{weights}, {threads} thread(s): set-up and first prefill {clock.ElapsedMilliseconds} ms; decode {Median(() => b.Decode(), 31, 4) / 1000:F1} ms/token, prefill of 128 {Median(() => b.Prefill128(), 5, 1) / 1000:F0} ms");
        b.GlobalCleanup();
    }
    var peak = new PeakBenchmark();
    Console.WriteLine($"fp32 FMA peak, one core, 256-bit: {PeakBenchmark.Flops / Median(() => peak.Fma256(), 31, 1) / 1000:F1} GFLOP/s"
        + (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? $", 512-bit: {PeakBenchmark.Flops / Median(() => peak.Fma512(), 31, 1) / 1000:F1} GFLOP/s" : ""));
    var bandwidth = new BandwidthBenchmark();
    bandwidth.GlobalSetup();
    foreach (int threads in new[] { 1, 2 })
    {
        bandwidth.Threads = threads;
        Console.WriteLine($"read bandwidth, {threads} thread(s): {512.0 * 1.048576 / Median(() => bandwidth.Read512MB(), 11, 1) * 1000:F1} GB/s");
    }
    return;
}
#endif
if (args.Length is 2 or 3 or 4 && args[0] == "model")
{
    // model <benchmark class name without "Benchmark"> [batch [threads]]: Stopwatch medians of one model against ONNX Runtime (a rough
    // check while developing; `model-profile` runs only the compiled model, in a loop for perf record).
    BatchedOnnxBenchmark b = ModelBenchmark(args);
    // Interleaved rounds, the fastest of each side: on a shared machine the slow samples are the neighbours' doing.
    double compiled = double.MaxValue, onnx = double.MaxValue;
    for (int round = 0; round < 5; round++)
    {
        compiled = Math.Min(compiled, Fastest(b.Compiled, 9));
        onnx = Math.Min(onnx, Fastest(b.OnnxRuntime, 9));
    }
    Console.WriteLine($"{args[1]} batch {b.Batch}, {b.Threads} thread(s): compiled {compiled:F0} µs, ONNX Runtime {onnx:F0} µs (fastest of 45 each, interleaved)");
    b.Dispose();
    return;
}
if (args.Length is 2 or 3 or 4 && args[0] == "model-profile")
{
    BatchedOnnxBenchmark b = ModelBenchmark(args);
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed.TotalSeconds < 20) b.Compiled();
    b.Dispose();
    return;
}
if (args.Length == 5 && args[0] == "conv")
{
    // conv <in> <out> <kernel> <size>: one stride-1 "same" convolution of one sample, direct kernel against im2col GEMM, in
    // µs and GFLOP/s (a rough check while developing).
    int c = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), o = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
    int k = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), hw = int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
    var random = new Random(1);
    var x = new float[c * hw * hw];
    var w = new float[o * c * k * k];
    var bias = new float[(o + 15) / 16 * 16];
    var y = new float[o * hw * hw];
    for (int i = 0; i < x.Length; i++) x[i] = (float)random.NextDouble();
    for (int i = 0; i < w.Length; i++) w[i] = (float)random.NextDouble() * 0.1f;
    var direct = new ModelCompiler.Kernels.ConvGeometry(c, hw, hw, o, k, k, 1, k / 2, 1, hw, hw, 1, k / 2)
        { ChannelBlock = ModelCompiler.Kernels.DirectConvolution.BestChannelBlock(o) };
    var im2col = new ModelCompiler.Kernels.ConvGeometry(c, hw, hw, o, k, k, 1, k / 2, 1, hw, hw, 1, k / 2);
    var directScratch = new float[ModelCompiler.Kernels.DirectConvolution.ScratchFloats(direct)];
    var im2colScratch = new float[ModelCompiler.Kernels.Convolution.ScratchFloats(im2col)];
    double flops = 2.0 * c * o * k * k * hw * hw;
    double d = Median(() => ModelCompiler.Kernels.DirectConvolution.Run<ModelCompiler.Kernels.IdentityOperator>(ref x[0], ref y[0], 1, direct, ref w[0], ref bias[0], ref directScratch[0]), 21, 2);
    double g = Median(() => ModelCompiler.Kernels.Convolution.Conv2d<ModelCompiler.Kernels.IdentityOperator>(ref x[0], ref y[0], 1, im2col, ref w[0], ref bias[0], ref im2colScratch[0]), 21, 2);
    using var workers = new ModelCompiler.Kernels.KernelWorkers(2);
    double g2 = Median(() => ModelCompiler.Kernels.Convolution.Conv2d<ModelCompiler.Kernels.IdentityOperator>(ref x[0], ref y[0], 1, im2col, ref w[0], ref bias[0], ref im2colScratch[0], workers), 21, 2);
    string route = ModelCompiler.Kernels.DirectConvolution.ThroughGemm(direct) ? " (handed to the GEMM on this CPU)" : "";
    Console.WriteLine($"{c}->{o} {k}x{k} {hw}x{hw}: direct{route} {d:F0} µs ({flops / d / 1000:F1} GFLOP/s), im2col GEMM {g:F0} µs ({flops / g / 1000:F1} GFLOP/s), "
        + $"the GEMM on 2 threads {g2:F0} µs ({g / g2:F2}×)");
    return;
}
if (args.Length == 1 && args[0] == "quick")
{
    foreach (int batch in new[] { 1, 64 })
    {
        var b = new Mlp784Benchmark { Batch = batch };
        b.GlobalSetup();
        Console.WriteLine($"mlp784 batch {batch}: compiled {Median(b.Compiled):F2} µs, from ONNX {Median(b.CompiledFromOnnx):F2} µs, int8 {Median(b.CompiledInt8):F2} µs, ONNX Runtime {Median(b.OnnxRuntime):F2} µs, ONNX Runtime int8 {Median(b.OnnxRuntimeInt8):F2} µs");
        b.Dispose();
    }
    foreach (OneSampleBenchmark one in new OneSampleBenchmark[] { new DigitsCnnBenchmark(), new TextClassifierBenchmark() })
    {
        one.GlobalSetup();
        Console.WriteLine($"{one.GetType().Name} batch 1: compiled {Median(one.Compiled):F2} µs, ONNX Runtime {Median(one.OnnxRuntime):F2} µs");
        one.Dispose();
    }
    foreach (int batch in new[] { 1, 64 })
    {
        var lenet = new LeNet5Benchmark { Batch = batch };
        lenet.GlobalSetup();
        Console.WriteLine($"LeNet5 batch {batch}: compiled {Median(lenet.Compiled):F2} µs, ONNX Runtime {Median(lenet.OnnxRuntime):F2} µs");
        lenet.Dispose();
    }
    var encoder = new EncoderBlockBenchmark { Batch = 1 };
    encoder.GlobalSetup();
    Console.WriteLine($"EncoderBlock batch 1: compiled {Median(encoder.Compiled):F2} µs, ONNX Runtime {Median(encoder.OnnxRuntime):F2} µs");
    encoder.Dispose();
    var res = new ResBlockBenchmark { Batch = 1 };
    res.GlobalSetup();
    Console.WriteLine($"ResBlock64 batch 1: compiled {Median(res.Compiled):F2} µs, ONNX Runtime {Median(res.OnnxRuntime):F2} µs");
    res.Dispose();
    var resnet = new ResNet18Benchmark { Batch = 1 };
    resnet.GlobalSetup();
    Console.WriteLine($"ResNet18 batch 1: compiled {Median(resnet.Compiled, 31, 1):F0} µs, ONNX Runtime {Median(resnet.OnnxRuntime, 31, 1):F0} µs");
    resnet.Dispose();
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args.Length == 0 ? new[] { "--filter", "*" } : args,
    DefaultConfig.Instance.WithOptions(ConfigOptions.JoinSummary));

// The benchmark class args[1] + "Benchmark" at batch args[2] (1 if absent), set up.
static BatchedOnnxBenchmark ModelBenchmark(string[] args)
{
    var type = typeof(Program).Assembly.GetType("ModelCompiler.Benchmarks." + args[1] + "Benchmark")
        ?? throw new ArgumentException($"No benchmark class {args[1]}Benchmark.");
    var b = (BatchedOnnxBenchmark)Activator.CreateInstance(type)!;
    b.Batch = args.Length >= 3 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1;
    b.Threads = args.Length >= 4 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1;
    b.GlobalSetup();
    return b;
}

static double Fastest(Action action, int count)
{
    action();
    double best = double.MaxValue;
    var clock = new Stopwatch();
    for (int s = 0; s < count; s++)
    {
        clock.Restart();
        action();
        best = Math.Min(best, clock.Elapsed.TotalMilliseconds * 1000);
    }
    return best;
}

static double Median(Action action, int count = 301, int inner = 20)
{
    var clock = Stopwatch.StartNew();
    while (clock.ElapsedMilliseconds < 1500) action(); // past tiered compilation
    var samples = new double[count];
    for (int s = 0; s < samples.Length; s++)
    {
        clock.Restart();
        for (int i = 0; i < inner; i++) action();
        samples[s] = clock.Elapsed.TotalMilliseconds * 1000 / inner;
    }
    Array.Sort(samples);
    return samples[samples.Length / 2];
}
