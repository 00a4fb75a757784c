extern alias generator;

using System;
using System.IO;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ModelCompiler.Gpu;
using ModelCompiler.Kernels;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The GPU entry points (ILGPU kernels generated from the same plan as the CPU code) against the CPU code, on ILGPU's
/// CPU accelerator: the same kernels a CUDA device runs, executed by threads here. It simulates 32-wide warps
/// (<see cref="CPUDeviceKind.Nvidia"/>), so 256-thread groups and shared memory behave as on a GPU. Sizes stay small:
/// barriers are slow there.
/// </summary>
public sealed class GpuTests : IDisposable
{
    private readonly Context _context = Context.Create(builder => builder.CPU(CPUDeviceKind.Nvidia));
    private readonly Accelerator _accelerator;

    public GpuTests() => _accelerator = _context.CreateCPUAccelerator(0);

    public void Dispose()
    {
        _accelerator.Dispose();
        _context.Dispose();
    }

    public delegate void CpuPredict(ReadOnlySpan<float> input, Span<float> output, int batch, int maxDegreeOfParallelism);

    /// <summary>
    /// Every compiled test model whose kernels all have a GPU form (all of them, today), and ONNX ones. Running one on
    /// ILGPU's CPU accelerator takes seconds, so the fast tier runs the models in <see cref="FastGpuModels"/> (a GEMM chain,
    /// int8 and int4 weights, a convolution chain, skip connections in convolutions' stores, 1×1 convolutions over one position as Linears, attention, element-wise and NaN-carrying ops) and the slow tier the rest.
    /// </summary>
    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        var names = CompiledModel.All.Where(m => CreateGpu(m.Predict.Method.DeclaringType!) is not null).Select(m => m.Name)
            .Concat(new[] { "Mlp784Onnx", "OnnxDequantized", "OnnxEncoder", "OnnxElementwise", "OnnxEmbedding", "OnnxQuantized", "OnnxOpset20", "OnnxMobile", "OnnxLayoutOps", "OnnxWindows", "OnnxRunning", "OnnxScatter", "OnnxSkipConnection", "OnnxSqueezeExcite" });
        foreach (string name in names)
            data.Add(FastGpuModels.Contains(name) ? new TheoryDataRow<string>(name) : Tier.SlowRow(new TheoryDataRow<string>(name)));
        return data;
    }

    private static readonly string[] FastGpuModels = { "Digits", "ReluMlpInt8", "DigitsInt4", "ResBlock", "LongAttention", "OnnxElementwise", "SpecialValues", "OnnxWindows", "OnnxRunning", "OnnxScatter", "OnnxSkipConnection", "OnnxSqueezeExcite" };

    private static System.Reflection.MethodInfo? CreateGpu(Type model) => model.GetMethod("CreateGpu");

    /// <summary>A test model's class.</summary>
    private static Type ModelType(string name) =>
        (Array.Find(CompiledModel.All, m => m.Name == name)?.Predict.Method ?? Cpu(name).Method).DeclaringType!;

    /// <summary>A test model's CPU entry point.</summary>
    private static CpuPredict Cpu(string name)
    {
        CompiledModel? compiled = Array.Find(CompiledModel.All, m => m.Name == name);
        return compiled is not null ? new CpuPredict(compiled.Predict) : name switch
        {
            "Mlp784Onnx" => Mlp784Onnx.Predict,
            "OnnxDequantized" => OnnxDequantized.Predict,
            "OnnxEncoder" => OnnxEncoder.Predict,
            "OnnxElementwise" => OnnxElementwise.Predict,
            "OnnxQuantized" => OnnxQuantized.Predict,
            "OnnxOpset20" => OnnxOpset20.Predict,
            "OnnxMobile" => OnnxMobile.Predict,
            "OnnxLayoutOps" => OnnxLayoutOps.Predict,
            "OnnxWindows" => OnnxWindows.Predict,
            "OnnxRunning" => OnnxRunning.Predict,
            "OnnxScatter" => OnnxScatter.Predict,
            "OnnxSkipConnection" => OnnxSkipConnection.Predict,
            "OnnxSqueezeExcite" => OnnxSqueezeExcite.Predict,
            _ => OnnxEmbedding.Predict,
        };
    }

    [Fact]
    public void Predict_after_the_accelerator_is_disposed_throws_instead_of_ending_the_process()
    {
        using Context context = Context.Create(builder => builder.CPU(CPUDeviceKind.Nvidia));
        Accelerator accelerator = context.CreateCPUAccelerator(0);
        var gpu = (GpuModel)CreateGpu(ModelType("OddMlp"))!.Invoke(null, new object[] { accelerator, 2 })!;
        accelerator.Dispose();
        var output = new float[gpu.OutputLength];
        Array.Fill(output, 42f);
        Assert.Throws<ObjectDisposedException>(() => gpu.Predict(new float[gpu.InputLength], output, 1));
        Assert.Throws<ObjectDisposedException>(() => gpu.Warmup());
        Assert.All(output, v => Assert.Equal(42f, v));
        gpu.Dispose();
    }

    [Fact]
    public void A_token_id_out_of_range_is_refused_on_the_host_before_the_GPU_runs()
    {
        using var gpu = (GpuModel)CreateGpu(typeof(OnnxEmbedding))!.Invoke(null, new object[] { _accelerator, 2 })!;
        var ids = new float[2 * gpu.InputLength];
        ids[^1] = 1e6f;
        var output = new float[2 * gpu.OutputLength];
        Array.Fill(output, 42f);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => gpu.Predict(ids, output, 2));
        Assert.Equal("input", e.ParamName);
        Assert.All(output, v => Assert.Equal(42f, v));
    }

    private (GpuModel Gpu, CpuPredict Cpu, int InputLength, int OutputLength, Func<int, int, float[]> Inputs) Create(string name, int maxBatch)
    {
        CompiledModel? compiled = Array.Find(CompiledModel.All, m => m.Name == name);
        CpuPredict cpu = Cpu(name);
        var gpu = (GpuModel)CreateGpu(ModelType(name))!.Invoke(null, new object[] { _accelerator, maxBatch })!;
        Func<int, int, float[]> inputs = compiled?.Inputs ?? (name == "OnnxEmbedding"
            ? (count, seed) => { var ids = new float[count]; for (int i = 0; i < count; i++) ids[i] = (i * 7 + seed) % 20; return ids; }
            : (count, seed) => Numerics.Random(count, seed));
        return (gpu, cpu, gpu.InputLength, gpu.OutputLength, inputs);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void GPU_kernels_match_the_CPU_code(string model)
    {
        (GpuModel gpu, CpuPredict cpu, int inputLength, int outputLength, Func<int, int, float[]> inputs) = Create(model, maxBatch: 3);
        using (gpu)
        {
            // MLPs run small batches as one whole-model kernel: check it, and the kernel-per-layer path (limit 0).
            foreach (int limit in new[] { 256, 0 })
            {
                gpu.FusedBatchLimit = limit;
                foreach (int batch in new[] { 1, 3 })
                {
                    float[] input = inputs(batch * inputLength, batch * 13 + model.Length);
                    var expected = new float[batch * outputLength];
                    cpu(input, expected, batch, 1);
                    var actual = new float[batch * outputLength];
                    gpu.Predict(input, actual, batch);
                    Assert.InRange(Numerics.RelativeError(actual, expected), 0, 1e-4);
                }
            }
        }
    }

    [Theory]
    [InlineData("SpecialValues")]
    [InlineData("LeakyClamp")]
    [InlineData("Digits")]
    [InlineData("DigitsCnn")]
    public void NaN_and_infinities_propagate_on_the_GPU_path_as_on_the_CPU(string model)
    {
        (GpuModel gpu, CpuPredict cpu, int inputLength, int outputLength, _) = Create(model, maxBatch: 3);
        using (gpu)
        {
            float[] input = Numerics.Random(3 * inputLength, 5);
            input[0] = float.NaN;
            input[inputLength + 1] = float.PositiveInfinity;
            input[2 * inputLength + 2] = float.NegativeInfinity;
            input[2 * inputLength + 3] = -0f;
            input[2 * inputLength + 4] = 1e-40f;
            var expected = new float[3 * outputLength];
            cpu(input, expected, 3, 1);
            var actual = new float[3 * outputLength];
            gpu.Predict(input, actual, 3);
            Assert.Contains(expected, float.IsNaN);
            Assert.InRange(Numerics.RelativeError(actual, expected), 0, 1e-4);
        }
    }

    [Fact]
    public void The_samples_have_GPU_entry_points()
    {
        // Every sample (Digits, DigitsCnn, TextClassifier), quantized or not: every compiled model has one.
        var names = Models().Select(row => row.Data).ToHashSet();
        foreach (string name in new[] { "Digits", "DigitsCnn", "TextClassifier", "DigitsInt4", "DigitsInt8", "DigitsInt8Static", "AttentionBlockInt8" })
            Assert.Contains(name, names);
        Assert.Equal(CompiledModel.All.Length + 14, names.Count);
        // The MLPs have the whole-model kernel for small batches; a CNN (not a chain of Linear layers) does not.
        static bool Whole(Type model) => model.GetNestedType("Gpu")!.GetField("_whole", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance) is not null;
        Assert.True(Whole(typeof(Digits.DigitsClassifier)));
        Assert.True(Whole(typeof(Mlp784Onnx)));
        Assert.False(Whole(typeof(DigitsCnn.DigitsCnnClassifier)));
        Assert.False(Whole(typeof(Digits.DigitsClassifierInt8)));
    }

    [Fact]
    public void A_residual_Add_after_a_GEMM_runs_in_its_store()
    {
        // ResidualLinear: K3 and K10 are Linear layers each followed by an Add of a value computed before them (K4, K11);
        // ConvResidual: K1 is a convolution (an implicit GEMM) followed by one (K2). The Adds get no kernel of their own.
        // (Their outputs against the CPU code: GPU_kernels_match_the_CPU_code.)
        static string[] Kernels(Type model) => model.GetNestedType("Gpu")!
            .GetFields(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)
            .Select(f => f.Name).Where(n => n.StartsWith("_k", StringComparison.Ordinal)).ToArray();
        Assert.Equal(new[] { "_k0", "_k1", "_k2", "_k3", "_k5", "_k6", "_k7", "_k8", "_k9", "_k10", "_k12" }, Kernels(typeof(ResidualLinear)));
        Assert.Equal(new[] { "_k0", "_k1" }, Kernels(typeof(ConvResidual)));
        // The same network in int8: each Linear is its row-quantizing kernel and an int8 GEMM, the Adds in the GEMMs' stores.
        string[] int8 = Kernels(typeof(ResidualLinearInt8));
        Assert.Contains("_k3", int8);
        Assert.Contains("_k10", int8);
        Assert.DoesNotContain("_k4", int8);
        Assert.DoesNotContain("_k11", int8);
        // TwoReaders: K5 adds K4's Linear output to K3's: fused too.
        Assert.Equal(new[] { "_k0", "_k1", "_k2", "_k3", "_k4" }, Kernels(typeof(TwoReaders)));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Every_GPU_kernel_compiles_to_PTX_and_OpenCL_C(string model)
    {
        // The CPU accelerator runs a kernel's IL as it is; a CUDA device needs ILGPU to compile it to PTX (an OpenCL
        // device, to OpenCL C), which fails on what has no GPU form (a call ILGPU cannot map, an allocation, an
        // unsupported intrinsic). ILGPU's backends need no GPU: compile every kernel the model launches for an H100/H200
        // (sm_90) and to OpenCL C 2.0, as CreateGpu would on such devices.
        System.Reflection.MethodInfo[] kernels = KernelMethods(ModelType(model));
        Assert.NotEmpty(kernels);
        CompileForDevices(kernels);
    }

    /// <summary>The kernels a model's GPU code launches: GpuK{n}, int8 layers' GpuK{n}Rows, a decoder's GpuK{n}Round, GpuK{n}Gemv and GpuK{n}Store, and GpuWhole.</summary>
    internal static System.Reflection.MethodInfo[] KernelMethods(Type model) =>
        model.GetMethods(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
            .Where(m => System.Text.RegularExpressions.Regex.IsMatch(m.Name, @"^(GpuK\d+(Rows|Round|Gemv|Store)?|GpuWhole)$")).ToArray();

    [Fact]
    [Trait(Tier.Name, Tier.Slow)]
    public void ResNet18_from_its_package_runs_on_the_GPU_path()
    {
        // A real third-party model (ML.NET's ResNet-18, PackagedModelTests): implicit-GEMM convolutions with strides and
        // asymmetric padding, residual Adds in their stores, pools; one sample against its CPU code, every kernel to PTX.
        using var gpu = ModelCompiler.PackagedModels.ResNet18.CreateGpu(_accelerator, maxBatch: 1);
        float[] input = Numerics.Random(ModelCompiler.PackagedModels.ResNet18.InputLength, seed: 5);
        var expected = new float[ModelCompiler.PackagedModels.ResNet18.OutputLength];
        ModelCompiler.PackagedModels.ResNet18.Predict(input, expected, 1);
        var actual = new float[expected.Length];
        gpu.Predict(input, actual, 1);
        Assert.InRange(Numerics.RelativeError(actual, expected), 0, 1e-4);
        CompileForDevices(KernelMethods(typeof(ModelCompiler.PackagedModels.ResNet18)));
    }

    /// <summary>
    /// Compiles kernels to PTX for sm_90 and to OpenCL C 2.0 with ILGPU's backends (throws what CreateGpu would throw on
    /// such a device; OpenCL C is only generated here, a driver compiles it).
    /// </summary>
    internal static void CompileForDevices(params System.Reflection.MethodInfo[] kernels)
    {
        using Context context = Context.Create(builder => ILGPU.Runtime.Cuda.CudaContextExtensions.Cuda(builder));
        using var backend = new ILGPU.Backends.PTX.PTXBackend(context, ILGPU.Runtime.Cuda.CudaArchitecture.SM_90, ILGPU.Runtime.Cuda.CudaInstructionSet.ISA_80, null!);
        using var openCl = new ILGPU.Backends.OpenCL.CLBackend(context, new ILGPU.Runtime.OpenCL.CLCapabilityContext(false, false, false, false, false),
            ILGPU.Runtime.OpenCL.CLDeviceVendor.Other, ILGPU.Backends.OpenCL.CLCVersion.CL20);
        foreach (System.Reflection.MethodInfo kernel in kernels)
        {
            bool grouped = kernel.GetParameters()[0].ParameterType != typeof(Index1D);
            var entry = grouped
                ? ILGPU.Backends.EntryPoints.EntryPointDescription.FromExplicitlyGroupedKernel(kernel)
                : ILGPU.Backends.EntryPoints.EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
            var compiled = (ILGPU.Backends.PTX.PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
            Assert.Contains(".entry", compiled.PTXAssembly, StringComparison.Ordinal);
            var cl = (ILGPU.Backends.OpenCL.CLCompiledKernel)openCl.Compile(entry, KernelSpecialization.Empty);
            Assert.Contains("kernel", cl.Source, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Int4_weights_stay_int4_on_the_device()
    {
        // Digits' layers 64 → 64 → 32 → 10: on the device, each int4 weight is n·⌈k/8⌉ words of codes and n·⌈k/32⌉
        // scales, after the float32 biases (64 + 32 + 16 padded); the float32 model holds the panels.
        using GpuModel int4 = Digits.DigitsClassifierInt4.CreateGpu(_accelerator, maxBatch: 1);
        using GpuModel float32 = Digits.DigitsClassifier.CreateGpu(_accelerator, maxBatch: 1);
        Assert.Equal(4L * (64 + 32 + 16 + 64 * (8 + 2) + 32 * (8 + 2) + 10 * (4 + 1)), int4.WeightBytes);
        Assert.True(int4.WeightBytes * 5 < float32.WeightBytes, $"{int4.WeightBytes} vs {float32.WeightBytes}");
    }

    [Fact]
    public void The_device_form_of_int4_weights_is_exactly_what_the_CPU_computes_with()
    {
        const int n = 5, k = 37; // a partial word (37 = 4·8 + 5) and a partial block (37 = 32 + 5)
        float[] weight = Numerics.Random(n * k, seed: 4);
        weight[7] = 0f;
        byte[] encoded = Int4Quantization.Encode(weight, n, k);
        float[] expected = Int4Quantization.Decode(encoded, n, k);
        byte[] base64 = System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(encoded));
        var device = new float[DeviceInt4.Length(n, k)];
        DeviceInt4.Write(base64, n, k, device);
        int words = DeviceInt4.WordsPerOutput(k), blocks = DeviceInt4.BlocksPerOutput(k);
        Assert.Equal(n * (5 + 2), device.Length);
        for (int j = 0; j < n; j++)
        for (int i = 0; i < k; i++)
        {
            int word = BitConverter.SingleToInt32Bits(device[j * words + i / 8]);
            float value = (((word >> (4 * (i % 8))) & 15) - 8) * device[n * words + j * blocks + i / 32];
            Assert.Equal(expected[j * k + i], value);
        }
        var e = Assert.Throws<ArgumentException>(() => DeviceInt4.Write(base64, n, k, new float[device.Length - 1]));
        Assert.Equal("destination", e.ParamName);
        Assert.Throws<InvalidOperationException>(() => DeviceInt4.Write(base64.AsSpan(0, base64.Length - 8), n, k, device));
    }

    [Fact]
    public void A_project_referencing_the_GPU_runtime_gets_CreateGpu_on_every_model()
    {
        string weights = Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "samples/Digits/digits.safetensors");
        const string source = """
            using ModelCompiler;
            namespace Demo;
            [CompileModel(Weights = "digits.safetensors")]
            public static partial class Float { static Tensor Forward([Shape(64)] Tensor x) => x.Linear("fc1").Relu().Linear("fc2"); }
            [CompileModel(Weights = "digits.safetensors", Quantize = Quantization.Int8)]
            public static partial class Int8 { static Tensor Forward([Shape(64)] Tensor x) => x.Linear("fc1").Relu().Linear("fc2"); }
            """;
        var references = new[] { typeof(GpuModel).Assembly, typeof(Accelerator).Assembly }
            .Select(a => (Microsoft.CodeAnalysis.MetadataReference)Microsoft.CodeAnalysis.MetadataReference.CreateFromFile(a.Location));
        var compilation = GeneratorHarness.Compilation(("Model.cs", source)).AddReferences(references);
        Microsoft.CodeAnalysis.GeneratorDriver driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(weights) });
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        var run = driver.GetRunResult().Results.Single();

        Assert.Contains(run.GeneratedSources, s => s.HintName == "Demo.Float.Gpu.g.cs");
        Assert.Contains(run.GeneratedSources, s => s.HintName == "Demo.Int8.Gpu.g.cs");
        Assert.Empty(run.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error));
        // Without the reference, no GPU code and no message.
        driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(weights) });
        run = driver.RunGenerators(GeneratorHarness.Compilation(("Model.cs", source))).GetRunResult().Results.Single();
        Assert.Empty(run.Diagnostics);
        Assert.DoesNotContain(run.GeneratedSources, s => s.HintName.EndsWith(".Gpu.g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public void The_benchmark_GEMM_is_the_emitted_one()
    {
        // benchmarks/ModelCompiler.GpuBenchmarks measures the 4096³ GEMM with a copy of what the emitter writes for a
        // 4096 → 4096 Linear (the real model would need a 64 MB weights file); this keeps the copy exact.
        string path = Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "benchmarks/ModelCompiler.GpuBenchmarks/GeneratedGemm.cs");
        string file = File.ReadAllText(path).ReplaceLineEndings("\n");
        const string begin = "// BEGIN EMITTED\n", end = "// END EMITTED\n";
        int from = file.IndexOf(begin, StringComparison.Ordinal) + begin.Length, to = file.IndexOf(end, StringComparison.Ordinal);
        string emitted = BenchmarkGemms();
        if (Environment.GetEnvironmentVariable("MODELCOMPILER_ACCEPT_GOLDEN") == "1")
            File.WriteAllText(path, file[..from] + emitted + file[to..]);
        else
            Assert.Equal(emitted, file[from..to]);
    }

    /// <summary>What GeneratedGemm.cs holds: the models' GEMM (64×64 tiles, 4×4 a thread) and the candidate measured beside it.</summary>
    private static string BenchmarkGemms() =>
        generator::ModelCompiler.Generator.Emit.GpuEmitter.GemmKernel(4096, 4096) + "\n"
        + generator::ModelCompiler.Generator.Emit.GpuEmitter.GemmKernel(4096, 4096, "Gemm128", tile: 128, perThread: 8);

    [Theory]
    [InlineData(64, 4)]
    [InlineData(128, 8)]
    public void The_emitted_GEMM_computes_the_product_at_every_blocking(int tile, int perThread)
    {
        // The emitted text compiled here and run on the CPU accelerator (and compiled to PTX): partial tiles on every side
        // (rows 70 of a 64/128 tile, outputs 150 = two panels and a partial one plus a partial tile, k 20 = two steps and a half).
        const int rows = 70, n = 150, k = 20;
        string source = "namespace Check; internal static class Gemm {\n"
            + generator::ModelCompiler.Generator.Emit.GpuEmitter.GemmKernel(n, k, "Run", tile, perThread) + "}";
        var compilation = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create("Gemm" + tile,
            new[] { Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(source) },
            new[] { typeof(object), typeof(Accelerator) }.Select(t => t.Assembly.Location)
                .Concat(new[] { Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "System.Runtime.dll") })
                .Select(path => (Microsoft.CodeAnalysis.MetadataReference)Microsoft.CodeAnalysis.MetadataReference.CreateFromFile(path)),
            new Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions(Microsoft.CodeAnalysis.OutputKind.DynamicallyLinkedLibrary, optimizationLevel: Microsoft.CodeAnalysis.OptimizationLevel.Release));
        using var image = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult result = compilation.Emit(image);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        var kernel = System.Reflection.Assembly.Load(image.ToArray()).GetType("Check.Gemm")!.GetMethod("Run", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

        float[] a = Numerics.Random(rows * k, seed: 1), weight = Numerics.Random(n * k, seed: 2), bias = Numerics.Random(n, seed: 3);
        var packed = new float[ModelCompiler.Kernels.PanelLayout.PackedLength(n, k) + ModelCompiler.Kernels.PanelLayout.PaddedBiasLength(n)];
        ModelCompiler.Kernels.PanelLayout.Pack(weight, n, k, packed, 0);
        bias.CopyTo(packed, ModelCompiler.Kernels.PanelLayout.PackedLength(n, k));
        using MemoryBuffer1D<float, Stride1D.Dense> ab = _accelerator.Allocate1D(a), wb = _accelerator.Allocate1D(packed), yb = _accelerator.Allocate1D<float>(rows * n);
        var launch = _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(
            kernel.CreateDelegate<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>>());
        launch(new KernelConfig(new Index2D((n + tile - 1) / tile, (rows + tile - 1) / tile), new Index2D(tile / perThread, tile / perThread)), ab.View, wb.View, yb.View, rows);
        _accelerator.Synchronize();
        float[] y = yb.GetAsArray1D();
        var expected = new float[rows * n];
        for (int m = 0; m < rows; m++)
        for (int j = 0; j < n; j++)
        {
            double sum = bias[j];
            for (int i = 0; i < k; i++) sum += (double)a[m * k + i] * weight[j * k + i];
            expected[m * n + j] = (float)sum;
        }
        Assert.InRange(Numerics.RelativeError(y, expected), 0, 1e-5);

        CompileForDevices(kernel);
    }

    [Fact]
    public void Device_views_run_without_copies_and_a_model_object_runs_many_batches()
    {
        using var gpu = OddMlp.CreateGpu(_accelerator, maxBatch: 5);
        gpu.Warmup();
        for (int batch = 5; batch >= 1; batch -= 2)
        {
            float[] input = Numerics.Random(batch * OddMlp.InputLength, seed: batch);
            var expected = new float[batch * OddMlp.OutputLength];
            OddMlp.Predict(input, expected, batch);
            using MemoryBuffer1D<float, Stride1D.Dense> x = _accelerator.Allocate1D(input);
            using MemoryBuffer1D<float, Stride1D.Dense> y = _accelerator.Allocate1D<float>(expected.Length);
            gpu.Predict(x.View, y.View, batch);
            Assert.InRange(Numerics.RelativeError(y.GetAsArray1D(), expected), 0, 1e-4);
        }
    }

    [Fact]
    public void Bad_arguments_name_the_parameter_and_write_nothing()
    {
        using var gpu = OddMlp.CreateGpu(_accelerator, maxBatch: 2);
        var output = new float[2 * OddMlp.OutputLength];
        Array.Fill(output, 7f);
        var e = Assert.Throws<ArgumentException>(() => gpu.Predict(new float[OddMlp.InputLength + 1], output.AsSpan(0, OddMlp.OutputLength), 1));
        Assert.Equal("input", e.ParamName);
        var b = Assert.Throws<ArgumentOutOfRangeException>(() => gpu.Predict(new float[3 * OddMlp.InputLength], new float[3 * OddMlp.OutputLength], 3));
        Assert.Equal("batch", b.ParamName);
        Assert.All(output, v => Assert.Equal(7f, v));
        gpu.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gpu.Predict(new float[OddMlp.InputLength], output.AsSpan(0, OddMlp.OutputLength), 1));
    }
}
