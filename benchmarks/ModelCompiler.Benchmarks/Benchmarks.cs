using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.ML.OnnxRuntime;
using BenchmarkDotNet.Attributes;

namespace ModelCompiler.Benchmarks;

/// <summary>Shared setup: the same input for every contender, and a check that they all compute the same thing.</summary>
public abstract class ModelBenchmark : IDisposable
{
    protected float[] Input = Array.Empty<float>();
    protected float[] Output = Array.Empty<float>();
    protected SafeTensors Weights = null!;
    protected TensorPrimitivesMlp Handwritten = null!;
    protected OnnxRuntimeModel Onnx = null!;
    protected OnnxRuntimeModel? OnnxInt8;

    protected static string Models => Path.Combine(AppContext.BaseDirectory, "Models");

    protected void Setup(int batch, int inLength, int outLength, string weights, string onnx, string[] layers, bool softmax,
        Action<float[], float[], int> compiled, string? onnxInt8 = null, Action<float[], float[], int>? compiledInt8 = null)
    {
        var random = new Random(42);
        Input = new float[batch * inLength];
        for (int i = 0; i < Input.Length; i++) Input[i] = (float)random.NextDouble();
        Output = new float[batch * outLength];
        Weights = SafeTensors.Load(Path.Combine(Models, weights));
        Handwritten = new TensorPrimitivesMlp(Weights, layers, softmax);
        Onnx = new OnnxRuntimeModel(Path.Combine(Models, onnx), Input, Output, batch, inLength, outLength);

        // Every contender must produce the same numbers, or the comparison means nothing.
        compiled(Input, Output, batch);
        float[] reference = (float[])Output.Clone();
        var other = new float[Output.Length];
        Handwritten.Predict(Input, other, batch);
        Check(reference, other, "TensorPrimitives");
        Onnx.Run();
        Check(reference, Output, "ONNX Runtime");

        // The int8 contenders compute the same function to within quantization error.
        if (compiledInt8 is not null)
        {
            compiledInt8(Input, other, batch);
            Check(reference, other, "ModelCompiler int8", tolerance: 0.05);
        }
        if (onnxInt8 is not null)
        {
            OnnxInt8 = new OnnxRuntimeModel(Path.Combine(Models, onnxInt8), Input, Output, batch, inLength, outLength);
            OnnxInt8.Run();
            // Without VNNI, ONNX Runtime's u8×s8 kernel (AVX2 vpmaddubsw) saturates pairs of products at 16 bits, which its
            // quantization guide warns of: 6.1 % of the output's scale on Zen 3 (AVX2 only); the AVX-512 and VNNI machines agreed within 5 %.
            Check(reference, Output, "ONNX Runtime int8", tolerance: System.Runtime.Intrinsics.X86.AvxVnni.IsSupported || System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? 0.05 : 0.1);
        }
    }

    private static void Check(float[] expected, float[] actual, string who, double tolerance = 1e-4)
    {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }
        if (maxDiff > tolerance * Math.Max(maxRef, 1e-30)) throw new InvalidOperationException($"{who} disagrees with the compiled model: {maxDiff} (scale {maxRef})");
    }

    public void Dispose()
    {
        Onnx?.Dispose();
        OnnxInt8?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The 784-512-256-10 MLP at batch 1 (memory-bound: 2.1 MB of weights per call) and 64 (compute-bound). One thread.</summary>
[MemoryDiagnoser]
public class Mlp784Benchmark : ModelBenchmark
{
    [Params(1, 64)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void GlobalSetup() => Setup(Batch, Mlp784.InputLength, Mlp784.OutputLength, "mlp784.safetensors", "mlp784.onnx",
        new[] { "fc1", "fc2", "fc3" }, softmax: false, (x, y, b) => Mlp784.Predict(x, y, b, maxDegreeOfParallelism: 1),
        "mlp784_int8.onnx", (x, y, b) => Mlp784Int8.Predict(x, y, b, maxDegreeOfParallelism: 1));

    [Benchmark(Baseline = true, Description = "ModelCompiler (compiled)")]
    public void Compiled() => Mlp784.Predict(Input, Output, Batch, maxDegreeOfParallelism: 1);

    [Benchmark(Description = "ModelCompiler int8 (compiled)")]
    public void CompiledInt8() => Mlp784Int8.Predict(Input, Output, Batch, maxDegreeOfParallelism: 1);

    [Benchmark(Description = "ModelCompiler (compiled from ONNX)")]
    public void CompiledFromOnnx() => Mlp784Onnx.Predict(Input, Output, Batch, maxDegreeOfParallelism: 1);

    [Benchmark(Description = "ONNX Runtime (1 thread)")]
    public void OnnxRuntime() => Onnx.Run();

    [Benchmark(Description = "ONNX Runtime int8 (1 thread)")]
    public void OnnxRuntimeInt8() => OnnxInt8!.Run();

    [Benchmark(Description = "TensorPrimitives, hand-written")]
    public void TensorPrimitives() => Handwritten.Predict(Input, Output, Batch);

    [Benchmark(Description = "Eager reference")]
    public void Eager() => Mlp784.PredictEager(Weights, Input, Output, Batch);
}

/// <summary>The Digits sample's 64-64-32-10 classifier, one sample at a time.</summary>
[MemoryDiagnoser]
public class DigitsBenchmark : ModelBenchmark
{
    [GlobalSetup]
    public void GlobalSetup() => Setup(1, Digits.DigitsClassifier.InputLength, Digits.DigitsClassifier.OutputLength, "digits.safetensors", "digits.onnx",
        new[] { "fc1", "fc2", "out" }, softmax: true, (x, y, b) => Digits.DigitsClassifier.Predict(x, y));

    [Benchmark(Baseline = true, Description = "ModelCompiler (compiled)")]
    public void Compiled() => Digits.DigitsClassifier.Predict(Input, Output);

    [Benchmark(Description = "ONNX Runtime (1 thread)")]
    public void OnnxRuntime() => Onnx.Run();

    [Benchmark(Description = "TensorPrimitives, hand-written")]
    public void TensorPrimitives() => Handwritten.Predict(Input, Output, 1);

    [Benchmark(Description = "Eager reference")]
    public void Eager() => Digits.DigitsClassifier.PredictEager(Weights, Input, Output, 1);
}

/// <summary>One sample of a sample model, compiled against ONNX Runtime (the same trained weights, exported by its train script).</summary>
public abstract class OneSampleBenchmark : IDisposable
{
    private readonly float[] _input;
    private readonly float[] _output;
    private OnnxRuntimeModel _onnx = null!;

    protected OneSampleBenchmark(float[] input, int outputs)
    {
        _input = input;
        _output = new float[outputs];
    }

    protected abstract string OnnxFile { get; }
    protected abstract long[] OnnxInputShape { get; }
    protected abstract void Predict(ReadOnlySpan<float> input, Span<float> output);

    [GlobalSetup]
    public void GlobalSetup()
    {
        _onnx = new OnnxRuntimeModel(Path.Combine(AppContext.BaseDirectory, "Models", OnnxFile), _input, _output, 1, _input.Length, _output.Length, OnnxInputShape);
        var compiled = new float[_output.Length];
        Predict(_input, compiled);
        _onnx.Run();
        for (int i = 0; i < compiled.Length; i++)
            if (Math.Abs(compiled[i] - _output[i]) > 1e-4) throw new InvalidOperationException($"ONNX Runtime disagrees with the compiled {GetType().Name}");
    }

    [Benchmark(Baseline = true, Description = "ModelCompiler (compiled)")]
    public void Compiled() => Predict(_input, _output);

    [Benchmark(Description = "ONNX Runtime (1 thread)")]
    public void OnnxRuntime() => _onnx.Run();

    public void Dispose()
    {
        _onnx?.Dispose();
        GC.SuppressFinalize(this);
    }

    protected static float[] Random(int count, Func<Random, float> value)
    {
        var random = new Random(42);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = value(random);
        return values;
    }
}

/// <summary>The DigitsCnn sample (two 3×3 convolutions with BatchNorm folded in), one image.</summary>
[MemoryDiagnoser]
public class DigitsCnnBenchmark : OneSampleBenchmark
{
    public DigitsCnnBenchmark() : base(Random(64, r => (float)r.NextDouble()), 10) { }
    protected override string OnnxFile => "digits_cnn.onnx";
    protected override long[] OnnxInputShape => new long[] { 1, 1, 8, 8 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output) => DigitsCnn.DigitsCnnClassifier.Predict(input, output);
}

/// <summary>The TextClassifier sample (embedding, 4-head self-attention, feed-forward, mean pooling), one sequence of 12 tokens.</summary>
[MemoryDiagnoser]
public class TextClassifierBenchmark : OneSampleBenchmark
{
    public TextClassifierBenchmark() : base(Random(12, r => r.Next(16)), 3) { }
    protected override string OnnxFile => "text_classifier.onnx";
    protected override long[] OnnxInputShape => new long[] { 1, 12 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output) => TextClassifier.TokenCountClassifier.Predict(input, output);
}

/// <summary>
/// A model compiled from random PyTorch weights against the same weights exported to ONNX, at batch sizes 1 and 64,
/// one thread each; outputs are compared before timing.
/// </summary>
public abstract class BatchedOnnxBenchmark : IDisposable
{
    private float[] _input = Array.Empty<float>();
    private float[] _output = Array.Empty<float>();
    private OnnxRuntimeModel _onnx = null!;

    protected abstract string OnnxFile { get; }
    protected abstract int[] SampleShape { get; }
    protected abstract int[] OutputSampleShape { get; }
    protected abstract void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads);

    /// <summary>A graph compiled whole: its sample is the file's whole input (batch fixed by Dims), so ONNX Runtime runs one set, [sample].</summary>
    protected virtual bool Whole => false;

    /// <summary>
    /// The file fixes its batch at 1 (ML.NET's ResNet-18): ONNX Runtime runs a batch as that many calls of one sample,
    /// bound one by one, which is how such a file is served.
    /// </summary>
    protected virtual bool FileBatchOne => false;

    private OnnxRuntimeModel[] _perSample = Array.Empty<OnnxRuntimeModel>();

    public abstract int Batch { get; set; }

    /// <summary>Cores each side may use: the compiled model's maxDegreeOfParallelism, ONNX Runtime's intra-op threads.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void GlobalSetup()
    {
        int inLength = 1, outLength = 1;
        foreach (int d in SampleShape) inLength *= d;
        foreach (int d in OutputSampleShape) outLength *= d;
        var random = new Random(42);
        _input = new float[Batch * inLength];
        for (int i = 0; i < _input.Length; i++) _input[i] = (float)(random.NextDouble() * 2 - 1);
        _output = new float[Batch * outLength];
        static long[] Batch1(int[] sample) => [1, .. Array.ConvertAll(sample, d => (long)d)];
        long[] Shape(int[] sample)
        {
            if (Whole) return Array.ConvertAll(sample, d => (long)d);
            var s = new long[sample.Length + 1];
            s[0] = Batch;
            for (int i = 0; i < sample.Length; i++) s[i + 1] = sample[i];
            return s;
        }
        string file = Path.Combine(AppContext.BaseDirectory, "Models", OnnxFile);
        var compiled = new float[_output.Length];
        Predict(_input, compiled, Batch, Threads);
        if (FileBatchOne)
        {
            // One session per sample, each bound to its own copies (IOBinding takes whole arrays), run in turn.
            _perSample = new OnnxRuntimeModel[Batch];
            var outputs = new float[Batch][];
            for (int b = 0; b < Batch; b++)
            {
                outputs[b] = new float[outLength];
                _perSample[b] = new OnnxRuntimeModel(file, _input.AsSpan(b * inLength, inLength).ToArray(), outputs[b], 1, inLength, outLength,
                    Batch1(SampleShape), Batch1(OutputSampleShape), Threads);
                _perSample[b].Run();
                outputs[b].CopyTo(_output, b * outLength);
            }
        }
        else
        {
            _onnx = new OnnxRuntimeModel(file, _input, _output, Batch, inLength, outLength, Shape(SampleShape), Shape(OutputSampleShape), Threads);
            _onnx.Run();
        }
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < compiled.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(compiled[i] - _output[i]));
            maxRef = Math.Max(maxRef, Math.Abs(_output[i]));
        }
        if (maxDiff > 1e-4 * Math.Max(1, maxRef)) throw new InvalidOperationException($"ONNX Runtime disagrees with the compiled {GetType().Name}: {maxDiff}");
    }

    [Benchmark(Baseline = true, Description = "ModelCompiler (compiled)")]
    public void Compiled() => Predict(_input, _output, Batch, Threads);

    [Benchmark(Description = "ONNX Runtime")]
    public void OnnxRuntime()
    {
        if (_perSample.Length == 0) _onnx.Run();
        else foreach (OnnxRuntimeModel sample in _perSample) sample.Run();
    }

    public void Dispose()
    {
        _onnx?.Dispose();
        foreach (OnnxRuntimeModel sample in _perSample) sample.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>LeNet-5 (1×28×28, two 5×5 convolutions, max pooling, three Linear layers).</summary>
[MemoryDiagnoser]
public class LeNet5Benchmark : BatchedOnnxBenchmark
{
    [Params(1, 64)]
    public override int Batch { get; set; }
    protected override string OnnxFile => "lenet5.onnx";
    protected override int[] SampleShape => new[] { 1, 28, 28 };
    protected override int[] OutputSampleShape => new[] { 10 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) => LeNet5.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>ResNet-18 (11.7M parameters, 1.8 GFLOP) as ML.NET ships it: a third-party ONNX file, fixed at batch 1.</summary>
[MemoryDiagnoser]
public class ResNet18Benchmark : BatchedOnnxBenchmark
{
    [Params(1, 8)]
    public override int Batch { get; set; }
    protected override string OnnxFile => "ResNet18.onnx";
    protected override bool FileBatchOne => true;
    protected override int[] SampleShape => new[] { 3, 224, 224 };
    protected override int[] OutputSampleShape => new[] { 512, 1, 1 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) =>
        ModelCompiler.PackagedModels.ResNet18.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>One transformer encoder block: d 256, 4 heads, feed-forward 1024, 64 positions.</summary>
[MemoryDiagnoser]
public class EncoderBlockBenchmark : BatchedOnnxBenchmark
{
    [Params(1)]
    public override int Batch { get; set; }
    protected override string OnnxFile => "encoder_block.onnx";
    protected override int[] SampleShape => new[] { 64, 256 };
    protected override int[] OutputSampleShape => new[] { 64, 256 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) => EncoderBlock.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>A ResNet basic block, 64 channels on 28×28 (two Winograd 3×3 convolutions, BatchNorm folded, residual).</summary>
[MemoryDiagnoser]
public class ResBlockBenchmark : BatchedOnnxBenchmark
{
    [Params(1)]
    public override int Batch { get; set; }
    protected override string OnnxFile => "res_block64.onnx";
    protected override int[] SampleShape => new[] { 64, 28, 28 };
    protected override int[] OutputSampleShape => new[] { 64, 28, 28 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) => ResBlock64.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>
/// One 3×3, stride-1, padding-1 convolution, one sample, by the two kernels the build-time rule chooses between
/// (<c>FuseEpilogues.IsDirect</c>): the direct kernel and the im2col GEMM. Every channel count here is a multiple of 8,
/// where the direct kernel keeps 8 output channels in registers.
/// </summary>
public class ConvolutionKernelBenchmark
{
    private float[] _x = Array.Empty<float>(), _w = Array.Empty<float>(), _b = Array.Empty<float>(), _y = Array.Empty<float>();
    private float[] _directScratch = Array.Empty<float>(), _im2colScratch = Array.Empty<float>();
    private Kernels.ConvGeometry _direct = null!, _im2col = null!;

    [Params("16->16 28x28", "32->32 14x14", "64->64 28x28", "128->128 14x14", "256->256 14x14", "512->512 7x7")]
    public string Layer { get; set; } = "";

    [GlobalSetup]
    public void GlobalSetup()
    {
        string[] parts = Layer.Split(' ');
        int c = int.Parse(parts[0].Split("->")[0], System.Globalization.CultureInfo.InvariantCulture);
        int hw = int.Parse(parts[1].Split('x')[0], System.Globalization.CultureInfo.InvariantCulture);
        var random = new Random(1);
        _x = new float[c * hw * hw];
        _w = new float[c * c * 9];
        _b = new float[(c + 15) / 16 * 16];
        _y = new float[c * hw * hw];
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)random.NextDouble();
        for (int i = 0; i < _w.Length; i++) _w[i] = (float)random.NextDouble() * 0.1f;
        _direct = new Kernels.ConvGeometry(c, hw, hw, c, 3, 3, 1, 1, 1, hw, hw, 1, 1) { ChannelBlock = 8 };
        _im2col = new Kernels.ConvGeometry(c, hw, hw, c, 3, 3, 1, 1, 1, hw, hw, 1, 1);
        _directScratch = new float[Kernels.DirectConvolution.ScratchFloats(_direct)];
        _im2colScratch = new float[Kernels.Convolution.ScratchFloats(_im2col)];
    }

    [Benchmark(Baseline = true, Description = "direct")]
    public void Direct() => Kernels.DirectConvolution.Run<Kernels.IdentityOperator>(ref _x[0], ref _y[0], 1, _direct, ref _w[0], ref _b[0], ref _directScratch[0]);

    [Benchmark(Description = "im2col GEMM")]
    public void Im2Col() => Kernels.Convolution.Conv2d<Kernels.IdentityOperator>(ref _x[0], ref _y[0], 1, _im2col, ref _w[0], ref _b[0], ref _im2colScratch[0]);
}

/// <summary>
/// One 3×3, stride-1, padding-1 convolution, one sample, one thread, by the two Winograd tiles the build-time rule
/// chooses between (<c>KernelScratch.WinogradTile</c>): F(2×2, 3×3) and F(4×4, 3×3), each with its own transformed
/// filters (random: the speed does not depend on their values). The layers are ResNet-18's, the PP-OCRv3 detector's
/// feature pyramid's (96 → 24) and two more; the rule's pick is in each layer's name.
/// </summary>
public class WinogradTileBenchmark
{
    private float[] _x = Array.Empty<float>(), _b = Array.Empty<float>(), _y = Array.Empty<float>();
    private float[] _f2 = Array.Empty<float>(), _f4 = Array.Empty<float>(), _s2 = Array.Empty<float>(), _s4 = Array.Empty<float>();
    private Kernels.ConvGeometry _g = null!;

    [Params("64->64 56x56 (F4)", "128->128 28x28 (F2)", "256->256 14x14 (F2)", "512->512 7x7 (F2)", "96->24 80x80 (F2)", "96->24 40x40 (F4)", "48->48 40x40 (F4)")]
    public string Layer { get; set; } = "";

    [GlobalSetup]
    public void GlobalSetup()
    {
        string[] parts = Layer.Split(' ');
        int c = int.Parse(parts[0].Split("->")[0], System.Globalization.CultureInfo.InvariantCulture);
        int outC = int.Parse(parts[0].Split("->")[1], System.Globalization.CultureInfo.InvariantCulture);
        int hw = int.Parse(parts[1].Split('x')[0], System.Globalization.CultureInfo.InvariantCulture);
        var random = new Random(1);
        _x = new float[c * hw * hw];
        _b = new float[(outC + 15) / 16 * 16];
        _y = new float[outC * hw * hw];
        _f2 = new float[16 * outC * c];
        _f4 = new float[36 * outC * c];
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)random.NextDouble();
        for (int i = 0; i < _f2.Length; i++) _f2[i] = (float)random.NextDouble() - 0.5f;
        for (int i = 0; i < _f4.Length; i++) _f4[i] = (float)random.NextDouble() - 0.5f;
        _g = new Kernels.ConvGeometry(c, hw, hw, outC, 3, 3, 1, 1, 1, hw, hw, 1, 1);
        _s2 = new float[Kernels.WinogradConvolution.ScratchFloats(c, outC, hw, hw)];
        _s4 = new float[Kernels.WinogradConvolution.ScratchFloats4x4(c, outC, hw, hw)];
    }

    [Benchmark(Baseline = true, Description = "F(2×2, 3×3)")]
    public void F2() => Kernels.WinogradConvolution.Run<Kernels.IdentityOperator>(ref _x[0], ref _y[0], 1, _g, ref _f2[0], ref _b[0], ref _s2[0]);

    [Benchmark(Description = "F(4×4, 3×3)")]
    public void F4() => Kernels.WinogradConvolution.Run4x4<Kernels.IdentityOperator>(ref _x[0], ref _y[0], 1, _g, ref _f4[0], ref _b[0], ref _s4[0]);
}

/// <summary>PaddleOCR's PP-OCRv3 text detector (third-party, Paddle2ONNX): MobileNetV3, an FPN of Resize and ConvTranspose, 320 × 320.</summary>
[MemoryDiagnoser]
public class OcrDetectionBenchmark : BatchedOnnxBenchmark
{
    [Params(1, 8)]
    public override int Batch { get; set; }
    protected override string OnnxFile => "ch_PP-OCRv3_det_infer.onnx";
    protected override int[] SampleShape => new[] { 3, 320, 320 };
    protected override int[] OutputSampleShape => new[] { 1, 320, 320 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) => OcrDetection.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>PaddleOCR's text-orientation classifier (third-party): 48 × 192 crops.</summary>
[MemoryDiagnoser]
public class OcrOrientationBenchmark : BatchedOnnxBenchmark
{
    [Params(1, 8)]
    public override int Batch { get; set; }
    protected override string OnnxFile => "ch_ppocr_mobile_v2.0_cls_infer.onnx";
    protected override int[] SampleShape => new[] { 3, 48, 192 };
    protected override int[] OutputSampleShape => new[] { 2 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) => OcrOrientation.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>openWakeWord's mel front-end (third-party): 1,760 samples to 8 × 32 log-mel frames, one clip (compiled whole).</summary>
[MemoryDiagnoser]
public class MelSpectrogramBenchmark : BatchedOnnxBenchmark
{
    [Params(1)]
    public override int Batch { get; set; }
    protected override bool Whole => true;
    protected override string OnnxFile => "melspectrogram.onnx";
    protected override int[] SampleShape => new[] { 1, 1760 };
    protected override int[] OutputSampleShape => new[] { 1, 1, 8, 32 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) => MelSpectrogram.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>Google's speech embedding as openWakeWord ships it (third-party, tf2onnx): 76 × 32 frames to 96 features.</summary>
[MemoryDiagnoser]
public class SpeechEmbeddingBenchmark : BatchedOnnxBenchmark
{
    [Params(1, 8)]
    public override int Batch { get; set; }
    protected override string OnnxFile => "speech_embedding.onnx";
    protected override int[] SampleShape => new[] { 76, 32, 1 };
    protected override int[] OutputSampleShape => new[] { 1, 1, 96 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) => SpeechEmbedding.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>nn.TransformerEncoderLayer (d 64, 4 heads) as torch.onnx.export writes it sequence-first: one sequence of 10 (compiled whole).</summary>
[MemoryDiagnoser]
public class EncoderLayerExportBenchmark : BatchedOnnxBenchmark
{
    [Params(1)]
    public override int Batch { get; set; }
    protected override bool Whole => true;
    protected override string OnnxFile => "encoder_layer_sf.onnx";
    protected override int[] SampleShape => new[] { 10, 1, 64 };
    protected override int[] OutputSampleShape => new[] { 10, 1, 64 };
    protected override void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int threads) => EncoderLayerSequenceFirst.Predict(input, output, batch, maxDegreeOfParallelism: threads);
}

/// <summary>
/// Silero VAD v5 (third-party, the If-less export): one 576-sample window at 16 kHz and the LSTM state in, the probability
/// and the next state out — what a streaming caller runs every 32 ms. ONNX Runtime with all three inputs and both outputs
/// bound once.
/// </summary>
[MemoryDiagnoser]
public class SileroVadBenchmark : IDisposable
{
    private readonly float[] _window = new float[576], _state = new float[256], _probability = new float[1], _next = new float[256];
    private readonly long[] _rate = { 16000 };
    private InferenceSession _session = null!;
    private OrtIoBinding _binding = null!;
    private readonly RunOptions _runOptions = new();
    private readonly List<IDisposable> _owned = new();

    [GlobalSetup]
    public void GlobalSetup()
    {
        for (int i = 0; i < _window.Length; i++) _window[i] = (float)(0.3 * Math.Sin(i * 0.05));
        var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _session = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "Models", "silero_vad_op18_ifless.onnx"), options);
        _binding = _session.CreateIoBinding();
        OrtValue Bind<T>(T[] data, long[] shape) where T : unmanaged { var v = OrtValue.CreateTensorValueFromMemory(data, shape); _owned.Add(v); return v; }
        _binding.BindInput("input", Bind(_window, new long[] { 1, 576 }));
        _binding.BindInput("state", Bind(_state, new long[] { 2, 1, 128 }));
        _binding.BindInput("sr", Bind(_rate, Array.Empty<long>()));
        _binding.BindOutput("output", Bind(_probability, new long[] { 1, 1 }));
        _binding.BindOutput("stateN", Bind(_next, new long[] { 2, 1, 128 }));
        _session.RunWithBinding(_runOptions, _binding);
        float expected = _probability[0];
        SileroVad.Predict(_window, _rate, _state, _probability, _next, 1);
        if (Math.Abs(expected - _probability[0]) > 1e-4) throw new InvalidOperationException($"ONNX Runtime disagrees with the compiled Silero VAD: {expected} vs {_probability[0]}");
    }

    [Benchmark(Baseline = true, Description = "ModelCompiler (compiled)")]
    public void Compiled() => SileroVad.Predict(_window, _rate, _state, _probability, _next, 1);

    [Benchmark(Description = "ONNX Runtime (1 thread)")]
    public void OnnxRuntime() => _session.RunWithBinding(_runOptions, _binding);

    public void Dispose()
    {
        _binding?.Dispose();
        foreach (IDisposable d in _owned) d.Dispose();
        _runOptions.Dispose();
        _session?.Dispose();
        GC.SuppressFinalize(this);
    }
}
