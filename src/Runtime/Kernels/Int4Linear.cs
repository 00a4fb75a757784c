using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelCompiler.Kernels;

/// <summary>
/// The fully connected layer over int4 weights kept at 4 bits (<see cref="Int4PanelLayout"/>), multiplying activations
/// rounded to int8 per block of 32 (<see cref="Int4Activations"/>). A decode step's matrix-vector product reads 5 bits a
/// weight instead of 32 (the bandwidth that bounds decoding) and multiplies the codes as integers: per block of 32 inputs,
/// <c>Σ x_code · w_code</c> per output is exact in int32, then <c>(that − 8 · Σ x_code)</c> times the weight's scale times
/// the block's activation scale joins each output's total (one fused multiply-add per block, in block order, on every
/// vector width). A prompt's rows (more than <see cref="VectorRows"/>) are rounded to the same values, <c>code · scale</c>,
/// and expand one panel at a time into float32 for <see cref="PackedLinear"/>'s tiles. The two routes multiply the same
/// numbers but sum in different orders, so they agree to float rounding (about 1e-6 relative), not bit for bit; each route
/// gives the same bits whatever the number of threads.
/// </summary>
/// <remarks>
/// After llama.cpp's Q4_0 × Q8_0 dot products (<c>ggml_vec_dot_q4_0_q8_0</c>: <c>pmaddubsw</c> of the unsigned codes by
/// the signed activation codes), with the codes regrouped by panel: one <c>pshufb</c> pairs two inputs' codes of each
/// output, so one <c>pmaddubsw</c> multiplies 32 weights (64 with the high nibbles' twin) — about 10 instructions per 64
/// weights where converting each code to float took 8 per 16. The int16 sums cannot saturate: |code| ≤ 15, |x_code| ≤ 127,
/// and 8 pairs per block add at most 8 · 2 · 15 · 127 = 30,480.
/// </remarks>
public static class Int4Linear
{
    private const int P = PanelLayout.PanelWidth;
    private const int B = Int4Quantization.BlockSize;

    /// <summary>Rows up to this many go through the integer matrix-vector kernel; more dequantize a panel and reuse it across the rows.</summary>
    public const int VectorRows = 2;

    [ThreadStatic] private static AlignedBuffer? t_panel;

    /// <summary>How far ahead of the block being multiplied the weight stream is prefetched.</summary>
    private const int PrefetchBytes = 8192;
    [ThreadStatic] private static Activations? t_activations;

    /// <summary>
    /// Effectively computes <c>c[r, j] = TEpilogue(bias[j] + Σₖ x̂[r, κ] · W[j, κ])</c> with <c>W</c> the int4 weights
    /// <paramref name="packedWeights"/> stands for and <c>x̂</c> the rows of <paramref name="a"/> rounded by
    /// <see cref="Int4Activations"/>, shared among <paramref name="workers"/> by panels when given (every buffer pinned).
    /// <paramref name="c"/> must not overlap <paramref name="a"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(ref float a, nint lda, nint rows, ref float packedWeights, ref float paddedBias,
        nint k, nint n, ref float c, nint ldc, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator
    {
        Activations x = t_activations ??= new Activations();
        x.Prepare(ref a, lda, rows, k); // once per call, on the calling thread: the workers read it
        nint panels = (n + P - 1) / P;
        if (workers is null || (long)k * n < PackedLinear.ParallelWeights || panels < 2 * workers.Parts)
        {
            Panels<TEpilogue>(x, rows, ref packedWeights, ref paddedBias, k, n, ref c, ldc, 0, panels);
            return;
        }
        Job<TEpilogue> job = Job<TEpilogue>.Instance ??= new Job<TEpilogue>();
        job.Set(x, rows, ref packedWeights, ref paddedBias, k, n, ref c, ldc);
        try
        {
            workers.Run(job);
        }
        finally
        {
            job.Activations = null;
        }
    }

    /// <summary>Panels <c>[first, last)</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Panels<T>(Activations x, nint rows, ref float packed, ref float bias, nint k, nint n, ref float c, nint ldc, nint first, nint last)
        where T : struct, IUnaryOperator
    {
        nint stride = Int4PanelLayout.PanelFloats((int)k);
        if (rows > VectorRows)
        {
            AlignedBuffer panel = t_panel is { } existing && existing.Length >= k * P ? existing : t_panel = new AlignedBuffer((int)(k * P));
            for (nint p = first; p < last; p++)
            {
                Expand(ref Unsafe.Add(ref packed, p * stride), k, ref panel.Start);
                PackedLinear.Run<T>(ref MemoryMarshal.GetArrayDataReference(x.Rounded), k, rows, ref panel.Start, ref Unsafe.Add(ref bias, p * P), k, Math.Min(P, n - p * P), ref Unsafe.Add(ref c, p * P), ldc);
            }
            return;
        }
        int blocks = Int4Quantization.Blocks((int)k);
        for (nint r = 0; r < rows; r++)
        {
            // References, not indexing: a layer of fewer than four inputs has no patterns (an empty array).
            ref sbyte codes = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.Codes), r * k);
            ref float scales = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.Scales), r * blocks);
            ref int sums = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.Sums), r * blocks);
            if (Avx2.IsSupported && Fma.IsSupported)
            {
                ref byte patterns = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.Patterns), r * (k / 4) * 32);
                for (nint p = first; p < last; p++)
                    IntegerPanel<T>(ref patterns, ref codes, ref scales, ref sums, ref Unsafe.Add(ref packed, p * stride), ref Unsafe.Add(ref bias, p * P), k,
                        ref Unsafe.Add(ref c, r * ldc + p * P), Math.Min(P, n - p * P));
                continue;
            }
            for (nint p = first; p < last; p++)
                ScalarPanel<T>(ref codes, ref scales, ref sums, ref Unsafe.Add(ref packed, p * stride), ref Unsafe.Add(ref bias, p * P), k,
                    ref Unsafe.Add(ref c, r * ldc + p * P), Math.Min(P, n - p * P));
        }
    }

    /// <summary>
    /// One row against one panel (16 outputs), AVX2. Per group of four inputs, 32 bytes of codes (four 8-byte rows) are
    /// shuffled so that each output's codes for two consecutive inputs sit side by side, masked (outputs 0–7) or shifted
    /// (8–15), and <c>pmaddubsw</c>-multiplied by the row's activation codes for those inputs (<see cref="Activations.Patterns"/>).
    /// At each block's end the int16 pair sums are widened and added, a last block's inputs past its whole groups of four
    /// are added one at a time, and <c>(Σ − 8 · Σ x_code) · (weight scale · activation scale)</c> is fused into the totals.
    /// (Two panels per pass, sharing each activation load, measured slower in cache: 46 against 34 µs for 2,048 × 768.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void IntegerPanel<T>(ref byte patterns, ref sbyte codes, ref float scales, ref int sums, ref float panel, ref float bias, nint k,
        ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        Vector256<float> lo = Vector256.LoadUnsafe(ref bias), hi = Vector256.LoadUnsafe(ref bias, 8);
        Vector256<byte> pairs = Vector256.Create((byte)0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        Vector256<byte> nibble = Vector256.Create((byte)0xF);
        ref float at = ref panel;
        for (nint start = 0, b = 0; start < k; start += B, b++)
        {
            nint count = Math.Min(B, k - start), groups = count / 4;
            ref byte rows = ref Unsafe.As<float, byte>(ref Unsafe.Add(ref at, P));
            ref byte x = ref Unsafe.Add(ref patterns, start * 8);
            if (Sse.IsSupported)
            {
                // A block's 320 bytes, 8 KiB ahead (a pointer, not a reference: it may point past the weights; a prefetch never faults).
                byte* ahead = (byte*)Unsafe.AsPointer(ref at) + PrefetchBytes;
                for (int line = 0; line < (P + 2 * B) * 4; line += 64) Sse.Prefetch0(ahead + line);
            }
            Vector256<short> low = Vector256<short>.Zero, high = low;
            for (nint g = 0; g < groups; g++)
            {
                Vector256<byte> w = Avx2.Shuffle(Vector256.LoadUnsafe(ref rows, (nuint)(g * 32)), pairs);
                Vector256<sbyte> xg = Vector256.LoadUnsafe(ref x, (nuint)(g * 32)).AsSByte();
                low += Avx2.MultiplyAddAdjacent(w & nibble, xg);
                high += Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(w.AsUInt16(), 4).AsByte() & nibble, xg);
            }
            Vector256<int> sumLow = Avx2.ConvertToVector256Int32(low.GetLower()) + Avx2.ConvertToVector256Int32(low.GetUpper());
            Vector256<int> sumHigh = Avx2.ConvertToVector256Int32(high.GetLower()) + Avx2.ConvertToVector256Int32(high.GetUpper());
            for (nint i = groups * 4; i < count; i++)
            {
                Vector256<int> both = Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref rows, i * 8))).AsByte());
                Vector256<int> q = Vector256.Create((int)Unsafe.Add(ref codes, start + i));
                sumLow += (both & Vector256.Create(0xF)) * q;
                sumHigh += Avx2.ShiftRightLogical(both, 4) * q;
            }
            Vector256<int> eight = Vector256.Create(8 * Unsafe.Add(ref sums, b));
            Vector256<float> scale = Vector256.Create(Unsafe.Add(ref scales, b));
            lo = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sumLow - eight), Vector256.LoadUnsafe(ref at) * scale, lo);
            hi = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sumHigh - eight), Vector256.LoadUnsafe(ref at, 8) * scale, hi);
            at = ref Unsafe.Add(ref at, P + 2 * count);
        }
        PackedLinear.Store<T>(lo, hi, ref c, cols);
    }

    /// <summary><see cref="IntegerPanel"/>'s arithmetic, one output at a time, where there is no AVX2: the same integer sums and the same fused multiply-add per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScalarPanel<T>(ref sbyte codes, ref float scales, ref int sums, ref float panel, ref float bias, nint k, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        Span<float> totals = stackalloc float[P];
        Span<int> block = stackalloc int[P];
        for (int j = 0; j < P; j++) totals[j] = Unsafe.Add(ref bias, j);
        ref float at = ref panel;
        for (nint start = 0, b = 0; start < k; start += B, b++)
        {
            ref byte rows = ref Unsafe.As<float, byte>(ref Unsafe.Add(ref at, P));
            nint count = Math.Min(B, k - start);
            block.Clear();
            for (nint i = 0; i < count; i++)
            {
                int x = Unsafe.Add(ref codes, start + i);
                for (int j = 0; j < 8; j++)
                {
                    int pair = Unsafe.Add(ref rows, i * 8 + j);
                    block[j] += x * (pair & 0xF);
                    block[j + 8] += x * (pair >> 4);
                }
            }
            int eight = 8 * Unsafe.Add(ref sums, b);
            float scale = Unsafe.Add(ref scales, b);
            for (int j = 0; j < P; j++) totals[j] = MathF.FusedMultiplyAdd(block[j] - eight, Unsafe.Add(ref at, j) * scale, totals[j]);
            at = ref Unsafe.Add(ref at, P + 2 * count);
        }
        for (int j = 0; j < cols; j++) Unsafe.Add(ref c, j) = T.Invoke(totals[j]);
    }

    /// <summary>
    /// The calling thread's rows as the kernels read them (pinned, grown as needed, never shrunk): up to
    /// <see cref="VectorRows"/> rows quantized (codes, and for AVX2 each group of four inputs' codes laid out for
    /// <c>pmaddubsw</c>), or more rows rounded to <c>code · scale</c> in float32.
    /// </summary>
    private sealed class Activations
    {
        public float[] Rounded = Array.Empty<float>();
        public sbyte[] Codes = Array.Empty<sbyte>();
        public float[] Scales = Array.Empty<float>();
        public int[] Sums = Array.Empty<int>();

        /// <summary>Per row, per group of four inputs: 32 bytes, the first two inputs' codes eight times, then the last two's eight times.</summary>
        public byte[] Patterns = Array.Empty<byte>();

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Prepare(ref float a, nint lda, nint rows, nint k)
        {
            int length = checked((int)(rows * k));
            if (rows > VectorRows)
            {
                Grow(ref Rounded, length);
                for (nint r = 0; r < rows; r++)
                {
                    Span<float> row = Rounded.AsSpan((int)(r * k), (int)k);
                    MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref a, r * lda), (int)k).CopyTo(row);
                    Int4Activations.RoundTrip(row);
                }
                return;
            }
            int blocks = Int4Quantization.Blocks((int)k), groups = (int)(k / 4);
            Grow(ref Codes, length);
            Grow(ref Scales, checked((int)rows * blocks));
            Grow(ref Sums, checked((int)rows * blocks));
            Grow(ref Patterns, checked((int)rows * groups * 32));
            for (nint r = 0; r < rows; r++)
            {
                Int4Activations.Quantize(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref a, r * lda), (int)k), Codes.AsSpan((int)(r * k), (int)k),
                    Scales.AsSpan((int)r * blocks, blocks), Sums.AsSpan((int)r * blocks, blocks));
                if (!Avx2.IsSupported) continue;
                Vector256<byte> spread = Vector256.Create((byte)0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
                ref byte codes = ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Codes), r * k));
                ref byte patterns = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Patterns), r * groups * 32);
                for (int g = 0; g < groups; g++)
                    Avx2.Shuffle(Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref codes, g * 4))).AsByte(), spread).StoreUnsafe(ref patterns, (nuint)g * 32);
            }
        }

        private static void Grow<TElement>(ref TElement[] array, int length)
        {
            if (array.Length < length) array = GC.AllocateUninitializedArray<TElement>(length, pinned: true);
        }
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

        internal Activations? Activations;

        public void Set(Activations x, nint rows, ref float packedWeights, ref float paddedBias, nint k, nint n, ref float c, nint ldc)
        {
            Activations = x;
            Set(null, 0, rows, Unsafe.AsPointer(ref packedWeights), (float*)Unsafe.AsPointer(ref paddedBias), k, n, (float*)Unsafe.AsPointer(ref c), ldc);
        }

        protected override void RunPanels(nint first, nint last) =>
            Panels<TEpilogue>(Activations!, Rows, ref *(float*)Weights, ref *Bias, K, N, ref *C, Ldc, first, last);
    }
}
