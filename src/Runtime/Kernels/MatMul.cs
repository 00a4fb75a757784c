using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>Matrix products between activations (e.g. attention written out as <c>q.MatMul(k.Transpose(-2, -1))</c>).</summary>
public static class MatMul
{
    /// <summary>
    /// Effectively computes <paramref name="count"/> products <c>c = a · b</c> of <c>[m, k] · [k, n]</c>: the p-th reads
    /// <paramref name="a"/> at <c>p·m·k</c>, <paramref name="b"/> at <c>p·bStride</c> (0: one matrix for all) and writes
    /// <paramref name="c"/> at <c>p·m·n</c>. Each row of c is built as <c>Σₜ a[i, t]·b[t, :]</c>, in order of t, vectorized
    /// along n (b's rows are read contiguously), then passed through <typeparamref name="TEpilogue"/> as it is stored.
    /// c must not overlap a or b. With <paramref name="bPeriod"/> &gt; 0 the p-th reads b at <c>(p mod bPeriod)·bStride</c>:
    /// a cycle of weight matrices every sample reads again (a grouped convolution's filters).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(ref float a, ref float b, ref float c, nint count, int m, int k, int n, int bStride, int bPeriod = 0)
        where TEpilogue : struct, IUnaryOperator
    {
        for (nint p = 0; p < count; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, (bPeriod > 0 ? p % bPeriod : p) * bStride);
            for (nint i = 0; i < m; i++)
            {
                ref float row = ref Unsafe.Add(ref a, (p * m + i) * k);
                ref float output = ref Unsafe.Add(ref c, (p * m + i) * n);
                Row<TEpilogue>(ref row, ref bp, ref output, k, n);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TEpilogue>(ref float a, ref float b, ref float c, nint k, nint n)
        where TEpilogue : struct, IUnaryOperator
    {
        nint j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 16 <= n; j += 16)
            {
                Vector512<float> sum = Vector512<float>.Zero;
                for (nint t = 0; t < k; t++) sum = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a, t)), Vector512.LoadUnsafe(ref b, (nuint)(t * n + j)), sum);
                TEpilogue.Invoke(sum).StoreUnsafe(ref c, (nuint)j);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 8 <= n; j += 8)
            {
                Vector256<float> sum = Vector256<float>.Zero;
                for (nint t = 0; t < k; t++) sum = Vector256.MultiplyAddEstimate(Vector256.Create(Unsafe.Add(ref a, t)), Vector256.LoadUnsafe(ref b, (nuint)(t * n + j)), sum);
                TEpilogue.Invoke(sum).StoreUnsafe(ref c, (nuint)j);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; j + 4 <= n; j += 4)
            {
                Vector128<float> sum = Vector128<float>.Zero;
                for (nint t = 0; t < k; t++) sum = Vector128.MultiplyAddEstimate(Vector128.Create(Unsafe.Add(ref a, t)), Vector128.LoadUnsafe(ref b, (nuint)(t * n + j)), sum);
                TEpilogue.Invoke(sum).StoreUnsafe(ref c, (nuint)j);
            }
        }
        for (; j < n; j++)
        {
            float sum = 0f;
            for (nint t = 0; t < k; t++) sum = float.MultiplyAddEstimate(Unsafe.Add(ref a, t), Unsafe.Add(ref b, t * n + j), sum);
            Unsafe.Add(ref c, j) = TEpilogue.Invoke(sum);
        }
    }
}
