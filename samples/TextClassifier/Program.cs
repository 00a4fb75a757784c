using System;
using System.Diagnostics;
using System.IO;
using ModelCompiler;
using TextClassifier;

// Held-out sequences exported by train.py: tokens [N, 12] (as floats), labels [N], PyTorch's probabilities [N, 3].
SafeTensors test = SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "text_classifier_test.safetensors"));
float[] tokens = test["tokens"].ToArray(), labels = test["labels"].ToArray(), torch = test["probabilities"].ToArray();
int samples = labels.Length, length = TokenCountClassifier.InputLength;

var compiled = new float[samples * 3];
TokenCountClassifier.Predict(tokens, compiled, samples);
int Top(float[] p, int i) => p[i * 3] >= p[i * 3 + 1] ? (p[i * 3] >= p[i * 3 + 2] ? 0 : 2) : (p[i * 3 + 1] >= p[i * 3 + 2] ? 1 : 2);
int correct = 0, agree = 0;
double maxDifference = 0;
for (int i = 0; i < samples; i++)
{
    if (Top(compiled, i) == (int)labels[i]) correct++;
    if (Top(compiled, i) == Top(torch, i)) agree++;
}
for (int i = 0; i < compiled.Length; i++) maxDifference = Math.Max(maxDifference, Math.Abs(compiled[i] - torch[i]));

Console.WriteLine($"TextClassifier: {samples} held-out sequences of {length} tokens; embedding, 4-head self-attention, feed-forward, mean pooling ({TokenCountClassifier.FlopsPerSample:N0} FLOP per sequence)");
Console.WriteLine($"  held-out accuracy, compiled:   {(double)correct / samples:F4}");
Console.WriteLine($"  top-1 agreement with PyTorch: {(double)agree / samples:P1}");
Console.WriteLine($"  largest |compiled - PyTorch|: {maxDifference:E2}");

var output = new float[3];
for (int i = 0; i < 2000; i++) TokenCountClassifier.Predict(tokens.AsSpan(i % samples * length, length), output);
var clock = Stopwatch.StartNew();
int runs = 0;
while (clock.ElapsedMilliseconds < 500) { TokenCountClassifier.Predict(tokens.AsSpan(runs % samples * length, length), output); runs++; }
Console.WriteLine($"  latency per sequence, batch 1:  {clock.Elapsed.TotalMilliseconds * 1000 / runs:F3} µs");
