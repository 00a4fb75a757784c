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
}
