using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>A per-channel scale and shift: an inference BatchNorm that could not be folded into the layer before it.</summary>
public static class ChannelAffine
{
    /// <summary>
    /// Effectively computes <c>y[r, c, i] = x[r, c, i] · scale[c] + shift[c]</c> over <paramref name="rows"/> samples of
    /// <paramref name="channels"/> channels of <paramref name="inner"/> values. In place is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float source, ref float destination, nint rows, nint channels, nint inner, ref float scale, ref float shift)
    {
        for (nint r = 0; r < rows; r++)
        {
            for (nint c = 0; c < channels; c++)
            {
                ref float x = ref Unsafe.Add(ref source, (r * channels + c) * inner);
                ref float y = ref Unsafe.Add(ref destination, (r * channels + c) * inner);
                float a = Unsafe.Add(ref scale, c), b = Unsafe.Add(ref shift, c);
                nint i = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<float> va = Vector256.Create(a), vb = Vector256.Create(b);
                    for (; i + 8 <= inner; i += 8) (Vector256.LoadUnsafe(ref x, (nuint)i) * va + vb).StoreUnsafe(ref y, (nuint)i);
                }
                for (; i < inner; i++) Unsafe.Add(ref y, i) = Unsafe.Add(ref x, i) * a + b;
            }
        }
    }
}
