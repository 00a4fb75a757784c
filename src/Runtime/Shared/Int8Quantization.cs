// Compiled into both the runtime and the generator: the weights the generator quantizes at build time and the
// weights the eager reference quantizes at run time come out of this one file, bit for bit.
using System;

namespace ModelCompiler.Kernels;

/// <summary>
/// Symmetric int8 quantization. Weights: one scale per output channel, <c>scale = max|w| / 127</c>,
/// <c>q = round_half_even(w / scale)</c> in [-127, 127]. Activations: one scale per row, computed at run time
/// the same way (<see cref="RowScale"/>). A dot product is then an exact int32 sum, dequantized as
/// <c>(float)sum * (activationScale * weightScale) + bias</c>, two roundings, never fused, on every path.
/// </summary>
internal static class Int8Quantization
{
    public const int MaxLevel = 127;

    /// <summary>Quantizes row-major <paramref name="weight"/> <c>[n, k]</c>; returns the codes and fills one scale per row.</summary>
    public static sbyte[] QuantizeWeights(float[] weight, int n, int k, float[] scales)
    {
        var codes = new sbyte[n * k];
        for (int j = 0; j < n; j++)
        {
            float amax = 0f;
            for (int i = 0; i < k; i++) amax = Math.Max(amax, Math.Abs(weight[j * k + i]));
            float scale = amax / MaxLevel;
            scales[j] = scale;
            if (scale == 0f || float.IsNaN(scale) || float.IsInfinity(scale)) continue;
            for (int i = 0; i < k; i++) codes[j * k + i] = Code((double)weight[j * k + i] / scale);
        }
        return codes;
    }

    /// <summary>
    /// The scale of an activation row with largest magnitude <paramref name="amax"/>, and the factor its values
    /// are multiplied by before rounding (<c>127 / amax</c>; 0 for an all-zero row).
    /// </summary>
    public static float RowScale(float amax, out float inverse)
    {
        if (amax == 0f || float.IsNaN(amax) || float.IsInfinity(amax))
        {
            inverse = 0f;
            return 0f;
        }
        inverse = MaxLevel / amax;
        return amax / MaxLevel;
    }

    /// <summary>round_half_even(x · inverse), clamped to [-127, 127]: the rule for activations, at every vector width.</summary>
    public static sbyte QuantizeActivation(float x, float inverse)
    {
        float r = (float)Math.Round(x * inverse, MidpointRounding.ToEven);
        return (sbyte)Math.Max(-MaxLevel, Math.Min(MaxLevel, r));
    }

    /// <summary>Dequantizes one output: two float roundings, in this order, on every path.</summary>
    public static float Dequantize(int sum, float activationScale, float weightScale, float bias)
    {
        float combined = activationScale * weightScale;
        float product = sum * combined;
        return product + bias;
    }

    private static sbyte Code(double value)
    {
        double r = Math.Round(value, MidpointRounding.ToEven);
        return (sbyte)Math.Max(-MaxLevel, Math.Min(MaxLevel, r));
    }
}
