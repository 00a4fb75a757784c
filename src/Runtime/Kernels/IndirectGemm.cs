using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// A GEMM whose right-hand rows are found through a table of offsets instead of being packed: row <c>κ</c> of the right
/// side, 16 columns of it, is the 16 consecutive floats at <c>b + offsets[κ] + column</c>. A stride-1 convolution over
/// zero-padded planes is such a product when its output positions are counted along the padded width ("wide"
/// positions): filter tap <c>(c, u, v)</c> reads every position at one fixed offset, <c>c·hp·wp + u·wp + v</c>
/// (XNNPACK's indirection buffer and MLAS's NCHWc kernels avoid im2col's copy the same way). Nothing is gathered; the
/// columns that fall in the padding are computed and dropped. The tiles are <see cref="PackedLinear"/>'s 6-, 4- and
/// 1-row AVX2 tiles with the right-hand row read through the table, each output summed in the same order (0, then
/// <c>k = 0, 1, 2, …</c>, one FMA each), so the products are bit for bit those of the gathered GEMM.
/// </summary>
public static class IndirectGemm
{
    private const int P = PanelLayout.PanelWidth;

    /// <summary>Whether this CPU runs the tiles (256-bit vectors without 512-bit ones: where the im2col GEMM takes every layer of 8 outputs or more).</summary>
    public static bool IsSupported => Vector256.IsHardwareAccelerated && !Vector512.IsHardwareAccelerated;

    /// <summary>
    /// <c>c[r, j] = Σₖ a[r, κ] · b[offsets[κ] + j]</c> for <c>r &lt; rows</c>, <c>j &lt; panels · 16</c> (whole panels:
    /// every column is read and stored, so <paramref name="b"/> must be readable 16 floats past each row's last column and
    /// <paramref name="c"/>'s rows <paramref name="ldc"/> ≥ the columns apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float a, nint lda, nint rows, ref float b, ref int offsets, nint k, nint panels, ref float c, nint ldc)
    {
        if (!IsSupported)
        {
            // Not reached from the convolution (it asks IsSupported); kept exact and simple for any other caller.
            for (nint r = 0; r < rows; r++)
                for (nint j = 0; j < panels * P; j++)
                {
                    float sum = 0;
                    for (nint i = 0; i < k; i++) sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref a, r * lda + i), Unsafe.Add(ref b, Unsafe.Add(ref offsets, i) + j), sum);
                    Unsafe.Add(ref c, r * ldc + j) = sum;
                }
            return;
        }
        for (nint p = 0; p < panels; p++)
        {
            ref float bp = ref Unsafe.Add(ref b, p * P);
            ref float cp = ref Unsafe.Add(ref c, p * P);
            nint r = 0;
            for (; r + 6 <= rows; r += 6) Tile6(ref Unsafe.Add(ref a, r * lda), lda, ref bp, ref offsets, k, ref Unsafe.Add(ref cp, r * ldc), ldc);
            for (; r + 4 <= rows; r += 4) Tile4(ref Unsafe.Add(ref a, r * lda), lda, ref bp, ref offsets, k, ref Unsafe.Add(ref cp, r * ldc), ldc);
            for (; r < rows; r++) Tile1(ref Unsafe.Add(ref a, r * lda), ref bp, ref offsets, k, ref Unsafe.Add(ref cp, r * ldc));
        }
    }

    /// <summary>6 rows × one panel: <see cref="PackedLinear"/>'s 6 × 16 tile, 12 accumulators.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile6(ref float a, nint lda, ref float b, ref int offsets, nint k, ref float c, nint ldc)
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, lda);
        ref float a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref float a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref float a4 = ref Unsafe.Add(ref a, 4 * lda);
        ref float a5 = ref Unsafe.Add(ref a, 5 * lda);
        Vector256<float> c0l = default, c0h = default, c1l = default, c1h = default, c2l = default, c2h = default;
        Vector256<float> c3l = default, c3h = default, c4l = default, c4h = default, c5l = default, c5h = default;
        for (nint i = 0; i < k; i++)
        {
            ref float w = ref Unsafe.Add(ref b, Unsafe.Add(ref offsets, i));
            Vector256<float> wl = Vector256.LoadUnsafe(ref w);
            Vector256<float> wh = Vector256.LoadUnsafe(ref w, 8);
            Vector256<float> x = Vector256.Create(Unsafe.Add(ref a0, i));
            c0l = Vector256.MultiplyAddEstimate(x, wl, c0l); c0h = Vector256.MultiplyAddEstimate(x, wh, c0h);
            x = Vector256.Create(Unsafe.Add(ref a1, i));
            c1l = Vector256.MultiplyAddEstimate(x, wl, c1l); c1h = Vector256.MultiplyAddEstimate(x, wh, c1h);
            x = Vector256.Create(Unsafe.Add(ref a2, i));
            c2l = Vector256.MultiplyAddEstimate(x, wl, c2l); c2h = Vector256.MultiplyAddEstimate(x, wh, c2h);
            x = Vector256.Create(Unsafe.Add(ref a3, i));
            c3l = Vector256.MultiplyAddEstimate(x, wl, c3l); c3h = Vector256.MultiplyAddEstimate(x, wh, c3h);
            x = Vector256.Create(Unsafe.Add(ref a4, i));
            c4l = Vector256.MultiplyAddEstimate(x, wl, c4l); c4h = Vector256.MultiplyAddEstimate(x, wh, c4h);
            x = Vector256.Create(Unsafe.Add(ref a5, i));
            c5l = Vector256.MultiplyAddEstimate(x, wl, c5l); c5h = Vector256.MultiplyAddEstimate(x, wh, c5h);
        }
        Store(c0l, c0h, ref c);
        Store(c1l, c1h, ref Unsafe.Add(ref c, ldc));
        Store(c2l, c2h, ref Unsafe.Add(ref c, 2 * ldc));
        Store(c3l, c3h, ref Unsafe.Add(ref c, 3 * ldc));
        Store(c4l, c4h, ref Unsafe.Add(ref c, 4 * ldc));
        Store(c5l, c5h, ref Unsafe.Add(ref c, 5 * ldc));
    }

    /// <summary>4 rows × one panel (the rows a 6-row tiling leaves).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile4(ref float a, nint lda, ref float b, ref int offsets, nint k, ref float c, nint ldc)
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, lda);
        ref float a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref float a3 = ref Unsafe.Add(ref a, 3 * lda);
        Vector256<float> c0l = default, c0h = default, c1l = default, c1h = default, c2l = default, c2h = default, c3l = default, c3h = default;
        for (nint i = 0; i < k; i++)
        {
            ref float w = ref Unsafe.Add(ref b, Unsafe.Add(ref offsets, i));
            Vector256<float> wl = Vector256.LoadUnsafe(ref w);
            Vector256<float> wh = Vector256.LoadUnsafe(ref w, 8);
            Vector256<float> x0 = Vector256.Create(Unsafe.Add(ref a0, i));
            Vector256<float> x1 = Vector256.Create(Unsafe.Add(ref a1, i));
            Vector256<float> x2 = Vector256.Create(Unsafe.Add(ref a2, i));
            Vector256<float> x3 = Vector256.Create(Unsafe.Add(ref a3, i));
            c0l = Vector256.MultiplyAddEstimate(x0, wl, c0l); c0h = Vector256.MultiplyAddEstimate(x0, wh, c0h);
            c1l = Vector256.MultiplyAddEstimate(x1, wl, c1l); c1h = Vector256.MultiplyAddEstimate(x1, wh, c1h);
            c2l = Vector256.MultiplyAddEstimate(x2, wl, c2l); c2h = Vector256.MultiplyAddEstimate(x2, wh, c2h);
            c3l = Vector256.MultiplyAddEstimate(x3, wl, c3l); c3h = Vector256.MultiplyAddEstimate(x3, wh, c3h);
        }
        Store(c0l, c0h, ref c);
        Store(c1l, c1h, ref Unsafe.Add(ref c, ldc));
        Store(c2l, c2h, ref Unsafe.Add(ref c, 2 * ldc));
        Store(c3l, c3h, ref Unsafe.Add(ref c, 3 * ldc));
    }

    /// <summary>One row × one panel.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1(ref float a, ref float b, ref int offsets, nint k, ref float c)
    {
        Vector256<float> lo = default, hi = default;
        for (nint i = 0; i < k; i++)
        {
            ref float w = ref Unsafe.Add(ref b, Unsafe.Add(ref offsets, i));
            Vector256<float> x = Vector256.Create(Unsafe.Add(ref a, i));
            lo = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w), lo);
            hi = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w, 8), hi);
        }
        Store(lo, hi, ref c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> lo, Vector256<float> hi, ref float destination)
    {
        lo.StoreUnsafe(ref destination);
        hi.StoreUnsafe(ref destination, 8);
    }
}
