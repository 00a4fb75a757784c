using System;
using System.IO;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Text.RegularExpressions;
using ModelCompiler.Kernels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// HardSwish as one fused step: the operator at every vector width against ONNX's definition, and Paddle's written-out
/// x · clip(x + 3, 0, 6) / 6 recognised in a third-party file and fused into the convolutions' stores.
/// </summary>
public class HardSwishTests
{
    /// <summary>ONNX's definition, in double: x · max(0, min(1, x / 6 + 1/2)).</summary>
    private static float Reference(float x) => double.IsNaN(x) ? float.NaN : (float)(x * Math.Max(0, Math.Min(1, x / 6.0 + 0.5)));

    [Fact]
    public void The_operator_matches_the_definition_at_every_width_and_on_special_values()
    {
        float[] values = { -1e30f, -7f, -3f, -2.999f, -1f, -0f, 0f, 0.5f, 2.999f, 3f, 3.001f, 100f, float.NaN, float.PositiveInfinity, float.NegativeInfinity,
            float.Epsilon, -float.Epsilon, 1e-20f, 6f, -6f, 1.5f, -1.5f, 2.25f, -0.75f, 42f, -42f, 1e30f, 0.1f, -0.1f, 5f, -5f, 4f };
        foreach (float x in values)
        {
            float expected = Reference(x);
            Assert.Equal(expected, HardSwishOperator.Invoke(x), 6);
            Assert.Equal(expected, HardSwishOperator.Invoke(Vector128.Create(x)).GetElement(3), 6);
            Assert.Equal(expected, HardSwishOperator.Invoke(Vector256.Create(x)).GetElement(7), 6);
            Assert.Equal(expected, HardSwishOperator.Invoke(Vector512.Create(x)).GetElement(15), 6);
        }
        Assert.True(float.IsNaN(HardSwishOperator.Invoke(float.NegativeInfinity))); // −∞ · 0, as the definition has it
        Assert.Equal(float.PositiveInfinity, HardSwishOperator.Invoke(float.PositiveInfinity));
    }

    [Fact]
    public void Paddles_written_out_HardSwish_fuses_into_the_convolutions()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        var run = GeneratorHarness.Run("""
            using ModelCompiler;
            [CompileModel(Onnx = "ch_PP-OCRv3_det_infer.onnx", Dims = new[] { "p2o.DynamicDimension.1=64", "p2o.DynamicDimension.2=64" })]
            static partial class Net;
            """, Path.Combine(root, "tests/ModelCompiler.TestModels/Models/ch_PP-OCRv3_det_infer.onnx"));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompileErrors);
        string code = run.Run.GeneratedSources.Single(s => s.HintName == "Net.g.cs").SourceText.ToString();
        // The file writes HardSwish out 20 times (Add 3, Clip 0..6, Mul by x, Div 6): each is now a step of the kernel that
        // computes x, and no Clip's clamps or product of two values remain for them.
        Assert.Equal(20, Regex.Matches(code, @"///   K\d+  [^\n]*then HardSwish").Count);
        Assert.DoesNotMatch(@"///   K\d+  [^\n]*at most 6", code);
    }
}
