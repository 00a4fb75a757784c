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
    public static void Run(ref float source, ref float destination, nint rows, nint channels, nint inner, ref float scale, ref float shift) =>
        Run<IdentityOperator>(ref source, ref destination, rows, channels, inner, ref scale, ref shift, ref Unsafe.NullRef<float>());

    /// <summary><see cref="Run"/> with <typeparamref name="TEpilogue"/> applied to each value as it is stored.</summary>
    public static void Run<TEpilogue>(ref float source, ref float destination, nint rows, nint channels, nint inner, ref float scale, ref float shift)
        where TEpilogue : struct, IUnaryOperator =>
        Run<TEpilogue>(ref source, ref destination, rows, channels, inner, ref scale, ref shift, ref Unsafe.NullRef<float>());

    /// <summary>
    /// <see cref="Run"/> with <typeparamref name="TEpilogue"/> applied to each value as it is stored (the ReLU after a
    /// BatchNorm that follows a transposed convolution, say), and with <paramref name="bias"/>, where not null, one value
    /// per channel added first (that convolution's bias): <c>y = TEpilogue((x + bias[c]) · scale[c] + shift[c])</c>, each
    /// step rounded as the separate ops would, in one pass instead of three.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(ref float source, ref float destination, nint rows, nint channels, nint inner, ref float scale, ref float shift,
        ref float bias)
        where TEpilogue : struct, IUnaryOperator
    {
        bool biased = !Unsafe.IsNullRef(ref bias);
        for (nint r = 0; r < rows; r++)
        {
            for (nint c = 0; c < channels; c++)
            {
                ref float x = ref Unsafe.Add(ref source, (r * channels + c) * inner);
                ref float y = ref Unsafe.Add(ref destination, (r * channels + c) * inner);
                float a = Unsafe.Add(ref scale, c), b = Unsafe.Add(ref shift, c);
                nint i = 0;
                if (biased)
                {
                    float p = Unsafe.Add(ref bias, c);
                    if (Vector256.IsHardwareAccelerated)
                    {
                        Vector256<float> va = Vector256.Create(a), vb = Vector256.Create(b), vp = Vector256.Create(p);
                        for (; i + 8 <= inner; i += 8) TEpilogue.Invoke((Vector256.LoadUnsafe(ref x, (nuint)i) + vp) * va + vb).StoreUnsafe(ref y, (nuint)i);
                    }
                    for (; i < inner; i++) Unsafe.Add(ref y, i) = TEpilogue.Invoke((Unsafe.Add(ref x, i) + p) * a + b);
                    continue;
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<float> va = Vector256.Create(a), vb = Vector256.Create(b);
                    for (; i + 8 <= inner; i += 8) TEpilogue.Invoke(Vector256.LoadUnsafe(ref x, (nuint)i) * va + vb).StoreUnsafe(ref y, (nuint)i);
                }
                for (; i < inner; i++) Unsafe.Add(ref y, i) = TEpilogue.Invoke(Unsafe.Add(ref x, i) * a + b);
            }
        }
    }
}
