using System;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The generated code of two real models, compared with the copies checked in under Golden/.
/// After a deliberate change to the emitter, re-accept with:
///   MODELCOMPILER_ACCEPT_GOLDEN=1 dotnet test --project tests/ModelCompiler.Tests
/// and review the diff like any other change.
/// </summary>
public class GeneratorGoldenTests
{
    public static TheoryData<string, string, string> Models => new()
    {
        // source file (relative to the repository), weights file, the generated file's hint name
        { "samples/Digits/DigitsClassifier.cs", "samples/Digits/digits.safetensors", "Digits.DigitsClassifier" },
        { "samples/Digits/DigitsClassifier.cs", "samples/Digits/digits.safetensors", "Digits.DigitsClassifierInt8" },
        { "samples/Digits/DigitsClassifier.cs", "samples/Digits/digits.safetensors", "Digits.DigitsClassifierInt4" },
        { "tests/ModelCompiler.TestModels/Zoo.cs", "tests/ModelCompiler.TestModels/Models/zoo.safetensors", "ModelCompiler.TestModels.Zoo" },
        { "tests/ModelCompiler.TestModels/LayoutZoo.cs", "tests/ModelCompiler.TestModels/Models/layout_zoo.safetensors", "ModelCompiler.TestModels.LayoutZoo" },
        { "tests/ModelCompiler.TestModels/GroupedCnn.cs", "tests/ModelCompiler.TestModels/Models/grouped_cnn.safetensors", "ModelCompiler.TestModels.GroupedCnn" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Generated_code_matches_the_golden_copy(string sourceFile, string weightsFile, string hint)
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        AssertGolden(Path.GetFileName(sourceFile), File.ReadAllText(Path.Combine(root, sourceFile)), Path.Combine(root, weightsFile), hint);
    }

    /// <summary>
    /// A Llama-style decoder: CreateSession in place of Predict, RunRows taking the key/value cache and the position, the
    /// cache's slots (one per CachedAttention), Rotary and CachedAttention kernels between the projections.
    /// </summary>
    [Fact]
    public void A_decoder_compiles_to_the_golden_copy()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        AssertGolden("TinyLlama.cs", File.ReadAllText(Path.Combine(root, "tests/ModelCompiler.TestModels/TinyLlama.cs")),
            Path.Combine(root, "tests/ModelCompiler.TestModels/Models/tiny_llama.safetensors"), "ModelCompiler.TestModels.TinyLlama", suffixes: new[] { ".g.cs" },
            more: new[] { Path.Combine(root, "tests/ModelCompiler.TestModels/Models/tiny_llama_calibration.safetensors") });
    }

    /// <summary>
    /// A GPT-2: the learned positions' kernel after the embedding, MaxPositions bounding CreateSession, c_attn's output split
    /// into queries, keys and values, the transposed Conv1D layers, lm_head on the tied wte.
    /// </summary>
    [Fact]
    public void A_GPT2_compiles_to_the_golden_copy()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        AssertGolden("TinyGpt2.cs", File.ReadAllText(Path.Combine(root, "tests/ModelCompiler.TestModels/TinyGpt2.cs")),
            Path.Combine(root, "tests/ModelCompiler.TestModels/Models/tiny_gpt2.safetensors"), "ModelCompiler.TestModels.TinyGpt2", suffixes: new[] { ".g.cs" });
    }

    /// <summary>
    /// A transformer block from ONNX (PyTorch's export at opset 13): the header shows what the importer made of it —
    /// the decomposed LayerNorms as one LayerNorm each, exact GELU fused into the first feed-forward Linear, the
    /// reshape targets computed from Shape folded away.
    /// </summary>
    [Fact]
    public void An_ONNX_transformer_block_compiles_to_the_golden_copy()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        const string source = """
            namespace ModelCompiler.TestModels;
            [ModelCompiler.CompileModel(Onnx = "onnx_encoder.onnx")]
            public static partial class OnnxEncoder;
            """;
        AssertGolden("OnnxEncoder.cs", source, Path.Combine(root, "tests/ModelCompiler.TestModels/Models/onnx_encoder.onnx"), "ModelCompiler.TestModels.OnnxEncoder");
    }

    /// <summary>
    /// An ONNX graph with three inputs and three outputs: a length and shape constant named after each, one Predict with a
    /// span per input and per output, every span checked by name, an output that the rest of the graph also reads.
    /// </summary>
    [Fact]
    public void An_ONNX_model_with_several_inputs_and_outputs_compiles_to_the_golden_copy()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        const string source = """
            namespace ModelCompiler.TestModels;
            [ModelCompiler.CompileModel(Onnx = "onnx_stateful.onnx")]
            public static partial class OnnxStateful;
            """;
        AssertGolden("OnnxStateful.cs", source, Path.Combine(root, "tests/ModelCompiler.TestModels/Models/onnx_stateful.onnx"), "ModelCompiler.TestModels.OnnxStateful");
    }

    /// <summary>
    /// The GPU entry point (<c>*.Gpu.g.cs</c>: the ILGPU kernels printed per layer) of the Digits model and of the CNN
    /// with a residual block, generated when the project references the GPU runtime.
    /// </summary>
    [Theory]
    [InlineData("samples/Digits/DigitsClassifier.cs", "samples/Digits/digits.safetensors", "Digits.DigitsClassifier")]
    [InlineData("tests/ModelCompiler.TestModels/GroupedCnn.cs", "tests/ModelCompiler.TestModels/Models/grouped_cnn.safetensors", "ModelCompiler.TestModels.GroupedCnn")]
    public void The_GPU_entry_point_matches_the_golden_copy(string sourceFile, string weightsFile, string hint)
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        AssertGolden(Path.GetFileName(sourceFile), File.ReadAllText(Path.Combine(root, sourceFile)), Path.Combine(root, weightsFile), hint,
            gpu: true, suffixes: new[] { ".Gpu.g.cs" });
    }

    /// <summary>
    /// A decoder's GPU session (<c>CreateGpuSession</c>): rotary tables, the cache's store and attention kernels, and each
    /// Linear's matrix-vector kernel beside its GEMM, int4 weights read in the CPU's panels after a kernel rounds the rows.
    /// </summary>
    [Fact]
    public void A_decoder_GPU_session_matches_the_golden_copy()
    {
        const string hint = "ModelCompiler.TestModels.TinyLlamaInt4";
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        AssertGolden("TinyLlama.cs", File.ReadAllText(Path.Combine(root, "tests/ModelCompiler.TestModels/TinyLlama.cs")),
            Path.Combine(root, "tests/ModelCompiler.TestModels/Models/tiny_llama.safetensors"), hint, gpu: true, suffixes: new[] { ".Gpu.g.cs" },
            more: new[] { Path.Combine(root, "tests/ModelCompiler.TestModels/Models/tiny_llama_calibration.safetensors") });
    }

    /// <summary>
    /// Keras exports its 2-D max pools of [1, 2] as ONNX MaxPool with a 1 × 2 window: the axis with a window of 1, stride 1
    /// and no padding keeps every value, so only the pass along the other axis is compiled (it was a copy of the whole
    /// tensor, twice in the speech embedding model).
    /// </summary>
    [Fact]
    public void A_pool_axis_with_a_window_of_one_compiles_to_no_kernel()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        const string source = """
            namespace ModelCompiler.TestModels;
            [ModelCompiler.CompileModel(Onnx = "speech_embedding.onnx")]
            public static partial class SpeechEmbeddingPools;
            """;
        GeneratorDriver driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(Path.Combine(root, "tests/ModelCompiler.TestModels/Models/speech_embedding.onnx")) });
        driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(("SpeechEmbeddingPools.cs", source)), out _, out _);
        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        Assert.Empty(run.Diagnostics);
        string header = run.GeneratedSources.Single(s => s.HintName == "ModelCompiler.TestModels.SpeechEmbeddingPools.g.cs").SourceText.ToString();
        string[] pools = header.Split('\n').Where(line => line.StartsWith("///") && line.Contains("MaxPool along dimension")).ToArray();
        Assert.Equal(2, pools.Length);
        Assert.All(pools, line => Assert.Contains("MaxPool along dimension 2: window 2, stride 2", line));
    }

    private static void AssertGolden(string fileName, string source, string weights, string hint, bool gpu = false, string[]? suffixes = null, string[]? more = null)
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        GeneratorDriver driver = GeneratorHarness.Driver(new[] { weights }.Concat(more ?? Array.Empty<string>()).Select(f => new GeneratorHarness.BinaryAdditionalText(f)).ToArray());
        Compilation compilation = GeneratorHarness.Compilation((fileName, source));
        if (gpu)
            compilation = compilation.AddReferences(
                MetadataReference.CreateFromFile(typeof(ModelCompiler.Gpu.GpuModel).Assembly.Location),
                MetadataReference.CreateFromFile(typeof(ILGPU.Runtime.Accelerator).Assembly.Location));
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        GeneratorRunResult run = driver.GetRunResult().Results.Single();

        Assert.Empty(run.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        foreach (string suffix in suffixes ?? new[] { ".g.cs", ".Weights.g.cs" })
        {
            string actual = run.GeneratedSources.Single(s => s.HintName == hint + suffix).SourceText.ToString();
            string golden = Path.Combine(root, "tests", "ModelCompiler.Tests", "Golden", hint + suffix);
            if (Environment.GetEnvironmentVariable("MODELCOMPILER_ACCEPT_GOLDEN") == "1")
                File.WriteAllText(golden, actual);
            Assert.True(File.Exists(golden), $"{golden} is missing: run with MODELCOMPILER_ACCEPT_GOLDEN=1 to create it");
            Assert.Equal(File.ReadAllText(golden).ReplaceLineEndings("\n"), actual.ReplaceLineEndings("\n"));
        }
    }

    [Theory]
    [InlineData("Quantization.Int8")]
    [InlineData("Quantization.Int4")]
    public void Quantize_leaves_BatchNorm_folding_into_convolutions_alone(string mode)
    {
        // A 1-D CNN as people write it: Conv1d, BatchNorm, ReLU, then a Linear head. Quantize applies to Linear layers
        // only, so the BatchNorm still folds into the convolution (once it stopped: 3 kernels became 4).
        var tensors = new (string Name, int[] Shape)[]
        {
            ("conv.weight", new[] { 4, 2, 3 }), ("conv.bias", new[] { 4 }),
            ("bn.weight", new[] { 4 }), ("bn.bias", new[] { 4 }), ("bn.running_mean", new[] { 4 }), ("bn.running_var", new[] { 4 }),
            ("fc.weight", new[] { 3, 24 }), ("fc.bias", new[] { 3 }),
        };
        var header = new System.Text.StringBuilder("{");
        var data = new System.Collections.Generic.List<float>();
        foreach ((string name, int[] shape) in tensors)
        {
            int count = shape.Aggregate(1, (p, d) => p * d);
            if (header.Length > 1) header.Append(',');
            header.Append($"\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{data.Count * 4},{(data.Count + count) * 4}]}}");
            for (int i = 0; i < count; i++) data.Add(name.EndsWith("running_var", StringComparison.Ordinal) ? 1f : 0.1f * (i % 7 - 3));
        }
        header.Append('}');
        string path = Path.Combine(GeneratorHarness.TempFolder(), "cnn1d.safetensors");
        File.WriteAllBytes(path, SafeTensorsTests.File(header.ToString(), SafeTensorsTests.Floats(data.ToArray())));
        int Kernels(string attribute)
        {
            string source = $$"""
                using ModelCompiler;
                namespace Demo;
                [CompileModel(Weights = "cnn1d.safetensors"{{attribute}})]
                public static partial class Net
                {
                    static Tensor Forward([Shape(2, 8)] Tensor x) => x.Conv1d("conv").BatchNorm("bn").Relu().Flatten().Linear("fc");
                }
                """;
            var (diagnostics, run, errors) = GeneratorHarness.Run(source, path);
            Assert.Empty(diagnostics);
            Assert.Empty(errors);
            string code = run.GeneratedSources.Single(g => g.HintName == "Demo.Net.g.cs").SourceText.ToString();
            return int.Parse(System.Text.RegularExpressions.Regex.Match(code, "compiled into (\\d+) kernel").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.Equal(2, Kernels(""));
        Assert.Equal(2, Kernels(", Quantize = " + mode));
    }

    [Theory]
    [InlineData("Int8", 0.25, 0.26)]
    [InlineData("Int4", 0.13, 0.15)]
    public void Quantized_weights_embed_in_a_fraction_of_the_float32_bytes(string mode, double low, double high)
    {
        // The benchmark's 784-512-256-10 MLP: 2.1 MB of float32 weights.
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string weights = Path.Combine(root, "benchmarks/ModelCompiler.Benchmarks/Models/mlp784.safetensors");
        string source = """
            using ModelCompiler;
            [CompileModel(Weights = "mlp784.safetensors", Quantize = Quantization.MODE)]
            static partial class Mlp { static Tensor Forward([Shape(784)] Tensor x) => x.Linear("fc1").Relu().Linear("fc2").Relu().Linear("fc3"); }
            """;
        var run = GeneratorHarness.Run(source.Replace("MODE", mode), weights);
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompileErrors);
        string code = run.Run.GeneratedSources.Single(s => s.HintName == "Mlp.g.cs").SourceText.ToString();
        var match = System.Text.RegularExpressions.Regex.Match(code, @"Weights: ([\d,]+) bytes embedded \(([\d,]+) bytes in float32\)");
        Assert.True(match.Success, "the header reports the weight sizes");
        double embedded = double.Parse(match.Groups[1].Value.Replace(",", "")), f32 = double.Parse(match.Groups[2].Value.Replace(",", ""));
        Assert.Equal(4.0 * (784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10), f32);
        Assert.InRange(embedded / f32, low, high);
        Assert.Contains("Weight error (max |w − q·s| / max |w|) per layer, measured at build time:", code);
        // Whether it pays, in the header: 2.1 MB of float32 weights pass a core's cache, so int8 is expected to pay; int4 is
        // expanded at start-up. (The small Digits model's golden copy says int8 will not pay there.)
        Assert.Contains(mode == "Int8"
            ? "/// Speed: int8 reads a quarter of the 2,140,160 bytes the quantized layers take in float32, more than a core's cache,"
            : "/// Speed: int4 weights are expanded to float32 at start-up, so the model runs at float32 speed", code);
    }

    [Fact]
    public void Int8Static_records_each_layers_largest_input_on_the_calibration_set()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string models = Path.Combine(root, "tests/ModelCompiler.TestModels/Models");
        string source = File.ReadAllText(Path.Combine(root, "tests/ModelCompiler.TestModels/QuantizedModels.cs"));
        var run = GeneratorHarness.Run(source, Path.Combine(models, "relu_mlp.safetensors"), Path.Combine(models, "relu_mlp.calibration.safetensors"),
            Path.Combine(models, "wide_mlp.safetensors"), Path.Combine(models, "zoo.safetensors"), Path.Combine(models, "odd_mlp.safetensors"),
            Path.Combine(root, "samples/Digits/digits.safetensors"), Path.Combine(root, "samples/Digits/digits_calibration.safetensors"));
        string code = run.Run.GeneratedSources.Single(s => s.HintName == "ModelCompiler.TestModels.ReluMlpInt8Static.g.cs").SourceText.ToString();
        double[] recorded = System.Text.RegularExpressions.Regex.Matches(code, @"input range ±([0-9.E+-]+)f \(calibrated\)")
            .Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        // The same quantities from the eager reference: the largest magnitude reaching each Linear.
        SafeTensors weights = SafeTensors.Load(Path.Combine(models, "relu_mlp.safetensors"));
        float[] inputs = SafeTensors.Load(Path.Combine(models, "relu_mlp.calibration.safetensors"))["input"].ToArray();
        Tensor x = Tensor.FromBatch(inputs, inputs.Length / 17, new[] { 17 }, weights);
        Tensor h1 = x.Linear("a").Relu(), h2 = h1.Linear("b").Relu();
        double[] expected = { MaxAbs(x), MaxAbs(h1), MaxAbs(h2) };

        Assert.Equal(3, recorded.Length);
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], recorded[i], expected[i] * 1e-5);
    }

    private static double MaxAbs(Tensor t)
    {
        double max = 0;
        foreach (float v in t.Data) max = Math.Max(max, Math.Abs(v));
        return max;
    }

    [Theory]
    [InlineData("", null, true)]                                   // 27 KB: under the default 16 MB limit
    [InlineData("", "20000", false)]                               // the project lowered the limit below the model
    [InlineData(", WeightsStorage = WeightsStorage.Embedded", "0", true)]
    [InlineData(", WeightsStorage = WeightsStorage.File", null, false)]
    public void Weights_are_embedded_up_to_the_limit_and_read_from_the_file_above_it(string storage, string? limit, bool embedded)
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string source = $$"""
            using ModelCompiler;
            [CompileModel(Weights = "digits.safetensors"{{storage}})]
            static partial class Net { static Tensor Forward([Shape(64)] Tensor x) => x.Linear("fc1").Relu().Linear("fc2").Relu().Linear("out"); }
            """;
        var options = limit is null ? null : new System.Collections.Generic.Dictionary<string, string> { ["build_property.ModelCompilerEmbedLimit"] = limit };
        GeneratorDriver driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(Path.Combine(root, "samples/Digits/digits.safetensors")) }, options);
        driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(("Net.cs", source)), out Compilation output, out _);
        GeneratorRunResult run = driver.GetRunResult().Results.Single();

        Assert.Empty(run.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        string code = run.GeneratedSources.Single(s => s.HintName == "Net.g.cs").SourceText.ToString();
        Assert.Equal(embedded, run.GeneratedSources.Any(s => s.HintName == "Net.Weights.g.cs"));
        Assert.Equal(!embedded, code.Contains("global::ModelCompiler.Kernels.WeightsFile.Open(\"digits.safetensors\", 26712L,"));
    }

    [Fact]
    public void BatchNorm_after_a_convolution_is_folded_into_it_and_elsewhere_runs_as_a_scale_and_shift()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string source = File.ReadAllText(Path.Combine(root, "tests/ModelCompiler.TestModels/BnCnn.cs"));
        var run = GeneratorHarness.Run(source, Path.Combine(root, "tests/ModelCompiler.TestModels/Models/bn_cnn.safetensors"));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompileErrors);
        string code = run.Run.GeneratedSources.Single(s => s.HintName == "ModelCompiler.TestModels.BnCnn.g.cs").SourceText.ToString();
        Assert.Contains("(BatchNorm \"bn1\" folded in) Direct Conv2d \"conv1\"", code);
        Assert.Contains("(BatchNorm \"bn2\" folded in) Direct Conv2d \"conv2\"", code);
        Assert.Contains("BatchNorm \"bn3\" over 6 channels of [6], as a scale and shift", code);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(code, "ChannelAffine.Run"));
    }

    [Fact]
    public void Arithmetic_on_weights_alone_is_folded_at_build_time()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string source = File.ReadAllText(Path.Combine(root, "tests/ModelCompiler.TestModels/EdgeModels.cs"));
        var run = GeneratorHarness.Run(source, Path.Combine(root, "tests/ModelCompiler.TestModels/Models/zoo.safetensors"));
        string code = run.Run.GeneratedSources.Single(s => s.HintName == "ModelCompiler.TestModels.FoldedConstants.g.cs").SourceText.ToString();

        // Linear + ReLU, the product with one folded constant, the sum with another: nothing else runs.
        Assert.Contains("compiled into 3 kernels:", code);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(code, "/// <summary>Folded at build time: ").Count);
        Assert.Contains("Folded at build time: scale * x.Parameter(\"scale\")", code);
        Assert.Contains("Folded at build time: Tanh()", code);
        Assert.DoesNotContain("Sigmoid", code.Substring(0, code.IndexOf("public const int InputLength", System.StringComparison.Ordinal)));
    }

    [Fact]
    public void Convolution_kernels_are_chosen_at_build_time_by_shape()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string Generated(string source, string weights, string hint) => GeneratorHarness.Run(File.ReadAllText(Path.Combine(root, source)), Path.Combine(root, weights))
            .Run.GeneratedSources.Single(s => s.HintName == hint).SourceText.ToString();

        // 64 channels, rows of 24: Winograd F(4×4, 3×3) (36 products of 48 columns against F(2×2)'s 16 of 192), BatchNorm
        // folded into the transformed filters.
        string res = Generated("tests/ModelCompiler.TestModels/ResBlock.cs", "tests/ModelCompiler.TestModels/Models/res_block.safetensors", "ModelCompiler.TestModels.ResBlock.g.cs");
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(res, @"//   K\d+  \(BatchNorm ""bn\d"" folded in\) Winograd F\(4×4, 3×3\) Conv2d").Count);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(res, @"WinogradConvolution\.Run4x4<"));
        // The second adds the block's input in its store (the skip connection), then Relu: no Add kernel of its own.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(res, @"WinogradConvolution\.Run4x4WithResidual<K\d+Operator>\([^;]*residual: ref x,"));
        Assert.Contains("then + [64, 24, 24] (the skip connection), then Relu", res);
        Assert.DoesNotContain("Broadcast.Run", res);
        string resWeights = GeneratorHarness.Run(File.ReadAllText(Path.Combine(root, "tests/ModelCompiler.TestModels/ResBlock.cs")),
            Path.Combine(root, "tests/ModelCompiler.TestModels/Models/res_block.safetensors")).Run.GeneratedSources.Single(s => s.HintName == "ModelCompiler.TestModels.ResBlock.Weights.g.cs").SourceText.ToString();
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(resWeights, @"in the Winograd F\(4×4, 3×3\) domain, G g Gᵀ: 36 matrices \[64, 64\]").Count);
        // LeNet-sized layers: direct, each with its 2×2 max pool in the store.
        string lenet = Generated("benchmarks/ModelCompiler.Benchmarks/Yardsticks.cs", "benchmarks/ModelCompiler.Benchmarks/Models/lenet5.safetensors", "ModelCompiler.Benchmarks.LeNet5.g.cs");
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(lenet, @"//   K\d+  Direct Conv2d ""conv\d"".*then MaxPool2d 2×2 in the store").Count);
        // Depthwise, grouped and strided layers.
        string grouped = Generated("tests/ModelCompiler.TestModels/GroupedCnn.cs", "tests/ModelCompiler.TestModels/Models/grouped_cnn.safetensors", "ModelCompiler.TestModels.GroupedCnn.g.cs");
        Assert.Contains("Depthwise Conv2d \"dw\"", grouped);
        Assert.Contains("Conv2d \"grouped\": [8, 7, 21] → [6, 3, 10], 3×3 kernel, stride 2, padding 0, 2 groups", grouped);
    }

    [Fact]
    public void A_layer_applied_twice_to_the_same_value_is_computed_once()
    {
        // LayoutZoo calls MultiHeadAttention("attn") twice on x (with a mask, then causal): one input projection serves both.
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        var run = GeneratorHarness.Run(File.ReadAllText(Path.Combine(root, "tests/ModelCompiler.TestModels/LayoutZoo.cs")),
            Path.Combine(root, "tests/ModelCompiler.TestModels/Models/layout_zoo.safetensors"));
        string code = run.Run.GeneratedSources.Single(s => s.HintName == "ModelCompiler.TestModels.LayoutZoo.g.cs").SourceText.ToString();
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(code, "//   K\\d+  Linear \"attn.in_proj\""));
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(code, "//   K\\d+  Attention \"attn\"").Count);
    }

    [Fact]
    public void Generation_is_deterministic()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string source = File.ReadAllText(Path.Combine(root, "samples/Digits/DigitsClassifier.cs"));
        string weights = Path.Combine(root, "samples/Digits/digits.safetensors");
        string Generate() => string.Concat(GeneratorHarness.Run(source, weights).Run.GeneratedSources.Select(s => s.SourceText.ToString()));
        Assert.Equal(Generate(), Generate());
    }
}
