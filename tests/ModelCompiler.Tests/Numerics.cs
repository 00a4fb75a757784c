using System;

namespace ModelCompiler.Tests;

/// <summary>How the tests measure agreement, and the random inputs they use.</summary>
internal static class Numerics
{
    /// <summary>The contract's tolerance: compiled vs reference, relative.</summary>
    public const double Tolerance = 1e-5;

    /// <summary>
    /// Norm-wise relative error, <c>max |actual − expected| / max |expected|</c> (max-norms): the error of every
    /// element measured against the output's scale, so tiny elements (softmax tails) do not dominate. NaN and ±Inf
    /// must sit at the same places with the same signs (otherwise the error is infinite) and are left out of the norms.
    /// </summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"lengths differ: {actual.Length} vs {expected.Length}");
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (float.IsNaN(actual[i]) != float.IsNaN(expected[i])) return double.PositiveInfinity;
            if (float.IsNaN(expected[i])) continue; // NaN in both (the square root of a negative): they agree
            if (float.IsInfinity(expected[i]) || float.IsInfinity(actual[i]))
            {
                if (actual[i] != expected[i]) return double.PositiveInfinity;
                continue;
            }
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
        }
        return maxDiff / Math.Max(maxRef, 1e-30);
    }

    /// <summary>
    /// For models that round activations (a decoder's int4 layers round each block of 32 to int8): rounding is
    /// discontinuous, so a float-rounding difference between two routes now and then moves one activation to the
    /// neighbouring code (1/127 of its block's largest value), which moves that row's outputs by up to about 1e-2. Passes
    /// when at least 95 % of the rows of <paramref name="width"/> values agree within <see cref="Tolerance"/> and every
    /// row within 5e-2 (a wrong scale, a missed rounding or a lost adapter moves every row by far more than 1e-5).
    /// </summary>
    public static void AssertRowsAgreeButForCodeFlips(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, int width)
    {
        int rows = expected.Length / width, close = 0;
        double worst = 0;
        for (int r = 0; r < rows; r++)
        {
            double error = RelativeError(actual.Slice(r * width, width), expected.Slice(r * width, width));
            if (error <= Tolerance) close++;
            worst = Math.Max(worst, error);
        }
        Xunit.Assert.True(close >= rows - rows / 20, $"{rows - close} of {rows} rows differ by more than {Tolerance}");
        Xunit.Assert.InRange(worst, 0, 5e-2);
    }

    /// <summary>Normally distributed values (mean 0, deviation <paramref name="scale"/>) from a seed.</summary>
    public static float[] Random(int count, int seed, double scale = 1.5)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return values;
    }

    public static string ModelsFolder => System.IO.Path.Combine(AppContext.BaseDirectory, "Models");
}
