using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Json;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using ModelCompiler;
using Serving;

// Usage: dotnet run --project benchmarks/ModelCompiler.ServingLoadTest -c Release [-- --seconds 5 --concurrency 1,64]
double seconds = 5;
int[] levels = { 1, 64 };
for (int i = 0; i + 1 < args.Length; i += 2)
{
    if (args[i] == "--seconds") seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
    else if (args[i] == "--concurrency") levels = args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
}

string folder = AppContext.BaseDirectory;
SafeTensors test = SafeTensors.Load(Path.Combine(folder, "digits_cnn_test.safetensors"));
float[] pixels = test["pixels"].ToArray();
int images = pixels.Length / DigitsModel.InputLength;
// What every answer must be: the compiled model's own Predict on each test image.
var expected = new float[images * DigitsModel.OutputLength];
DigitsModel.Predict(pixels, expected, images);

using var session = new InferenceSession(Path.Combine(folder, "digits_cnn.onnx"));
var backends = new (string Name, BatchPredict Predict)[]
{
    ("ModelCompiler", (input, output, batch) => DigitsModel.Predict(input, output, batch)),
    ("ONNX Runtime", (input, output, batch) => OnnxRuntimePredict(session, input, output, batch)),
};

Console.WriteLine($"CPU: {CpuName()}, {Environment.ProcessorCount} cores; Avx2 {Avx2.IsSupported}, Avx512F {Avx512F.IsSupported}, " +
    $"AvxVnni {AvxVnni.IsSupported}, Vector512 {Vector512.IsHardwareAccelerated}. {images} test images, {seconds} s per run, loopback HTTP/1.1, JSON.");
Console.WriteLine();
Console.WriteLine("| backend | clients | requests/s | p50 | p95 | p99 | mean batch |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
int failures = 0;
// A warm-up of every backend at every level first (JIT tiers, Kestrel, connections), so the order of runs does not matter.
foreach (int clients in levels)
    foreach ((string name, BatchPredict predict) in backends) failures += (await Load(name, predict, clients, 1)).Item2;
foreach (int clients in levels)
{
    foreach ((string name, BatchPredict predict) in backends)
    {
        (Stats stats, int wrong) = await Load(name, predict, clients, seconds);
        failures += wrong;
        Console.WriteLine($"| {name} | {clients} | {stats.Throughput:N0} | {Ms(stats.P50)} | {Ms(stats.P95)} | {Ms(stats.P99)} | {stats.MeanBatch:F1} |");
    }
}
Console.WriteLine();
Console.WriteLine(failures == 0 ? "every answer matched the compiled model's Predict" : $"{failures} answers differed from the compiled model's Predict");
return failures == 0 ? 0 : 1;

async Task<(Stats, int)> Load(string name, BatchPredict predict, int clients, double duration)
{
    WebApplication app = ServingApp.Build(new[] { "--urls", "http://127.0.0.1:0" }, name, predict, DigitsModel.InputLength, DigitsModel.OutputLength);
    await app.StartAsync();
    string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { BaseAddress = new Uri(address) };
    int wrong = 0;

    async Task<List<double>> Client(int id, DateTime until)
    {
        var latencies = new List<double>();
        var random = new Random(id);
        while (DateTime.UtcNow < until)
        {
            int image = random.Next(images);
            float[] input = pixels.AsSpan(image * DigitsModel.InputLength, DigitsModel.InputLength).ToArray();
            long start = Stopwatch.GetTimestamp();
            using HttpResponseMessage response = await http.PostAsJsonAsync("/predict", new PredictRequest(input), ServingJson.Default.PredictRequest);
            response.EnsureSuccessStatusCode();
            PredictResponse answer = (await response.Content.ReadFromJsonAsync(ServingJson.Default.PredictResponse))!;
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            for (int j = 0; j < DigitsModel.OutputLength; j++)
            {
                if (Math.Abs(answer.Output[j] - expected[image * DigitsModel.OutputLength + j]) > 1e-4f)
                {
                    Interlocked.Increment(ref wrong);
                    break;
                }
            }
        }
        return latencies;
    }

    // One second of warm-up (JIT, connections), then the measured run.
    await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Client(c, DateTime.UtcNow.AddSeconds(1))));
    RequestBatcher batcher = app.Services.GetRequiredService<RequestBatcher>();
    long rowsBefore = batcher.Metrics.BatchRows, batchesBefore = batcher.Metrics.Batches;
    var clock = Stopwatch.StartNew();
    List<double>[] all = await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Client(1000 + c, DateTime.UtcNow.AddSeconds(duration))));
    double elapsed = clock.Elapsed.TotalSeconds;
    double[] sorted = all.SelectMany(l => l).OrderBy(v => v).ToArray();
    double meanBatch = (batcher.Metrics.BatchRows - rowsBefore) / (double)Math.Max(1, batcher.Metrics.Batches - batchesBefore);
    await app.StopAsync();
    await app.DisposeAsync();
    return (new Stats(sorted.Length / elapsed, Percentile(sorted, 0.50), Percentile(sorted, 0.95), Percentile(sorted, 0.99), meanBatch), wrong);
}

static void OnnxRuntimePredict(InferenceSession session, ReadOnlySpan<float> input, Span<float> output, int batch)
{
    float[] data = input.ToArray();
    using OrtValue tensor = OrtValue.CreateTensorValueFromMemory(data, new long[] { batch, 1, 8, 8 });
    // Held in a local for the call: a RunOptions created inline could be finalized while the native run still reads it
    // (CI once saw "Invalid run log severity level" from such a collected RunOptions).
    using var options = new RunOptions();
    using IDisposableReadOnlyCollection<OrtValue> results = session.Run(options, new[] { "input" }, new[] { tensor }, new[] { "output" });
    results[0].GetTensorDataAsSpan<float>().CopyTo(output);
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

static string Ms(double s) => (s * 1000).ToString("F2", CultureInfo.InvariantCulture) + " ms";

static string CpuName()
{
    try
    {
        string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
    }
    catch (IOException)
    {
        return "unknown";
    }
}

internal sealed record Stats(double Throughput, double P50, double P95, double P99, double MeanBatch);
