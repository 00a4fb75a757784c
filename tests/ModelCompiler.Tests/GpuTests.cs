using System;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ModelCompiler.Gpu;
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

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string model in new[] { "OddMlp", "WideMlp", "ElementwiseOnly", "DigitsClassifier", "DigitsClassifierInt4", "Mlp784Onnx", "OnnxDequantized" })
            foreach (int batch in new[] { 1, 3 })
                data.Add(model, batch);
        return data;
    }

    private (GpuModel Gpu, CpuPredict Cpu, int InputLength, int OutputLength) Create(string model) => model switch
    {
        "OddMlp" => (OddMlp.CreateGpu(_accelerator, 4), OddMlp.Predict, OddMlp.InputLength, OddMlp.OutputLength),
        "WideMlp" => (WideMlp.CreateGpu(_accelerator, 4), WideMlp.Predict, WideMlp.InputLength, WideMlp.OutputLength),
        "ElementwiseOnly" => (ElementwiseOnly.CreateGpu(_accelerator, 4), ElementwiseOnly.Predict, ElementwiseOnly.InputLength, ElementwiseOnly.OutputLength),
        "DigitsClassifier" => (Digits.DigitsClassifier.CreateGpu(_accelerator, 4), Digits.DigitsClassifier.Predict, Digits.DigitsClassifier.InputLength, Digits.DigitsClassifier.OutputLength),
        "DigitsClassifierInt4" => (Digits.DigitsClassifierInt4.CreateGpu(_accelerator, 4), Digits.DigitsClassifierInt4.Predict, Digits.DigitsClassifierInt4.InputLength, Digits.DigitsClassifierInt4.OutputLength),
        "Mlp784Onnx" => (Mlp784Onnx.CreateGpu(_accelerator, 4), Mlp784Onnx.Predict, Mlp784Onnx.InputLength, Mlp784Onnx.OutputLength),
        _ => (OnnxDequantized.CreateGpu(_accelerator, 4), OnnxDequantized.Predict, OnnxDequantized.InputLength, OnnxDequantized.OutputLength),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GPU_kernels_match_the_CPU_code(string model, int batch)
    {
        (GpuModel gpu, CpuPredict cpu, int inputLength, int outputLength) = Create(model);
        using (gpu)
        {
            float[] input = Numerics.Random(batch * inputLength, seed: batch * 13 + model.Length);
            var expected = new float[batch * outputLength];
            cpu(input, expected, batch, 1);
            var actual = new float[batch * outputLength];
            gpu.Predict(input, actual, batch);
            Assert.InRange(Numerics.RelativeError(actual, expected), 0, 1e-4);
        }
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
