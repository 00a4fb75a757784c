using System;
using System.Diagnostics;
using System.IO;
using Digits;
using ModelCompiler;

// Held-out data exported by train.py: pixels [N, 64], labels [N], PyTorch's probabilities [N, 10].
string folder = AppContext.BaseDirectory;
SafeTensors test = SafeTensors.Load(Path.Combine(folder, "digits_test.safetensors"));
float[] pixels = test["pixels"].ToArray();
float[] labels = test["labels"].ToArray();
int samples = labels.Length;

// The eager reference reads the same weights at run time.
SafeTensors weights = SafeTensors.Load(Path.Combine(folder, "digits.safetensors"));

var compiled = new float[samples * DigitsClassifier.OutputLength];
var eager = new float[samples * DigitsClassifier.OutputLength];
var int8 = new float[samples * DigitsClassifier.OutputLength];
DigitsClassifier.Predict(pixels, compiled, samples);
DigitsClassifier.PredictEager(weights, pixels, eager, samples);
DigitsClassifierInt8.Predict(pixels, int8, samples);
var int4 = new float[samples * DigitsClassifier.OutputLength];
DigitsClassifierInt4.Predict(pixels, int4, samples);

Console.WriteLine($"Digits: {samples} held-out 8×8 images, model 64→64→32→10 ({DigitsClassifier.FlopsPerSample:N0} FLOP per sample)");
Console.WriteLine($"  held-out accuracy, compiled: {Accuracy(compiled):F4}");
Console.WriteLine($"  held-out accuracy, eager:    {Accuracy(eager):F4}");
Console.WriteLine($"  largest |compiled - eager|:  {MaxDifference(compiled, eager):E2}");
Console.WriteLine($"  held-out accuracy, int8:     {Accuracy(int8):F4} (top-1 agreement with float32: {Agreement(compiled, int8):P1})");
Console.WriteLine($"  held-out accuracy, int4:     {Accuracy(int4):F4} (top-1 agreement with float32: {Agreement(compiled, int4):P1})");

Console.WriteLine($"  latency per sample, batch 1, compiled: {Latency((x, y) => DigitsClassifier.Predict(x, y)):F3} µs");
Console.WriteLine($"  latency per sample, batch 1, int8:     {Latency((x, y) => DigitsClassifierInt8.Predict(x, y)):F3} µs");
Console.WriteLine($"  latency per sample, batch 1, eager:    {Latency((x, y) => DigitsClassifier.PredictEager(weights, x, y)):F3} µs");

int Top(float[] probabilities, int i)
{
    var row = probabilities.AsSpan(i * 10, 10);
    int best = 0;
    for (int j = 1; j < 10; j++) if (row[j] > row[best]) best = j;
    return best;
}

double Accuracy(float[] probabilities)
{
    int correct = 0;
    for (int i = 0; i < samples; i++) if (Top(probabilities, i) == (int)labels[i]) correct++;
    return (double)correct / samples;
}

double Agreement(float[] a, float[] b)
{
    int same = 0;
    for (int i = 0; i < samples; i++) if (Top(a, i) == Top(b, i)) same++;
    return (double)same / samples;
}

static double MaxDifference(float[] a, float[] b)
{
    double max = 0;
    for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
    return max;
}

// Time one sample at a time over the whole held-out set, repeated until about half a second has passed.
double Latency(Predictor predict)
{
    var output = new float[DigitsClassifier.OutputLength];
    void RunAll()
    {
        for (int i = 0; i < samples; i++) predict(pixels.AsSpan(i * 64, 64), output);
    }
    for (int warm = 0; warm < 20; warm++) RunAll();
    long runs = 0;
    var clock = Stopwatch.StartNew();
    while (clock.ElapsedMilliseconds < 500) { RunAll(); runs += samples; }
    return clock.Elapsed.TotalMilliseconds * 1000.0 / runs;
}

delegate void Predictor(ReadOnlySpan<float> input, Span<float> output);
