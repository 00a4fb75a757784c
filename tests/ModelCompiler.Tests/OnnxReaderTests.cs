extern alias generator;

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;
using Onnx = generator::ModelCompiler.Generator.Import;

namespace ModelCompiler.Tests;

/// <summary>
/// The generator's ONNX reader: against the onnx package on the repository's exported models (its summaries are
/// checked in: tools/onnx_summary.py), and on thousands of mutated files, which must each end in a model or an
/// OnnxFormatException, quickly.
/// </summary>
public class OnnxReaderTests
{
    private static readonly string Root = GeneratorDiagnosticsTests.RepositoryRoot();

    private static JsonElement Summaries() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "tests/ModelCompiler.Tests/Onnx/summaries.json"))).RootElement;

    public static TheoryData<string> Files() => new(Summaries().EnumerateObject().Select(p => p.Name));

    [Theory]
    [MemberData(nameof(Files))]
    public void Reads_what_the_onnx_package_reads(string file)
    {
        JsonElement expected = Summaries().GetProperty(file);
        Onnx.OnnxModel model = Onnx.OnnxReader.Read(File.ReadAllBytes(Path.Combine(Root, file)));

        Assert.Equal(expected.GetProperty("ir_version").GetInt64(), model.IrVersion);
        Assert.Equal(expected.GetProperty("producer_name").GetString(), model.ProducerName);
        Assert.Equal(expected.GetProperty("opsets").EnumerateArray().Select(o => $"{o[0].GetString()}:{o[1].GetInt64()}"),
            model.Opsets.Select(o => $"{o.Domain}:{o.Version}"));

        JsonElement[] nodes = expected.GetProperty("nodes").EnumerateArray().ToArray();
        Assert.Equal(nodes.Length, model.Graph.Nodes.Count);
        for (int i = 0; i < nodes.Length; i++)
        {
            Onnx.OnnxNode node = model.Graph.Nodes[i];
            Assert.Equal(nodes[i].GetProperty("op_type").GetString(), node.OpType);
            Assert.Equal(nodes[i].GetProperty("domain").GetString(), node.Domain);
            Assert.Equal(nodes[i].GetProperty("name").GetString(), node.Name);
            Assert.Equal(Strings(nodes[i].GetProperty("inputs")), node.Inputs);
            Assert.Equal(Strings(nodes[i].GetProperty("outputs")), node.Outputs);
            Assert.Equal(nodes[i].GetProperty("attributes").EnumerateArray().Select(a => $"{a[0].GetString()}:{a[1].GetInt32()}"),
                node.Attributes.Select(a => $"{a.Name}:{(int)a.Type}"));
        }

        JsonElement[] initializers = expected.GetProperty("initializers").EnumerateArray().ToArray();
        Assert.Equal(initializers.Length, model.Graph.Initializers.Count);
        for (int i = 0; i < initializers.Length; i++)
        {
            Onnx.OnnxTensor tensor = model.Graph.Initializers[i];
            Assert.Equal(initializers[i].GetProperty("name").GetString(), tensor.Name);
            Assert.Equal(initializers[i].GetProperty("dims").EnumerateArray().Select(d => d.GetInt64()), tensor.Dims);
            Assert.Equal(initializers[i].GetProperty("data_type").GetInt32(), (int)tensor.DataType);
            Assert.Equal(initializers[i].GetProperty("raw_bytes").GetInt32(), tensor.RawOffset < 0 ? 0 : tensor.RawLength);
            Assert.Equal(initializers[i].GetProperty("float_data").GetInt32(), tensor.FloatData.Count);
            Assert.Equal(initializers[i].GetProperty("int64_data").GetInt32(), tensor.Int64Data.Count);
        }
        AssertValueInfos(expected.GetProperty("inputs"), model.Graph.Inputs);
        AssertValueInfos(expected.GetProperty("outputs"), model.Graph.Outputs);
    }

    [Fact]
    public void Raw_initializer_data_is_the_bytes_the_onnx_package_exports()
    {
        // mlp784.onnx was exported from the same module as mlp784.safetensors: fc3.bias must be the same floats.
        byte[] bytes = File.ReadAllBytes(Path.Combine(Root, "benchmarks/ModelCompiler.Benchmarks/Models/mlp784.onnx"));
        Onnx.OnnxTensor bias = Onnx.OnnxReader.Read(bytes).Graph.Initializers.Single(t => t.Name == "fc3.bias");
        float[] fromOnnx = new float[bias.RawLength / 4];
        Buffer.BlockCopy(bytes, bias.RawOffset, fromOnnx, 0, bias.RawLength);
        float[] fromSafeTensors = SafeTensors.Load(Path.Combine(Root, "benchmarks/ModelCompiler.Benchmarks/Models/mlp784.safetensors"))["fc3.bias"].ToArray();
        Assert.Equal(fromSafeTensors, fromOnnx);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a model")]
    public void A_file_that_is_not_ONNX_is_refused_with_a_reason(string text)
    {
        var e = Assert.Throws<Onnx.OnnxFormatException>(() => Onnx.OnnxReader.Read(System.Text.Encoding.UTF8.GetBytes(text)));
        Assert.False(string.IsNullOrEmpty(e.Message));
    }

    [Fact]
    public void A_safetensors_file_is_refused_with_a_reason()
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Root, "samples/Digits/digits.safetensors"));
        Assert.Throws<Onnx.OnnxFormatException>(() => Onnx.OnnxReader.Read(bytes));
    }

    [Theory]
    [InlineData("samples/DigitsCnn/digits_cnn.onnx")]
    [InlineData("samples/TextClassifier/text_classifier.onnx")]
    public void Thousands_of_mutated_files_end_in_a_model_or_a_format_error_quickly(string file)
    {
        byte[] original = File.ReadAllBytes(Path.Combine(Root, file));
        var random = new Random(file.Length);
        int models = 0, refused = 0;
        var slowest = TimeSpan.Zero;
        for (int trial = 0; trial < 2500; trial++)
        {
            byte[] mutated = Mutate(original, random, trial);
            var clock = Stopwatch.StartNew();
            try
            {
                Onnx.OnnxReader.Read(mutated);
                models++;
            }
            catch (Onnx.OnnxFormatException)
            {
                refused++;
            }
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
        }
        Assert.Equal(2500, models + refused); // any other exception fails the test
        Assert.True(refused > 100, $"only {refused} mutations were refused: the mutations are too gentle to test anything");
        Assert.True(slowest < TimeSpan.FromSeconds(1), $"one file took {slowest}");
    }

    [Theory]
    [InlineData("samples/DigitsCnn/digits_cnn.onnx")]
    [InlineData("benchmarks/ModelCompiler.Benchmarks/Models/lenet5.onnx", Traits = new[] { Tier.Name, Tier.Slow })]
    [InlineData("tests/ModelCompiler.TestModels/Models/onnx_encoder.onnx")]     // shape arithmetic folded, patterns
    [InlineData("tests/ModelCompiler.TestModels/Models/onnx_elementwise.onnx")] // Gather, Pow, divisions
    public void Mutated_files_that_still_parse_are_imported_or_refused_with_diagnostics(string file)
    {
        byte[] original = File.ReadAllBytes(Path.Combine(Root, file));
        var random = new Random(file.Length * 7);
        int imported = 0, refused = 0, unreadable = 0;
        var clock = Stopwatch.StartNew();
        for (int trial = 0; trial < 1500; trial++)
        {
            byte[] mutated = Mutate(original, random, trial % 5 == 0 ? 1 : trial); // few truncations: most should still parse
            var diagnostics = new List<generator::ModelCompiler.Generator.Diagnostics.DiagnosticInfo>();
            var import = Onnx.OnnxImporter.Import(mutated, "model.onnx", null, diagnostics); // must not throw
            if (import is not null)
            {
                imported++;
                Assert.Empty(diagnostics);
                Assert.True(import.Ops.Count > 0 && import.Outputs.All(o => o.Op < import.Ops.Count));
            }
            else if (diagnostics.Any(d => d.Descriptor.Id == "MC0003" && d.Arguments.Any(a => a.StartsWith("malformed", StringComparison.Ordinal)))) unreadable++;
            else
            {
                refused++;
                Assert.NotEmpty(diagnostics);
            }
        }
        Assert.True(imported > 0 && refused + unreadable > 0, $"imported {imported}, refused {refused}, unreadable {unreadable}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), clock.Elapsed.ToString());
    }

    [Theory]
    [Trait(Tier.Name, Tier.Slow)]
    [InlineData("samples/DigitsCnn/digits_cnn.onnx", 200)]
    [InlineData("tests/ModelCompiler.TestModels/Models/onnx_encoder.onnx", 100)]
    public void The_generator_turns_mutated_ONNX_files_into_diagnostics_only(string file, int trials)
    {
        // Whole-generator runs (import, shape inference, passes, emission) on mutated copies of a small export: each
        // ends in a compiled model or in diagnostics that name the file; never an internal error, never a hang.
        byte[] original = File.ReadAllBytes(Path.Combine(Root, file));
        string folder = GeneratorHarness.TempFolder();
        const string source = "using ModelCompiler;\nnamespace Demo;\n[CompileModel(Onnx = \"fuzz.onnx\")]\npublic static partial class Net;\n";
        var random = new Random(2026);
        var ids = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        for (int trial = 0; trial < trials; trial++)
        {
            string path = Path.Combine(folder, "fuzz.onnx");
            File.WriteAllBytes(path, Mutate(original, random, trial % 5 == 0 ? 1 : trial));
            var (diagnostics, run, _) = GeneratorHarness.Run(source, path);
            foreach (var d in diagnostics) ids[d.Id] = ids.TryGetValue(d.Id, out int n) ? n + 1 : 1;
            Assert.DoesNotContain(diagnostics, d => d.Id == "MC0008");
            Assert.True(diagnostics.Length > 0 || run.GeneratedSources.Any(s => s.HintName == "Demo.Net.g.cs"));
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), clock.Elapsed.ToString());
        Assert.True(ids.Count > 0, "no mutation was refused");
    }

    /// <summary>A truncation, bytes overwritten at random, a byte inserted or removed, or a varint made endless.</summary>
    private static byte[] Mutate(byte[] original, Random random, int trial)
    {
        switch (trial % 5)
        {
            case 0:
                return original.AsSpan(0, random.Next(original.Length)).ToArray();
            case 1:
            {
                byte[] copy = (byte[])original.Clone();
                for (int i = random.Next(1, 9); i > 0; i--) copy[random.Next(copy.Length)] = (byte)random.Next(256);
                return copy;
            }
            case 2:
            {
                int at = random.Next(original.Length);
                return original.Take(at).Append((byte)random.Next(256)).Concat(original.Skip(at)).ToArray();
            }
            case 3:
            {
                int at = random.Next(original.Length);
                return original.Take(at).Concat(original.Skip(at + 1)).ToArray();
            }
            default:
            {
                byte[] copy = (byte[])original.Clone();
                int at = random.Next(copy.Length - 12);
                for (int i = 0; i < 12; i++) copy[at + i] = 0xFF;
                return copy;
            }
        }
    }

    private static IEnumerable<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!);

    private static void AssertValueInfos(JsonElement expected, List<Onnx.OnnxValueInfo> actual)
    {
        JsonElement[] infos = expected.EnumerateArray().ToArray();
        Assert.Equal(infos.Length, actual.Count);
        for (int i = 0; i < infos.Length; i++)
        {
            Assert.Equal(infos[i].GetProperty("name").GetString(), actual[i].Name);
            Assert.Equal(infos[i].GetProperty("elem_type").GetInt32(), (int)actual[i].ElementType);
            JsonElement dims = infos[i].GetProperty("dims");
            if (dims.ValueKind == JsonValueKind.Null)
            {
                Assert.Null(actual[i].Shape);
                continue;
            }
            string Describe(JsonElement d) => d.ValueKind switch
            {
                JsonValueKind.Number => d.GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                JsonValueKind.String => d.GetString()!,
                _ => "?",
            };
            Assert.Equal(dims.EnumerateArray().Select(Describe),
                actual[i].Shape!.Select(d => d.Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? d.Parameter ?? "?"));
        }
    }
}
