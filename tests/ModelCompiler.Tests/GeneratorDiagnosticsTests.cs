extern alias generator;

using System;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Xunit;
using Gen = generator::ModelCompiler.Generator;

namespace ModelCompiler.Tests;

/// <summary>Each diagnostic: its exact id and the exact source span it points at.</summary>
public class GeneratorDiagnosticsTests
{
    internal static readonly string Weights = WriteWeights();

    /// <summary>A weights file with fc1 = Linear(4 → 3) and a [3] tensor "scale".</summary>
    private static string WriteWeights()
    {
        string path = Path.Combine(GeneratorHarness.TempFolder(), "w.safetensors");
        File.WriteAllBytes(path, SafeTensorsTests.File(
            "{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
            + "\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]},"
            + "\"scale\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[60,72]}}", new byte[72]));
        return path;
    }

    internal static string Model(string body, string shape = "[Shape(4)] ", string weights = "Weights = \"w.safetensors\"", string partial = "partial ") => $$"""
        using ModelCompiler;
        namespace Demo;
        [CompileModel({{weights}})]
        public static {{partial}}class Net
        {
            static Tensor Forward({{shape}}Tensor x)
            {
                {{body}}
            }
        }
        """;

    /// <summary>Asserts exactly one diagnostic, with this id, on this source text.</summary>
    internal static Diagnostic Single(string source, string id, string spanText, params string[] files)
    {
        var (diagnostics, run, _) = GeneratorHarness.Run(source, files.Length == 0 ? new[] { Weights } : files);
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.True(d.Location.IsInSource, "the diagnostic must point into the model's source");
        Assert.Equal("Model.cs", d.Location.SourceTree!.FilePath);
        Assert.Equal(spanText, source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        // No compiled model: at most the stand-in that keeps call sites binding (none when the class cannot take one).
        Assert.All(run.GeneratedSources, g => Assert.Contains("did not compile (" + id, g.SourceText.ToString()));
        Assert.Equal(id == "MC0001" || id == "MC0008" ? 0 : 1, run.GeneratedSources.Length);
        Assert.Equal($"https://github.com/ModelCompiler/ModelCompiler/blob/main/docs/diagnostics/{id}.md", d.Descriptor.HelpLinkUri);
        return d;
    }

    [Fact]
    public void Valid_model_compiles_with_no_diagnostics()
    {
        var (diagnostics, run, errors) = GeneratorHarness.Run(Model("return x.Linear(\"fc1\").Relu() * x.Linear(\"fc1\").Parameter(\"scale\");"), Weights);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        Assert.Equal(2, run.GeneratedSources.Length);
    }

    [Fact]
    public void A_model_that_fails_still_gives_call_sites_its_API_so_only_the_model_error_is_reported()
    {
        string source = Model("return x.Linear(\"fc9\");") + """

            public static class Caller
            {
                public static void Run()
                {
                    var output = new float[Demo.Net.OutputLength];
                    Demo.Net.Predict(new float[Demo.Net.InputLength], output);
                    System.Console.WriteLine(Demo.Net.InputShape.Length + Demo.Net.OutputShape.Length + Demo.Net.ArenaBytes + Demo.Net.FlopsPerSample);
                }
            }
            """;
        var (diagnostics, run, compileErrors) = GeneratorHarness.Run(source, Weights);
        Assert.Equal("MC0004", Assert.Single(diagnostics).Id);
        Assert.Empty(compileErrors);
        string standIn = Assert.Single(run.GeneratedSources).SourceText.ToString();
        Assert.Contains("public const int InputLength = 4;", standIn);
        Assert.Contains("Net was not compiled: MC0004: Weight not found.", standIn);
        Assert.Contains("InputShape => new int[] { 4 };", standIn);
    }

    [Fact]
    public void An_ONNX_model_with_an_error_still_gives_the_rest_of_the_project_its_whole_API()
    {
        // Once the stand-in lacked InputShape, OutputShape, InputName and OutputName: each use was one more CS0117.
        string path = Path.Combine(GeneratorHarness.TempFolder(), "m.onnx");
        File.WriteAllBytes(path, new byte[] { 0x0A, 0x05 }); // malformed: a field that runs past the end
        const string source = """
            using ModelCompiler;
            namespace Demo;
            [CompileModel(Onnx = "m.onnx")]
            public static partial class Net;
            public static class Caller
            {
                public static string Run() =>
                    Net.InputName + Net.OutputName + Net.InputShape.Length + Net.OutputShape.Length + Net.InputLength + Net.OutputLength;
            }
            """;
        var (diagnostics, run, compileErrors) = GeneratorHarness.Run(source, path);
        Assert.Equal("MC0003", Assert.Single(diagnostics).Id);
        Assert.Empty(compileErrors);
        Assert.DoesNotContain("PredictEager", Assert.Single(run.GeneratedSources).SourceText.ToString());
    }

    [Fact]
    public void MC0001_class_not_partial()
    {
        Diagnostic d = Single(Model("return x.Relu();", partial: ""), "MC0001", "Net");
        Assert.Contains("'Net' must be declared partial", d.GetMessage());
    }

    [Fact]
    public void MC0002_weights_file_not_in_AdditionalFiles()
    {
        Diagnostic d = Single(Model("return x.Relu();", weights: "Weights = \"missing.safetensors\""), "MC0002", "\"missing.safetensors\"");
        Assert.Contains("<AdditionalFiles Include=\"missing.safetensors\" />", d.GetMessage());
    }

    [Fact]
    public void MC0002_a_typo_in_the_file_name_gets_did_you_mean_not_advice_to_list_a_file_that_does_not_exist()
    {
        Diagnostic d = Single(Model("return x.Relu();", weights: "Weights = \"ww.safetensors\""), "MC0002", "\"ww.safetensors\"");
        Assert.EndsWith("did you mean 'w.safetensors'? (listed among the AdditionalFiles)", d.GetMessage());
    }

    [Fact]
    public void MC0002_a_name_that_is_nowhere_says_so()
    {
        // With the source file in a real folder, the generator can tell a file that exists beside it from a mistyped one.
        string folder = GeneratorHarness.TempFolder();
        string source = Model("return x.Relu();", weights: "Weights = \"model.safetensors\"");
        GeneratorDriver driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(Weights) });
        driver = driver.RunGenerators(GeneratorHarness.Compilation((Path.Combine(folder, "Model.cs"), source)));
        Diagnostic d = Assert.Single(driver.GetRunResult().Results.Single().Diagnostics);
        Assert.Equal("MC0002", d.Id);
        Assert.Contains("there is no 'model.safetensors' beside Model.cs either: check the name", d.GetMessage());
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), new byte[8]);
        driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(Weights) })
            .RunGenerators(GeneratorHarness.Compilation((Path.Combine(folder, "Model.cs"), source)));
        Assert.EndsWith("add <AdditionalFiles Include=\"model.safetensors\" /> to the project", Assert.Single(driver.GetRunResult().Results.Single().Diagnostics).GetMessage());
    }

    [Fact]
    public void MC0003_malformed_weights_file()
    {
        string bad = Path.Combine(GeneratorHarness.TempFolder(), "bad.safetensors");
        File.WriteAllBytes(bad, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 1, 2, 3 });
        Diagnostic d = Single(Model("return x.Relu();", weights: "Weights = \"bad.safetensors\""), "MC0003", "\"bad.safetensors\"", bad);
        Assert.Contains("header length", d.GetMessage());
    }

    [Fact]
    public void MC0004_weight_not_found_suggests_the_nearest_names()
    {
        Diagnostic d = Single(Model("return x.Linear(\"fc2\");"), "MC0004", "\"fc2\"");
        Assert.Equal("Weight 'fc2.weight' is not in 'w.safetensors'; nearest names: fc1.weight, fc1.bias, scale", d.GetMessage());
    }

    [Fact]
    public void A_transposed_Linear_reads_its_weight_as_stored_in_out_and_names_it_so_in_diagnostics()
    {
        // fc1.weight is [3, 4]: read transposed it is a Linear from 3 inputs to 4 outputs, whose [3] bias does not fit.
        Diagnostic bias = Single(Model("return x.Linear(\"fc1\", transposed: true);", shape: "[Shape(3)] "), "MC0005", "Linear(\"fc1\", transposed: true)");
        Diagnostic missing = Single(Model("return x.Linear(\"fc2\", transposed: true);"), "MC0004", "\"fc2\"");
        Diagnostic mismatch = Single(Model("return x.Linear(\"fc1\", transposed: true);"), "MC0005", "Linear(\"fc1\", transposed: true)");

        Assert.StartsWith("Linear 'fc1': fc1.bias must be [4] but is [3]", bias.GetMessage());
        Assert.Equal("Weight 'fc2.weight' is not in 'w.safetensors'; nearest names: fc1.weight, fc1.bias, scale", missing.GetMessage());
        Assert.Equal("Linear 'fc1' expects 3 input features (fc1.weight is [3, 4], [in, out]), but its input is [4]" + FromInput, mismatch.GetMessage());
    }

    /// <summary>An adapter folder for the test weights (fc1 = Linear(4 → 3)): lora_A [2, in] and lora_B [out, 2] of a module.</summary>
    private static string AdapterFolder(string module, int inputs, int outputs, bool config = true)
    {
        string folder = Path.Combine(GeneratorHarness.TempFolder(), "lora");
        Directory.CreateDirectory(folder);
        int aBytes = 2 * inputs * 4, bBytes = outputs * 2 * 4;
        File.WriteAllBytes(Path.Combine(folder, "adapter_model.safetensors"), SafeTensorsTests.File(
            $"{{\"base_model.model.{module}.lora_A.weight\":{{\"dtype\":\"F32\",\"shape\":[2,{inputs}],\"data_offsets\":[0,{aBytes}]}},"
            + $"\"base_model.model.{module}.lora_B.weight\":{{\"dtype\":\"F32\",\"shape\":[{outputs},2],\"data_offsets\":[{aBytes},{aBytes + bBytes}]}}}}",
            new byte[aBytes + bBytes]));
        if (config) File.WriteAllText(Path.Combine(folder, "adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4}");
        return folder;
    }

    [Fact]
    public void A_LoRA_adapter_merged_at_build_time_compiles_and_names_its_layers_in_the_header()
    {
        string folder = AdapterFolder("fc1", 4, 3);
        var (diagnostics, run, _) = GeneratorHarness.Run(Model("return x.Linear(\"fc1\");", weights: "Weights = \"w.safetensors\", Adapter = \"lora/adapter_model.safetensors\""),
            new[] { Weights, Path.Combine(folder, "adapter_model.safetensors"), Path.Combine(folder, "adapter_config.json") });

        Assert.Empty(diagnostics);
        Assert.Contains("the LoRA adapter lora/adapter_model.safetensors (FNV-1a ", run.GeneratedSources.Single(g => g.HintName.EndsWith("Net.g.cs", StringComparison.Ordinal)).SourceText.ToString());
    }

    [Fact]
    public void MC0003_for_an_adapter_that_does_not_fit_at_the_Adapter_argument()
    {
        string Source(string adapter) => Model("return x.Linear(\"fc1\");", weights: $"Weights = \"w.safetensors\", Adapter = \"{adapter}\"");
        string wrongLayer = AdapterFolder("fc9", 4, 3);
        Diagnostic layer = Single(Source("lora/adapter_model.safetensors"), "MC0003", "\"lora/adapter_model.safetensors\"",
            Weights, Path.Combine(wrongLayer, "adapter_model.safetensors"), Path.Combine(wrongLayer, "adapter_config.json"));
        string wrongShape = AdapterFolder("fc1", 5, 3);
        Diagnostic shape = Single(Source("lora/adapter_model.safetensors"), "MC0003", "\"lora/adapter_model.safetensors\"",
            Weights, Path.Combine(wrongShape, "adapter_model.safetensors"), Path.Combine(wrongShape, "adapter_config.json"));
        string noConfig = AdapterFolder("fc1", 4, 3, config: false);
        Diagnostic config = Single(Source("lora/adapter_model.safetensors"), "MC0003", "\"lora/adapter_model.safetensors\"",
            Weights, Path.Combine(noConfig, "adapter_model.safetensors"));
        Diagnostic missing = Single(Source("other/adapter_model.safetensors"), "MC0003", "\"other/adapter_model.safetensors\"");

        Assert.Contains("it adapts 'fc9', which is not a Linear layer of Net (nearest: fc1)", layer.GetMessage());
        Assert.Contains("its 'fc1' goes from 5 to 3 values, but Linear 'fc1' from 4 to 3", shape.GetMessage());
        Assert.Contains("its adapter_config.json (PEFT saves it beside the weights) is not among the project's AdditionalFiles", config.GetMessage());
        Assert.Contains("it is not among the project's AdditionalFiles", missing.GetMessage());
    }

    [Fact]
    public void MC0005_for_learned_positions_whose_table_does_not_fit_the_row()
    {
        Diagnostic d = Single(Model("return x.Linear(\"fc1\").AddPositions(\"fc1\");"), "MC0005", "AddPositions(\"fc1\")");

        Assert.StartsWith("AddPositions 'fc1' adds a row of 3 per position, but fc1.weight is [3, 4] (expected [positions, 3])", d.GetMessage());
    }

    [Fact]
    public void MC0005_shape_mismatch_at_the_offending_call_with_both_shapes()
    {
        Diagnostic d = Single(Model("var h = x.Relu();\n        return h.Linear(\"fc1\").Linear(\"fc1\");"), "MC0005", "Linear(\"fc1\")");
        Assert.Equal("Linear 'fc1' expects 4 input features (fc1.weight is [3, 4]), but its input is [3]" + FromInput, d.GetMessage());
        Assert.Equal(8, d.Location.GetLineSpan().StartLinePosition.Line); // the second Linear, on the return line
        Assert.Equal(31, d.Location.GetLineSpan().StartLinePosition.Character);
    }

    [Fact]
    public void MC0005_for_decoder_ops_whose_heads_do_not_fit_at_the_call()
    {
        Diagnostic heads = Single(Model("var h = x.Linear(\"fc1\");\n        return h.CachedAttention(h, h, heads: 2, kvHeads: 1);"),
            "MC0005", "CachedAttention(h, h, heads: 2, kvHeads: 1)");
        Diagnostic rotary = Single(Model("return x.Linear(\"fc1\").Rotary(headSize: 2);"), "MC0005", "Rotary(headSize: 2)");
        Diagnostic rows = Single(Model("return x.Rotary(headSize: 2);", shape: "[Shape(2, 4)] "), "MC0005", "Rotary(headSize: 2)");

        Assert.Contains("3 query values do not split into 2 heads", heads.GetMessage());
        Assert.Contains("heads of 2 values (even, at most 1024) do not split a row of 3", rotary.GetMessage());
        Assert.Contains("needs one row per sample (a decoder's sample is one token), but gets [2, 4]", rows.GetMessage());
    }

    [Fact]
    public void MC0005_for_a_decoder_whose_samples_are_not_one_token_id_at_the_class()
    {
        Diagnostic d = Single(Model("return x.Rotary(headSize: 2);"), "MC0005", "Net");

        Assert.Contains("Net uses CachedAttention, Rotary or AddPositions, so it is a decoder, whose samples are one token each: Forward's input must be [1] and go through an Embedding (it is [4])", d.GetMessage());
    }

    [Fact]
    public void The_MC0005_page_example_fails_with_the_message_the_page_shows()
    {
        string root = RepositoryRoot();
        const string source = "using ModelCompiler;\nnamespace Digits;\n[CompileModel(Weights = \"digits.safetensors\")]\npublic static partial class DigitsClassifier\n{\n"
            + "    static Tensor Forward([Shape(64)] Tensor pixels) =>\n        pixels.Linear(\"fc1\").Relu().Linear(\"out\");\n}\n";
        Diagnostic d = Single(source, "MC0005", "Linear(\"out\")", Path.Combine(root, "samples", "Digits", "digits.safetensors"));
        string page = File.ReadAllText(Path.Combine(root, "docs", "diagnostics", "MC0005.md"));
        Assert.Contains("MC0005: " + d.GetMessage().Replace("Model.cs", "DigitsClassifier.cs", StringComparison.Ordinal), page);
    }

    /// <summary>
    /// What every shape error on an activation adds: where its shape comes from (a wrong [Shape] is often reported ops
    /// later, at the first layer that cannot take it).
    /// </summary>
    private const string FromInput = " (it follows from input 'x', declared [Shape(4)] at Model.cs(6))";

    [Fact]
    public void MC0005_broadcast_mismatch()
    {
        Diagnostic d = Single(Model("return x + x.Parameter(\"scale\");"), "MC0005", "x + x.Parameter(\"scale\")");
        Assert.Equal("Add: shapes [4] and [3] do not broadcast" + FromInput, d.GetMessage());
    }

    [Theory]
    [InlineData("return x.Reshape(2, 2).Concat(x.Reshape(4, 1), 0);", "Concat(x.Reshape(4, 1), 0)", "Concat: [2, 2] and [4, 1] differ outside dimension 0")]
    [InlineData("return x.Reshape(2, 2).Permute(0, 0);", "Permute(0, 0)", "Permute: [0, 0] is not an order of the 2 dimensions of a sample of [2, 2]")]
    [InlineData("return x.Transpose(0, 1);", "Transpose(0, 1)", "Transpose: a sample of [4] has no dimension 1")]
    [InlineData("return x.Slice(-1, 3, 9);", "Slice(-1, 3, 9)", "Slice: [3, 9) is not a non-empty range of dimension -1 of [4]")]
    [InlineData("return x.Split(0, 1, 2)[1];", "Split(0, 1, 2)", "Split: the sizes add up to 3, but dimension 0 of [4] has 4")]
    [InlineData("var m = x.Reshape(2, 2);\n        return m.MatMul(m.Reshape(1, 4));", "MatMul(m.Reshape(1, 4))", "MatMul: [2, 2] times [1, 4] does not multiply (expected […, 2, n] with the same leading dimensions)")]
    [InlineData("var m = x.Reshape(2, 2);\n        return m.ScaledDotProductAttention(m, m.Reshape(4, 1));", "ScaledDotProductAttention(m, m.Reshape(4, 1))",
        "ScaledDotProductAttention: queries [2, 2], keys [2, 2] and values [4, 1] do not fit together (expected [h…, L, e], [h…, S, e], [h…, S, ev])")]
    [InlineData("var m = x.Reshape(2, 2);\n        return m.ScaledDotProductAttention(m, m, mask: x);", "ScaledDotProductAttention(m, m, mask: x)",
        "ScaledDotProductAttention: the mask must be [2, 2] (per sample), but is [4]")]
    public void MC0005_layout_and_attention_mismatches_point_at_the_call(string body, string span, string message)
    {
        Diagnostic d = Single(Model(body.Replace("\\n", "\n")), "MC0005", span);
        Assert.Equal(message + FromInput, d.GetMessage());
    }

    [Fact]
    public void MC0006_Forward_returning_weights_alone()
    {
        Diagnostic d = Single(Model("return x.Parameter(\"scale\") * 2f;"), "MC0006", "x.Parameter(\"scale\") * 2f");
        Assert.Contains("Forward must return a value computed from its input", d.GetMessage());
    }

    [Fact]
    public void MC0013_an_ONNX_operator_outside_the_supported_set_names_node_operator_domain_and_opset()
    {
        string source = "using ModelCompiler;\nnamespace Demo;\n[CompileModel(Onnx = \"text_classifier.onnx\")]\npublic static partial class Net;\n";
        Diagnostic d = Single(source, "MC0013", "\"text_classifier.onnx\"", Path.Combine(RepositoryRoot(), "samples/TextClassifier/text_classifier.onnx"));
        // The embedding compiles (token ids cast to int64, then Gather from the table); nn.MultiheadAttention's export then
        // moves the batch away from axis 0 (it runs sequence-first inside), which the per-sample IR cannot express.
        Assert.Equal("ONNX node '/inner/attn/Transpose' (Transpose, domain 'ai.onnx', opset 14) cannot be compiled: perm [1, 0, 2]: the batch (axis 0) must stay first"
            + " (this is how nn.MultiheadAttention's export runs sequence-first; write the attention batch-first, or declare the model in C# with MultiHeadAttention: docs/onnx.md)",
            d.GetMessage());
    }

    [Fact]
    public void MC0003_a_truncated_ONNX_file()
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(RepositoryRoot(), "samples/DigitsCnn/digits_cnn.onnx"));
        string path = Path.Combine(GeneratorHarness.TempFolder(), "truncated.onnx");
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        string source = "using ModelCompiler;\nnamespace Demo;\n[CompileModel(Onnx = \"truncated.onnx\")]\npublic static partial class Net;\n";
        Diagnostic d = Single(source, "MC0003", "\"truncated.onnx\"", path);
        Assert.StartsWith("Weights file 'truncated.onnx' cannot be used: malformed protobuf at byte ", d.GetMessage());
    }

    [Fact]
    public void MC0006_Onnx_and_a_Forward_method_together()
    {
        string source = "using ModelCompiler;\nnamespace Demo;\n[CompileModel(Onnx = \"digits_cnn.onnx\")]\npublic static partial class Net\n{\n    static Tensor Forward([Shape(4)] Tensor x) => x;\n}\n";
        Diagnostic d = Single(source, "MC0006", "Forward", Path.Combine(RepositoryRoot(), "samples/DigitsCnn/digits_cnn.onnx"));
        Assert.Contains("a model compiled from ONNX has no Forward method", d.GetMessage());
    }

    [Fact]
    public void MC0006_a_Split_part_that_does_not_exist()
    {
        Diagnostic d = Single(Model("return x.Split(0, 2, 2)[2];"), "MC0006", "2");
        Assert.Contains("the Split has 2 parts; there is no part 2", d.GetMessage());
    }

    [Fact]
    public void MC0006_unsupported_construct_points_at_it()
    {
        Diagnostic d = Single(Model("return System.Environment.ProcessorCount > 2 ? x.Relu() : x;"), "MC0006",
            "System.Environment.ProcessorCount > 2 ? x.Relu() : x");
        Assert.Contains("is not supported in a model's Forward body", d.GetMessage());
    }

    [Fact]
    public void MC0006_an_endless_loop_stops_with_a_diagnostic_instead_of_hanging()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Diagnostic d = Single(Model("for (int i = 0; i < 1000000000; i++) x = x.Relu();\n        return x;"), "MC0006", "x.Relu()");
        Assert.Contains("more than 20000 ops", d.GetMessage());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), clock.Elapsed.ToString());
    }

    [Fact]
    public void MC0006_recursive_helper_stops_at_the_depth_limit()
    {
        string source = Model("return Loop(x);").Replace("    static Tensor Forward", "    static Tensor Loop(Tensor t) => Loop(t.Relu());\n    static Tensor Forward");
        Diagnostic d = Single(source, "MC0006", "Loop(t.Relu())");
        Assert.Contains("nest deeper than 32", d.GetMessage());
    }

    [Fact]
    public void MC0007_input_without_a_shape()
    {
        Diagnostic d = Single(Model("return x.Relu();", shape: ""), "MC0007", "Tensor x");
        Assert.Contains("Input 'x' needs a static shape", d.GetMessage());
    }

    [Fact]
    public void MC0007_input_with_a_zero_dimension()
    {
        Single(Model("return x.Relu();", shape: "[Shape(4, 0)] "), "MC0007", "[Shape(4, 0)] Tensor x");
    }

    [Fact]
    public void MC0008_an_internal_failure_becomes_a_diagnostic_naming_the_model()
    {
        // A declaration no parser would produce (its output op does not exist) makes the builder fail inside.
        var location = new Gen.Diagnostics.LocationInfo("Model.cs", new Microsoft.CodeAnalysis.Text.TextSpan(0, 3),
            new Microsoft.CodeAnalysis.Text.LinePositionSpan(default, new Microsoft.CodeAnalysis.Text.LinePosition(0, 3)));
        var op = new Gen.Model.RecordedOp(0, Gen.Model.OpKind.Input, Gen.Helpers.EquatableArray<int>.Empty, "x", 0, null, location, null, "x");
        var declaration = new Gen.Model.ModelDeclaration
        {
            ClassName = "Broken",
            SourceFileName = "Model.cs",
            ClassLocation = location,
            WeightsFile = "w.safetensors",
            WeightsLocation = location,
            Inputs = new Gen.Helpers.EquatableArray<Gen.Model.ModelValue>(new[] { new Gen.Model.ModelValue("x", new Gen.Helpers.EquatableArray<int>(new[] { 4 })) }),
            Ops = new Gen.Helpers.EquatableArray<Gen.Model.RecordedOp>(new[] { op }),
            Outputs = new Gen.Helpers.EquatableArray<Gen.Model.ModelOutput>(new[] { new Gen.Model.ModelOutput(7, null) }),
        };

        Gen.Model.ModelResult result = Gen.Pipeline.ModelBuilder.Build(declaration,
            System.Collections.Immutable.ImmutableArray.Create(Gen.Import.WeightsFileRef.Identify(Weights)), Gen.Model.BuildOptions.Default, CancellationToken.None);

        Assert.Null(result.Plan);
        Diagnostic d = Assert.Single(result.Diagnostics).ToDiagnostic();
        Assert.Equal("MC0008", d.Id);
        Assert.Equal(location.Span, d.Location.SourceSpan);
        Assert.StartsWith("ModelCompiler failed to compile model 'Broken': ", d.GetMessage());
    }

    [Fact]
    public void MC0009_missing_Forward()
    {
        string source = Model("return x;").Replace("static Tensor Forward", "static Tensor Backward");
        Diagnostic d = Single(source, "MC0009", "Net");
        Assert.Contains("there is no method named Forward", d.GetMessage());
    }

    [Fact]
    public void MC0009_Forward_not_static()
    {
        string source = Model("return x;").Replace("static Tensor Forward", "Tensor Forward").Replace("public static partial class", "public partial class");
        Diagnostic d = Single(source, "MC0009", "Forward");
        Assert.Contains("Forward must be static", d.GetMessage());
    }

    [Fact]
    public void MC0010_weights_not_specified()
    {
        Diagnostic d = Single(Model("return x;", weights: ""), "MC0010", "CompileModel()");
        Assert.Equal("[CompileModel] on 'Net' needs Weights = \"….safetensors\"", d.GetMessage());
    }

    [Fact]
    public void MC0011_FloatLayers_names_a_layer_the_model_does_not_have()
    {
        Diagnostic d = Single(Model("return x.Linear(\"fc1\");", weights: "Weights = \"w.safetensors\", Quantize = Quantization.Int8, FloatLayers = new[] { \"fc9\" }"),
            "MC0011", "Quantize = Quantization.Int8");
        Assert.Equal("FloatLayers names 'fc9', which is not a Linear layer of Net; its Linear layers are: fc1", d.GetMessage());
    }

    [Fact]
    public void MC0011_unknown_quantization_mode()
    {
        Diagnostic d = Single(Model("return x.Linear(\"fc1\");", weights: "Weights = \"w.safetensors\", Quantize = (Quantization)7"),
            "MC0011", "Quantize = (Quantization)7");
        Assert.Contains("Quantize = 7 is not a Quantization this version supports", d.GetMessage());
    }

    [Fact]
    public void MC0012_calibration_file_not_in_AdditionalFiles()
    {
        Diagnostic d = Single(Model("return x.Linear(\"fc1\");",
            weights: "Weights = \"w.safetensors\", Quantize = Quantization.Int8Static, Calibration = \"calib.safetensors\""), "MC0012", "\"calib.safetensors\"");
        Assert.Equal("Calibration file 'calib.safetensors' cannot be used: it is not among the project's AdditionalFiles; add <AdditionalFiles Include=\"calib.safetensors\" />", d.GetMessage());
    }

    [Fact]
    public void MC0012_calibration_input_of_the_wrong_shape()
    {
        string calibration = Path.Combine(GeneratorHarness.TempFolder(), "calib.safetensors");
        File.WriteAllBytes(calibration, SafeTensorsTests.File("{\"input\":{\"dtype\":\"F32\",\"shape\":[2,5],\"data_offsets\":[0,40]}}", new byte[40]));
        Diagnostic d = Single(Model("return x.Linear(\"fc1\");",
            weights: "Weights = \"w.safetensors\", Quantize = Quantization.Int8Static, Calibration = \"calib.safetensors\""), "MC0012", "\"calib.safetensors\"",
            Weights, calibration);
        Assert.Equal("Calibration file 'calib.safetensors' cannot be used: 'input' is [2, 5], but the model takes [N, 4] with N ≥ 1", d.GetMessage());
    }

    [Fact]
    public void MC0012_calibration_input_with_an_id_outside_the_embedding_table()
    {
        // Token ids flow from the calibration file into an Embedding at build time: an id that is not a row of the table
        // stops calibration with MC0012 (it once indexed past the table: MC0008, an internal failure).
        string folder = GeneratorHarness.TempFolder();
        string weights = Path.Combine(folder, "emb.safetensors"), calibration = Path.Combine(folder, "calib.safetensors");
        File.WriteAllBytes(weights, SafeTensorsTests.File("{\"emb.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
            + "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[48,80]}}", new byte[80]));
        byte[] ids = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(ids.AsSpan(0), 1f);
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(ids.AsSpan(4), 7f);
        File.WriteAllBytes(calibration, SafeTensorsTests.File("{\"input\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}", ids));
        Diagnostic d = Single(Model("return x.Embedding(\"emb\").Linear(\"fc\");", shape: "[Shape(2)] ",
            weights: "Weights = \"emb.safetensors\", Quantize = Quantization.Int8Static, Calibration = \"calib.safetensors\""), "MC0012", "\"calib.safetensors\"",
            weights, calibration);
        Assert.Equal("Calibration file 'calib.safetensors' cannot be used: Embedding 'emb' gets id 7, which is not one of its 3 rows", d.GetMessage());
    }

    [Fact]
    public void MC0012_Int8Static_without_a_calibration_file()
    {
        Diagnostic d = Single(Model("return x.Linear(\"fc1\");", weights: "Weights = \"w.safetensors\", Quantize = Quantization.Int8Static"),
            "MC0012", "Quantize = Quantization.Int8Static");
        Assert.Contains("needs Calibration", d.GetMessage());
    }

    [Fact]
    public void MC0012_Int4Gptq_without_a_calibration_file()
    {
        Diagnostic d = Single(Model("return x.Linear(\"fc1\");", weights: "Weights = \"w.safetensors\", Quantize = Quantization.Int4Gptq"),
            "MC0012", "Quantize = Quantization.Int4Gptq");
        Assert.Equal("Calibration file '(none)' cannot be used: Quantize = Quantization.Int4Gptq needs Calibration = \"….safetensors\", a file of representative inputs", d.GetMessage());
    }

    [Fact]
    public void MC0012_Int4Gptq_on_inputs_that_are_not_finite()
    {
        // NaN inputs make every Hessian entry NaN: no damping makes it positive definite, so GPTQ stops with MC0012 naming
        // the layer (a throw inside the compiler would only say that the generator failed).
        string calibration = Path.Combine(GeneratorHarness.TempFolder(), "calib.safetensors");
        byte[] values = new byte[32];
        for (int i = 0; i < 8; i++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(values.AsSpan(4 * i), float.NaN);
        File.WriteAllBytes(calibration, SafeTensorsTests.File("{\"input\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]}}", values));
        Diagnostic d = Single(Model("return x.Linear(\"fc1\");",
            weights: "Weights = \"w.safetensors\", Quantize = Quantization.Int4Gptq, Calibration = \"calib.safetensors\""), "MC0012", "\"calib.safetensors\"",
            Weights, calibration);
        Assert.Equal("Calibration file 'calib.safetensors' cannot be used: the Hessian of 'fc1' on it is not positive definite even with 100 times GPTQ's damping (are its inputs all zero or not finite?)", d.GetMessage());
    }

    [Fact]
    public void Int4Gptq_rounds_a_layer_too_large_for_GPTQ_to_nearest_and_says_so_by_leaving_out_its_output_error()
    {
        // 4,100 inputs: past Gptq.MaxInputs, so no 4,100² Hessian is built; the 16-input layer after it is GPTQ's.
        string folder = GeneratorHarness.TempFolder();
        string weights = Path.Combine(folder, "wide.safetensors"), calibration = Path.Combine(folder, "calib.safetensors");
        var random = new Random(3);
        byte[] Floats(int count)
        {
            var bytes = new byte[4 * count];
            for (int i = 0; i < count; i++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), (float)(random.NextDouble() - 0.5));
            return bytes;
        }
        File.WriteAllBytes(weights, SafeTensorsTests.File("{\"wide.weight\":{\"dtype\":\"F32\",\"shape\":[16,4100],\"data_offsets\":[0,262400]},"
            + "\"narrow.weight\":{\"dtype\":\"F32\",\"shape\":[3,16],\"data_offsets\":[262400,262592]}}", Floats(16 * 4100 + 3 * 16)));
        File.WriteAllBytes(calibration, SafeTensorsTests.File("{\"input\":{\"dtype\":\"F32\",\"shape\":[40,4100],\"data_offsets\":[0,656000]}}", Floats(40 * 4100)));
        string source = Model("return x.Linear(\"wide\").Relu().Linear(\"narrow\");", shape: "[Shape(4100)] ",
            weights: "Weights = \"wide.safetensors\", Quantize = Quantization.Int4Gptq, Calibration = \"calib.safetensors\"");

        var (diagnostics, run, errors) = GeneratorHarness.Run(source, weights, calibration);

        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        string code = run.GeneratedSources.Single(g => g.HintName == "Demo.Net.g.cs").SourceText.ToString();
        // The quantization section's lines, one per Linear: "K0: 1.23E-001…" (the weight error first).
        string[] layers = code.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^///   K\d+: \d\.\d+E[-+]\d+")).ToArray();
        Assert.Equal(2, layers.Length);
        Assert.DoesNotContain("output error", layers[0]); // wide: round to nearest
        Assert.Contains("output error on the calibration inputs", layers[1]); // narrow: GPTQ
    }

    [Fact]
    public void Every_descriptor_has_a_documentation_page_and_a_release_entry()
    {
        string root = RepositoryRoot();
        string shipped = File.ReadAllText(Path.Combine(root, "src", "Generator", "AnalyzerReleases.Shipped.md"))
            + File.ReadAllText(Path.Combine(root, "src", "Generator", "AnalyzerReleases.Unshipped.md"));
        var descriptors = typeof(Gen.Diagnostics.DiagnosticDescriptors)
            .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!).ToList();
        Assert.Equal(14, descriptors.Count);
        foreach (DiagnosticDescriptor descriptor in descriptors)
        {
            Assert.True(File.Exists(Path.Combine(root, "docs", "diagnostics", descriptor.Id + ".md")), descriptor.Id + " has no page");
            Assert.Contains(descriptor.Id + " |", shipped);
        }
    }

    internal static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));
}
