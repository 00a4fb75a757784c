using System;
using ModelCompiler.Kernels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>The int8 kernel against the eager int8 reference: equal bit for bit (VectorWidthTests covers the other paths).</summary>
public class QuantizedKernelTests
{
    public static TheoryData<int, int, int> Sizes() => KernelTests.LinearSizes();

    [Theory]
    [MemberData(nameof(Sizes))]
    public void QuantizedLinear_equals_the_eager_int8_Linear_bit_for_bit(int rows, int k, int n)
    {
        float[] x = Numerics.Random(rows * k, seed: rows * 7919 + k);
        float[] weight = Numerics.Random(n * k, seed: n * 31 + k, scale: 0.2);
        float[] bias = Numerics.Random(n, seed: n, scale: 0.5);
        var weights = new TestWeights().Add("fc.weight", new[] { n, k }, weight).Add("fc.bias", new[] { n }, bias);
        float[] expected = Tensor.FromBatch(x, rows, new[] { k }, weights, new EagerQuantization(Quantization.Int8)).Linear("fc").ToArray();

        float[] actual = RunKernel(x, rows, k, n, weight, bias);

        Assert.Equal(expected, actual);
        // And it is still the same layer: close to float32.
        float[] f32 = Tensor.FromBatch(x, rows, new[] { k }, weights).Linear("fc").ToArray();
        Assert.InRange(Numerics.RelativeError(actual, f32), 0, 0.05);
    }

    [Fact]
    public void A_row_of_zeros_gives_the_bias()
    {
        float[] bias = { 1.5f, -2f, 0.25f };
        float[] actual = RunKernel(new float[2 * 5], 2, 5, 3, Numerics.Random(15, 1), bias);
        Assert.Equal(new[] { 1.5f, -2f, 0.25f, 1.5f, -2f, 0.25f }, actual);
    }

    [Fact]
    public void Weight_quantization_is_symmetric_per_output_channel()
    {
        float[] weight = { 1f, -0.5f, 0.25f, /* row 2 */ -4f, 2f, 0f };
        var scales = new float[2];
        sbyte[] codes = Int8Quantization.QuantizeWeights(weight, 2, 3, scales);
        Assert.Equal(new[] { 1f / 127, 4f / 127 }, scales);
        Assert.Equal(new sbyte[] { 127, -64, 32, -127, 64, 0 }, codes); // -63.5 and 31.75 round half to even / nearest
    }

    internal static float[] RunKernel(float[] x, int rows, int k, int n, float[] weight, float[] bias)
    {
        var scales = new float[QuantizedPanelLayout.PanelCount(n) * 16];
        sbyte[] codes = Int8Quantization.QuantizeWeights(weight, n, k, scales);
        var packed = new sbyte[QuantizedPanelLayout.PackedBytes(n, k)];
        QuantizedPanelLayout.Pack(codes, n, k, packed, 0);
        int[] sums = QuantizedPanelLayout.ColumnSums(codes, n, k);
        var paddedBias = new float[scales.Length];
        bias.CopyTo(paddedBias, 0);
        var scratch = new byte[QuantizedLinear.ScratchBytes(k)];
        var actual = new float[rows * n + 1];
        actual[^1] = 42f;
        QuantizedLinear.Run<IdentityOperator>(ref x[0], k, rows, ref packed[0], ref scales[0], ref paddedBias[0], ref sums[0], k, n, ref actual[0], n, ref scratch[0]);
        Assert.Equal(42f, actual[^1]);
        return actual[..^1];
    }
}
