using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using ModelCompiler.Kernels;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// ONNX models whose initializers are read from the model's files beside the application instead of being embedded
/// (WeightsStorage.File, or weights above ModelCompilerEmbedLimit): the same outputs as embedded, the generated loader
/// reading each tensor where the file keeps it, and files that are missing or changed refused.
/// </summary>
public class OnnxWeightsFileTests
{
    private delegate void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int maxDegreeOfParallelism);

    public static TheoryData<string> Twins => new() { "lenet5", "onnx_encoder", "onnx_external" };

    private static (Predict Embedded, Predict FromFile, int InputLength, int OutputLength) Twin(string name) => name switch
    {
        "lenet5" => (LeNet5Onnx.Predict, LeNet5OnnxFromFile.Predict, LeNet5Onnx.InputLength, LeNet5Onnx.OutputLength),
        "onnx_encoder" => (OnnxEncoder.Predict, OnnxEncoderFromFile.Predict, OnnxEncoder.InputLength, OnnxEncoder.OutputLength),
        "onnx_external" => (OnnxExternal.Predict, OnnxExternalFromFile.Predict, OnnxExternal.InputLength, OnnxExternal.OutputLength),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Twins))]
    public void Weights_read_from_the_ONNX_file_give_the_outputs_of_embedded_ones(string name)
    {
        (Predict embedded, Predict fromFile, int inputLength, int outputLength) = Twin(name);
        const int batch = 5;
        float[] input = Numerics.Random(batch * inputLength, seed: 17);
        var expected = new float[batch * outputLength];
        var actual = new float[batch * outputLength];
        embedded(input, expected, batch, 1);
        fromFile(input, actual, batch, 1);
        Assert.Equal(expected, actual);
        Assert.Contains(expected, v => v != 0f);
    }

    [Fact]
    public void Recurrent_gate_matrices_read_as_slices_of_their_initializers_give_the_embedded_outputs()
    {
        const int batch = 3;
        float[] x = Numerics.Random(batch * OnnxRecurrent.XLength, seed: 3);
        float[] h0 = Numerics.Random(batch * OnnxRecurrent.H0Length, seed: 4, scale: 0.5);
        float[] c0 = Numerics.Random(batch * OnnxRecurrent.C0Length, seed: 5, scale: 0.5);
        int[] lengths = { OnnxRecurrent.LstmYLength, OnnxRecurrent.LstmHLength, OnnxRecurrent.LstmCLength, OnnxRecurrent.GruHLength, OnnxRecurrent.GruYLength, OnnxRecurrent.RnnHLength };
        float[][] expected = lengths.Select(l => new float[batch * l]).ToArray();
        float[][] actual = lengths.Select(l => new float[batch * l]).ToArray();
        OnnxRecurrent.Predict(x, h0, c0, expected[0], expected[1], expected[2], expected[3], expected[4], expected[5], batch);
        OnnxRecurrentFromFile.Predict(x, h0, c0, actual[0], actual[1], actual[2], actual[3], actual[4], actual[5], batch);
        for (int i = 0; i < lengths.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    private static string Generate(string model, string attribute, string? embedLimit, out GeneratorRunResult run, params string[] files)
    {
        string source = $$"""
            using ModelCompiler;
            [CompileModel(Onnx = "{{model}}"{{attribute}})]
            static partial class Net;
            """;
        var options = embedLimit is null ? null : new System.Collections.Generic.Dictionary<string, string> { ["build_property.ModelCompilerEmbedLimit"] = embedLimit };
        Microsoft.CodeAnalysis.GeneratorDriver driver = GeneratorHarness.Driver(files.Select(f => new GeneratorHarness.BinaryAdditionalText(f)), options);
        driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(("Net.cs", source)), out Compilation output, out _);
        run = driver.GetRunResult().Results.Single();
        Assert.Empty(run.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        return run.GeneratedSources.Single(s => s.HintName == "Net.g.cs").SourceText.ToString();
    }

    [Theory]
    [InlineData(", WeightsStorage = WeightsStorage.File", null)]
    [InlineData("", "1000")] // above the project's limit
    public void A_file_route_ONNX_model_reads_every_initializer_from_its_file_and_embeds_nothing(string attribute, string? limit)
    {
        string path = Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "benchmarks/ModelCompiler.Benchmarks/Models/lenet5.onnx");
        string code = Generate("lenet5.onnx", attribute, limit, out GeneratorRunResult run, path);
        long length = new FileInfo(path).Length;
        Assert.Contains($"global::ModelCompiler.Kernels.WeightsFile.OpenOnnx(new global::ModelCompiler.Kernels.OnnxWeightsPart[]", code);
        Assert.Contains($"new(\"lenet5.onnx\", {length}L, \"{WeightLayout.Hash(File.ReadAllBytes(path))}\"),", code);
        // Every laid-out blob reads the file: no weights file is generated, nothing decoded from base64.
        Assert.DoesNotContain(run.GeneratedSources, s => s.HintName == "Net.Weights.g.cs");
        Assert.DoesNotContain("DecodeBase64", code);
        int tensors = Regex.Matches(code, @"^\s*new\(""[^""]+"", 0, \d+L, \d+, \d+, (true|false)\),$", RegexOptions.Multiline).Count;
        Assert.Equal(10, tensors); // two convolutions and three Gemms, each a weight and a bias
        Assert.Equal(10, Regex.Matches(code, @"file\.Lay\(buffer,").Count);
    }

    [Fact]
    public void External_data_is_read_from_its_own_file_and_MatMul_weights_are_read_transposed()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string model = Path.Combine(root, "tests/ModelCompiler.TestModels/Models/onnx_external.onnx"), data = model + ".data";
        string code = Generate("onnx_external.onnx", ", WeightsStorage = WeightsStorage.File", null, out _, model, data);
        // Every initializer is in the data file, so the model file itself is not read at run time.
        Assert.Contains($"new(\"onnx_external.onnx.data\", {new FileInfo(data).Length}L, \"{WeightLayout.Hash(File.ReadAllBytes(data))}\"),", code);
        Assert.DoesNotContain("new(\"onnx_external.onnx\",", code);
        Assert.Matches(@"new\(""[^""]+"", 0, \d+L, \d+, \d+, true\),", code);
    }

    [Fact]
    public void Gate_matrices_are_read_as_slices_of_packed_float_data_and_only_computed_biases_are_embedded()
    {
        string path = Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "tests/ModelCompiler.TestModels/Models/onnx_recurrent.onnx");
        string code = Generate("onnx_recurrent.onnx", ", WeightsStorage = WeightsStorage.File", null, out GeneratorRunResult run, path);
        // onnx.helper wrote the initializers as float_data: one packed run each, so as readable in place as raw data.
        // lstm.W is [2 directions, 16, 5]: the second direction's matrix starts 80 floats into it.
        long first = long.Parse(Regex.Match(code, @"new\(""lstm\.W0\.weight"", 0, (\d+)L").Groups[1].Value);
        long second = long.Parse(Regex.Match(code, @"new\(""lstm\.W1\.weight"", 0, (\d+)L").Groups[1].Value);
        Assert.Equal(first + 80 * 4, second);
        Assert.Equal(11, Regex.Matches(code, @"file\.Lay\(buffer,").Count);
        // Wb + Rb is computed at build time: embedded, the only blobs the weights file holds.
        Assert.Contains("buffer.DecodeBase64(80, 16, LstmW0Bias); // lstm.W0.bias [16] padded to 16, embedded: computed at build time", code);
        string weights = run.GeneratedSources.Single(s => s.HintName == "Net.Weights.g.cs").SourceText.ToString();
        Assert.Contains("LstmW0Bias =>", weights);
        Assert.DoesNotContain("LstmW0WeightPacked", weights);
    }

    [Fact]
    public void An_embedded_ONNX_model_reads_no_file()
    {
        string path = Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "benchmarks/ModelCompiler.Benchmarks/Models/lenet5.onnx");
        string code = Generate("lenet5.onnx", "", null, out GeneratorRunResult run, path);
        Assert.DoesNotContain("OpenOnnx", code);
        Assert.Contains(run.GeneratedSources, s => s.HintName == "Net.Weights.g.cs");
    }

    [Fact]
    public void An_ONNX_file_that_is_missing_or_changed_is_refused_naming_it()
    {
        var tensors = new[] { new OnnxWeightsTensor("w", 0, 0, 1, 4, false) };
        var missing = Assert.Throws<FileNotFoundException>(() => WeightsFile.OpenOnnx(new[] { new OnnxWeightsPart("no_such.onnx", 10, "0") }, tensors));
        Assert.Contains("copy no_such.onnx to the output directory", missing.Message);
        long length = new FileInfo(Path.Combine(AppContext.BaseDirectory, "lenet5.onnx")).Length;
        var changed = Assert.Throws<InvalidOperationException>(() => WeightsFile.OpenOnnx(new[] { new OnnxWeightsPart("lenet5.onnx", length, "0000000000000000") }, tensors));
        Assert.Contains("is not the ONNX file the model was compiled with", changed.Message);
    }

    [Fact]
    public void A_tensor_placed_outside_its_file_is_refused_and_nothing_is_written()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "lenet5.onnx");
        byte[] bytes = File.ReadAllBytes(path);
        var part = new OnnxWeightsPart("lenet5.onnx", bytes.Length, WeightLayout.Hash(bytes));
        WeightsFile file = WeightsFile.OpenOnnx(new[] { part }, new[]
        {
            new OnnxWeightsTensor("past_the_end", 0, bytes.Length - 8, 1, 4, false),
            new OnnxWeightsTensor("negative", 0, -4, 1, 4, false),
            new OnnxWeightsTensor("huge", 0, 0, int.MaxValue, int.MaxValue, true),
        });
        var buffer = new AlignedBuffer(4);
        foreach (string tensor in new[] { "past_the_end", "negative", "huge", "unknown" })
        {
            Assert.Throws<InvalidOperationException>(() => file.Lay(buffer, 0, WeightLayoutKind.Raw, tensor, 4, 1, 4));
            Assert.All(buffer.Span.ToArray(), v => Assert.Equal(0f, v));
        }
    }
}
