using System;
using ILGPU.Runtime;
using ModelCompiler.Gpu;

namespace ModelCompiler.GpuBenchmarks;

/// <summary>
/// The samples' models (compiled here from the samples' own sources and weights), for the GPU check the issue asks on
/// a real GPU: each sample's GPU output against its CPU code.
/// </summary>
internal sealed record Sample(string Name, int InputLength, int OutputLength, Func<Accelerator, int, GpuModel> CreateGpu, Sample.CpuPredict Cpu, bool Tokens = false)
{
    public delegate void CpuPredict(ReadOnlySpan<float> input, Span<float> output, int batch);

    public static readonly Sample[] All =
    {
        new("Digits (MLP)", Digits.DigitsClassifier.InputLength, Digits.DigitsClassifier.OutputLength,
            (a, b) => Digits.DigitsClassifier.CreateGpu(a, b), (x, y, n) => Digits.DigitsClassifier.Predict(x, y, n)),
        new("Digits, int8", Digits.DigitsClassifierInt8.InputLength, Digits.DigitsClassifierInt8.OutputLength,
            (a, b) => Digits.DigitsClassifierInt8.CreateGpu(a, b), (x, y, n) => Digits.DigitsClassifierInt8.Predict(x, y, n)),
        new("Digits, int4", Digits.DigitsClassifierInt4.InputLength, Digits.DigitsClassifierInt4.OutputLength,
            (a, b) => Digits.DigitsClassifierInt4.CreateGpu(a, b), (x, y, n) => Digits.DigitsClassifierInt4.Predict(x, y, n)),
        new("DigitsCnn (CNN)", DigitsCnn.DigitsCnnClassifier.InputLength, DigitsCnn.DigitsCnnClassifier.OutputLength,
            (a, b) => DigitsCnn.DigitsCnnClassifier.CreateGpu(a, b), (x, y, n) => DigitsCnn.DigitsCnnClassifier.Predict(x, y, n)),
        new("TextClassifier (attention)", TextClassifier.TokenCountClassifier.InputLength, TextClassifier.TokenCountClassifier.OutputLength,
            (a, b) => TextClassifier.TokenCountClassifier.CreateGpu(a, b), (x, y, n) => TextClassifier.TokenCountClassifier.Predict(x, y, n), Tokens: true),
    };

    /// <summary>Inputs: pixels in [0, 1] as the digit samples take them, or token ids the vocabulary has.</summary>
    public float[] Inputs(int batch, int seed)
    {
        var random = new Random(seed);
        var values = new float[batch * InputLength];
        for (int i = 0; i < values.Length; i++) values[i] = Tokens ? random.Next(16) : (float)random.NextDouble();
        return values;
    }
}
