using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// The fully connected layer: a register-blocked GEMM over weights pre-packed in <see cref="PanelLayout"/>,
/// with the bias and an element-wise epilogue fused into the store.
/// </summary>
/// <remarks>
/// For each 16-column panel, rows are taken in register tiles (8 rows at 512 bits, 6 then 4 at 256, 2 at 128):
/// one panel load feeds one FMA per row, each row's value broadcast straight from the activation row
/// (packing the activations did not pay at these sizes: ../shared/PERFORMANCE-NOTES.md). Rows left over
/// (all of them at batch 1, a matrix-vector product) go one at a time against four panels at once, so one
/// broadcast feeds four independent accumulators. Every path sums each output in the same order, so
/// results do not depend on batch size or on a sample's position in the batch.
/// Accumulators are separate locals so the JIT keeps them in registers.
/// </remarks>
public static class PackedLinear
{
    private const int P = PanelLayout.PanelWidth;

    /// <summary>
    /// Effectively computes <c>c[r, j] = TEpilogue(bias[j] + Σₖ a[r, κ] · W[j, κ])</c> for <c>r &lt; rows</c>,
    /// <c>j &lt; n</c>, with <c>W</c> packed by <see cref="PanelLayout.Pack"/> and the bias padded to whole panels.
    /// <paramref name="c"/> must not overlap <paramref name="a"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(ref float a, nint lda, nint rows, ref float packedWeights, ref float paddedBias,
        nint k, nint n, ref float c, nint ldc)
        where TEpilogue : struct, IUnaryOperator =>
        Core<TEpilogue>(ref a, lda, rows, ref packedWeights, P, k * P, ref paddedBias, k, n, ref c, ldc);

    /// <summary>
    /// <see cref="Run{TEpilogue}(ref float, nint, nint, ref float, ref float, nint, nint, ref float, nint)"/> with the right-hand
    /// matrix read in place, row-major <c>[k, n]</c> with rows <paramref name="ldb"/> apart, instead of packed: its 16-column
    /// panels are the same columns of every row (a 1×1 convolution's input is already such a matrix, channels by
    /// positions, so nothing is gathered). <paramref name="n"/> must be whole panels (the tiles read 16 columns).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void RunRowMajor<TEpilogue>(ref float a, nint lda, nint rows, ref float b, nint ldb, ref float paddedBias,
        nint k, nint n, ref float c, nint ldc)
        where TEpilogue : struct, IUnaryOperator
    {
        if (n % P != 0) throw new ArgumentOutOfRangeException(nameof(n), n, "Whole 16-column panels only.");
        Core<TEpilogue>(ref a, lda, rows, ref b, ldb, P, ref paddedBias, k, n, ref c, ldc);
    }

    /// <summary>
    /// The product over panels of the right-hand matrix that start <paramref name="panelStride"/> floats apart and whose
    /// rows of 16 are <paramref name="ws"/> apart (packed: 16 and k·16; row-major: the row length and 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Core<TEpilogue>(ref float a, nint lda, nint rows, ref float packedWeights, nint ws, nint panelStride, ref float paddedBias,
        nint k, nint n, ref float c, nint ldc)
        where TEpilogue : struct, IUnaryOperator
    {
        nint panels = (n + P - 1) / P;

        // Rows in multi-row register tiles, one or two panels at a time (the panels stay in L2 across row tiles).
        nint tiled = 0;
        for (nint p = 0; p < panels; p++)
        {
            ref float w = ref Unsafe.Add(ref packedWeights, p * panelStride);
            ref float bias = ref Unsafe.Add(ref paddedBias, p * P);
            ref float cp = ref Unsafe.Add(ref c, p * P);
            nint cols = Math.Min(P, n - p * P);
            nint r = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                if (p + 2 <= panels && rows >= 8)
                {
                    // 8 rows × 32 columns: 16 accumulators, enough independent FMAs for two FMA pipes.
                    nint cols2 = Math.Min(P, n - (p + 1) * P);
                    for (; r + 8 <= rows; r += 8)
                        Tile512x8x2<TEpilogue>(ref Unsafe.Add(ref a, r * lda), lda, ref w, ws, panelStride, ref bias, k, ref Unsafe.Add(ref cp, r * ldc), ldc, cols2);
                    for (nint q = p; q < p + 2; q++)
                    {
                        nint rq = r;
                        for (; rq + 4 <= rows; rq += 4)
                            Tile512x4<TEpilogue>(ref Unsafe.Add(ref a, rq * lda), lda, ref Unsafe.Add(ref packedWeights, q * panelStride), ws, ref Unsafe.Add(ref paddedBias, q * P), k,
                                ref Unsafe.Add(ref c, q * P + rq * ldc), ldc, Math.Min(P, n - q * P));
                        tiled = rq;
                    }
                    p++;
                    continue;
                }
                for (; r + 8 <= rows; r += 8) Tile512x8<TEpilogue>(ref Unsafe.Add(ref a, r * lda), lda, ref w, ws, ref bias, k, ref Unsafe.Add(ref cp, r * ldc), ldc, cols);
                for (; r + 4 <= rows; r += 4) Tile512x4<TEpilogue>(ref Unsafe.Add(ref a, r * lda), lda, ref w, ws, ref bias, k, ref Unsafe.Add(ref cp, r * ldc), ldc, cols);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                for (; r + 6 <= rows; r += 6) Tile256x6<TEpilogue>(ref Unsafe.Add(ref a, r * lda), lda, ref w, ws, ref bias, k, ref Unsafe.Add(ref cp, r * ldc), ldc, cols);
                for (; r + 4 <= rows; r += 4) Tile256x4<TEpilogue>(ref Unsafe.Add(ref a, r * lda), lda, ref w, ws, ref bias, k, ref Unsafe.Add(ref cp, r * ldc), ldc, cols);
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                for (; r + 2 <= rows; r += 2) Tile128x2<TEpilogue>(ref Unsafe.Add(ref a, r * lda), lda, ref w, ws, ref bias, k, ref Unsafe.Add(ref cp, r * ldc), ldc, cols);
            }
            tiled = r;
        }

        // The remaining rows (all of them at batch 1: a matrix-vector product, bound by streaming the weights)
        // one at a time, several panels per pass so that one broadcast feeds several independent FMAs.
        for (nint r = tiled; r < rows; r++)
            SingleRow<TEpilogue>(ref Unsafe.Add(ref a, r * lda), ref packedWeights, ws, panelStride, ref paddedBias, k, n, ref Unsafe.Add(ref c, r * ldc));
    }

    /// <summary>Smallest weight matrix (k × n) whose product <see cref="Run{TEpilogue}(ref float, nint, nint, ref float, ref float, nint, nint, ref float, nint, KernelWorkers?)"/> shares among workers.</summary>
    public const long ParallelWeights = 4096;

    /// <summary>
    /// <see cref="Run{TEpilogue}(ref float, nint, nint, ref float, ref float, nint, nint, ref float, nint)"/> with the
    /// panels split among <paramref name="workers"/> (a decode step's matrix-vector product is bound by streaming the
    /// weights, and each core streams its share): contiguous runs of panels, each output computed by one thread in the
    /// same order as on one, so the result is bit-identical. Every buffer must be pinned (the generated code's arena and
    /// weights are; a decoder session pins its spans for the call).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run<TEpilogue>(ref float a, nint lda, nint rows, ref float packedWeights, ref float paddedBias,
        nint k, nint n, ref float c, nint ldc, KernelWorkers? workers)
        where TEpilogue : struct, IUnaryOperator
    {
        nint panels = (n + P - 1) / P;
        if (workers is null || (long)k * n < ParallelWeights || panels < 2 * workers.Parts)
        {
            Run<TEpilogue>(ref a, lda, rows, ref packedWeights, ref paddedBias, k, n, ref c, ldc);
            return;
        }
        LinearJob<TEpilogue> job = LinearJob<TEpilogue>.Instance ??= new LinearJob<TEpilogue>();
        job.Set((float*)Unsafe.AsPointer(ref a), lda, rows, (float*)Unsafe.AsPointer(ref packedWeights), (float*)Unsafe.AsPointer(ref paddedBias),
            k, n, (float*)Unsafe.AsPointer(ref c), ldc);
        workers.Run(job);
    }

    /// <summary>One product shared among workers by panels.</summary>
    private sealed unsafe class LinearJob<TEpilogue> : KernelWorkers.PanelJob where TEpilogue : struct, IUnaryOperator
    {
        [ThreadStatic] internal static LinearJob<TEpilogue>? Instance;

        protected override void RunPanels(nint first, nint last) =>
            Run<TEpilogue>(ref *A, Lda, Rows, ref *((float*)Weights + first * K * P), ref *(Bias + first * P), K, Math.Min(N, last * P) - first * P,
                ref *(C + first * P), Ldc);
    }

    /// <summary>
    /// One row against every panel. Every output is still summed in the same order as in the multi-row tiles
    /// (bias, then k = 0, 1, 2, … with one FMA each), so a sample's result does not depend on the batch it is in.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SingleRow<T>(ref float a, ref float packedWeights, nint ws, nint panelStride, ref float paddedBias, nint k, nint n, ref float c)
        where T : struct, IUnaryOperator
    {
        nint panels = (n + P - 1) / P;
        nint p = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; p + 4 <= panels; p += 4)
                Tile512x1x4<T>(ref a, ref Unsafe.Add(ref packedWeights, p * panelStride), ws, panelStride, ref Unsafe.Add(ref paddedBias, p * P), k, ref Unsafe.Add(ref c, p * P), n - p * P);
            for (; p < panels; p++)
                Tile512x1<T>(ref a, ref Unsafe.Add(ref packedWeights, p * panelStride), ws, ref Unsafe.Add(ref paddedBias, p * P), k, ref Unsafe.Add(ref c, p * P), Math.Min(P, n - p * P));
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; p + 4 <= panels; p += 4)
                Tile256x1x4<T>(ref a, ref Unsafe.Add(ref packedWeights, p * panelStride), ws, panelStride, ref Unsafe.Add(ref paddedBias, p * P), k, ref Unsafe.Add(ref c, p * P), n - p * P);
            for (; p < panels; p++)
                Tile256x1<T>(ref a, ref Unsafe.Add(ref packedWeights, p * panelStride), ws, ref Unsafe.Add(ref paddedBias, p * P), k, ref Unsafe.Add(ref c, p * P), Math.Min(P, n - p * P));
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; p < panels; p++)
                Tile128x1<T>(ref a, ref Unsafe.Add(ref packedWeights, p * panelStride), ws, ref Unsafe.Add(ref paddedBias, p * P), k, ref Unsafe.Add(ref c, p * P), Math.Min(P, n - p * P));
        }
        else
        {
            for (; p < panels; p++)
                TileScalar<T>(ref a, ref Unsafe.Add(ref packedWeights, p * panelStride), ws, ref Unsafe.Add(ref paddedBias, p * P), k, ref Unsafe.Add(ref c, p * P), Math.Min(P, n - p * P));
        }
    }

    // ---- 512 bits: one panel row is one vector ----

    /// <summary>8 rows × two panels (32 columns); the second panel may be partial (<paramref name="cols2"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile512x8x2<T>(ref float a, nint lda, ref float w, nint ws, nint panelStride, ref float bias, nint k, ref float c, nint ldc, nint cols2)
        where T : struct, IUnaryOperator
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, lda);
        ref float a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref float a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref float a4 = ref Unsafe.Add(ref a, 4 * lda);
        ref float a5 = ref Unsafe.Add(ref a, 5 * lda);
        ref float a6 = ref Unsafe.Add(ref a, 6 * lda);
        ref float a7 = ref Unsafe.Add(ref a, 7 * lda);
        ref float w1 = ref Unsafe.Add(ref w, panelStride);
        Vector512<float> b0 = Vector512.LoadUnsafe(ref bias), b1 = Vector512.LoadUnsafe(ref bias, P);
        Vector512<float> c00 = b0, c10 = b0, c20 = b0, c30 = b0, c40 = b0, c50 = b0, c60 = b0, c70 = b0;
        Vector512<float> c01 = b1, c11 = b1, c21 = b1, c31 = b1, c41 = b1, c51 = b1, c61 = b1, c71 = b1;
        for (nint i = 0; i < k; i++)
        {
            Vector512<float> v0 = Vector512.LoadUnsafe(ref w);
            Vector512<float> v1 = Vector512.LoadUnsafe(ref w1);
            Vector512<float> x = Vector512.Create(Unsafe.Add(ref a0, i));
            c00 = Vector512.MultiplyAddEstimate(x, v0, c00); c01 = Vector512.MultiplyAddEstimate(x, v1, c01);
            x = Vector512.Create(Unsafe.Add(ref a1, i));
            c10 = Vector512.MultiplyAddEstimate(x, v0, c10); c11 = Vector512.MultiplyAddEstimate(x, v1, c11);
            x = Vector512.Create(Unsafe.Add(ref a2, i));
            c20 = Vector512.MultiplyAddEstimate(x, v0, c20); c21 = Vector512.MultiplyAddEstimate(x, v1, c21);
            x = Vector512.Create(Unsafe.Add(ref a3, i));
            c30 = Vector512.MultiplyAddEstimate(x, v0, c30); c31 = Vector512.MultiplyAddEstimate(x, v1, c31);
            x = Vector512.Create(Unsafe.Add(ref a4, i));
            c40 = Vector512.MultiplyAddEstimate(x, v0, c40); c41 = Vector512.MultiplyAddEstimate(x, v1, c41);
            x = Vector512.Create(Unsafe.Add(ref a5, i));
            c50 = Vector512.MultiplyAddEstimate(x, v0, c50); c51 = Vector512.MultiplyAddEstimate(x, v1, c51);
            x = Vector512.Create(Unsafe.Add(ref a6, i));
            c60 = Vector512.MultiplyAddEstimate(x, v0, c60); c61 = Vector512.MultiplyAddEstimate(x, v1, c61);
            x = Vector512.Create(Unsafe.Add(ref a7, i));
            c70 = Vector512.MultiplyAddEstimate(x, v0, c70); c71 = Vector512.MultiplyAddEstimate(x, v1, c71);
            w = ref Unsafe.Add(ref w, ws);
            w1 = ref Unsafe.Add(ref w1, ws);
        }
        ref float d = ref c;
        Store<T>(c00, ref d, P); Store<T>(c01, ref Unsafe.Add(ref d, P), cols2); d = ref Unsafe.Add(ref d, ldc);
        Store<T>(c10, ref d, P); Store<T>(c11, ref Unsafe.Add(ref d, P), cols2); d = ref Unsafe.Add(ref d, ldc);
        Store<T>(c20, ref d, P); Store<T>(c21, ref Unsafe.Add(ref d, P), cols2); d = ref Unsafe.Add(ref d, ldc);
        Store<T>(c30, ref d, P); Store<T>(c31, ref Unsafe.Add(ref d, P), cols2); d = ref Unsafe.Add(ref d, ldc);
        Store<T>(c40, ref d, P); Store<T>(c41, ref Unsafe.Add(ref d, P), cols2); d = ref Unsafe.Add(ref d, ldc);
        Store<T>(c50, ref d, P); Store<T>(c51, ref Unsafe.Add(ref d, P), cols2); d = ref Unsafe.Add(ref d, ldc);
        Store<T>(c60, ref d, P); Store<T>(c61, ref Unsafe.Add(ref d, P), cols2); d = ref Unsafe.Add(ref d, ldc);
        Store<T>(c70, ref d, P); Store<T>(c71, ref Unsafe.Add(ref d, P), cols2);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile512x8<T>(ref float a, nint lda, ref float w, nint ws, ref float bias, nint k, ref float c, nint ldc, nint cols)
        where T : struct, IUnaryOperator
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, lda);
        ref float a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref float a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref float a4 = ref Unsafe.Add(ref a, 4 * lda);
        ref float a5 = ref Unsafe.Add(ref a, 5 * lda);
        ref float a6 = ref Unsafe.Add(ref a, 6 * lda);
        ref float a7 = ref Unsafe.Add(ref a, 7 * lda);
        Vector512<float> b0 = Vector512.LoadUnsafe(ref bias);
        Vector512<float> c0 = b0, c1 = b0, c2 = b0, c3 = b0, c4 = b0, c5 = b0, c6 = b0, c7 = b0;
        for (nint i = 0; i < k; i++)
        {
            Vector512<float> wv = Vector512.LoadUnsafe(ref w);
            c0 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a0, i)), wv, c0);
            c1 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a1, i)), wv, c1);
            c2 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a2, i)), wv, c2);
            c3 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a3, i)), wv, c3);
            c4 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a4, i)), wv, c4);
            c5 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a5, i)), wv, c5);
            c6 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a6, i)), wv, c6);
            c7 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a7, i)), wv, c7);
            w = ref Unsafe.Add(ref w, ws);
        }
        Store<T>(c0, ref c, cols);
        Store<T>(c1, ref Unsafe.Add(ref c, ldc), cols);
        Store<T>(c2, ref Unsafe.Add(ref c, 2 * ldc), cols);
        Store<T>(c3, ref Unsafe.Add(ref c, 3 * ldc), cols);
        Store<T>(c4, ref Unsafe.Add(ref c, 4 * ldc), cols);
        Store<T>(c5, ref Unsafe.Add(ref c, 5 * ldc), cols);
        Store<T>(c6, ref Unsafe.Add(ref c, 6 * ldc), cols);
        Store<T>(c7, ref Unsafe.Add(ref c, 7 * ldc), cols);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile512x4<T>(ref float a, nint lda, ref float w, nint ws, ref float bias, nint k, ref float c, nint ldc, nint cols)
        where T : struct, IUnaryOperator
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, lda);
        ref float a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref float a3 = ref Unsafe.Add(ref a, 3 * lda);
        Vector512<float> b0 = Vector512.LoadUnsafe(ref bias);
        Vector512<float> c0 = b0, c1 = b0, c2 = b0, c3 = b0;
        for (nint i = 0; i < k; i++)
        {
            Vector512<float> wv = Vector512.LoadUnsafe(ref w);
            c0 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a0, i)), wv, c0);
            c1 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a1, i)), wv, c1);
            c2 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a2, i)), wv, c2);
            c3 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a3, i)), wv, c3);
            w = ref Unsafe.Add(ref w, ws);
        }
        Store<T>(c0, ref c, cols);
        Store<T>(c1, ref Unsafe.Add(ref c, ldc), cols);
        Store<T>(c2, ref Unsafe.Add(ref c, 2 * ldc), cols);
        Store<T>(c3, ref Unsafe.Add(ref c, 3 * ldc), cols);
    }

    /// <summary>One row, four panels (64 outputs): four independent accumulators, one broadcast per k.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile512x1x4<T>(ref float a, ref float w, nint ws, nint panelStride, ref float bias, nint k, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        nint stride = panelStride;
        ref float w0 = ref w;
        ref float w1 = ref Unsafe.Add(ref w, stride);
        ref float w2 = ref Unsafe.Add(ref w, 2 * stride);
        ref float w3 = ref Unsafe.Add(ref w, 3 * stride);
        Vector512<float> c0 = Vector512.LoadUnsafe(ref bias), c1 = Vector512.LoadUnsafe(ref bias, P),
            c2 = Vector512.LoadUnsafe(ref bias, 2 * P), c3 = Vector512.LoadUnsafe(ref bias, 3 * P);
        for (nint i = 0; i < k; i++)
        {
            Vector512<float> x = Vector512.Create(Unsafe.Add(ref a, i));
            nuint offset = (nuint)(i * ws);
            c0 = Vector512.MultiplyAddEstimate(x, Vector512.LoadUnsafe(ref w0, offset), c0);
            c1 = Vector512.MultiplyAddEstimate(x, Vector512.LoadUnsafe(ref w1, offset), c1);
            c2 = Vector512.MultiplyAddEstimate(x, Vector512.LoadUnsafe(ref w2, offset), c2);
            c3 = Vector512.MultiplyAddEstimate(x, Vector512.LoadUnsafe(ref w3, offset), c3);
        }
        Store<T>(c0, ref c, P);
        Store<T>(c1, ref Unsafe.Add(ref c, P), P);
        Store<T>(c2, ref Unsafe.Add(ref c, 2 * P), P);
        Store<T>(c3, ref Unsafe.Add(ref c, 3 * P), Math.Min(P, cols - 3 * P));
    }

    /// <summary>One row, one panel (the panels left over from groups of four).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile512x1<T>(ref float a, ref float w, nint ws, ref float bias, nint k, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        Vector512<float> c0 = Vector512.LoadUnsafe(ref bias);
        for (nint i = 0; i < k; i++)
            c0 = Vector512.MultiplyAddEstimate(Vector512.Create(Unsafe.Add(ref a, i)), Vector512.LoadUnsafe(ref w, (nuint)(i * ws)), c0);
        Store<T>(c0, ref c, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(Vector512<float> v, ref float destination, nint cols) where T : struct, IUnaryOperator
    {
        v = T.Invoke(v);
        if (cols == P) v.StoreUnsafe(ref destination);
        else for (int j = 0; j < cols; j++) Unsafe.Add(ref destination, j) = v.GetElement(j);
    }

    // ---- 256 bits: one panel row is two vectors (lo, hi) ----

    /// <summary>
    /// 6 rows × one panel: 12 accumulators, so each FMA chain has six cycles between its steps (the 4-row tile gave each
    /// chain exactly the FMA latency and reached 42 % of the peak on a 256-bit core; MLAS's AVX2 kernel is 6 × 16 too).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile256x6<T>(ref float a, nint lda, ref float w, nint ws, ref float bias, nint k, ref float c, nint ldc, nint cols)
        where T : struct, IUnaryOperator
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, lda);
        ref float a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref float a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref float a4 = ref Unsafe.Add(ref a, 4 * lda);
        ref float a5 = ref Unsafe.Add(ref a, 5 * lda);
        Vector256<float> bl = Vector256.LoadUnsafe(ref bias), bh = Vector256.LoadUnsafe(ref bias, 8);
        Vector256<float> c0l = bl, c0h = bh, c1l = bl, c1h = bh, c2l = bl, c2h = bh, c3l = bl, c3h = bh, c4l = bl, c4h = bh, c5l = bl, c5h = bh;
        for (nint i = 0; i < k; i++)
        {
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
            w = ref Unsafe.Add(ref w, ws);
        }
        Store<T>(c0l, c0h, ref c, cols);
        Store<T>(c1l, c1h, ref Unsafe.Add(ref c, ldc), cols);
        Store<T>(c2l, c2h, ref Unsafe.Add(ref c, 2 * ldc), cols);
        Store<T>(c3l, c3h, ref Unsafe.Add(ref c, 3 * ldc), cols);
        Store<T>(c4l, c4h, ref Unsafe.Add(ref c, 4 * ldc), cols);
        Store<T>(c5l, c5h, ref Unsafe.Add(ref c, 5 * ldc), cols);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile256x4<T>(ref float a, nint lda, ref float w, nint ws, ref float bias, nint k, ref float c, nint ldc, nint cols)
        where T : struct, IUnaryOperator
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, lda);
        ref float a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref float a3 = ref Unsafe.Add(ref a, 3 * lda);
        Vector256<float> bl = Vector256.LoadUnsafe(ref bias), bh = Vector256.LoadUnsafe(ref bias, 8);
        Vector256<float> c0l = bl, c0h = bh, c1l = bl, c1h = bh, c2l = bl, c2h = bh, c3l = bl, c3h = bh;
        for (nint i = 0; i < k; i++)
        {
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
            w = ref Unsafe.Add(ref w, ws);
        }
        Store<T>(c0l, c0h, ref c, cols);
        Store<T>(c1l, c1h, ref Unsafe.Add(ref c, ldc), cols);
        Store<T>(c2l, c2h, ref Unsafe.Add(ref c, 2 * ldc), cols);
        Store<T>(c3l, c3h, ref Unsafe.Add(ref c, 3 * ldc), cols);
    }

    /// <summary>
    /// One row, four panels (64 outputs): eight independent accumulators, one broadcast per k, four weight streams (a
    /// decode step's matrix-vector product: one panel at a time waited on its two FMA chains, 1.5× the bandwidth limit).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile256x1x4<T>(ref float a, ref float w, nint ws, nint panelStride, ref float bias, nint k, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        nint stride = panelStride;
        ref float w0 = ref w;
        ref float w1 = ref Unsafe.Add(ref w, stride);
        ref float w2 = ref Unsafe.Add(ref w, 2 * stride);
        ref float w3 = ref Unsafe.Add(ref w, 3 * stride);
        Vector256<float> c0l = Vector256.LoadUnsafe(ref bias), c0h = Vector256.LoadUnsafe(ref bias, 8);
        Vector256<float> c1l = Vector256.LoadUnsafe(ref bias, P), c1h = Vector256.LoadUnsafe(ref bias, P + 8);
        Vector256<float> c2l = Vector256.LoadUnsafe(ref bias, 2 * P), c2h = Vector256.LoadUnsafe(ref bias, 2 * P + 8);
        Vector256<float> c3l = Vector256.LoadUnsafe(ref bias, 3 * P), c3h = Vector256.LoadUnsafe(ref bias, 3 * P + 8);
        for (nint i = 0; i < k; i++)
        {
            Vector256<float> x = Vector256.Create(Unsafe.Add(ref a, i));
            nuint offset = (nuint)(i * ws);
            c0l = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w0, offset), c0l);
            c0h = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w0, offset + 8), c0h);
            c1l = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w1, offset), c1l);
            c1h = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w1, offset + 8), c1h);
            c2l = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w2, offset), c2l);
            c2h = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w2, offset + 8), c2h);
            c3l = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w3, offset), c3l);
            c3h = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w3, offset + 8), c3h);
        }
        Store<T>(c0l, c0h, ref c, P);
        Store<T>(c1l, c1h, ref Unsafe.Add(ref c, P), P);
        Store<T>(c2l, c2h, ref Unsafe.Add(ref c, 2 * P), P);
        Store<T>(c3l, c3h, ref Unsafe.Add(ref c, 3 * P), Math.Min(P, cols - 3 * P));
    }

    /// <summary>One row, one panel: two vectors per panel row.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile256x1<T>(ref float a, ref float w, nint ws, ref float bias, nint k, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        Vector256<float> lo = Vector256.LoadUnsafe(ref bias), hi = Vector256.LoadUnsafe(ref bias, 8);
        for (nint i = 0; i < k; i++)
        {
            Vector256<float> x = Vector256.Create(Unsafe.Add(ref a, i));
            lo = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w), lo);
            hi = Vector256.MultiplyAddEstimate(x, Vector256.LoadUnsafe(ref w, 8), hi);
            w = ref Unsafe.Add(ref w, ws);
        }
        Store<T>(lo, hi, ref c, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Store<T>(Vector256<float> lo, Vector256<float> hi, ref float destination, nint cols) where T : struct, IUnaryOperator
    {
        lo = T.Invoke(lo);
        hi = T.Invoke(hi);
        if (cols == P)
        {
            lo.StoreUnsafe(ref destination);
            hi.StoreUnsafe(ref destination, 8);
            return;
        }
        for (int j = 0; j < cols; j++) Unsafe.Add(ref destination, j) = j < 8 ? lo.GetElement(j) : hi.GetElement(j - 8);
    }

    // ---- 128 bits: one panel row is four vectors ----

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile128x2<T>(ref float a, nint lda, ref float w, nint ws, ref float bias, nint k, ref float c, nint ldc, nint cols)
        where T : struct, IUnaryOperator
    {
        ref float a0 = ref a;
        ref float a1 = ref Unsafe.Add(ref a, lda);
        Vector128<float> q0 = Vector128.LoadUnsafe(ref bias), q1 = Vector128.LoadUnsafe(ref bias, 4),
            q2 = Vector128.LoadUnsafe(ref bias, 8), q3 = Vector128.LoadUnsafe(ref bias, 12);
        Vector128<float> c00 = q0, c01 = q1, c02 = q2, c03 = q3, c10 = q0, c11 = q1, c12 = q2, c13 = q3;
        for (nint i = 0; i < k; i++)
        {
            ref float wi = ref w;
            Vector128<float> w0 = Vector128.LoadUnsafe(ref wi), w1 = Vector128.LoadUnsafe(ref wi, 4),
                w2 = Vector128.LoadUnsafe(ref wi, 8), w3 = Vector128.LoadUnsafe(ref wi, 12);
            Vector128<float> x0 = Vector128.Create(Unsafe.Add(ref a0, i));
            Vector128<float> x1 = Vector128.Create(Unsafe.Add(ref a1, i));
            c00 = Vector128.MultiplyAddEstimate(x0, w0, c00); c01 = Vector128.MultiplyAddEstimate(x0, w1, c01);
            c02 = Vector128.MultiplyAddEstimate(x0, w2, c02); c03 = Vector128.MultiplyAddEstimate(x0, w3, c03);
            c10 = Vector128.MultiplyAddEstimate(x1, w0, c10); c11 = Vector128.MultiplyAddEstimate(x1, w1, c11);
            c12 = Vector128.MultiplyAddEstimate(x1, w2, c12); c13 = Vector128.MultiplyAddEstimate(x1, w3, c13);
            w = ref Unsafe.Add(ref w, ws);
        }
        Store<T>(c00, c01, c02, c03, ref c, cols);
        Store<T>(c10, c11, c12, c13, ref Unsafe.Add(ref c, ldc), cols);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile128x1<T>(ref float a, ref float w, nint ws, ref float bias, nint k, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        Vector128<float> c0 = Vector128.LoadUnsafe(ref bias), c1 = Vector128.LoadUnsafe(ref bias, 4),
            c2 = Vector128.LoadUnsafe(ref bias, 8), c3 = Vector128.LoadUnsafe(ref bias, 12);
        for (nint i = 0; i < k; i++)
        {
            ref float wi = ref w;
            Vector128<float> x = Vector128.Create(Unsafe.Add(ref a, i));
            c0 = Vector128.MultiplyAddEstimate(x, Vector128.LoadUnsafe(ref wi), c0);
            c1 = Vector128.MultiplyAddEstimate(x, Vector128.LoadUnsafe(ref wi, 4), c1);
            c2 = Vector128.MultiplyAddEstimate(x, Vector128.LoadUnsafe(ref wi, 8), c2);
            c3 = Vector128.MultiplyAddEstimate(x, Vector128.LoadUnsafe(ref wi, 12), c3);
            w = ref Unsafe.Add(ref w, ws);
        }
        Store<T>(c0, c1, c2, c3, ref c, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(Vector128<float> v0, Vector128<float> v1, Vector128<float> v2, Vector128<float> v3, ref float destination, nint cols)
        where T : struct, IUnaryOperator
    {
        v0 = T.Invoke(v0); v1 = T.Invoke(v1); v2 = T.Invoke(v2); v3 = T.Invoke(v3);
        if (cols == P)
        {
            v0.StoreUnsafe(ref destination);
            v1.StoreUnsafe(ref destination, 4);
            v2.StoreUnsafe(ref destination, 8);
            v3.StoreUnsafe(ref destination, 12);
            return;
        }
        for (int j = 0; j < cols; j++)
        {
            Vector128<float> v = (j >> 2) switch { 0 => v0, 1 => v1, 2 => v2, _ => v3 };
            Unsafe.Add(ref destination, j) = v.GetElement(j & 3);
        }
    }

    // ---- scalar: no vector hardware (DOTNET_EnableHWIntrinsic=0) ----

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TileScalar<T>(ref float a, ref float w, nint ws, ref float bias, nint k, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        for (nint j = 0; j < cols; j++)
        {
            float sum = Unsafe.Add(ref bias, j);
            for (nint i = 0; i < k; i++) sum += Unsafe.Add(ref a, i) * Unsafe.Add(ref w, i * ws + j);
            Unsafe.Add(ref c, j) = T.Invoke(sum);
        }
    }
}
