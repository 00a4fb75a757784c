using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>Softmax and log-softmax over the last dimension, one row at a time.</summary>
/// <remarks>
/// The maximum is subtracted first, so large inputs do not overflow. Each row is vectorized at the widest width its
/// length allows (<c>Vector512.Exp</c> and friends), with a scalar tail per row, so a value takes the same path
/// whatever the batch.
/// </remarks>
public static class RowSoftmax
{
    /// <summary>
    /// Effectively computes, for each row, <c>e^(x − max) / Σ e^(x − max)</c>, or with <paramref name="log"/>
    /// <c>x − max − log Σ e^(x − max)</c>. A row holding NaN gives NaN. In place is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float source, ref float destination, nint rows, nint width, bool log)
    {
        for (nint r = 0; r < rows; r++)
        {
            ref float x = ref Unsafe.Add(ref source, r * width);
            ref float y = ref Unsafe.Add(ref destination, r * width);
            float max = Max(ref x, width);
            // y = e^(x - max), sum = Σ y
            float sum = 0f;
            nint i = 0;
            if (Vector512.IsHardwareAccelerated && width >= 16)
            {
                Vector512<float> m = Vector512.Create(max), s = Vector512<float>.Zero;
                for (; i + 16 <= width; i += 16)
                {
                    Vector512<float> e = Vector512.Exp(Vector512.LoadUnsafe(ref x, (nuint)i) - m);
                    if (!log) e.StoreUnsafe(ref y, (nuint)i);
                    s += e;
                }
                sum = Vector512.Sum(s);
            }
            else if (Vector256.IsHardwareAccelerated && width >= 8)
            {
                Vector256<float> m = Vector256.Create(max), s = Vector256<float>.Zero;
                for (; i + 8 <= width; i += 8)
                {
                    Vector256<float> e = Vector256.Exp(Vector256.LoadUnsafe(ref x, (nuint)i) - m);
                    if (!log) e.StoreUnsafe(ref y, (nuint)i);
                    s += e;
                }
                sum = Vector256.Sum(s);
            }
            for (; i < width; i++)
            {
                float e = MathF.Exp(Unsafe.Add(ref x, i) - max);
                if (!log) Unsafe.Add(ref y, i) = e;
                sum += e;
            }

            if (log)
            {
                float shift = max + MathF.Log(sum);
                for (i = 0; i < width; i++) Unsafe.Add(ref y, i) = Unsafe.Add(ref x, i) - shift;
            }
            else
            {
                float inverse = 1f / sum;
                for (i = 0; i < width; i++) Unsafe.Add(ref y, i) *= inverse;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Max(ref float x, nint width)
    {
        float max = float.NegativeInfinity;
        nint i = 0;
        if (Vector256.IsHardwareAccelerated && width >= 8)
        {
            Vector256<float> m = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= width; i += 8) m = Vector256.Max(m, Vector256.LoadUnsafe(ref x, (nuint)i));
            for (int l = 0; l < 8; l++) max = MathF.Max(max, m.GetElement(l));
        }
        for (; i < width; i++) max = MathF.Max(max, Unsafe.Add(ref x, i));
        return max;
    }
}
