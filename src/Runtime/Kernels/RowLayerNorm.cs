using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>Layer normalization over the last dimension, one row at a time.</summary>
public static class RowLayerNorm
{
    /// <summary>
    /// Effectively computes, for each row, <c>(x − mean) / √(var + eps) · gamma + beta</c> with the biased variance
    /// (PyTorch's <c>nn.LayerNorm</c> over the last dimension). Two passes over the row (mean, then variance), so the
    /// variance does not lose precision to cancellation. In place is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float source, ref float destination, nint rows, nint width, ref float gamma, ref float beta, float epsilon)
    {
        for (nint r = 0; r < rows; r++)
        {
            ref float x = ref Unsafe.Add(ref source, r * width);
            ref float y = ref Unsafe.Add(ref destination, r * width);
            float mean = Sum(ref x, width, 0f, square: false) / width;
            float variance = Sum(ref x, width, mean, square: true) / width;
            float inverse = 1f / MathF.Sqrt(variance + epsilon);
            nint i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<float> m = Vector512.Create(mean), s = Vector512.Create(inverse);
                for (; i + 16 <= width; i += 16)
                {
                    Vector512<float> v = (Vector512.LoadUnsafe(ref x, (nuint)i) - m) * s;
                    (v * Vector512.LoadUnsafe(ref gamma, (nuint)i) + Vector512.LoadUnsafe(ref beta, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> m = Vector256.Create(mean), s = Vector256.Create(inverse);
                for (; i + 8 <= width; i += 8)
                {
                    Vector256<float> v = (Vector256.LoadUnsafe(ref x, (nuint)i) - m) * s;
                    (v * Vector256.LoadUnsafe(ref gamma, (nuint)i) + Vector256.LoadUnsafe(ref beta, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
                }
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                Vector128<float> m = Vector128.Create(mean), s = Vector128.Create(inverse);
                for (; i + 4 <= width; i += 4)
                {
                    Vector128<float> v = (Vector128.LoadUnsafe(ref x, (nuint)i) - m) * s;
                    (v * Vector128.LoadUnsafe(ref gamma, (nuint)i) + Vector128.LoadUnsafe(ref beta, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
                }
            }
            for (; i < width; i++) Unsafe.Add(ref y, i) = (Unsafe.Add(ref x, i) - mean) * inverse * Unsafe.Add(ref gamma, i) + Unsafe.Add(ref beta, i);
        }
    }

    /// <summary>
    /// Effectively computes <see cref="Run"/> on <c>a + b</c> (a residual connection and the LayerNorm after it, as in a
    /// post-norm transformer block): each row's sum is formed in <paramref name="destination"/>, rounded to float as
    /// the separate Add would, then normalized in place while it is in cache. <paramref name="destination"/> must not
    /// overlap <paramref name="a"/> or <paramref name="b"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void RunResidual(ref float a, ref float b, ref float destination, nint rows, nint width, ref float gamma, ref float beta, float epsilon)
    {
        for (nint r = 0; r < rows; r++)
        {
            ref float x = ref Unsafe.Add(ref a, r * width), z = ref Unsafe.Add(ref b, r * width), y = ref Unsafe.Add(ref destination, r * width);
            nint i = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= width; i += 16) (Vector512.LoadUnsafe(ref x, (nuint)i) + Vector512.LoadUnsafe(ref z, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
            else if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= width; i += 8) (Vector256.LoadUnsafe(ref x, (nuint)i) + Vector256.LoadUnsafe(ref z, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
            else if (Vector128.IsHardwareAccelerated)
                for (; i + 4 <= width; i += 4) (Vector128.LoadUnsafe(ref x, (nuint)i) + Vector128.LoadUnsafe(ref z, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
            for (; i < width; i++) Unsafe.Add(ref y, i) = Unsafe.Add(ref x, i) + Unsafe.Add(ref z, i);
            Run(ref y, ref y, 1, width, ref gamma, ref beta, epsilon);
        }
    }

    /// <summary>Σ x, or Σ (x − center)² with <paramref name="square"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Sum(ref float x, nint width, float center, bool square)
    {
        float sum = 0f;
        nint i = 0;
        if (Vector512.IsHardwareAccelerated && width >= 16)
        {
            Vector512<float> c = Vector512.Create(center), s = Vector512<float>.Zero;
            for (; i + 16 <= width; i += 16)
            {
                Vector512<float> v = Vector512.LoadUnsafe(ref x, (nuint)i) - c;
                s += square ? v * v : v;
            }
            sum = Vector512.Sum(s);
        }
        else if (Vector256.IsHardwareAccelerated && width >= 8)
        {
            // Two accumulators: one add chain would wait on the adder's latency every 8 floats. (128-bit machines keep the
            // scalar sum: an int8 decoder quantizes the norm's output, and the sum reordered in 4 lanes moved one code of
            // TinyLlamaInt8 on a Cortex-A72, 1.1e-2 from the reference against the 1e-4 its width check allows.)
            Vector256<float> c = Vector256.Create(center), s0 = Vector256<float>.Zero, s1 = Vector256<float>.Zero;
            for (; i + 16 <= width; i += 16)
            {
                Vector256<float> v0 = Vector256.LoadUnsafe(ref x, (nuint)i) - c, v1 = Vector256.LoadUnsafe(ref x, (nuint)i + 8) - c;
                s0 += square ? v0 * v0 : v0;
                s1 += square ? v1 * v1 : v1;
            }
            for (; i + 8 <= width; i += 8)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref x, (nuint)i) - c;
                s0 += square ? v * v : v;
            }
            sum = Vector256.Sum(s0 + s1);
        }
        for (; i < width; i++)
        {
            float v = Unsafe.Add(ref x, i) - center;
            sum += square ? v * v : v;
        }
        return square ? sum : sum + center * width;
    }
}
