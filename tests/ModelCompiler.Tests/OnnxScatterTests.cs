using System;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompiler.Kernels;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>ScatterND and ScatterElements (make_scatter.py) against ONNX Runtime, and the Scatter kernel on indices that name no place.</summary>
public class OnnxScatterTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Scatter_by_constant_indices_into_computed_values_matches_ONNX_Runtime(int sets)
    {
        float[] x = Numerics.Random(sets * OnnxScatter.InputLength, seed: sets);
        var y = new float[sets * OnnxScatter.OutputLength];
        OnnxScatter.Predict(x, y, sets);
        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "onnx_scatter.onnx"));
        var expected = new float[y.Length];
        for (int s = 0; s < sets; s++)
        {
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x.AsMemory(s * 24, 24), new[] { 4, 6 })) });
            results.Single().AsEnumerable<float>().ToArray().CopyTo(expected, s * OnnxScatter.OutputLength);
        }
        Assert.InRange(Numerics.RelativeError(y, expected), 0, 1e-6);
        // Row 1 was written twice (indices 1, 3, 1): the last write, 2·x[2], is what stays.
        Assert.Equal(2 * x[12], y[6]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(-1)]
    public void A_cache_written_at_a_position_given_at_run_time_matches_ONNX_Runtime(long position)
    {
        const int sets = 2;
        float[] cache = Numerics.Random(sets * OnnxCache.CacheLength, seed: 3);
        float[] row = Numerics.Random(sets * OnnxCache.RowLength, seed: 4);
        long[] place = { 0, position, 0, (position + 3) % 8 };
        var next = new float[sets * OnnxCache.NextLength];
        var scaled = new float[sets * OnnxCache.ScaledLength];
        OnnxCache.Predict(cache, place, row, next, scaled, sets);
        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, "onnx_cache.onnx"));
        for (int s = 0; s < sets; s++)
        {
            using var results = session.Run(new[]
            {
                NamedOnnxValue.CreateFromTensor("cache", new DenseTensor<float>(cache.AsMemory(s * 48, 48), new[] { 1, 8, 6 })),
                NamedOnnxValue.CreateFromTensor("place", new DenseTensor<long>(place.AsMemory(s * 2, 2), new[] { 1, 2 })),
                NamedOnnxValue.CreateFromTensor("row", new DenseTensor<float>(row.AsMemory(s * 6, 6), new[] { 1, 6 })),
            });
            Assert.Equal(results.Single(r => r.Name == "next").AsEnumerable<float>().ToArray(), next.AsSpan(s * 48, 48).ToArray());
            Assert.Equal(results.Single(r => r.Name == "scaled").AsEnumerable<float>().ToArray(), scaled.AsSpan(s * 48, 48).ToArray());
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(-9)]
    [InlineData(1L << 40)]
    public void A_position_outside_the_cache_writes_nothing(long position)
    {
        // ONNX Runtime refuses such an index; a compiled kernel cannot throw halfway through a batch, so the update is
        // skipped and the cache comes out as it went in (docs/onnx.md).
        float[] cache = Numerics.Random(OnnxCache.CacheLength, seed: 5);
        float[] row = Numerics.Random(OnnxCache.RowLength, seed: 6);
        var next = new float[OnnxCache.NextLength];
        var scaled = new float[OnnxCache.ScaledLength];
        OnnxCache.Predict(cache, new long[] { 0, position }, row, next, scaled);
        Assert.Equal(cache, next);
        Assert.Equal(cache, scaled);
    }

    /// <summary>ScatterElements and ScatterND written out by the definition, update by update (the test's own reference).</summary>
    private static float[] Expected(float[] data, float[] indices, float[] updates, int outer, int length, int inner, int count, int[] dims, ScatterReduction reduction)
    {
        float[] y = (float[])data.Clone();
        void Combine(int at, float u) => y[at] = reduction switch
        {
            ScatterReduction.Add => y[at] + u,
            ScatterReduction.Mul => y[at] * u,
            ScatterReduction.Max => Math.Max(y[at], u),
            ScatterReduction.Min => Math.Min(y[at], u),
            _ => u,
        };
        static int Place(float index, int size) => index >= -size && index < size && index == MathF.Floor(index) ? (int)index + (index < 0 ? size : 0) : -1;
        if (dims.Length == 0)
        {
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < count; j++)
                    for (int i = 0; i < inner; i++)
                    {
                        int u = (o * count + j) * inner + i, at = Place(indices[u], length);
                        if (at >= 0) Combine((o * length + at) * inner + i, updates[u]);
                    }
            return y;
        }
        for (int u = 0; u < count; u++)
        {
            int place = 0;
            bool valid = true;
            for (int d = 0; d < dims.Length; d++)
            {
                int at = Place(indices[u * dims.Length + d], dims[d]);
                valid &= at >= 0;
                place = place * dims[d] + Math.Max(at, 0);
            }
            if (valid)
                for (int i = 0; i < inner; i++) Combine(place * inner + i, updates[u * inner + i]);
        }
        return y;
    }

    [Theory]
    [InlineData(ScatterReduction.None)]
    [InlineData(ScatterReduction.Add)]
    [InlineData(ScatterReduction.Mul)]
    [InlineData(ScatterReduction.Max)]
    [InlineData(ScatterReduction.Min)]
    public void The_Scatter_kernel_skips_every_index_that_names_no_place_and_applies_the_rest_in_order(ScatterReduction reduction)
    {
        // ScatterElements along the middle of [2, 5, 3]: indices whole and in range, negative, duplicated, and hostile.
        float[] hostile = { float.NaN, 5f, -6f, 1.5f, float.PositiveInfinity, 1e30f, -1e30f };
        const int outer = 2, length = 5, inner = 3, count = 4;
        float[] data = Numerics.Random(outer * length * inner, seed: 11);
        float[] updates = Numerics.Random(outer * count * inner, seed: 12);
        var indices = new float[outer * count * inner];
        for (int i = 0; i < indices.Length; i++) indices[i] = i % 3 == 2 ? hostile[i % hostile.Length] : i % 7 - 3;
        var y = new float[data.Length];
        Scatter.Run(ref data[0], ref indices[0], ref updates[0], ref y[0], 1, outer, length, inner, count, default, reduction, data.Length, indices.Length, updates.Length);
        Assert.Equal(Expected(data, indices, updates, outer, length, inner, count, Array.Empty<int>(), reduction), y);

        // ScatterND into [3, 4] × 2: tuples of two, one per row of updates; two samples, the data a constant shared by both.
        int[] dims = { 3, 4 };
        float[] table = Numerics.Random(3 * 4 * 2, seed: 13);
        float[] tuples = { 0, 0, 2, -1, float.NaN, 1, 2, 3, 3, 0, 1, 1.5f, 2, -1, /* second sample */ 1, 1, -3, -4, 0, 4, 1, 1, 2, 2, 2, 2, 0, 3 };
        float[] rows = Numerics.Random(2 * 7 * 2, seed: 14);
        var z = new float[2 * table.Length];
        Scatter.Run(ref table[0], ref tuples[0], ref rows[0], ref z[0], 2, 1, 12, 2, 7, dims, reduction, dataPerSample: 0, indicesPerSample: 14, updatesPerSample: 14);
        for (int s = 0; s < 2; s++)
            Assert.Equal(Expected(table, tuples.Skip(s * 14).Take(14).ToArray(), rows.Skip(s * 14).Take(14).ToArray(), 1, 12, 2, 7, dims, reduction), z.Skip(s * 24).Take(24).ToArray());
    }
}
