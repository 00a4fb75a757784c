using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// Attention written out in an ONNX graph — MatMul(q, kᵀ) → Softmax → MatMul(·, v), as nn.MultiheadAttention,
/// F.scaled_dot_product_attention and hand-written blocks export it — recognised and run by the flash-style attention
/// kernel, against ONNX Runtime.
/// </summary>
public class OnnxAttentionTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Exported_attention_matches_ONNX_Runtime(int batch)
    {
        float[] x = Numerics.Random(batch * OnnxAttention.XLength, seed: batch);
        var y = new float[batch * OnnxAttention.YLength];
        var weights = new float[batch * OnnxAttention.Weights2Length];
        OnnxAttention.Predict(x, y, weights, batch);

        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "onnx_attention.onnx"));
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, new[] { batch }.Concat(OnnxAttention.XShape.ToArray()).ToArray())) });
        float[] expectedY = results.Single(r => r.Name == "y").AsEnumerable<float>().ToArray();
        float[] expectedWeights = results.Single(r => r.Name == "weights").AsEnumerable<float>().ToArray();
        Assert.InRange(Numerics.RelativeError(y, expectedY), 0, 1e-5);
        Assert.InRange(Numerics.RelativeError(weights, expectedWeights), 0, 1e-5);
    }

    [Fact]
    public void Four_of_the_five_attentions_become_the_attention_kernel()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        var run = GeneratorHarness.Run("""
            using ModelCompiler;
            [CompileModel(Onnx = "onnx_attention.onnx")]
            static partial class Net;
            """, Path.Combine(root, "tests/ModelCompiler.TestModels/Models/onnx_attention.onnx"));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompileErrors);
        string code = run.Run.GeneratedSources.Single(s => s.HintName == "Net.g.cs").SourceText.ToString();
        // The kernel list in the remarks: four attention kernels — SDPA's, the unscaled one (q scaled by √e to undo the
        // kernel's 1/√e), the causal one (its −∞ buffer recognised) and the position-biased one (its bias the kernel's
        // mask); the one whose probabilities are also an output keeps its softmax.
        Assert.Equal(4, Regex.Matches(code, @"///   K\d+  ScaledDotProductAttention: 4 heads, 12 queries × 12 keys of 8").Count);
        Assert.Single(Regex.Matches(code, @"///   K\d+  ScaledDotProductAttention: [^\n]*softmax\(q·kᵀ/√e\)·v, causal"));
        Assert.Single(Regex.Matches(code, @"///   K\d+  ScaledDotProductAttention: [^\n]*softmax\(q·kᵀ/√e \+ mask\)·v,"));
        Assert.Single(Regex.Matches(code, @"///   K\d+  [^\n]*Softmax"));
        Assert.Single(Regex.Matches(code, @"///   K\d+  × 2\.828427 over \[4, 12, 8\]"));
        Assert.DoesNotMatch(@"× 0\.9999", code); // F.scaled_dot_product_attention's two √scale factors are the kernel's 1/√e
    }
}
