using System;

namespace ModelCompiler.Kernels;

/// <summary>How GridSample interpolates (ONNX's <c>mode</c>: bilinear/linear, nearest, bicubic/cubic).</summary>
public enum GridSampleMode
{
    /// <summary>The four neighbours, weighted by distance.</summary>
    Linear,

    /// <summary>The nearest pixel (halves rounded to even, as <c>nearbyint</c>).</summary>
    Nearest,

    /// <summary>Sixteen neighbours by the cubic convolution kernel with A = −0.75.</summary>
    Cubic,
}

/// <summary>What GridSample reads outside the input (ONNX's <c>padding_mode</c>).</summary>
public enum GridSamplePadding
{
    /// <summary>Zero outside.</summary>
    Zeros,

    /// <summary>The nearest border pixel.</summary>
    Border,

    /// <summary>The input mirrored at its borders.</summary>
    Reflection,
}

/// <summary>
/// GridSample's coordinates, as PyTorch's grid_sample computes them (grid_sampler_unnormalize, compute_coordinates,
/// reflect_coordinates, the cubic convolution coefficients): shared by the kernel (Kernels.GridSample) and the
/// generator's reference evaluation. In float, with floors of doubles (exact for floats; netstandard2.0 has no MathF).
/// </summary>
public static class GridSampling
{
    /// <summary>A grid coordinate in [−1, 1] as a pixel coordinate (corner pixels' centres at ±1 when aligned, their outer edges otherwise).</summary>
    public static float Unnormalize(float coordinate, int size, bool alignCorners) =>
        alignCorners ? (coordinate + 1f) / 2f * (size - 1) : ((coordinate + 1f) * size - 1f) / 2f;

    /// <summary>A pixel coordinate moved inside by the padding mode: clamped (border), mirrored then clamped (reflection), or as it is (zeros).</summary>
    public static float Source(float coordinate, int size, GridSamplePadding padding, bool alignCorners)
    {
        if (padding == GridSamplePadding.Border) return Clip(coordinate, size);
        if (padding == GridSamplePadding.Reflection)
            return Clip(alignCorners ? Reflect(coordinate, 0, 2 * (size - 1)) : Reflect(coordinate, -1, 2 * size - 1), size);
        return coordinate;
    }

    private static float Clip(float coordinate, int size) => Math.Min(size - 1, Math.Max(coordinate, 0f));

    /// <summary>Mirrors a coordinate into [low/2, high/2] (PyTorch's reflect_coordinates; the remainder as x − ⌊x / span⌋·span).</summary>
    private static float Reflect(float coordinate, int twiceLow, int twiceHigh)
    {
        if (twiceLow == twiceHigh) return 0f;
        float min = twiceLow / 2f, span = (twiceHigh - twiceLow) / 2f;
        float distance = Math.Abs(coordinate - min);
        float flips = Floor(distance / span), extra = distance - flips * span;
        return flips - 2f * Floor(flips / 2f) == 0f ? extra + min : span - extra + min;
    }

    /// <summary>The nearest whole number, halves to even (C's <c>nearbyint</c>), from floors alone.</summary>
    public static float RoundHalfEven(float v)
    {
        float r = Floor(v), d = v - r;
        return d > 0.5f ? r + 1f : d < 0.5f ? r : r - 2f * Floor(r / 2f) == 0f ? r : r + 1f;
    }

    /// <summary>The cubic convolution weight (A = −0.75) of neighbour <paramref name="index"/> (0 to 3) at fraction <paramref name="t"/>.</summary>
    public static float CubicWeight(int index, float t)
    {
        const float A = -0.75f;
        static float Near(float x) => ((A + 2f) * x - (A + 3f)) * x * x + 1f;
        static float Far(float x) => ((A * x - 5f * A) * x + 8f * A) * x - 4f * A;
        return index switch { 0 => Far(t + 1f), 1 => Near(t), 2 => Near(1f - t), _ => Far(2f - t) };
    }

    private static float Floor(float v) => (float)Math.Floor(v);
}
