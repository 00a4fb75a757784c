extern alias generator;

using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompiler.TestModels;
using Xunit;
using Gen = generator::ModelCompiler.Generator;

namespace ModelCompiler.Tests;

/// <summary>
/// Models compiled from ONNX files (<c>[CompileModel(Onnx = …)]</c>, tests/ModelCompiler.TestModels/OnnxModels.cs) against
/// ONNX Runtime running the same files, on random inputs at several batch sizes.
/// </summary>
public class OnnxModelTests
{
    public delegate void Predict(ReadOnlySpan<float> input, Span<float> output, int batch, int maxDegreeOfParallelism);

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string model in new[] { "mlp784", "lenet5", "digits_cnn", "onnx_mix", "onnx_activations", "onnx_reduce", "onnx_encoder", "onnx_external", "onnx_elementwise", "onnx_dequantized", "onnx_shape_ops", "onnx_embedding", "onnx_quantized", "onnx_opset20", "onnx_mobile", "onnx_layout_ops", "onnx_windows", "onnx_running", "onnx_group_norm", "onnx_upsample", "onnx_scaled_residual", "onnx_skip_connection", "onnx_squeeze_excite" })
            foreach (int batch in new[] { 1, 5, 64 })
                data.Add(model, batch);
        return data;
    }

    private static (Predict Predict, int[] Shape, int OutputLength) Compiled(string model) => model switch
    {
        "mlp784" => (Mlp784Onnx.Predict, Mlp784Onnx.InputShape.ToArray(), Mlp784Onnx.OutputLength),
        "lenet5" => (LeNet5Onnx.Predict, LeNet5Onnx.InputShape.ToArray(), LeNet5Onnx.OutputLength),
        "onnx_mix" => (OnnxMix.Predict, OnnxMix.InputShape.ToArray(), OnnxMix.OutputLength),
        "onnx_activations" => (OnnxActivations.Predict, OnnxActivations.InputShape.ToArray(), OnnxActivations.OutputLength),
        "onnx_reduce" => (OnnxReduce.Predict, OnnxReduce.InputShape.ToArray(), OnnxReduce.OutputLength),
        "onnx_encoder" => (OnnxEncoder.Predict, OnnxEncoder.InputShape.ToArray(), OnnxEncoder.OutputLength),
        "onnx_external" => (OnnxExternal.Predict, OnnxExternal.InputShape.ToArray(), OnnxExternal.OutputLength),
        "onnx_elementwise" => (OnnxElementwise.Predict, OnnxElementwise.InputShape.ToArray(), OnnxElementwise.OutputLength),
        "onnx_dequantized" => (OnnxDequantized.Predict, OnnxDequantized.InputShape.ToArray(), OnnxDequantized.OutputLength),
        "onnx_shape_ops" => (OnnxShapeOps.Predict, OnnxShapeOps.InputShape.ToArray(), OnnxShapeOps.OutputLength),
        "onnx_embedding" => (OnnxEmbedding.Predict, OnnxEmbedding.InputShape.ToArray(), OnnxEmbedding.OutputLength),
        "onnx_quantized" => (OnnxQuantized.Predict, OnnxQuantized.InputShape.ToArray(), OnnxQuantized.OutputLength),
        "onnx_opset20" => (OnnxOpset20.Predict, OnnxOpset20.InputShape.ToArray(), OnnxOpset20.OutputLength),
        "onnx_mobile" => (OnnxMobile.Predict, OnnxMobile.InputShape.ToArray(), OnnxMobile.OutputLength),
        "onnx_layout_ops" => (OnnxLayoutOps.Predict, OnnxLayoutOps.InputShape.ToArray(), OnnxLayoutOps.OutputLength),
        "onnx_windows" => (OnnxWindows.Predict, OnnxWindows.InputShape.ToArray(), OnnxWindows.OutputLength),
        "onnx_running" => (OnnxRunning.Predict, OnnxRunning.InputShape.ToArray(), OnnxRunning.OutputLength),
        "onnx_group_norm" => (OnnxGroupNorm.Predict, OnnxGroupNorm.InputShape.ToArray(), OnnxGroupNorm.OutputLength),
        "onnx_upsample" => (OnnxUpsample.Predict, OnnxUpsample.InputShape.ToArray(), OnnxUpsample.OutputLength),
        "onnx_scaled_residual" => (OnnxScaledResidual.Predict, OnnxScaledResidual.InputShape.ToArray(), OnnxScaledResidual.OutputLength),
        "onnx_skip_connection" => (OnnxSkipConnection.Predict, OnnxSkipConnection.InputShape.ToArray(), OnnxSkipConnection.OutputLength),
        "onnx_squeeze_excite" => (OnnxSqueezeExcite.Predict, OnnxSqueezeExcite.InputShape.ToArray(), OnnxSqueezeExcite.OutputLength),
        _ => (DigitsCnnOnnx.Predict, DigitsCnnOnnx.InputShape.ToArray(), DigitsCnnOnnx.OutputLength),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compiled_ONNX_model_matches_ONNX_Runtime(string model, int batch)
    {
        (Predict predict, int[] shape, int outputLength) = Compiled(model);
        int inputLength = shape.Aggregate(1, (p, d) => p * d);
        float[] input = Numerics.Random(batch * inputLength, seed: batch * 31 + model.Length);
        if (model == "onnx_embedding")
            for (int i = 0; i < input.Length; i++) input[i] = (i * 7 + batch) % 20; // token ids: integral, inside the table
        var actual = new float[batch * outputLength];
        predict(input, actual, batch, -1);

        // ONNX Runtime's optimizer turns DequantizeLinear + MatMul into its own int8 kernel, which quantizes the
        // activations too (0.3 % off here); unoptimized, it computes what the graph says, as the compiled model does.
        using var options = new SessionOptions { GraphOptimizationLevel = model is "onnx_dequantized" or "onnx_quantized" ? GraphOptimizationLevel.ORT_DISABLE_ALL : GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, model + ".onnx"), options);
        var tensor = new DenseTensor<float>(input, new[] { batch }.Concat(shape).ToArray());
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), tensor) });
        float[] expected = results.Single().AsEnumerable<float>().ToArray();

        Assert.Equal(expected.Length, actual.Length);
        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
    }

    /// <summary>The main generated file of a test model from ONNX (tests/ModelCompiler.TestModels/Models), compiled without a diagnostic.</summary>
    private static string GeneratedCode(string model, string className)
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string source = $"namespace ModelCompiler.TestModels;\n[ModelCompiler.CompileModel(Onnx = \"{model}.onnx\")]\npublic static partial class {className};\n";
        var (diagnostics, run, errors) = GeneratorHarness.Run(source, Path.Combine(root, $"tests/ModelCompiler.TestModels/Models/{model}.onnx"));
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        return run.GeneratedSources.Single(g => g.HintName.EndsWith($"{className}.g.cs", StringComparison.Ordinal)).SourceText.ToString();
    }

    /// <summary>
    /// A nearest Resize arrives as an Add of zeros (make_upsample.py): the generator reads the zeros as one value, strides 0
    /// everywhere, so the kernel copies repeated rows instead of adding a zero to each (the result above is ONNX Runtime's).
    /// </summary>
    [Fact]
    public void A_Resize_reads_its_zeros_as_one_value()
    {
        string code = GeneratedCode("onnx_upsample", "OnnxUpsample");
        string[] resizes = code.Split('\n').Where(l => l.StartsWith("///   K", StringComparison.Ordinal) && l.Contains(".zeros\"", StringComparison.Ordinal))
            .Select(l => l.Substring(6, l.IndexOf(' ', 7) - 6)).ToArray();
        string kernel = Assert.Single(resizes);
        string strides = Assert.Single(code.Split('\n'), l => l.Contains($" {kernel}BStrides =>", StringComparison.Ordinal));
        string values = strides.Substring(strides.IndexOf('{') + 1, strides.IndexOf('}') - strides.IndexOf('{') - 1);
        Assert.All(values.Split(','), v => Assert.Equal("0", v.Trim()));
    }

    /// <summary>
    /// A safetensors tensor of one value (w.safetensors' "scale" is zeros) keeps its strides: LoadWeights may replace it with
    /// values that differ, which a stride of 0 would not read.
    /// </summary>
    [Fact]
    public void A_replaceable_tensor_of_one_value_is_read_whole()
    {
        string source = GeneratorDiagnosticsTests.Model("return x.Linear(\"fc1\") + x.Parameter(\"scale\");");
        var (diagnostics, run, errors) = GeneratorHarness.Run(source, GeneratorDiagnosticsTests.Weights);
        Assert.Empty(diagnostics);
        Assert.Empty(errors);
        string code = run.GeneratedSources.Single(g => g.HintName.EndsWith("Net.g.cs", StringComparison.Ordinal)).SourceText.ToString();
        Assert.DoesNotContain("cannot be replaced at run time", code);
        string strides = Assert.Single(code.Split('\n'), l => l.Contains("BStrides =>", StringComparison.Ordinal));
        Assert.Contains("{ 0, 1 }", strides);
    }

    /// <summary>
    /// A transposed convolution's bias, the BatchNorm after it (which cannot fold into the 1×1 convolution through the
    /// interleaving copy) and the Relu after that are one pass (make_upsample.py; ONNX Runtime checks the values above).
    /// </summary>
    [Fact]
    public void A_bias_then_an_unfolded_BatchNorm_then_Relu_is_one_kernel()
    {
        string code = GeneratedCode("onnx_upsample", "OnnxUpsample");
        string[] titles = code.Split('\n').Where(l => l.StartsWith("///   K", StringComparison.Ordinal)).ToArray();
        string norm = Assert.Single(titles, t => t.Contains("BatchNorm", StringComparison.Ordinal));
        Assert.Matches(@"^///   K\d+  \+ "".+"" \[4, 1, 1\], then BatchNorm "".+"" over 4 channels of \[4, 10, 14\], as a scale and shift, then Relu", norm);
        Assert.DoesNotContain(titles, t => t.Contains("Relu over", StringComparison.Ordinal));
        Assert.Matches(@"ChannelAffine\.Run<K\d+Operator>\([^;]*bias: ref", code);
    }

    /// <summary>
    /// x + x·g and g·x + x become one kernel each (make_scaled_residual.py); a product added to another value, or read twice,
    /// keeps its own Mul and Add (ONNX Runtime checks the values above).
    /// </summary>
    [Fact]
    public void A_gate_added_back_to_its_map_is_one_kernel_and_the_near_misses_are_not()
    {
        string code = GeneratedCode("onnx_scaled_residual", "OnnxScaledResidual");
        string[] titles = code.Split('\n').Where(l => l.StartsWith("///   K", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, titles.Count(t => t.Contains("Mul, then the product added back: [6, 5, 7] + [6, 5, 7] × [6, 1, 1]", StringComparison.Ordinal)));
        Assert.Equal(2, titles.Count(t => t.Contains(" Mul: ", StringComparison.Ordinal)));
        Assert.Equal(2, Regex.Matches(code, "ScaleResidualOperator").Count);
    }

    /// <summary>
    /// A convolution's value added to another activation of its shape is added in the convolution's store
    /// (make_skip_connection.py): through the direct kernel, the im2col GEMM and a Winograd layer, with the epilogue after
    /// the Add; an epilogue before the Add, a second reader, an operand computed after the layer and a broadcast keep their
    /// own Add (ONNX Runtime checks the values above).
    /// </summary>
    [Fact]
    public void A_skip_connection_is_added_in_the_convolutions_store_and_the_near_misses_are_not()
    {
        string code = GeneratedCode("onnx_skip_connection", "OnnxSkipConnection");
        string[] titles = code.Split('\n').Where(l => l.StartsWith("///   K", StringComparison.Ordinal)).ToArray();
        string[] fused = titles.Where(t => t.Contains("(the skip connection)", StringComparison.Ordinal)).ToArray();
        Assert.Equal(4, fused.Length);
        Assert.Contains(fused, t => t.Contains("Direct Conv2d \"c1\"", StringComparison.Ordinal) && t.EndsWith("then + [8, 24, 24] (the skip connection), then Relu", StringComparison.Ordinal));
        Assert.Contains(fused, t => t.Contains("Direct Conv2d \"c2\"", StringComparison.Ordinal) && t.EndsWith("then + [4, 24, 24] (the skip connection), then Sigmoid", StringComparison.Ordinal));
        Assert.Contains(fused, t => t.Contains("Conv2d \"c3\"", StringComparison.Ordinal) && t.EndsWith("then + [16, 12, 12] (the skip connection), then Relu", StringComparison.Ordinal));
        Assert.Contains(fused, t => t.Contains("Winograd", StringComparison.Ordinal) && t.Contains("\"c4\"", StringComparison.Ordinal) && t.EndsWith("then + [64, 24, 24] (the skip connection)", StringComparison.Ordinal));
        Assert.Equal(4, Regex.Matches(code, @"\.(Conv2d|Run|Run4x4)WithResidual<").Count);
        // The near misses: each convolution stored alone, and an Add of its own after it.
        foreach (string miss in new[] { "m1", "m2", "m3", "m4" })
            Assert.Contains(titles, t => t.Contains($"Conv2d \"{miss}\"", StringComparison.Ordinal) && !t.Contains("skip", StringComparison.Ordinal));
        Assert.Equal(5, titles.Count(t => t.Contains(" Add: ", StringComparison.Ordinal)));
    }

    /// <summary>
    /// A 1×1 convolution over one position (a squeeze-and-excitation gate's, make_squeeze_excite.py) is computed as a
    /// Linear layer: with a bias and without, a folded BatchNorm, a stride, one-dimensional; a grouped layer, a padded one,
    /// a 3×3 kernel and a layer over many positions stay convolutions (ONNX Runtime checks the values above).
    /// </summary>
    [Fact]
    public void A_one_by_one_convolution_over_one_position_is_a_Linear_and_the_near_misses_are_not()
    {
        string code = GeneratedCode("onnx_squeeze_excite", "OnnxSqueezeExcite");
        string[] titles = code.Split('\n').Where(l => l.StartsWith("///   K", StringComparison.Ordinal)).ToArray();
        string[] linear = titles.Where(t => t.Contains(" as a Linear (1×1 kernel over one position)", StringComparison.Ordinal)).ToArray();
        Assert.Equal(5, linear.Length);
        Assert.Contains(linear, t => t.Contains("Conv2d \"squeeze\" as a Linear (1×1 kernel over one position): [24, 1, 1] → [6, 1, 1], + bias, then Relu", StringComparison.Ordinal));
        Assert.Contains(linear, t => t.Contains("Conv2d \"excite\" as a Linear (1×1 kernel over one position): [6, 1, 1] → [24, 1, 1], + bias, then × 0.2", StringComparison.Ordinal));
        Assert.Contains(linear, t => t.Contains("(BatchNorm \"bn2\" folded in) Conv2d \"p2\" as a Linear (1×1 kernel over one position): [24, 1, 1] → [40, 1, 1], then Relu", StringComparison.Ordinal));
        Assert.Contains(linear, t => t.Contains("Conv2d \"p3\" as a Linear (1×1 kernel over one position): [24, 1, 1] → [17, 1, 1], + bias", StringComparison.Ordinal));
        Assert.Contains(linear, t => t.Contains("Conv1d \"p4\" as a Linear (1×1 kernel over one position): [24, 1] → [5, 1], + bias", StringComparison.Ordinal));
        Assert.Equal(5, Regex.Matches(code, @"PackedLinear\.Run<").Count);
        foreach (string miss in new[] { "m1", "m2", "m3", "m4" })
            Assert.Contains(titles, t => t.Contains($"Conv2d \"{miss}\":", StringComparison.Ordinal));
    }

    /// <summary>
    /// Loop unrolled (make_loop.py): the condition computed at run time stops one set's loop at another iteration than
    /// another set's — sets whose largest value starts near 4 stop at once, small ones run all six iterations. Each set is
    /// the file's whole input (compiled whole), so ONNX Runtime runs them one by one.
    /// </summary>
    [Fact]
    public void An_unrolled_Loop_stops_where_its_condition_fails_as_ONNX_Runtime_does()
    {
        const int sets = 4;
        float[] x = { 0.1f, -0.2f, 0.3f, 0.0f, 0.2f, -0.1f, /**/ 3.5f, 0f, 0f, 0f, 0f, 0f, /**/ -1f, 1.2f, 0.5f, 0.4f, 0.3f, 0.2f, /**/ 1.9f, -3f, 0f, 1f, 0.5f, 0.25f };
        var y = new float[sets * OnnxLoop.OutputLength];
        OnnxLoop.Predict(x, y, sets);
        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "onnx_loop.onnx"));
        var expected = new float[y.Length];
        for (int s = 0; s < sets; s++)
        {
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x.AsMemory(s * 6, 6), new[] { 2, 3 })) });
            results.Single().AsEnumerable<float>().ToArray().CopyTo(expected, s * OnnxLoop.OutputLength);
        }
        Assert.Equal(30, OnnxLoop.OutputLength);
        Assert.InRange(Numerics.RelativeError(y, expected), 0, 1e-5);
        Assert.NotEqual(expected[6 + 0], expected[0]); // the sets did run different numbers of iterations: not a trivially equal case
    }

    [Fact]
    public void An_ONNX_model_quantized_to_int8_stays_within_quantization_error_of_ONNX_Runtime()
    {
        const int batch = 16;
        float[] input = Numerics.Random(batch * 784, seed: 7);
        var int8 = new float[batch * 10];
        Mlp784OnnxInt8.Predict(input, int8, batch);
        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "mlp784.onnx"));
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input, new[] { batch, 784 })) });
        float[] expected = results.Single().AsEnumerable<float>().ToArray();
        double error = Numerics.RelativeError(int8, expected);
        Assert.InRange(error, 1e-6, 0.05); // int8 for real (not float32), and close
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(300)] // several chunks
    public void A_model_with_several_inputs_and_outputs_matches_ONNX_Runtime(int batch)
    {
        float[] frame = Numerics.Random(batch * OnnxStateful.FrameLength, seed: batch);
        float[] state = Numerics.Random(batch * OnnxStateful.StateLength, seed: batch + 1);
        float[] gain = Numerics.Random(batch * OnnxStateful.GainLength, seed: batch + 2);
        var score = new float[batch * OnnxStateful.ScoreLength];
        var nextState = new float[batch * OnnxStateful.NextStateLength];
        var features = new float[batch * OnnxStateful.FeaturesLength];
        OnnxStateful.Predict(frame, state, gain, score, nextState, features, batch);

        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "onnx_stateful.onnx"));
        DenseTensor<float> Tensor(float[] data, ReadOnlySpan<int> sample) => new(data, new[] { batch }.Concat(sample.ToArray()).ToArray());
        using var results = session.Run(new[]
        {
            NamedOnnxValue.CreateFromTensor("frame", Tensor(frame, OnnxStateful.FrameShape)),
            NamedOnnxValue.CreateFromTensor("state", Tensor(state, OnnxStateful.StateShape)),
            NamedOnnxValue.CreateFromTensor("gain", Tensor(gain, OnnxStateful.GainShape)),
        });
        Assert.Equal(new[] { "frame", "state", "gain" }, OnnxStateful.InputNames);
        Assert.Equal(new[] { "score", "next_state", "features" }, OnnxStateful.OutputNames);
        Assert.Equal(new[] { 2, 4 }, OnnxStateful.NextStateShape.ToArray());
        foreach ((string name, float[] actual) in new[] { ("score", score), ("next_state", nextState), ("features", features) })
        {
            float[] expected = results.Single(r => r.Name == name).AsEnumerable<float>().ToArray();
            Assert.Equal(expected.Length, actual.Length);
            Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
        }
    }

    [Fact]
    public void A_model_with_several_inputs_checks_every_span_by_name_and_writes_nothing_when_one_is_wrong()
    {
        var frame = new float[2 * OnnxStateful.FrameLength];
        var state = new float[2 * OnnxStateful.StateLength];
        var gain = new float[2];
        var score = new float[2 * OnnxStateful.ScoreLength];
        var nextState = new float[2 * OnnxStateful.NextStateLength];
        var features = new float[2 * OnnxStateful.FeaturesLength];
        Array.Fill(score, 7f);
        var wrong = Assert.Throws<ArgumentException>(() => OnnxStateful.Predict(frame, state.AsSpan(1), gain, score, nextState, features, 2));
        Assert.Equal("state", wrong.ParamName);
        // An output written over an input, or over another output.
        var overInput = Assert.Throws<ArgumentException>(() => OnnxStateful.Predict(frame, state, gain, score, nextState, frame.AsSpan(0, 2 * OnnxStateful.FeaturesLength), 2));
        Assert.Equal("features", overInput.ParamName);
        var shared = new float[64];
        var aliased = Assert.Throws<ArgumentException>(() => OnnxStateful.Predict(frame, state, gain, shared.AsSpan(0, 6), shared.AsSpan(4, 16), features, 2));
        Assert.Equal("score", aliased.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxStateful.Predict(frame, state, gain, score, nextState, features, 0));
        Assert.All(score, v => Assert.Equal(7f, v));
    }

    [Fact]
    public void The_API_takes_the_ONNX_input_shape_without_the_batch()
    {
        Assert.Equal(new[] { 1, 28, 28 }, LeNet5Onnx.InputShape.ToArray());
        Assert.Equal(10, LeNet5Onnx.OutputLength);
        Assert.Equal(new[] { 784 }, Mlp784Onnx.InputShape.ToArray());
    }

    [Fact]
    public void docs_onnx_md_lists_exactly_the_supported_operators()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string[] documented = File.ReadAllLines(Path.Combine(root, "docs", "onnx.md"))
            .SkipWhile(l => !l.StartsWith("| Operator |", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(l => l.StartsWith("| ", StringComparison.Ordinal))
            .Select(l => l.Split('|')[1].Trim()).ToArray();
        Assert.Equal(OnnxSupported(), documented);
    }

    private static string[] OnnxSupported() =>
        (string[])typeof(Gen.Import.OnnxImporter).GetField("Supported")!.GetValue(null)!;
}
