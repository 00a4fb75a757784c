extern alias generator;

using System;
using System.IO;
using System.Linq;
using System.Globalization;
using System.Text.RegularExpressions;
using System.Threading;
using Microsoft.CodeAnalysis;
using ModelCompiler.Kernels;
using Xunit;
using Gptq = generator::ModelCompiler.Generator.Passes.Gptq;

namespace ModelCompiler.Tests;

/// <summary>
/// The generator's GPTQ against a line-by-line transcription of the reference implementation (make_gptq.py: IST-DASLab's
/// fasterquant on ModelCompiler's int4 grid) on one layer: 24 outputs, 200 inputs (lazy batches of 64 and a partial
/// last block of 8), correlated calibration inputs and one dead input.
/// </summary>
public class GptqTests
{
    private const int N = 24, K = 200;
    private static readonly SafeTensors Reference = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "gptq_reference.safetensors"));

    /// <summary>H = Σ x xᵀ over the calibration rows (the reference's 2/N scale does not change the result).</summary>
    private static double[] Hessian()
    {
        float[] x = Reference["inputs"].ToArray();
        int rows = x.Length / K;
        var h = new double[K * K];
        for (int s = 0; s < rows; s++)
            for (int a = 0; a < K; a++)
                for (int b = 0; b < K; b++) h[a * K + b] += (double)x[s * K + a] * x[s * K + b];
        return h;
    }

    [Theory]
    [InlineData(false, "gptq")]
    [InlineData(true, "gptq_act_order")]
    public void Gptq_rounds_a_layer_as_the_reference_implementation_does(bool actOrder, string expected)
    {
        float[] weight = Reference["weight"].ToArray();

        Gptq.Result result = Gptq.Quantize(weight, N, K, Hessian(), actOrder, lazyBatch: 64)!;

        float[] quantized = Int4Quantization.Decode(result.Encoded, N, K);
        Assert.Equal(Reference[expected].ToArray(), quantized);
        Assert.All(Enumerable.Range(0, N), j => Assert.Equal(0f, quantized[j * K + 37])); // the dead input's weights
        // Rounding with the error moved onto later columns changes the outputs less than rounding each weight alone.
        Assert.InRange(result.Error, 0, 0.5 * result.RoundToNearestError);
    }

    [Fact]
    public void Round_to_nearest_is_what_the_reference_computes_too()
    {
        Assert.Equal(Reference["rtn"].ToArray(), Int4Quantization.RoundTrip(Reference["weight"].ToArray(), N, K));
    }

    [Fact]
    public void An_identity_Hessian_leaves_nothing_to_compensate_so_GPTQ_is_round_to_nearest()
    {
        float[] weight = Reference["weight"].ToArray();
        var identity = new double[K * K];
        for (int i = 0; i < K; i++) identity[i * K + i] = 1;

        Gptq.Result result = Gptq.Quantize(weight, N, K, identity, actOrder: false)!;

        Assert.Equal(Int4Quantization.Encode(weight, N, K), result.Encoded);
        Assert.Equal(result.RoundToNearestError, result.Error, 12);
    }

    [Fact]
    public void A_Hessian_that_is_not_positive_definite_gives_no_result_rather_than_a_throw()
    {
        float[] weight = Reference["weight"].ToArray();
        var h = new double[K * K];
        for (int i = 0; i < K; i++) h[i * K + i] = -1;

        Assert.Null(Gptq.Quantize(weight, N, K, h, actOrder: true));
        var nan = new double[K * K];
        for (int i = 0; i < K; i++) nan[i * K + i] = double.NaN;
        Assert.Null(Gptq.Quantize(weight, N, K, nan, actOrder: false));
    }

    [Fact]
    public void The_header_gives_held_out_perplexities_and_float32s_is_the_sessions()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string models = Path.Combine(root, "tests/ModelCompiler.TestModels");
        GeneratorDriver driver = GeneratorHarness.Driver(new[] { "Models/tiny_llama.safetensors", "Models/tiny_llama_calibration.safetensors" }
            .Select(f => new GeneratorHarness.BinaryAdditionalText(Path.Combine(models, f))).ToArray());
        driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(("TinyLlama.cs", File.ReadAllText(Path.Combine(models, "TinyLlama.cs")))), out _, out _);
        string code = driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "ModelCompiler.TestModels.TinyLlamaGptq.g.cs").SourceText.ToString();

        Match line = Regex.Match(code, @"Held-out perplexity \(build time, (\d+) tokens of 'heldout'\): float32 ([\d.]+), int4 round to nearest ([\d.]+), GPTQ ([\d.]+)\.");
        Assert.True(line.Success, "no held-out perplexity in the header");
        Assert.Equal("117", line.Groups[1].Value); // 3 windows of 40: 39 predictions each
        // The same windows through the compiled float32 session.
        SafeTensors calibration = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "tiny_llama_calibration.safetensors"));
        float[] heldOut = calibration["heldout"].ToArray();
        using DecoderSession session = ModelCompiler.TestModels.TinyLlama.CreateSession(64);
        double logSum = 0;
        for (int w = 0; w < 3; w++) logSum += Math.Log(session.Perplexity(heldOut.AsSpan(w * 40, 40).ToArray().Select(v => (int)v).ToArray()));
        Assert.InRange(double.Parse(line.Groups[2].Value, CultureInfo.InvariantCulture) / Math.Exp(logSum / 3), 1 - 1e-4, 1 + 1e-4);
        Assert.Contains("; output error on the calibration inputs", code); // each int4 layer's, beside round to nearest's
    }

    [Fact]
    public void Cancellation_stops_GPTQ()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => Gptq.Quantize(Reference["weight"].ToArray(), N, K, Hessian(), false, 64, cancelled.Token));
    }
}
