using System;
using System.Diagnostics;
using System.IO;
using DigitsCnn;
using ModelCompiler;

// Held-out data exported by train.py: pixels [N, 1, 8, 8], labels [N], PyTorch's probabilities [N, 10].
SafeTensors test = SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "digits_cnn_test.safetensors"));
float[] pixels = test["pixels"].ToArray(), labels = test["labels"].ToArray(), torch = test["probabilities"].ToArray();
int samples = labels.Length, size = DigitsCnnClassifier.InputLength;

var compiled = new float[samples * 10];
DigitsCnnClassifier.Predict(pixels, compiled, samples);

int Top(float[] p, int i)
{
    int best = 0;
    for (int j = 1; j < 10; j++) if (p[i * 10 + j] > p[i * 10 + best]) best = j;
    return best;
}
int correct = 0, agree = 0;
double maxDifference = 0;
for (int i = 0; i < samples; i++)
{
    if (Top(compiled, i) == (int)labels[i]) correct++;
    if (Top(compiled, i) == Top(torch, i)) agree++;
}
for (int i = 0; i < compiled.Length; i++) maxDifference = Math.Max(maxDifference, Math.Abs(compiled[i] - torch[i]));

Console.WriteLine($"DigitsCnn: {samples} held-out 8×8 images, conv-BN-ReLU-pool ×2, global average pool, linear ({DigitsCnnClassifier.FlopsPerSample:N0} FLOP per sample)");
Console.WriteLine($"  held-out accuracy, compiled:         {(double)correct / samples:F4}");
Console.WriteLine($"  top-1 agreement with PyTorch:       {(double)agree / samples:P1}");
Console.WriteLine($"  largest |compiled - PyTorch|:       {maxDifference:E2}");

var output = new float[10];
for (int i = 0; i < 2000; i++) DigitsCnnClassifier.Predict(pixels.AsSpan(i % samples * size, size), output);
var clock = Stopwatch.StartNew();
int runs = 0;
while (clock.ElapsedMilliseconds < 500) { DigitsCnnClassifier.Predict(pixels.AsSpan(runs % samples * size, size), output); runs++; }
Console.WriteLine($"  latency per sample, batch 1:        {clock.Elapsed.TotalMilliseconds * 1000 / runs:F3} µs");
