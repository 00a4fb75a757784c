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

    [Fact]
    public void Single_to_half_rounds_like_System_Half()
    {
        var random = new Random(3);
        for (int i = 0; i < 200_000; i++)
        {
            float value = i switch
            {
                0 => 0f, 1 => 65504f, 2 => 65520f, 3 => 1e-8f, 4 => 5.96e-8f, 5 => float.PositiveInfinity,
                _ => (float)(Math.Pow(2, random.Next(-30, 20)) * (random.NextDouble() * 2 - 1)),
            };
            Assert.Equal(BitConverter.HalfToUInt16Bits((Half)value), Int4Quantization.SingleToHalf(value));
        }
    }

    [Fact]
    public void Int4_round_trip_keeps_every_weight_within_half_a_step_of_its_block_scale()
    {
        int n = 5, k = 70; // 70 = two whole blocks of 32 and a partial one
        float[] weight = Numerics.Random(n * k, 9);
        float[] restored = Int4Quantization.RoundTrip(weight, n, k);
        Assert.Equal(Int4Quantization.EncodedBytes(n, k), (n * k + 1) / 2 + n * 3 * 2);
        for (int j = 0; j < n; j++)
        {
            for (int b = 0; b < 3; b++)
            {
                int start = b * 32, end = Math.Min(k, start + 32);
                double amax = 0;
                for (int i = start; i < end; i++) amax = Math.Max(amax, Math.Abs(weight[j * k + i]));
                double step = amax / 7;
                for (int i = start; i < end; i++)
                    Assert.True(Math.Abs(weight[j * k + i] - restored[j * k + i]) <= step * 0.5 * 1.002, $"w[{j},{i}]");
            }
        }
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
