using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>RMS normalization over the last dimension, one row at a time.</summary>
public static class RowRmsNorm
{
    /// <summary>
    /// Effectively computes, for each row, <c>x / √(mean(x²) + ε) · gamma</c> (Llama's <c>LlamaRMSNorm</c>). One pass for
    /// the sum of squares (RowLayerNorm's, about zero), one to scale. In place is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float source, ref float destination, nint rows, nint width, ref float gamma, float epsilon)
    {
        for (nint r = 0; r < rows; r++)
        {
            ref float x = ref Unsafe.Add(ref source, r * width);
            ref float y = ref Unsafe.Add(ref destination, r * width);
            float inverse = 1f / MathF.Sqrt(RowLayerNorm.Sum(ref x, width, 0f, square: true) / width + epsilon);
            nint i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> s = Vector256.Create(inverse);
                for (; i + 8 <= width; i += 8)
                    (Vector256.LoadUnsafe(ref x, (nuint)i) * s * Vector256.LoadUnsafe(ref gamma, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                Vector128<float> s = Vector128.Create(inverse);
                for (; i + 4 <= width; i += 4)
                    (Vector128.LoadUnsafe(ref x, (nuint)i) * s * Vector128.LoadUnsafe(ref gamma, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
            }
            for (; i < width; i++) Unsafe.Add(ref y, i) = Unsafe.Add(ref x, i) * inverse * Unsafe.Add(ref gamma, i);
        }
    }
}
