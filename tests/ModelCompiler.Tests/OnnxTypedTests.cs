using System;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// A model whose inputs and outputs are typed as the ONNX file types them (tests/ModelCompiler.TestModels/make_typed.py):
/// int64 token ids and a bool mask in, int64, int32 and bool out beside float32, against ONNX Runtime; converted at the
/// edges, float32 inside.
/// </summary>
public class OnnxTypedTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(300)] // several chunks
    public void Typed_inputs_and_outputs_match_ONNX_Runtime(int batch)
    {
        var random = new Random(batch);
        long[] ids = Enumerable.Range(0, batch * OnnxTyped.IdsLength).Select(_ => (long)random.Next(20)).ToArray();
        bool[] mask = Enumerable.Range(0, batch * OnnxTyped.MaskLength).Select(_ => random.Next(4) != 0).ToArray();
        float[] scale = Numerics.Random(batch * OnnxTyped.ScaleLength, seed: batch);
        var pooled = new float[batch * OnnxTyped.PooledLength];
        var thirds = new long[batch * OnnxTyped.ThirdsLength];
        var pooledInt = new int[batch * OnnxTyped.PooledIntLength];
        var nonzero = new bool[batch * OnnxTyped.NonzeroLength];
        OnnxTyped.Predict(ids, mask, scale, pooled, thirds, pooledInt, nonzero, batch);

        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "onnx_typed.onnx"));
        using var results = session.Run(new[]
        {
            NamedOnnxValue.CreateFromTensor("ids", new DenseTensor<long>(ids, new[] { batch, 6 })),
            NamedOnnxValue.CreateFromTensor("mask", new DenseTensor<bool>(mask, new[] { batch, 6 })),
            NamedOnnxValue.CreateFromTensor("scale", new DenseTensor<float>(scale, new[] { batch, 1 })),
        });
        T[] Expected<T>(string name) => results.Single(r => r.Name == name).AsEnumerable<T>().ToArray();
        Assert.InRange(Numerics.RelativeError(pooled, Expected<float>("pooled")), 0, Numerics.Tolerance);
        Assert.Equal(Expected<long>("thirds"), thirds);   // integer Div truncates toward zero, negative quotients too
        Assert.Equal(Expected<int>("pooled_int"), pooledInt);
        Assert.Equal(Expected<bool>("nonzero"), nonzero);
        Assert.Contains(thirds, t => t < 0);
        Assert.Contains(pooledInt, v => v < 0);
    }

    [Fact]
    public void A_typed_span_of_the_wrong_length_is_refused_by_name_and_nothing_is_written()
    {
        var pooled = new float[OnnxTyped.PooledLength];
        Array.Fill(pooled, 42f);
        var e = Assert.Throws<ArgumentException>(() => OnnxTyped.Predict(new long[5], new bool[6], new float[1], pooled,
            new long[6], new int[4], new bool[6]));
        Assert.Equal("ids", e.ParamName);
        Assert.All(pooled, v => Assert.Equal(42f, v));
    }

    [Fact]
    public void A_token_id_outside_the_table_is_refused_before_anything_runs()
    {
        var pooled = new float[OnnxTyped.PooledLength];
        Array.Fill(pooled, 42f);
        long[] ids = { 0, 1, 2, 20, 4, 5 }; // the table has 20 rows
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxTyped.Predict(ids, new bool[6], new float[1], pooled, new long[6], new int[4], new bool[6]));
        Assert.All(pooled, v => Assert.Equal(42f, v));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void Comparisons_logic_Where_Mod_Pow_ArgMax_and_ArgMin_match_ONNX_Runtime(int batch)
    {
        float[] a = Numerics.Random(batch * 5, seed: batch + 40, scale: 3);
        float[] b = Numerics.Random(batch * 5, seed: batch + 41, scale: 3);
        a[0] = b[0]; // equal operands: Greater false, Xor of equal values
        var both = new bool[batch * 5]; var either = new bool[batch * 5]; var noneOrBoth = new bool[batch * 5];
        var masked = new float[batch * 5]; var power = new float[batch * 5]; var powerConst = new float[batch * 5];
        var remainder = new float[batch * 5]; var selfEqual = new bool[batch * 5];
        var argmax = new long[batch]; var argmin = new long[batch];
        OnnxLogic.Predict(a, b, both, either, noneOrBoth, masked, power, powerConst, remainder, selfEqual, argmax, argmin, batch);

        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "onnx_logic.onnx"));
        using var results = session.Run(new[]
        {
            NamedOnnxValue.CreateFromTensor("a", new DenseTensor<float>(a, new[] { batch, 5 })),
            NamedOnnxValue.CreateFromTensor("b", new DenseTensor<float>(b, new[] { batch, 5 })),
        });
        T[] Expected<T>(string name) => results.Single(r => r.Name == name).AsEnumerable<T>().ToArray();
        Assert.Equal(Expected<bool>("both"), both);
        Assert.Equal(Expected<bool>("either"), either);
        Assert.Equal(Expected<bool>("none_or_both"), noneOrBoth);
        Assert.Equal(Expected<bool>("self_equal"), selfEqual);
        Assert.Equal(Expected<long>("argmax"), argmax);
        Assert.Equal(Expected<long>("argmin"), argmin);
        Assert.Equal(Expected<float>("masked"), masked); // exactly a, or −∞ (never NaN)
        Assert.Contains(masked, float.IsNegativeInfinity);
        // Pow of a negative base by 2.5 is NaN in both; the rest within float32 rounding.
        foreach ((string name, float[] actual) in new[] { ("power", power), ("power_const", powerConst), ("remainder", remainder) })
        {
            float[] expected = Expected<float>(name);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(float.IsNaN(expected[i]) ? float.IsNaN(actual[i]) : Math.Abs(actual[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])),
                    $"{name}[{i}]: {actual[i]} against {expected[i]}");
        }
        Assert.Contains(powerConst, float.IsNaN);
    }
}
