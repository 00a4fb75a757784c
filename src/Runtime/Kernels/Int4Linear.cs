using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelCompiler.Kernels;

/// <summary>
/// The fully connected layer over int4 weights kept at 4 bits (<see cref="Int4PanelLayout"/>). A decode step's
/// matrix-vector product reads 5 bits a weight instead of 32 (the bandwidth that bounds decoding) and works on the codes
/// in registers: per block of 32 inputs, <c>Σ x·code</c> per output, then <c>(that − 8·Σ x) · scale</c> into its total.
/// A prompt's rows (more than <see cref="VectorRows"/>) expand one panel at a time into float32 and run
/// <see cref="PackedLinear"/>'s tiles on it, bit-identical to <see cref="PackedLinear"/> over the expanded weights. The two
/// routes sum in different orders, so they agree to float rounding (about 1e-6 relative), not bit for bit; each route
/// gives the same bits whatever the number of threads.
/// </summary>
/// <remarks>After llama.cpp's Q4_0 matrix-vector kernels (a scale per 32 weights), with the codes regrouped by panel.</remarks>
public static class Int4Linear
{
    private const int P = PanelLayout.PanelWidth;

    /// <summary>Rows up to this many go through the matrix-vector kernel; more dequantize a panel and reuse it across the rows.</summary>
    public const int VectorRows = 2;

    [ThreadStatic] private static AlignedBuffer? t_panel;

    /// <summary>
    /// Effectively computes <c>c[r, j] = TEpilogue(bias[j] + Σₖ a[r, κ] · W[j, κ])</c> with <c>W</c> the int4 weights
    /// <paramref name="packedWeights"/> stands for, shared among <paramref name="workers"/> by panels when given (every
    /// buffer pinned). <paramref name="c"/> must not overlap <paramref name="a"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run<TEpilogue>(ref float a, nint lda, nint rows, ref float packedWeights, ref float paddedBias,
        nint k, nint n, ref float c, nint ldc, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator
    {
        nint panels = (n + P - 1) / P;
        if (workers is null || (long)k * n < PackedLinear.ParallelWeights || panels < 2 * workers.Parts)
        {
            Panels<TEpilogue>(ref a, lda, rows, ref packedWeights, ref paddedBias, k, n, ref c, ldc, 0, panels);
            return;
        }
        Job<TEpilogue> job = Job<TEpilogue>.Instance ??= new Job<TEpilogue>();
        job.Set((float*)Unsafe.AsPointer(ref a), lda, rows, (float*)Unsafe.AsPointer(ref packedWeights), (float*)Unsafe.AsPointer(ref paddedBias),
            k, n, (float*)Unsafe.AsPointer(ref c), ldc);
        workers.Run(job);
    }

    /// <summary>Panels <c>[first, last)</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Panels<T>(ref float a, nint lda, nint rows, ref float packed, ref float bias, nint k, nint n, ref float c, nint ldc, nint first, nint last)
        where T : struct, IUnaryOperator
    {
        nint stride = Int4PanelLayout.PanelFloats((int)k);
        if (rows > VectorRows)
        {
            AlignedBuffer panel = t_panel is { } existing && existing.Length >= k * P ? existing : t_panel = new AlignedBuffer((int)(k * P));
            for (nint p = first; p < last; p++)
            {
                Expand(ref Unsafe.Add(ref packed, p * stride), k, ref panel.Start);
                PackedLinear.Run<T>(ref a, lda, rows, ref panel.Start, ref Unsafe.Add(ref bias, p * P), k, Math.Min(P, n - p * P), ref Unsafe.Add(ref c, p * P), ldc);
            }
            return;
        }
        int blocks = Int4Quantization.Blocks((int)k);
        AlignedBuffer sums = t_sums is { } held && held.Length >= blocks ? held : t_sums = new AlignedBuffer(blocks);
        for (nint r = 0; r < rows; r++)
        {
            ref float x = ref Unsafe.Add(ref a, r * lda);
            BlockSums(ref x, k, ref sums.Start);
            nint p = first;
            if (Avx2.IsSupported)
            {
                for (; p + 2 <= last; p += 2)
                    VectorPanelPair<T>(ref x, ref sums.Start, ref Unsafe.Add(ref packed, p * stride), stride, ref Unsafe.Add(ref bias, p * P), k,
                        ref Unsafe.Add(ref c, r * ldc + p * P), n - p * P);
                for (; p < last; p++)
                    VectorPanelPair<T>(ref x, ref sums.Start, ref Unsafe.Add(ref packed, p * stride), 0, ref Unsafe.Add(ref bias, p * P), k,
                        ref Unsafe.Add(ref c, r * ldc + p * P), Math.Min(P, n - p * P), single: true);
            }
            else
            {
                for (; p < last; p++)
                    ScalarPanel<T>(ref x, ref sums.Start, ref Unsafe.Add(ref packed, p * stride), ref Unsafe.Add(ref bias, p * P), k,
                        ref Unsafe.Add(ref c, r * ldc + p * P), Math.Min(P, n - p * P));
            }
        }
    }

    [ThreadStatic] private static AlignedBuffer? t_sums;

    /// <summary>Each block's Σ x, in input order: the −8 of every code, taken out of the block's sum once per row.</summary>
    private static void BlockSums(ref float x, nint k, ref float sums)
    {
        for (nint start = 0, b = 0; start < k; start += Int4Quantization.BlockSize, b++)
        {
            float sum = 0f;
            for (nint i = start, end = Math.Min(k, start + Int4Quantization.BlockSize); i < end; i++) sum += Unsafe.Add(ref x, i);
            Unsafe.Add(ref sums, b) = sum;
        }
    }

    /// <summary>
    /// One row against two panels (32 outputs; the second absent with <paramref name="single"/>). Per block the codes, as
    /// they are (0…15), are multiplied into block sums, then <c>(Σ x·code − 8·Σ x) · scale</c> joins each output's total:
    /// a widening, a mask or shift, a conversion and an FMA per 8 weights (dequantizing each weight first cost a multiply
    /// more and waited on one FMA chain per panel: 4 weights a cycle).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void VectorPanelPair<T>(ref float a, ref float blockSums, ref float panel, nint stride, ref float bias, nint k, ref float c, nint cols,
        bool single = false)
        where T : struct, IUnaryOperator
    {
        Vector256<float> lo0 = Vector256.LoadUnsafe(ref bias), hi0 = Vector256.LoadUnsafe(ref bias, 8);
        Vector256<float> lo1 = single ? default : Vector256.LoadUnsafe(ref bias, P), hi1 = single ? default : Vector256.LoadUnsafe(ref bias, P + 8);
        Vector256<int> mask = Vector256.Create(0xF);
        ref float at0 = ref panel;
        ref float at1 = ref Unsafe.Add(ref panel, single ? 0 : stride);
        for (nint start = 0, b = 0; start < k; start += Int4Quantization.BlockSize, b++)
        {
            ref byte codes0 = ref Unsafe.As<float, byte>(ref Unsafe.Add(ref at0, P));
            ref byte codes1 = ref Unsafe.As<float, byte>(ref Unsafe.Add(ref at1, P));
            nint end = Math.Min(k, start + Int4Quantization.BlockSize);
            Vector256<float> b0l = Vector256<float>.Zero, b0h = b0l, b1l = b0l, b1h = b0l;
            for (nint i = start; i < end; i++)
            {
                nint row = (i - start) * 8;
                Vector256<float> x = Vector256.Create(Unsafe.Add(ref a, i));
                Vector256<int> both0 = Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref codes0, row))).AsByte());
                b0l = Vector256.MultiplyAddEstimate(x, Avx.ConvertToVector256Single(both0 & mask), b0l);
                b0h = Vector256.MultiplyAddEstimate(x, Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(both0, 4)), b0h);
                if (single) continue;
                Vector256<int> both1 = Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref codes1, row))).AsByte());
                b1l = Vector256.MultiplyAddEstimate(x, Avx.ConvertToVector256Single(both1 & mask), b1l);
                b1h = Vector256.MultiplyAddEstimate(x, Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(both1, 4)), b1h);
            }
            Vector256<float> eightSum = Vector256.Create(8f * Unsafe.Add(ref blockSums, b));
            lo0 = Vector256.MultiplyAddEstimate(b0l - eightSum, Vector256.LoadUnsafe(ref at0), lo0);
            hi0 = Vector256.MultiplyAddEstimate(b0h - eightSum, Vector256.LoadUnsafe(ref at0, 8), hi0);
            at0 = ref Unsafe.Add(ref at0, P + 2 * (end - start));
            if (single) continue;
            lo1 = Vector256.MultiplyAddEstimate(b1l - eightSum, Vector256.LoadUnsafe(ref at1), lo1);
            hi1 = Vector256.MultiplyAddEstimate(b1h - eightSum, Vector256.LoadUnsafe(ref at1, 8), hi1);
            at1 = ref Unsafe.Add(ref at1, P + 2 * (end - start));
        }
        if (single)
        {
            PackedLinear.Store<T>(lo0, hi0, ref c, cols);
            return;
        }
        PackedLinear.Store<T>(lo0, hi0, ref c, P);
        PackedLinear.Store<T>(lo1, hi1, ref Unsafe.Add(ref c, P), Math.Min(P, cols - P));
    }

    /// <summary><see cref="VectorPanelPair"/>'s arithmetic, one output at a time, where there is no AVX2.</summary>
    private static void ScalarPanel<T>(ref float a, ref float blockSums, ref float panel, ref float bias, nint k, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        Span<float> totals = stackalloc float[P], block = stackalloc float[P];
        for (int j = 0; j < P; j++) totals[j] = Unsafe.Add(ref bias, j);
        ref float at = ref panel;
        for (nint start = 0, b = 0; start < k; start += Int4Quantization.BlockSize, b++)
        {
            ref byte codes = ref Unsafe.As<float, byte>(ref Unsafe.Add(ref at, P));
            nint end = Math.Min(k, start + Int4Quantization.BlockSize);
            block.Clear();
            for (nint i = start; i < end; i++)
            {
                float x = Unsafe.Add(ref a, i);
                for (int j = 0; j < 8; j++)
                {
                    int pair = Unsafe.Add(ref codes, (i - start) * 8 + j);
                    block[j] = MathF.FusedMultiplyAdd(x, pair & 0xF, block[j]);
                    block[j + 8] = MathF.FusedMultiplyAdd(x, pair >> 4, block[j + 8]);
                }
            }
            float eightSum = 8f * Unsafe.Add(ref blockSums, b);
            for (int j = 0; j < P; j++) totals[j] = MathF.FusedMultiplyAdd(block[j] - eightSum, Unsafe.Add(ref at, j), totals[j]);
            at = ref Unsafe.Add(ref at, P + 2 * (end - start));
        }
        for (int j = 0; j < cols; j++) Unsafe.Add(ref c, j) = T.Invoke(totals[j]);
    }

    /// <summary>One panel's weights as float32 in <see cref="PanelLayout"/> (k rows of 16).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Expand(ref float panel, nint k, ref float destination)
    {
        ref float block = ref panel;
        for (nint start = 0; start < k; start += Int4Quantization.BlockSize)
        {
            ref byte codes = ref Unsafe.As<float, byte>(ref Unsafe.Add(ref block, P));
            nint end = Math.Min(k, start + Int4Quantization.BlockSize);
            for (nint i = start; i < end; i++)
            {
                ref float row = ref Unsafe.Add(ref destination, i * P);
                for (int j = 0; j < 8; j++)
                {
                    int pair = Unsafe.Add(ref codes, (i - start) * 8 + j);
                    Unsafe.Add(ref row, j) = ((pair & 0xF) - 8) * Unsafe.Add(ref block, j);
                    Unsafe.Add(ref row, j + 8) = ((pair >> 4) - 8) * Unsafe.Add(ref block, j + 8);
                }
            }
            block = ref Unsafe.Add(ref block, P + 2 * (end - start));
        }
    }

    /// <summary>One product shared among workers by panels.</summary>
    private sealed unsafe class Job<TEpilogue> : KernelWorkers.PanelJob where TEpilogue : struct, IUnaryOperator
    {
        [ThreadStatic] internal static Job<TEpilogue>? Instance;

        protected override void RunPanels(nint first, nint last) =>
            Panels<TEpilogue>(ref *A, Lda, Rows, ref *(float*)Weights, ref *Bias, K, N, ref *C, Ldc, first, last);
    }
}
