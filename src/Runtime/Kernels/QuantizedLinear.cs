using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelCompiler.Kernels;

/// <summary>
/// The int8 fully connected layer: activations quantized per row, an exact int32 dot product against int8
/// weights packed in <see cref="QuantizedPanelLayout"/>, then dequantization, bias and the fused epilogue.
/// </summary>
/// <remarks>
/// One packed layout serves every instruction set; the fastest available form of the int8 dot product is used:
/// <list type="bullet">
/// <item>x86 with AVX-VNNI: <c>vpdpbusd</c> (u8 × s8 in groups of four, added into int32). Activations are made
/// unsigned by adding 128, and 128·Σw is subtracted at the end (exact).</item>
/// <item>x86 with AVX-512BW, or AVX2: weights widened to int16 and <c>vpmaddwd</c>. (The u8 × s8 <c>pmaddubsw</c>
/// saturates at 16 bits and would give wrong sums, so it is not used.)</item>
/// <item>Arm with the dot-product extension: <c>SDOT</c>.</item>
/// <item>Any other 128-bit vectors (Arm without SDOT, x86 without AVX2): widen, multiply in int16 (|q| ≤ 127, so
/// products fit), widen again and add in int32.</item>
/// <item>Scalar.</item>
/// </list>
/// Integer sums are exact whatever the order, and dequantization is the same two float roundings everywhere
/// (<see cref="Int8Quantization.Dequantize"/>), so every path equals the eager int8 reference bit for bit.
/// </remarks>
public static class QuantizedLinear
{
    private const int P = QuantizedPanelLayout.PanelWidth;
    private const int G = QuantizedPanelLayout.Group;

    /// <summary>Rows quantized and multiplied together.</summary>
    public const int TileRows = QuantizedPanelLayout.TileRows;

    /// <summary>Scratch bytes <see cref="Run"/> needs for <paramref name="k"/> input features.</summary>
    public static int ScratchBytes(int k) => QuantizedPanelLayout.ScratchBytes(k);

    /// <summary>Which form of the int8 dot product this process uses (for tests and diagnostics).</summary>
    public static string PathName => Select().ToString();

    private enum Path { Vnni, Madd512, Madd256, Sdot, Portable128, Scalar }

    /// <summary>How activations are stored for the dot product each path uses.</summary>
    private enum Format { SByte, Byte, Short }

    private static Path Select()
    {
        if (AvxVnni.IsSupported) return Path.Vnni;
        if (Avx512BW.IsSupported && Vector512.IsHardwareAccelerated) return Path.Madd512;
        if (Avx2.IsSupported) return Path.Madd256;
        if (Dp.IsSupported) return Path.Sdot;
        if (Vector128.IsHardwareAccelerated) return Path.Portable128;
        return Path.Scalar;
    }

    /// <summary>
    /// Effectively computes, for each row <c>r</c> and output <c>j &lt; n</c>:
    /// <c>c[r, j] = TEpilogue(Dequantize(Σₖ qa[r, κ] · qw[j, κ], rowScale[r], weightScales[j], bias[j]))</c>,
    /// where <c>qa</c> quantizes row <c>r</c> of <paramref name="a"/> by <see cref="Int8Quantization"/>.
    /// </summary>
    /// <param name="a">First activation row; rows are <paramref name="lda"/> floats apart.</param>
    /// <param name="lda">Distance between activation rows, in floats.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="packedWeights">Weight codes in <see cref="QuantizedPanelLayout"/>.</param>
    /// <param name="weightScales">One scale per output, padded to whole panels.</param>
    /// <param name="paddedBias">The bias padded to whole panels (zeros for a layer without bias).</param>
    /// <param name="columnSums">Σₖ qw[j, κ] per output, padded to whole panels.</param>
    /// <param name="k">Input features.</param>
    /// <param name="n">Output features.</param>
    /// <param name="c">First output row; rows are <paramref name="ldc"/> floats apart.</param>
    /// <param name="ldc">Distance between output rows, in floats.</param>
    /// <param name="scratch">At least <see cref="ScratchBytes"/>(k) bytes for the quantized activations.</param>
    /// <param name="staticRange">
    /// Int8Static: the calibrated largest input magnitude, used for every row instead of the row's own (values
    /// beyond it saturate); negative for dynamic, per-row ranges.
    /// </param>
    /// <param name="workers">Threads to share the product with, by panels (a decoder session's; every buffer pinned): each
    /// quantizes the rows itself, the same way, so the result is bit-identical to one thread.</param>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run<TEpilogue>(ref float a, nint lda, nint rows, ref sbyte packedWeights, ref float weightScales,
        ref float paddedBias, ref int columnSums, nint k, nint n, ref float c, nint ldc, ref byte scratch, float staticRange = -1f, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator
    {
        nint panels = (n + P - 1) / P;
        if (workers is null || (long)k * n < PackedLinear.ParallelWeights || panels < 2 * workers.Parts)
        {
            Panels<TEpilogue>(ref a, lda, rows, ref packedWeights, ref weightScales, ref paddedBias, ref columnSums, k, n, ref c, ldc, ref scratch, staticRange, 0, panels);
            return;
        }
        Job<TEpilogue> job = Job<TEpilogue>.Instance ??= new Job<TEpilogue>();
        job.Set((float*)Unsafe.AsPointer(ref a), lda, rows, Unsafe.AsPointer(ref packedWeights), (float*)Unsafe.AsPointer(ref paddedBias), k, n,
            (float*)Unsafe.AsPointer(ref c), ldc);
        job.SetQuantized((float*)Unsafe.AsPointer(ref weightScales), (int*)Unsafe.AsPointer(ref columnSums), staticRange);
        workers.Run(job);
    }

    /// <summary>One product shared among workers by panels: each part quantizes the rows into its own scratch, the same way.</summary>
    private sealed unsafe class Job<TEpilogue> : KernelWorkers.PanelJob where TEpilogue : struct, IUnaryOperator
    {
        [ThreadStatic] internal static Job<TEpilogue>? Instance;
        [ThreadStatic] private static AlignedBuffer? t_scratch;
        private float* _scales;
        private int* _sums;
        private float _range;

        public void SetQuantized(float* scales, int* sums, float range)
        {
            _scales = scales;
            _sums = sums;
            _range = range;
        }

        protected override void RunPanels(nint first, nint last)
        {
            int bytes = QuantizedPanelLayout.ScratchBytes((int)K);
            AlignedBuffer scratch = t_scratch is { } held && held.Length * 4 >= bytes ? held : t_scratch = new AlignedBuffer((bytes + 3) / 4);
            Panels<TEpilogue>(ref *A, Lda, Rows, ref *(sbyte*)Weights, ref *_scales, ref *Bias, ref *_sums, K, N, ref *C, Ldc,
                ref Unsafe.As<float, byte>(ref scratch.Start), _range, first, last);
        }
    }

    /// <summary>Panels <c>[first, last)</c> of the product, every row.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Panels<TEpilogue>(ref float a, nint lda, nint rows, ref sbyte packedWeights, ref float weightScales,
        ref float paddedBias, ref int columnSums, nint k, nint n, ref float c, nint ldc, ref byte scratch, float staticRange, nint first, nint last)
        where TEpilogue : struct, IUnaryOperator
    {
        Path path = Select();
        Format format = path switch { Path.Vnni => Format.Byte, Path.Sdot or Path.Scalar => Format.SByte, _ => Format.Short };
        nint k4 = QuantizedPanelLayout.PaddedK((int)k);
        nint rowBytes = k4 * (format == Format.Short ? 2 : 1);
        Span<float> rowScales = stackalloc float[TileRows];
        Span<int> sums = stackalloc int[TileRows * P];

        for (nint r0 = 0; r0 < rows; r0 += TileRows)
        {
            nint tile = Math.Min(TileRows, rows - r0);
            for (nint t = 0; t < tile; t++)
                rowScales[(int)t] = QuantizeRow(ref Unsafe.Add(ref a, (r0 + t) * lda), k, k4, ref Unsafe.Add(ref scratch, t * rowBytes), format, staticRange);

            for (nint p = first; p < last; p++)
            {
                ref sbyte w = ref Unsafe.Add(ref packedWeights, p * P * k4);
                ref int s = ref MemoryMarshal.GetReference(sums);
                switch (path)
                {
                    case Path.Vnni:
                        if (tile == 8) Vnni8(ref scratch, k4, ref w, ref Unsafe.Add(ref columnSums, p * P), ref s);
                        else if (tile == 4) Vnni4(ref scratch, k4, ref w, ref Unsafe.Add(ref columnSums, p * P), ref s);
                        else for (nint t = 0; t < tile; t++) Vnni1(ref Unsafe.Add(ref scratch, t * rowBytes), k4, ref w, ref Unsafe.Add(ref columnSums, p * P), ref Unsafe.Add(ref s, t * P));
                        break;
                    case Path.Madd512:
                        for (nint t = 0; t < tile; t++) Madd512(ref Unsafe.Add(ref scratch, t * rowBytes), k4, ref w, ref Unsafe.Add(ref s, t * P));
                        break;
                    case Path.Madd256:
                        for (nint t = 0; t < tile; t++) Madd256(ref Unsafe.Add(ref scratch, t * rowBytes), k4, ref w, ref Unsafe.Add(ref s, t * P));
                        break;
                    case Path.Sdot:
                        for (nint t = 0; t < tile; t++) Sdot(ref Unsafe.Add(ref scratch, t * rowBytes), k4, ref w, ref Unsafe.Add(ref s, t * P));
                        break;
                    case Path.Portable128:
                        for (nint t = 0; t < tile; t++) Portable128(ref Unsafe.Add(ref scratch, t * rowBytes), k4, ref w, ref Unsafe.Add(ref s, t * P));
                        break;
                    default:
                        for (nint t = 0; t < tile; t++) ScalarDot(ref Unsafe.Add(ref scratch, t * rowBytes), k4, ref w, ref Unsafe.Add(ref s, t * P));
                        break;
                }
                nint cols = Math.Min(P, n - p * P);
                for (nint t = 0; t < tile; t++)
                {
                    Dequantize<TEpilogue>(ref Unsafe.Add(ref s, t * P), rowScales[(int)t], ref Unsafe.Add(ref weightScales, p * P),
                        ref Unsafe.Add(ref paddedBias, p * P), ref Unsafe.Add(ref c, (r0 + t) * ldc + p * P), cols);
                }
            }
        }
    }

    // ---- activation quantization ----

    /// <summary>Quantizes one row into <paramref name="destination"/> (padded to <paramref name="k4"/>); returns the row's scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float QuantizeRow(ref float x, nint k, nint k4, ref byte destination, Format format, float staticRange)
    {
        float amax = 0f;
        nint i = 0;
        if (staticRange >= 0f)
        {
            amax = staticRange;
            i = k; // no scan
        }
        else if (Vector512.IsHardwareAccelerated && k >= 16)
        {
            Vector512<float> m = Vector512<float>.Zero;
            for (; i + 16 <= k; i += 16) m = Vector512.Max(m, Vector512.Abs(Vector512.LoadUnsafe(ref x, (nuint)i)));
            for (int l = 0; l < 16; l++) amax = MathF.Max(amax, m.GetElement(l));
        }
        else if (Vector128.IsHardwareAccelerated && k >= 4)
        {
            Vector128<float> m = Vector128<float>.Zero;
            for (; i + 4 <= k; i += 4) m = Vector128.Max(m, Vector128.Abs(Vector128.LoadUnsafe(ref x, (nuint)i)));
            for (int l = 0; l < 4; l++) amax = MathF.Max(amax, m.GetElement(l));
        }
        for (; i < k; i++) amax = MathF.Max(amax, MathF.Abs(Unsafe.Add(ref x, i)));
        float scale = Int8Quantization.RowScale(amax, out float inverse);

        i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> inv = Vector512.Create(inverse), lo = Vector512.Create(-127f), hi = Vector512.Create(127f);
            for (; i + 16 <= k; i += 16)
            {
                Vector512<int> q = Vector512.ConvertToInt32(Vector512.Min(Vector512.Max(Vector512.Round(Vector512.LoadUnsafe(ref x, (nuint)i) * inv), lo), hi));
                Store(q, ref destination, i, format);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> inv = Vector128.Create(inverse), lo = Vector128.Create(-127f), hi = Vector128.Create(127f);
            for (; i + 4 <= k; i += 4)
            {
                Vector128<int> q = Vector128.ConvertToInt32(Vector128.Min(Vector128.Max(Vector128.Round(Vector128.LoadUnsafe(ref x, (nuint)i) * inv), lo), hi));
                for (int l = 0; l < 4; l++) StoreOne(q.GetElement(l), ref destination, i + l, format);
            }
        }
        for (; i < k; i++) StoreOne(Int8Quantization.QuantizeActivation(Unsafe.Add(ref x, i), inverse), ref destination, i, format);
        for (; i < k4; i++) StoreOne(0, ref destination, i, format);
        return scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<int> q, ref byte destination, nint i, Format format)
    {
        switch (format)
        {
            case Format.Short:
                Vector512.Narrow(q, q).GetLower().StoreUnsafe(ref Unsafe.As<byte, short>(ref destination), (nuint)i);
                break;
            case Format.SByte:
                Vector512<short> s = Vector512.Narrow(q, q);
                Vector512.Narrow(s, s).GetLower().GetLower().StoreUnsafe(ref Unsafe.As<byte, sbyte>(ref destination), (nuint)i);
                break;
            default:
                Vector512<ushort> u = Vector512.Narrow((q + Vector512.Create(128)).AsUInt32(), (q + Vector512.Create(128)).AsUInt32());
                Vector512.Narrow(u, u).GetLower().GetLower().StoreUnsafe(ref destination, (nuint)i);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOne(int q, ref byte destination, nint i, Format format)
    {
        switch (format)
        {
            case Format.Short: Unsafe.Add(ref Unsafe.As<byte, short>(ref destination), i) = (short)q; break;
            case Format.SByte: Unsafe.Add(ref destination, i) = (byte)(sbyte)q; break;
            default: Unsafe.Add(ref destination, i) = (byte)(q + 128); break;
        }
    }

    // ---- dot products: one panel (16 outputs) over all of K; sums[j] = Σ qa[κ] · qw[j, κ] ----

    /// <summary>AVX-VNNI, four rows: 8 accumulators of 8 int32.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Vnni4(ref byte qa, nint k4, ref sbyte w, ref int columnSums, ref int sums)
    {
        ref byte a0 = ref qa;
        ref byte a1 = ref Unsafe.Add(ref qa, k4);
        ref byte a2 = ref Unsafe.Add(ref qa, 2 * k4);
        ref byte a3 = ref Unsafe.Add(ref qa, 3 * k4);
        Vector256<int> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
        for (nint g = 0; g < k4; g += G)
        {
            Vector256<sbyte> wl = Vector256.LoadUnsafe(ref w, (nuint)(g * P));
            Vector256<sbyte> wh = Vector256.LoadUnsafe(ref w, (nuint)(g * P + 32));
            Vector256<byte> x0 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a0, g))).AsByte();
            Vector256<byte> x1 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a1, g))).AsByte();
            Vector256<byte> x2 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a2, g))).AsByte();
            Vector256<byte> x3 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a3, g))).AsByte();
            l0 = AvxVnni.MultiplyWideningAndAdd(l0, x0, wl); h0 = AvxVnni.MultiplyWideningAndAdd(h0, x0, wh);
            l1 = AvxVnni.MultiplyWideningAndAdd(l1, x1, wl); h1 = AvxVnni.MultiplyWideningAndAdd(h1, x1, wh);
            l2 = AvxVnni.MultiplyWideningAndAdd(l2, x2, wl); h2 = AvxVnni.MultiplyWideningAndAdd(h2, x2, wh);
            l3 = AvxVnni.MultiplyWideningAndAdd(l3, x3, wl); h3 = AvxVnni.MultiplyWideningAndAdd(h3, x3, wh);
        }
        // The activations were shifted by +128 to be unsigned: take 128 · Σw back out.
        Vector256<int> cl = Vector256.LoadUnsafe(ref columnSums) * 128, ch = Vector256.LoadUnsafe(ref columnSums, 8) * 128;
        (l0 - cl).StoreUnsafe(ref sums); (h0 - ch).StoreUnsafe(ref sums, 8);
        (l1 - cl).StoreUnsafe(ref sums, 16); (h1 - ch).StoreUnsafe(ref sums, 24);
        (l2 - cl).StoreUnsafe(ref sums, 32); (h2 - ch).StoreUnsafe(ref sums, 40);
        (l3 - cl).StoreUnsafe(ref sums, 48); (h3 - ch).StoreUnsafe(ref sums, 56);
    }

    /// <summary>AVX-VNNI, eight rows: 16 accumulators, enough independent sums to cover vpdpbusd's latency.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Vnni8(ref byte qa, nint k4, ref sbyte w, ref int columnSums, ref int sums)
    {
        ref byte a0 = ref qa;
        ref byte a1 = ref Unsafe.Add(ref qa, k4);
        ref byte a2 = ref Unsafe.Add(ref qa, 2 * k4);
        ref byte a3 = ref Unsafe.Add(ref qa, 3 * k4);
        ref byte a4 = ref Unsafe.Add(ref qa, 4 * k4);
        ref byte a5 = ref Unsafe.Add(ref qa, 5 * k4);
        ref byte a6 = ref Unsafe.Add(ref qa, 6 * k4);
        ref byte a7 = ref Unsafe.Add(ref qa, 7 * k4);
        Vector256<int> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
        Vector256<int> l4 = default, h4 = default, l5 = default, h5 = default, l6 = default, h6 = default, l7 = default, h7 = default;
        for (nint g = 0; g < k4; g += G)
        {
            Vector256<sbyte> wl = Vector256.LoadUnsafe(ref w, (nuint)(g * P));
            Vector256<sbyte> wh = Vector256.LoadUnsafe(ref w, (nuint)(g * P + 32));
            Vector256<byte> x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a0, g))).AsByte();
            l0 = AvxVnni.MultiplyWideningAndAdd(l0, x, wl); h0 = AvxVnni.MultiplyWideningAndAdd(h0, x, wh);
            x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a1, g))).AsByte();
            l1 = AvxVnni.MultiplyWideningAndAdd(l1, x, wl); h1 = AvxVnni.MultiplyWideningAndAdd(h1, x, wh);
            x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a2, g))).AsByte();
            l2 = AvxVnni.MultiplyWideningAndAdd(l2, x, wl); h2 = AvxVnni.MultiplyWideningAndAdd(h2, x, wh);
            x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a3, g))).AsByte();
            l3 = AvxVnni.MultiplyWideningAndAdd(l3, x, wl); h3 = AvxVnni.MultiplyWideningAndAdd(h3, x, wh);
            x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a4, g))).AsByte();
            l4 = AvxVnni.MultiplyWideningAndAdd(l4, x, wl); h4 = AvxVnni.MultiplyWideningAndAdd(h4, x, wh);
            x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a5, g))).AsByte();
            l5 = AvxVnni.MultiplyWideningAndAdd(l5, x, wl); h5 = AvxVnni.MultiplyWideningAndAdd(h5, x, wh);
            x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a6, g))).AsByte();
            l6 = AvxVnni.MultiplyWideningAndAdd(l6, x, wl); h6 = AvxVnni.MultiplyWideningAndAdd(h6, x, wh);
            x = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref a7, g))).AsByte();
            l7 = AvxVnni.MultiplyWideningAndAdd(l7, x, wl); h7 = AvxVnni.MultiplyWideningAndAdd(h7, x, wh);
        }
        Vector256<int> cl = Vector256.LoadUnsafe(ref columnSums) * 128, ch = Vector256.LoadUnsafe(ref columnSums, 8) * 128;
        (l0 - cl).StoreUnsafe(ref sums); (h0 - ch).StoreUnsafe(ref sums, 8);
        (l1 - cl).StoreUnsafe(ref sums, 16); (h1 - ch).StoreUnsafe(ref sums, 24);
        (l2 - cl).StoreUnsafe(ref sums, 32); (h2 - ch).StoreUnsafe(ref sums, 40);
        (l3 - cl).StoreUnsafe(ref sums, 48); (h3 - ch).StoreUnsafe(ref sums, 56);
        (l4 - cl).StoreUnsafe(ref sums, 64); (h4 - ch).StoreUnsafe(ref sums, 72);
        (l5 - cl).StoreUnsafe(ref sums, 80); (h5 - ch).StoreUnsafe(ref sums, 88);
        (l6 - cl).StoreUnsafe(ref sums, 96); (h6 - ch).StoreUnsafe(ref sums, 104);
        (l7 - cl).StoreUnsafe(ref sums, 112); (h7 - ch).StoreUnsafe(ref sums, 120);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Vnni1(ref byte qa, nint k4, ref sbyte w, ref int columnSums, ref int sums)
    {
        Vector256<int> l0 = default, h0 = default, l1 = default, h1 = default;
        nint g = 0;
        // Two independent chains per half: vpdpbusd's latency is hidden by the other chain.
        for (; g + 2 * G <= k4; g += 2 * G)
        {
            Vector256<byte> x0 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref qa, g))).AsByte();
            Vector256<byte> x1 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref qa, g + G))).AsByte();
            l0 = AvxVnni.MultiplyWideningAndAdd(l0, x0, Vector256.LoadUnsafe(ref w, (nuint)(g * P)));
            h0 = AvxVnni.MultiplyWideningAndAdd(h0, x0, Vector256.LoadUnsafe(ref w, (nuint)(g * P + 32)));
            l1 = AvxVnni.MultiplyWideningAndAdd(l1, x1, Vector256.LoadUnsafe(ref w, (nuint)(g * P + 64)));
            h1 = AvxVnni.MultiplyWideningAndAdd(h1, x1, Vector256.LoadUnsafe(ref w, (nuint)(g * P + 96)));
        }
        for (; g < k4; g += G)
        {
            Vector256<byte> x0 = Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.Add(ref qa, g))).AsByte();
            l0 = AvxVnni.MultiplyWideningAndAdd(l0, x0, Vector256.LoadUnsafe(ref w, (nuint)(g * P)));
            h0 = AvxVnni.MultiplyWideningAndAdd(h0, x0, Vector256.LoadUnsafe(ref w, (nuint)(g * P + 32)));
        }
        (l0 + l1 - Vector256.LoadUnsafe(ref columnSums) * 128).StoreUnsafe(ref sums);
        (h0 + h1 - Vector256.LoadUnsafe(ref columnSums, 8) * 128).StoreUnsafe(ref sums, 8);
    }

    /// <summary>AVX-512BW: codes widened to int16, <c>vpmaddwd</c> gives pairs of products; pairs are added at the end.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Madd512(ref byte qa, nint k4, ref sbyte w, ref int sums)
    {
        ref short x = ref Unsafe.As<byte, short>(ref qa);
        Vector512<int> lo = default, hi = default;
        for (nint g = 0; g < k4; g += G)
        {
            Vector512<short> xv = Vector512.Create(Unsafe.ReadUnaligned<long>(ref Unsafe.As<short, byte>(ref Unsafe.Add(ref x, g)))).AsInt16();
            Vector512<sbyte> wv = Vector512.LoadUnsafe(ref w, (nuint)(g * P));
            lo += Avx512BW.MultiplyAddAdjacent(Vector512.WidenLower(wv), xv);
            hi += Avx512BW.MultiplyAddAdjacent(Vector512.WidenUpper(wv), xv);
        }
        AddPairs(lo, ref sums);
        AddPairs(hi, ref Unsafe.Add(ref sums, 8));
    }

    /// <summary>AVX2: as <see cref="Madd512"/> with four 256-bit quarters.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Madd256(ref byte qa, nint k4, ref sbyte w, ref int sums)
    {
        ref short x = ref Unsafe.As<byte, short>(ref qa);
        Vector256<int> q0 = default, q1 = default, q2 = default, q3 = default;
        for (nint g = 0; g < k4; g += G)
        {
            Vector256<short> xv = Vector256.Create(Unsafe.ReadUnaligned<long>(ref Unsafe.As<short, byte>(ref Unsafe.Add(ref x, g)))).AsInt16();
            Vector256<sbyte> w0 = Vector256.LoadUnsafe(ref w, (nuint)(g * P));
            Vector256<sbyte> w1 = Vector256.LoadUnsafe(ref w, (nuint)(g * P + 32));
            q0 += Avx2.MultiplyAddAdjacent(Vector256.WidenLower(w0), xv);
            q1 += Avx2.MultiplyAddAdjacent(Vector256.WidenUpper(w0), xv);
            q2 += Avx2.MultiplyAddAdjacent(Vector256.WidenLower(w1), xv);
            q3 += Avx2.MultiplyAddAdjacent(Vector256.WidenUpper(w1), xv);
        }
        AddPairs(q0, ref sums);
        AddPairs(q1, ref Unsafe.Add(ref sums, 4));
        AddPairs(q2, ref Unsafe.Add(ref sums, 8));
        AddPairs(q3, ref Unsafe.Add(ref sums, 12));
    }

    /// <summary>Arm SDOT: each int32 lane adds the dot product of four codes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Sdot(ref byte qa, nint k4, ref sbyte w, ref int sums)
    {
        ref sbyte x = ref Unsafe.As<byte, sbyte>(ref qa);
        Vector128<int> s0 = default, s1 = default, s2 = default, s3 = default;
        for (nint g = 0; g < k4; g += G)
        {
            Vector128<sbyte> xv = Vector128.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref x, g)))).AsSByte();
            ref sbyte wg = ref Unsafe.Add(ref w, g * P);
            s0 = Dp.DotProduct(s0, Vector128.LoadUnsafe(ref wg), xv);
            s1 = Dp.DotProduct(s1, Vector128.LoadUnsafe(ref wg, 16), xv);
            s2 = Dp.DotProduct(s2, Vector128.LoadUnsafe(ref wg, 32), xv);
            s3 = Dp.DotProduct(s3, Vector128.LoadUnsafe(ref wg, 48), xv);
        }
        s0.StoreUnsafe(ref sums);
        s1.StoreUnsafe(ref sums, 4);
        s2.StoreUnsafe(ref sums, 8);
        s3.StoreUnsafe(ref sums, 12);
    }

    /// <summary>
    /// Any 128-bit vectors: codes and activations widened to int16 and multiplied (|products| ≤ 127² fit int16),
    /// products widened to int32 and added. One accumulator per output holds its four k-lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Portable128(ref byte qa, nint k4, ref sbyte w, ref int sums)
    {
        ref short x = ref Unsafe.As<byte, short>(ref qa);
        Span<int> partial = stackalloc int[P * 4];
        partial.Clear();
        ref int acc = ref MemoryMarshal.GetReference(partial);
        for (nint g = 0; g < k4; g += G)
        {
            Vector128<short> xv = Vector128.Create(Unsafe.ReadUnaligned<long>(ref Unsafe.As<short, byte>(ref Unsafe.Add(ref x, g)))).AsInt16();
            for (nint q = 0; q < 4; q++)
            {
                Vector128<sbyte> wv = Vector128.LoadUnsafe(ref w, (nuint)(g * P + q * 16));
                Vector128<short> pl = Vector128.WidenLower(wv) * xv; // outputs 4q, 4q+1
                Vector128<short> ph = Vector128.WidenUpper(wv) * xv; // outputs 4q+2, 4q+3
                ref int o = ref Unsafe.Add(ref acc, q * 16);
                (Vector128.LoadUnsafe(ref o) + Vector128.WidenLower(pl)).StoreUnsafe(ref o);
                (Vector128.LoadUnsafe(ref o, 4) + Vector128.WidenUpper(pl)).StoreUnsafe(ref o, 4);
                (Vector128.LoadUnsafe(ref o, 8) + Vector128.WidenLower(ph)).StoreUnsafe(ref o, 8);
                (Vector128.LoadUnsafe(ref o, 12) + Vector128.WidenUpper(ph)).StoreUnsafe(ref o, 12);
            }
        }
        for (int j = 0; j < P; j++) Unsafe.Add(ref sums, j) = Vector128.Sum(Vector128.LoadUnsafe(ref acc, (nuint)(j * 4)));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ScalarDot(ref byte qa, nint k4, ref sbyte w, ref int sums)
    {
        ref sbyte x = ref Unsafe.As<byte, sbyte>(ref qa);
        for (nint j = 0; j < P; j++)
        {
            int s = 0;
            for (nint g = 0; g < k4; g += G)
            {
                for (nint e = 0; e < G; e++) s += Unsafe.Add(ref x, g + e) * Unsafe.Add(ref w, (g * P) + j * G + e);
            }
            Unsafe.Add(ref sums, j) = s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddPairs(Vector512<int> v, ref int destination)
    {
        for (int j = 0; j < 8; j++) Unsafe.Add(ref destination, j) = v.GetElement(2 * j) + v.GetElement(2 * j + 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddPairs(Vector256<int> v, ref int destination)
    {
        for (int j = 0; j < 4; j++) Unsafe.Add(ref destination, j) = v.GetElement(2 * j) + v.GetElement(2 * j + 1);
    }

    // ---- dequantization, bias, epilogue ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dequantize<T>(ref int sums, float rowScale, ref float weightScales, ref float bias, ref float c, nint cols)
        where T : struct, IUnaryOperator
    {
        if (Vector512.IsHardwareAccelerated)
        {
            // The same two roundings as Int8Quantization.Dequantize: (rowScale · weightScale), then sum · that, then + bias.
            Vector512<float> combined = Vector512.Create(rowScale) * Vector512.LoadUnsafe(ref weightScales);
            Vector512<float> y = T.Invoke(Vector512.ConvertToSingle(Vector512.LoadUnsafe(ref sums)) * combined + Vector512.LoadUnsafe(ref bias));
            if (cols == P) y.StoreUnsafe(ref c);
            else for (int j = 0; j < cols; j++) Unsafe.Add(ref c, j) = y.GetElement(j);
            return;
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (nint q = 0; q < P; q += 4)
            {
                Vector128<float> combined = Vector128.Create(rowScale) * Vector128.LoadUnsafe(ref weightScales, (nuint)q);
                Vector128<float> y = T.Invoke(Vector128.ConvertToSingle(Vector128.LoadUnsafe(ref sums, (nuint)q)) * combined + Vector128.LoadUnsafe(ref bias, (nuint)q));
                if (q + 4 <= cols) y.StoreUnsafe(ref c, (nuint)q);
                else for (int j = 0; q + j < cols; j++) Unsafe.Add(ref c, q + j) = y.GetElement(j);
            }
            return;
        }
        for (nint j = 0; j < cols; j++)
            Unsafe.Add(ref c, j) = T.Invoke(Int8Quantization.Dequantize(Unsafe.Add(ref sums, j), rowScale, Unsafe.Add(ref weightScales, j), Unsafe.Add(ref bias, j)));
    }
}
