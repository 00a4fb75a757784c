extern alias generator;

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// Crafted hostile files and sources, each the reproduction of a defect found by probing (issue 13): sizes that wrap
/// 32 or 64 bits, chains deep enough to crash the C# compiler, names defined twice, external data outside the model's
/// folder. Each must end in a precise diagnostic, or a model that compiles, within a time and memory budget; never an
/// internal error (MC0008), a crash or a hang. The ONNX files are written here by a small protobuf writer
/// (<see cref="Onnx"/>), so every case says in code what it is.
/// </summary>
public class HostileInputTests
{
    private const string OnnxSource = "using ModelCompiler;\nnamespace Demo;\n[CompileModel(Onnx = \"hostile.onnx\")]\npublic static partial class Net;\n";

    /// <summary>Runs the whole generator (and compiles its output) on an ONNX file, under a time and memory budget.</summary>
    private static (ImmutableArray<Diagnostic> Diagnostics, GeneratorRunResult Run, ImmutableArray<Diagnostic> CompileErrors) RunOnnx(byte[] file, params (string Name, byte[] Bytes)[] extra) =>
        RunOnnxSource(OnnxSource, file, extra);

    private static (ImmutableArray<Diagnostic> Diagnostics, GeneratorRunResult Run, ImmutableArray<Diagnostic> CompileErrors) RunOnnxSource(string source, byte[] file,
        params (string Name, byte[] Bytes)[] extra)
    {
        string folder = GeneratorHarness.TempFolder();
        string path = Path.Combine(folder, "hostile.onnx");
        File.WriteAllBytes(path, file);
        var files = new List<string> { path };
        foreach ((string name, byte[] bytes) in extra)
        {
            string other = Path.Combine(folder, name);
            Directory.CreateDirectory(Path.GetDirectoryName(other)!);
            File.WriteAllBytes(other, bytes);
            files.Add(other);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var result = GeneratorHarness.Run(source, files.ToArray());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the generator took {clock.Elapsed}");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 500L << 20, "the generator allocated more than 500 MB");
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == "MC0008");
        return result;
    }

    private static Diagnostic SingleOf(ImmutableArray<Diagnostic> diagnostics, string id, string containing)
    {
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Contains(containing, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        return d;
    }

    // ---- sizes that wrap ----------------------------------------------------------------------------------------

    [Fact]
    public void An_ONNX_input_whose_sample_wraps_32_bits_is_refused_at_build_time()
    {
        // [N, 5, 858993460]: 5 × 858993460 = 2^32 + 4 values per sample, which an int product wraps to 4.
        byte[] file = Onnx.Model(
            new[] { Onnx.Node("Transpose", new[] { "x" }, new[] { "y" }, Onnx.Ints("perm", 0, 2, 1)) },
            Onnx.Input("x", "N", 5, 858993460), Onnx.Output("y"));
        SingleOf(RunOnnx(file).Diagnostics, "MC0003", "4,294,967,300 values per sample");
    }

    [Fact]
    public void A_constant_shape_that_wraps_64_bits_does_not_bypass_the_folding_limit()
    {
        // ConstantOfShape([2^32, 2^32]): 2^64 elements, which a long product wraps to 0 — it must be refused, not allocated.
        byte[] file = Onnx.Model(
            new[]
            {
                Onnx.Node("ConstantOfShape", new[] { "shape" }, new[] { "big" }),
                Onnx.Node("Add", new[] { "x", "big" }, new[] { "y" }),
            },
            Onnx.Input("x", "N", 4), Onnx.Output("y"),
            Onnx.Int64Tensor("shape", new long[] { 2 }, 1L << 32, 1L << 32));
        var (diagnostics, _, _) = RunOnnx(file);
        Assert.NotEmpty(diagnostics);
        Assert.All(diagnostics, d => Assert.Contains(d.Id, new[] { "MC0003", "MC0005", "MC0013" }));
    }

    [Theory]
    [InlineData("[Shape(4)] ", "return x.Reshape(5, 858993460).Transpose(0, 1);", "Reshape(5, 858993460)")]
    [InlineData("[Shape(4)] ", "return x.Reshape(-1, 858993460).Transpose(0, 1);", "Reshape(-1, 858993460)")]
    public void A_reshape_whose_element_count_wraps_is_a_shape_error_at_the_call(string shape, string body, string span)
    {
        Diagnostic d = GeneratorDiagnosticsTests.Single(GeneratorDiagnosticsTests.Model(body, shape), "MC0005", span);
        Assert.Contains("Reshape", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("[Shape(65536, 65536)] ", "4,294,967,296")]
    [InlineData("[Shape(46341, 46341)] ", "2,147,488,281")]
    public void An_input_shape_past_what_a_span_holds_is_refused_at_the_declaration(string shape, string count)
    {
        string source = GeneratorDiagnosticsTests.Model("return x.Relu();", shape);
        var (diagnostics, _, _) = GeneratorHarness.Run(source, GeneratorDiagnosticsTests.Weights);
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal("MC0005", d.Id);
        Assert.Contains(count + " values per sample", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(shape + "Tensor x", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
    }

    [Fact]
    public void An_embedding_whose_output_wraps_is_a_shape_error_at_the_call()
    {
        // A table [0, 2147483647] takes no bytes, so the file is valid; its output per id would hold 2^31 - 1 values
        // (× 4 ids: -4 when multiplied as an int).
        string path = Path.Combine(GeneratorHarness.TempFolder(), "w.safetensors");
        File.WriteAllBytes(path, SafeTensorsTests.File("{\"emb.weight\":{\"dtype\":\"F32\",\"shape\":[0,2147483647],\"data_offsets\":[0,0]}}", Array.Empty<byte>()));
        GeneratorDiagnosticsTests.Single(GeneratorDiagnosticsTests.Model("return x.Embedding(\"emb\");"), "MC0005", "Embedding(\"emb\")", path);
    }

    [Fact]
    public void Split_sizes_that_overflow_an_int_are_a_shape_error_not_an_internal_error()
    {
        GeneratorDiagnosticsTests.Single(GeneratorDiagnosticsTests.Model("var parts = x.Split(-1, int.MaxValue, int.MaxValue, 6);\n        return parts[0];"),
            "MC0005", "x.Split(-1, int.MaxValue, int.MaxValue, 6)");
    }

    [Fact]
    public void Build_time_arithmetic_that_overflows_is_refused_where_it_is_written()
    {
        GeneratorDiagnosticsTests.Single(GeneratorDiagnosticsTests.Model("int n = 65536;\n        return x.Reshape(n * n);"), "MC0006", "n * n");
    }

    [Theory]
    [InlineData("[Shape(2147483647)] ", "return x.Relu();", "MC0005")]
    [InlineData("[Shape(1073741824, 2)] ", "return x.Concat(x, 0);", "MC0005")]
    [InlineData("[Shape(4)] ", "return x.Reshape(1, 2, 2).MaxPool2d(int.MaxValue, int.MaxValue);", "MC0005")] // once a 1×1 output read past the plane
    [InlineData("[Shape(4)] ", "return x.Reshape(1, 2, 2).MaxPool2d(3, 2);", "MC0005")]                       // overhangs by less than a stride
    [InlineData("[Shape(4)] ", "return x.Reshape(2, 2).Transpose(int.MinValue, 1);", "MC0005")]
    [InlineData("[Shape(4)] ", "return x.Slice(0, int.MinValue, int.MaxValue);", "MC0005")]
    [InlineData("[Shape(4)] ", "return x.Reshape(int.MinValue);", "MC0005")]
    [InlineData("[Shape(4)] ", "return x.Unsqueeze(int.MinValue);", "MC0005")]
    [InlineData("[Shape(4)] ", "return x.Mean(int.MaxValue);", "MC0005")]
    [InlineData("[Shape(4)] ", "return x.Reshape(2, 2).Permute(int.MinValue, 0);", "MC0005")]
    [InlineData("[Shape(4)] ", "return x.Concat(x, 0).Concat(x, int.MaxValue);", "MC0005")]
    [InlineData("[Shape(4)] ", "int n = int.MaxValue; n++; return x.Reshape(n);", "MC0006")]
    [InlineData("[Shape(4)] ", "int n = int.MinValue; return x.Reshape(n / -1);", "MC0006")]
    [InlineData("[Shape(4)] ", "return x.Gelu().Clamp(float.NaN, float.PositiveInfinity);", "MC0006")]
    [InlineData("[Shape(46341, 4)] ", "return x.ScaledDotProductAttention(x, x);", "")]                      // 2^31 scores, in tiles
    [InlineData("[Shape(2147483591)] ", "return x.Relu() + 1f;", "")]                                        // the largest sample a span holds
    public void Extreme_Forward_bodies_end_in_a_precise_diagnostic_or_a_model_that_compiles(string shape, string body, string id)
    {
        var (diagnostics, _, errors) = GeneratorHarness.Run(GeneratorDiagnosticsTests.Model(body, shape), GeneratorDiagnosticsTests.Weights);
        if (id.Length == 0)
        {
            Assert.Empty(diagnostics);
            Assert.Empty(errors);
        }
        else Assert.Equal(id, Assert.Single(diagnostics).Id);
    }

    // ---- deep chains ----------------------------------------------------------------------------------------------

    [Fact]
    public void Six_thousand_chained_activations_compile_without_nesting()
    {
        // Once one nested expression per fused step: 6,000 crashed the C# compiler (InsufficientExecutionStackException).
        string source = GeneratorDiagnosticsTests.Model("for (int i = 0; i < 6000; i++) x = x.Relu();\n        return x;");
        var (diagnostics, run, errors) = GeneratorHarness.Run(source, GeneratorDiagnosticsTests.Weights);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        string code = run.GeneratedSources.Single(s => s.HintName == "Demo.Net.g.cs").SourceText.ToString();
        int longestLine = code.Split('\n').Max(l => l.Length);
        Assert.True(longestLine < 1000, $"a generated line of {longestLine} characters");
        Assert.DoesNotContain("Invoke(global::ModelCompiler.Kernels.ReluOperator.Invoke(", code);
    }

    [Fact]
    public void A_long_ONNX_chain_compiles_in_bounded_epilogues()
    {
        var nodes = new List<byte[]>();
        // 6,000 nodes (a 171 KB file of them once crashed the C# compiler).
        for (int i = 0; i < 6000; i++) nodes.Add(Onnx.Node(i % 2 == 0 ? "Relu" : "Sigmoid", new[] { i == 0 ? "x" : "v" + i }, new[] { i == 5999 ? "y" : "v" + (i + 1) }));
        var (diagnostics, run, errors) = RunOnnx(Onnx.Model(nodes, Onnx.Input("x", "N", 8), Onnx.Output("y")));
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
    }

    // ---- several outputs ----------------------------------------------------------------------------------------

    [Fact]
    public void Outputs_that_are_the_input_or_one_value_twice_are_copied_and_the_rest_written_in_place()
    {
        // Outputs: the input itself, Relu(x), Relu(x) again, and Relu(x) + 1 (which reads the second output's value).
        var nodes = new List<byte[]>
        {
            Onnx.Node("Relu", new[] { "x" }, new[] { "r" }),
            Onnx.Node("Add", new[] { "r", "one" }, new[] { "s" }),
            Onnx.Node("Identity", new[] { "r" }, new[] { "r2" }),
        };
        byte[] file = Onnx.Model(nodes, Onnx.Input("x", "N", 3), new[] { Onnx.Output("x"), Onnx.Output("r"), Onnx.Output("r2"), Onnx.Output("s") },
            Onnx.FloatTensor("one", new long[] { 1 }, 1f));
        string folder = GeneratorHarness.TempFolder();
        string path = Path.Combine(folder, "hostile.onnx");
        File.WriteAllBytes(path, file);
        const string harness = "namespace Demo;\npublic static class Harness\n{\n    public static void Run(float[] x, float[][] o, int batch) => Net.Predict(x, o[0], o[1], o[2], o[3], batch);\n}\n";
        var driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(path) });
        driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(("Model.cs", OnnxSource), ("Harness.cs", harness)), out var output, out _);
        Assert.Empty(driver.GetRunResult().Diagnostics);
        using var stream = new MemoryStream();
        var emitted = output.Emit(stream);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        var context = new System.Runtime.Loader.AssemblyLoadContext("outputs", isCollectible: true);
        try
        {
            stream.Position = 0;
            var run = context.LoadFromStream(stream).GetType("Demo.Harness")!.GetMethod("Run")!;
            float[] x = { -1f, 2f, -3f, 4f, 0.5f, -0.5f };
            float[][] outputs = Enumerable.Range(0, 4).Select(_ => new float[6]).ToArray();
            run.Invoke(null, new object[] { x, outputs, 2 });
            Assert.Equal(x, outputs[0]);
            Assert.Equal(new[] { 0f, 2f, 0f, 4f, 0.5f, 0f }, outputs[1]);
            Assert.Equal(outputs[1], outputs[2]);
            Assert.Equal(new[] { 1f, 3f, 1f, 5f, 1.5f, 1f }, outputs[3]);
        }
        finally
        {
            context.Unload();
        }
    }

    // ---- scalars and recurrent nodes -----------------------------------------------------------------------------

    [Fact]
    public void A_scalar_input_read_where_its_rank_would_show_is_MC0013_naming_it()
    {
        // A bound (Clip's min) may be a scalar input; the same scalar read by Relu, whose output has its rank, may not.
        var nodes = new List<byte[]>
        {
            Onnx.Node("Clip", new[] { "x", "low" }, new[] { "y" }),
            Onnx.Node("Relu", new[] { "low" }, new[] { "z" }),
        };
        byte[] file = Onnx.Model(nodes, new[] { Onnx.Input("x", 4), Onnx.Input("low") }, new[] { Onnx.Output("y"), Onnx.Output("z") });
        Diagnostic d = SingleOf(RunOnnx(file).Diagnostics, "MC0013", "");
        Assert.Equal("ONNX input 'low' cannot be compiled: it is a scalar (rank 0), which a compiled model takes only where it broadcasts "
            + "(as a bound, bias or operand of arithmetic)", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));

        // Without the Relu it compiles, whole: one sample is x and its bound.
        var (diagnostics, _, errors) = RunOnnx(Onnx.Model(nodes.Take(1), new[] { Onnx.Input("x", 4), Onnx.Input("low") }, new[] { Onnx.Output("y") }));
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
    }

    [Fact]
    public void A_recurrent_node_longer_than_the_unrolling_limit_is_MC0013_not_a_huge_build()
    {
        // An RNN over 5,000 steps would unroll into some 20,000 ops: refused, naming the limit.
        byte[] file = Onnx.Model(new[] { Onnx.Node("RNN", new[] { "x", "W", "R" }, new[] { "", "h" }, Onnx.Int("hidden_size", 2), Onnx.Int("layout", 1)) },
            new[] { Onnx.Input("x", "N", 5000, 3) }, new[] { Onnx.Output("h") },
            Onnx.FloatTensor("W", new long[] { 1, 2, 3 }, 1, 2, 3, 4, 5, 6), Onnx.FloatTensor("R", new long[] { 1, 2, 2 }, 1, 0, 0, 1));
        Diagnostic d = SingleOf(RunOnnx(file).Diagnostics, "MC0013", "");
        Assert.Equal("ONNX node 'h' (RNN, domain 'ai.onnx', opset 17) cannot be compiled: 5000 steps × 1 directions: a recurrent node is "
            + "unrolled at build time, into at most 4096 steps", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    // ---- named dimensions ---------------------------------------------------------------------------------------

    private static byte[] NamedDimensionModel() =>
        Onnx.Model(new[] { Onnx.Node("Relu", new[] { "x" }, new[] { "y" }) }, Onnx.Input("x", "N", "features"), Onnx.Output("y"));

    [Fact]
    public void A_named_dimension_other_than_the_batch_is_MC0013_showing_the_attribute_that_fixes_it()
    {
        Diagnostic d = SingleOf(RunOnnx(NamedDimensionModel()).Diagnostics, "MC0013", "");
        Assert.Equal("ONNX input 'x' cannot be compiled: dimension 1 is 'features', which varies (only the first, the batch, may); "
            + "fix it at build time with Dims = new[] { \"features=…\" } in [CompileModel]", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("\"hostile.onnx\"", d.Location.SourceTree!.GetText().ToString(d.Location.SourceSpan));
    }

    [Fact]
    public void Dims_fixes_a_named_dimension_at_build_time()
    {
        string source = OnnxSource.Replace("Onnx = \"hostile.onnx\"", "Onnx = \"hostile.onnx\", Dims = new[] { \"features=12\" }");
        var (diagnostics, run, errors) = RunOnnxSource(source, NamedDimensionModel());
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        string code = run.GeneratedSources.Single(s => s.HintName == "Demo.Net.g.cs").SourceText.ToString();
        Assert.Contains("public const int InputLength = 12;", code);
    }

    [Fact]
    public void A_Dims_entry_that_is_not_name_equals_a_positive_number_is_MC0013_at_the_argument()
    {
        string source = OnnxSource.Replace("Onnx = \"hostile.onnx\"", "Onnx = \"hostile.onnx\", Dims = new[] { \"features\" }");
        var (diagnostics, _, _) = RunOnnxSource(source, NamedDimensionModel());
        Diagnostic d = diagnostics.First();
        Assert.Equal("MC0013", d.Id);
        Assert.Equal("Dims entry 'features' cannot be compiled: write it as name=value with a positive whole number, e.g. \"height=640\"",
            d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("Dims = new[] { \"features\" }", d.Location.SourceTree!.GetText().ToString(d.Location.SourceSpan));
    }

    [Fact]
    public void Every_node_that_cannot_be_compiled_is_reported_in_one_build_and_not_the_nodes_after_it()
    {
        // Two unsupported nodes on separate paths, and a node that reads the first: two diagnostics, in graph order.
        var nodes = new List<byte[]>
        {
            Onnx.Node("Relu", new[] { "x" }, new[] { "a" }),
            Onnx.Node("Unique", new[] { "a" }, new[] { "b" }),
            Onnx.Node("Relu", new[] { "b" }, new[] { "c" }),        // reads what Unique would have computed: not reported
            Onnx.Node("Det", new[] { "x" }, new[] { "d" }),
            Onnx.Node("Add", new[] { "c", "d" }, new[] { "y" }),
        };
        var (diagnostics, _, _) = RunOnnx(Onnx.Model(nodes, Onnx.Input("x", "N", 8), Onnx.Output("y")));
        Assert.Equal(new[] { "MC0013", "MC0013" }, diagnostics.Select(d => d.Id));
        Assert.StartsWith("ONNX node 'b' (Unique,", diagnostics[0].GetMessage());
        Assert.StartsWith("ONNX node 'd' (Det,", diagnostics[1].GetMessage());
    }

    [Fact]
    public void Past_twenty_nodes_that_cannot_be_compiled_the_rest_are_counted_in_one_diagnostic()
    {
        var nodes = new List<byte[]>();
        for (int i = 0; i < 25; i++) nodes.Add(Onnx.Node(i < 22 ? "Unique" : "Det", new[] { "x" }, new[] { "h" + i }));
        nodes.Add(Onnx.Node("Relu", new[] { "x" }, new[] { "y" }));
        var (diagnostics, _, _) = RunOnnx(Onnx.Model(nodes, Onnx.Input("x", "N", 8), Onnx.Output("y")));
        Assert.Equal(21, diagnostics.Length);
        Assert.All(diagnostics, d => Assert.Equal("MC0013", d.Id));
        Assert.Equal("ONNX node 'h20' (Unique, domain 'ai.onnx', opset 17) cannot be compiled: this and 4 more nodes cannot be compiled (Det ×3, Unique ×2); "
            + "only the first 20 nodes that cannot be compiled are reported one by one", diagnostics[20].GetMessage());
    }

    [Fact]
    public void A_graph_past_the_node_limit_is_refused_quickly()
    {
        var nodes = new List<byte[]>();
        for (int i = 0; i <= 100_000; i++) nodes.Add(Onnx.Node("Relu", new[] { i == 0 ? "x" : "v" + i }, new[] { "v" + (i + 1) }));
        SingleOf(RunOnnx(Onnx.Model(nodes, Onnx.Input("x", "N", 8), Onnx.Output("v100001"))).Diagnostics, "MC0014", "100,001 nodes");
    }

    // ---- invalid graphs ---------------------------------------------------------------------------------------------

    [Fact]
    public void Two_initializers_of_one_name_are_refused_naming_it()
    {
        byte[] file = Onnx.Model(new[] { Onnx.Node("Add", new[] { "x", "b" }, new[] { "y" }) }, Onnx.Input("x", "N", 2), Onnx.Output("y"),
            Onnx.FloatTensor("b", new long[] { 2 }, 1f, 2f), Onnx.FloatTensor("b", new long[] { 2 }, 3f, 4f));
        SingleOf(RunOnnx(file).Diagnostics, "MC0003", "'b' is defined twice");
    }

    [Fact]
    public void Two_producers_of_one_value_are_refused_naming_it()
    {
        byte[] file = Onnx.Model(
            new[] { Onnx.Node("Relu", new[] { "x" }, new[] { "h" }), Onnx.Node("Sigmoid", new[] { "x" }, new[] { "h" }), Onnx.Node("Tanh", new[] { "h" }, new[] { "y" }) },
            Onnx.Input("x", "N", 2), Onnx.Output("y"));
        SingleOf(RunOnnx(file).Diagnostics, "MC0003", "'h' is defined twice");
    }

    [Fact]
    public void A_declared_output_shape_that_disagrees_with_the_graph_is_refused()
    {
        byte[] file = Onnx.Model(new[] { Onnx.Node("Relu", new[] { "x" }, new[] { "y" }) }, Onnx.Input("x", "N", 3), Onnx.Output("y", "N", 5));
        SingleOf(RunOnnx(file).Diagnostics, "MC0003", "output 'y' is declared [?, 5], but the graph computes [N, 3]");
    }

    [Fact]
    public void A_declared_output_shape_that_agrees_compiles()
    {
        byte[] file = Onnx.Model(new[] { Onnx.Node("Relu", new[] { "x" }, new[] { "y" }) }, Onnx.Input("x", "N", 3), Onnx.Output("y", "batch", 3));
        var (diagnostics, _, errors) = RunOnnx(file);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("../outside.data")]
    [InlineData("sub/../../outside.data")]
    [InlineData("/etc/passwd")]
    public void External_data_outside_the_model_folder_is_refused(string location)
    {
        byte[] file = Onnx.Model(new[] { Onnx.Node("Add", new[] { "x", "b" }, new[] { "y" }) }, Onnx.Input("x", "N", 2), Onnx.Output("y"),
            Onnx.ExternalFloatTensor("b", new long[] { 2 }, location));
        var (diagnostics, _, _) = RunOnnx(file);
        Diagnostic d = SingleOf(diagnostics, "MC0003", "tensor 'b'");
        Assert.Matches("relative to the model's folder|out of the model's folder", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void External_data_inside_the_model_folder_is_read()
    {
        byte[] file = Onnx.Model(new[] { Onnx.Node("Add", new[] { "x", "b" }, new[] { "y" }) }, Onnx.Input("x", "N", 2), Onnx.Output("y"),
            Onnx.ExternalFloatTensor("b", new long[] { 2 }, "data/b.onnx.data"));
        byte[] data = new byte[8];
        BitConverter.GetBytes(1.5f).CopyTo(data, 0);
        var (diagnostics, _, errors) = RunOnnx(file, ("data/b.onnx.data", data));
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
    }

    [Fact]
    public void A_cycle_is_refused()
    {
        // Nodes must be in topological order: a cycle (a reads b, b reads a) leaves one read before any producer.
        byte[] file = Onnx.Model(
            new[] { Onnx.Node("Add", new[] { "x", "b" }, new[] { "a" }), Onnx.Node("Relu", new[] { "a" }, new[] { "b" }), Onnx.Node("Tanh", new[] { "b" }, new[] { "y" }) },
            Onnx.Input("x", "N", 2), Onnx.Output("y"));
        var (diagnostics, _, _) = RunOnnx(file);
        Assert.NotEmpty(diagnostics);
        Assert.All(diagnostics, d => Assert.Contains(d.Id, new[] { "MC0003", "MC0013" }));
    }

    // ---- files ----------------------------------------------------------------------------------------------------

    [Fact]
    public void Mutated_safetensors_headers_end_in_a_model_or_a_diagnostic_through_the_whole_generator()
    {
        byte[] original = File.ReadAllBytes(Path.Combine(Numerics.ModelsFolder, "digits.safetensors"));
        int headerLength = (int)BitConverter.ToUInt64(original, 0);
        string folder = GeneratorHarness.TempFolder();
        string path = Path.Combine(folder, "w.safetensors");
        string source = GeneratorDiagnosticsTests.Model("return x.Linear(\"fc1\").Relu().Linear(\"fc2\").Relu().Linear(\"out\").Softmax();", "[Shape(64)] ");
        var random = new Random(13);
        var ids = new HashSet<string>();
        var clock = Stopwatch.StartNew();
        for (int trial = 0; trial < 150; trial++)
        {
            byte[] bytes = (byte[])original.Clone();
            if (trial % 3 == 0)
            {
                // a number in the header made huge or negative: shapes and offsets that wrap
                string header = Encoding.UTF8.GetString(bytes, 8, headerLength);
                var digits = System.Text.RegularExpressions.Regex.Matches(header, "[0-9]+").Cast<System.Text.RegularExpressions.Match>().ToList();
                var pick = digits[random.Next(digits.Count)];
                string replacement = new[] { "4294967296", "18446744073709551615", "2147483647", "0", "858993460", "9223372036854775807" }[random.Next(6)];
                string mutated = header.Substring(0, pick.Index) + replacement + header.Substring(pick.Index + pick.Length);
                byte[] head = Encoding.UTF8.GetBytes(mutated);
                bytes = BitConverter.GetBytes((ulong)head.Length).Concat(head).Concat(original.Skip(8 + headerLength)).ToArray();
            }
            else
                for (int i = 0; i < 1 + random.Next(4); i++) bytes[8 + random.Next(headerLength)] = (byte)random.Next(256);
            File.WriteAllBytes(path, bytes);
            var (diagnostics, run, errors) = GeneratorHarness.Run(source, path);
            foreach (Diagnostic d in diagnostics) ids.Add(d.Id);
            Assert.DoesNotContain(diagnostics, d => d.Id == "MC0008");
            if (diagnostics.Length == 0) Assert.Empty(errors);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), clock.Elapsed.ToString());
        Assert.Contains("MC0003", ids);
    }

    [Fact]
    public void An_unrelated_large_bin_file_is_never_read()
    {
        // A 64 MB .bin no model names: listed, so the generator sees it, but only its length and time are looked at.
        string folder = GeneratorHarness.TempFolder();
        string big = Path.Combine(folder, "unrelated.bin");
        using (var stream = File.Create(big)) stream.SetLength(64L << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (diagnostics, run, errors) = GeneratorHarness.Run(GeneratorDiagnosticsTests.Model("return x.Linear(\"fc1\");"), GeneratorDiagnosticsTests.Weights, big);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 32L << 20, "the unrelated file was read");
    }

    [Fact]
    public void A_weights_file_past_the_size_limit_is_refused_with_the_setting_that_raises_it()
    {
        var options = new Dictionary<string, string> { ["build_property.ModelCompilerMaxFileBytes"] = "100" };
        string source = GeneratorDiagnosticsTests.Model("return x.Linear(\"fc1\");");
        GeneratorDriver driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(GeneratorDiagnosticsTests.Weights) }, options);
        driver = driver.RunGenerators(GeneratorHarness.Compilation(("Model.cs", source)));
        Diagnostic d = Assert.Single(driver.GetRunResult().Results.Single().Diagnostics);
        Assert.Equal("MC0014", d.Id);
        Assert.Contains("ModelCompilerMaxFileBytes", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("\"w.safetensors\"", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
    }

    // ---- run time ---------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    [InlineData(int.MinValue)]
    public void maxDegreeOfParallelism_is_validated_as_ParallelOptions_does(int degree)
    {
        var input = new float[70 * ModelCompiler.TestModels.OddMlp.InputLength];
        var output = new float[70 * ModelCompiler.TestModels.OddMlp.OutputLength];
        Array.Fill(output, 42f);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ModelCompiler.TestModels.OddMlp.Predict(input, output, 70, degree));
        Assert.Equal("maxDegreeOfParallelism", e.ParamName);
        Assert.All(output, v => Assert.Equal(42f, v));
    }

    [Fact]
    public void A_bad_token_id_in_a_later_sample_leaves_the_whole_output_untouched()
    {
        int length = TextClassifier.TokenCountClassifier.InputLength, outputs = TextClassifier.TokenCountClassifier.OutputLength;
        const int batch = 130; // several chunks of rows: the bad id is in the last one
        var tokens = new float[batch * length];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = i % 16;
        tokens[^1] = 16f;
        var output = new float[batch * outputs];
        Array.Fill(output, 42f);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TextClassifier.TokenCountClassifier.Predict(tokens, output, batch, 1));
        Assert.Equal("input", e.ParamName);
        Assert.All(output, v => Assert.Equal(42f, v));
        float[] one = tokens.AsSpan(0, length).ToArray();
        one[^1] = 2.5f; // not a whole number
        var single = new float[outputs];
        Array.Fill(single, 42f);
        Assert.Throws<ArgumentOutOfRangeException>(() => TextClassifier.TokenCountClassifier.Predict(one, single));
        Assert.All(single, v => Assert.Equal(42f, v));
    }

    [Fact]
    public void A_NaN_pixel_gives_NaN_through_the_fused_Linear_and_ReLU_as_the_eager_reference_does()
    {
        // Once 0: x86's maxps(x, 0) returns 0 for a NaN x, so a NaN pixel gave a normal-looking softmax.
        var weights = SafeTensors.Load(Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "samples", "Digits", "digits.safetensors"));
        var pixels = new float[Digits.DigitsClassifier.InputLength];
        pixels[10] = float.NaN;
        var compiled = new float[Digits.DigitsClassifier.OutputLength];
        var eager = new float[Digits.DigitsClassifier.OutputLength];
        Digits.DigitsClassifier.Predict(pixels, compiled);
        Digits.DigitsClassifier.PredictEager(weights, pixels, eager);
        Assert.All(eager, v => Assert.True(float.IsNaN(v)));
        Assert.All(compiled, v => Assert.True(float.IsNaN(v)));
    }

    /// <summary>
    /// Just enough of the protobuf wire format to write the ONNX files above (ModelProto, GraphProto, NodeProto,
    /// TensorProto, ValueInfoProto: the fields of onnx.proto by number).
    /// </summary>
    private static class Onnx
    {
        public static byte[] Model(IEnumerable<byte[]> nodes, byte[] input, byte[] output, params byte[][] initializers) =>
            Model(nodes, input, new[] { output }, initializers);

        public static byte[] Model(IEnumerable<byte[]> nodes, byte[] input, byte[][] outputs, params byte[][] initializers) =>
            Model(nodes, new[] { input }, outputs, initializers);

        public static byte[] Model(IEnumerable<byte[]> nodes, byte[][] inputs, byte[][] outputs, params byte[][] initializers)
        {
            var graph = new List<byte>();
            foreach (byte[] node in nodes) graph.AddRange(Field(1, node));
            graph.AddRange(Field(2, "hostile"));
            foreach (byte[] t in initializers) graph.AddRange(Field(5, t));
            foreach (byte[] input in inputs) graph.AddRange(Field(11, input));
            foreach (byte[] output in outputs) graph.AddRange(Field(12, output));
            var model = new List<byte>();
            model.AddRange(Varint(1, 8)); // ir_version
            model.AddRange(Field(8, Concat(Field(1, ""), Varint(2, 17)))); // opset_import: ai.onnx 17
            model.AddRange(Field(7, graph.ToArray()));
            return model.ToArray();
        }

        public static byte[] Node(string op, string[] inputs, string[] outputs, params byte[][] attributes) =>
            Concat(inputs.Select(i => Field(1, i)).Concat(outputs.Select(o => Field(2, o))).Append(Field(4, op)).Concat(attributes.Select(a => Field(5, a))).ToArray());

        public static byte[] Int(string name, long value) => Concat(Field(1, name), Varint(3, value), Varint(20, 2));

        public static byte[] Ints(string name, params long[] values) =>
            Concat(new[] { Field(1, name) }.Concat(values.Select(v => Varint(8, v))).Append(Varint(20, 7)).ToArray());

        public static byte[] Input(string name, params object[] dims) => ValueInfo(name, dims);

        public static byte[] Output(string name, params object[] dims) => ValueInfo(name, dims.Length == 0 ? null : dims);

        private static byte[] ValueInfo(string name, object[]? dims)
        {
            var tensorType = new List<byte>(Varint(1, 1)); // float
            if (dims is not null)
                tensorType.AddRange(Field(2, Concat(dims.Select(d => Field(1, d is string p ? Field(2, p) : Varint(1, Convert.ToInt64(d)))).ToArray())));
            return Concat(Field(1, name), Field(2, Field(1, tensorType.ToArray())));
        }

        public static byte[] FloatTensor(string name, long[] dims, params float[] values) =>
            Concat(new[] { Concat(dims.Select(d => Varint(1, d)).ToArray()), Varint(2, 1), Field(8, name), Field(9, values.SelectMany(BitConverter.GetBytes).ToArray()) });

        public static byte[] Int64Tensor(string name, long[] dims, params long[] values) =>
            Concat(new[] { Concat(dims.Select(d => Varint(1, d)).ToArray()), Varint(2, 7), Field(8, name), Field(9, values.SelectMany(BitConverter.GetBytes).ToArray()) });

        public static byte[] ExternalFloatTensor(string name, long[] dims, string location) =>
            Concat(new[] { Concat(dims.Select(d => Varint(1, d)).ToArray()), Varint(2, 1), Field(8, name),
                Field(13, Concat(Field(1, "location"), Field(2, location))), Varint(14, 1) });

        private static byte[] Field(int number, string text) => Field(number, Encoding.UTF8.GetBytes(text));

        private static byte[] Field(int number, byte[] payload) => Concat(Raw((ulong)(number << 3 | 2)), Raw((ulong)payload.Length), payload);

        private static byte[] Varint(int number, long value) => Concat(Raw((ulong)(number << 3)), Raw(unchecked((ulong)value)));

        private static byte[] Raw(ulong value)
        {
            var bytes = new List<byte>();
            do
            {
                byte b = (byte)(value & 0x7F);
                value >>= 7;
                bytes.Add(value == 0 ? b : (byte)(b | 0x80));
            } while (value != 0);
            return bytes.ToArray();
        }

        private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
    }
}
