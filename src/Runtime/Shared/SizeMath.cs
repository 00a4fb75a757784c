// Compiled into both the runtime and the generator: one rule for how large a tensor, the arena and the weights may be,
// and products of dimensions that cannot wrap. Element counts are multiplied in 64 bits and saturate, so a hostile
// shape such as [5, 858993460] (2^32 + 4 values) is "too large", never "4".
using System.Collections.Generic;

namespace ModelCompiler.Kernels;

/// <summary>Size limits and overflow-safe products of dimensions.</summary>
internal static class SizeMath
{
    /// <summary>
    /// The most floats one tensor, the arena or the weights buffer may hold: what an array or a <c>Span&lt;float&gt;</c>
    /// can index (<c>Array.MaxLength</c>). Every int offset, stride and count in generated code stays below it.
    /// </summary>
    public const int MaxElements = 0x7FFFFFC7;

    /// <summary>The product of <paramref name="dims"/>, saturating at <see cref="long.MaxValue"/>; -1 when a dimension is negative.</summary>
    public static long Product(IEnumerable<long> dims)
    {
        long product = 1;
        bool saturated = false;
        foreach (long d in dims)
        {
            if (d < 0) return -1;
            if (d == 0) return 0;
            if (saturated || product > long.MaxValue / d) saturated = true;
            else product *= d;
        }
        return saturated ? long.MaxValue : product;
    }

    /// <summary>The product of <paramref name="dims"/>, saturating at <see cref="long.MaxValue"/>; -1 when a dimension is negative.</summary>
    public static long Product(IEnumerable<int> dims)
    {
        long product = 1;
        foreach (int d in dims)
        {
            if (d < 0) return -1;
            if (d == 0) return 0;
            product = product > long.MaxValue / d ? long.MaxValue : product * d;
        }
        return product;
    }

    /// <summary>Whether a tensor of <paramref name="count"/> floats fits one span (at least one value, at most <see cref="MaxElements"/>).</summary>
    public static bool Fits(long count) => count >= 1 && count <= MaxElements;

    /// <summary>
    /// Positions of a sliding window (convolution, pooling) along one axis: <c>(input + 2·padding − extent) / stride + 1</c>,
    /// where <c>extent = dilation·(kernel − 1) + 1</c>; 0 when the window does not fit, including when it overhangs the
    /// padded input by less than a stride (C#'s division truncates toward zero, so the formula alone would say 1 and a
    /// kernel would read past the input). Computed in 64 bits.
    /// </summary>
    public static long WindowPositions(long input, long padding, long kernel, long stride, long dilation = 1)
    {
        long span = input + 2 * padding - (dilation * (kernel - 1) + 1);
        return span < 0 || stride <= 0 ? 0 : span / stride + 1;
    }

    /// <summary>A count with thousands separators, for messages.</summary>
    public static string Format(long count) => count == long.MaxValue ? "more than 2^63" : count.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
}
