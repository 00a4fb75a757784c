using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Scaled dot-product attention. Up to <see cref="KernelScratch.AttentionBlockKeys"/> keys with values in whole 16-column
/// panels (<see cref="KernelScratch.AttentionByBlocks"/>), by blocks of queries through <see cref="PackedLinear"/>
/// (<c>ByBlocks</c>). Otherwise flash-style: keys and values are visited in tiles of <see cref="Tile"/> with a running
/// maximum and sum (the online softmax of Milakov and Gimelshein, as FlashAttention uses it), so the queries×keys score
/// matrix is never stored, only one tile of one row. Each head's keys are first transposed into scratch, so a tile of
/// scores is a row of multiply-adds vectorized along the keys (no horizontal sums); exponentials are vectorized; the
/// weighted sum of values keeps four vectors of the output in registers across the tile. Written once over
/// <see cref="ILanes{TSelf}"/> for 512, 256 and 128 bits and scalars.
/// </summary>
public static class Attention
{
    /// <summary>Keys per tile.</summary>
    public const int Tile = KernelScratch.AttentionTile;

    /// <summary>
    /// Floats of scratch <see cref="Run"/> needs: one head's keys, transposed (rows padded to 16), its values, contiguous,
    /// and one tile of scores.
    /// </summary>
    public static int ScratchFloats(int keys, int headSize, int valueSize) => KernelScratch.Attention(keys, headSize, valueSize);

    private static int PaddedKeys(int keys) => (keys + 15) / 16 * 16;

    /// <summary>
    /// Effectively computes, for each sample s, head h and query i:
    /// <c>out[i] = Σⱼ softmax(q[i]·k[j]/√e + mask[i, j])ⱼ · v[j]</c>, where <paramref name="geometry"/> gives the heads,
    /// queries, keys, head size e and value size, for q, k, v and the output the strides (in floats) between samples,
    /// heads and rows, the mask's strides between samples and rows, and whether it is causal (key j hidden from query i
    /// when j &gt; i; those keys are not visited). <paramref name="mask"/> is
    /// additive and may be a null reference (no mask). A query whose keys are all hidden gives NaN, as in PyTorch.
    /// <paramref name="output"/> must not overlap the operands.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(ref float q, ref float k, ref float v, ref float output, nint samples, AttentionGeometry geometry,
        ref float mask, ref float scratch, KernelWorkers? workers = null)
    {
        // The heads reach the operands through pointers (they may run on other threads): pinned for the call (a null mask
        // pins nothing and stays null).
        fixed (float* pinnedQ = &q, pinnedK = &k, pinnedV = &v, pinnedOutput = &output, pinnedMask = &mask, pinnedScratch = &scratch)
        {
            if (Vector512.IsHardwareAccelerated) Core<Lanes512>(ref q, ref k, ref v, ref output, samples, geometry, ref mask, ref scratch, workers);
            else if (Vector256.IsHardwareAccelerated) Core<Lanes256>(ref q, ref k, ref v, ref output, samples, geometry, ref mask, ref scratch, workers);
            else if (Vector128.IsHardwareAccelerated) Core<Lanes128>(ref q, ref k, ref v, ref output, samples, geometry, ref mask, ref scratch, workers);
            else Core<Lanes1>(ref q, ref k, ref v, ref output, samples, geometry, ref mask, ref scratch, workers);
        }
    }

    private static unsafe void Core<TLanes>(ref float q, ref float k, ref float v, ref float output, nint samples, AttentionGeometry geometry,
        ref float mask, ref float scratch, KernelWorkers? workers)
        where TLanes : struct, ILanes<TLanes>
    {
        var heads = new Heads<TLanes>
        {
            Q = (float*)Unsafe.AsPointer(ref q),
            K = (float*)Unsafe.AsPointer(ref k),
            V = (float*)Unsafe.AsPointer(ref v),
            Output = (float*)Unsafe.AsPointer(ref output),
            Mask = (float*)Unsafe.AsPointer(ref mask),
            Geometry = geometry,
        };
        // Each head of each sample is independent: with workers, runs of them are shared among the threads, each with its
        // own scratch.
        long work = (long)samples * geometry.Heads * geometry.Queries * geometry.Keys * (geometry.HeadSize + geometry.ValueSize);
        KernelWorkers.Split(KernelWorkers.For(workers, work), checked((int)(samples * geometry.Heads)), heads, (float*)Unsafe.AsPointer(ref scratch),
            ScratchFloats(geometry.Keys, geometry.HeadSize, geometry.ValueSize));
    }

    /// <summary>Heads <c>[first, last)</c>, head p being sample p / heads's head p % heads.</summary>
    private unsafe struct Heads<TLanes> : KernelWorkers.IChunks
        where TLanes : struct, ILanes<TLanes>
    {
        public float* Q, K, V, Output, Mask;
        public AttentionGeometry Geometry;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int firstHead, int lastHead, float* scratchStart)
        {
            AttentionGeometry geometry = Geometry;
            int heads = geometry.Heads, queries = geometry.Queries, keys = geometry.Keys, headSize = geometry.HeadSize, valueSize = geometry.ValueSize;
            int qSample = geometry.QSample, qHead = geometry.QHead, qRow = geometry.QRow;
            int kSample = geometry.KSample, kHead = geometry.KHead, kRow = geometry.KRow;
            int vSample = geometry.VSample, vHead = geometry.VHead, vRow = geometry.VRow;
            int oSample = geometry.OSample, oHead = geometry.OHead, oRow = geometry.ORow;
            int maskSample = geometry.MaskSample, maskRow = geometry.MaskRow;
            ref float q = ref *Q, k = ref *K, v = ref *V, output = ref *Output, mask = ref *Mask;
            bool causal = geometry.Causal, masked = !Unsafe.IsNullRef(ref mask);
            int lanes = TLanes.Count, kp = PaddedKeys(keys);
            float scale = 1f / MathF.Sqrt(headSize);
            ref float kt = ref *scratchStart;
            ref float values = ref Unsafe.Add(ref kt, headSize * kp);
            ref float scores = ref Unsafe.Add(ref values, keys * valueSize);
            bool byBlocks = KernelScratch.AttentionByBlocks(keys, valueSize);
            ref float zeros = ref scores, block = ref Unsafe.Add(ref scores, Math.Max(kp, valueSize));
            if (byBlocks) System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref zeros, Math.Max(kp, valueSize)).Clear();
            for (int head = firstHead; head < lastHead; head++)
            {
                nint s = head / heads, h = head % heads;
                // kt[c, j] = k[j, c], zero past the last key.
                ref float kh = ref Unsafe.Add(ref k, s * kSample + h * kHead);
                for (int c = 0; c < headSize; c++)
                {
                    ref float line = ref Unsafe.Add(ref kt, c * kp);
                    for (int j = 0; j < keys; j++) Unsafe.Add(ref line, j) = Unsafe.Add(ref kh, j * kRow + c);
                    for (int j = keys; j < kp; j++) Unsafe.Add(ref line, j) = 0f;
                }
                // The head's values side by side: rows a power-of-two-ish stride apart in the packed projection (3·d floats)
                // fall into a few cache sets and evict each other; copied, they stream.
                ref float vh = ref Unsafe.Add(ref v, s * vSample + h * vHead);
                for (int j = 0; j < keys; j++)
                {
                    System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref vh, j * vRow), valueSize)
                        .CopyTo(System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref Unsafe.Add(ref values, j * valueSize), valueSize));
                }
                if (byBlocks)
                {
                    ByBlocks<TLanes>(ref Unsafe.Add(ref q, s * qSample + h * qHead), qRow, ref kt, kp, ref values, ref Unsafe.Add(ref output, s * oSample + h * oHead), oRow,
                        ref masked ? ref Unsafe.Add(ref mask, s * maskSample) : ref mask, maskRow, geometry, scale, ref zeros, ref block);
                    continue;
                }
                for (int i = 0; i < queries; i++)
                {
                    ref float qi = ref Unsafe.Add(ref q, s * qSample + h * qHead + i * qRow);
                    ref float o = ref Unsafe.Add(ref output, s * oSample + h * oHead + i * oRow);
                    ref float maskRowStart = ref masked ? ref Unsafe.Add(ref mask, s * maskSample + i * maskRow) : ref mask;
                    Scale<TLanes>(0f, ref o, valueSize);
                    float max = float.NegativeInfinity, sum = 0f;
                    int visible = causal ? Math.Min(keys, i + 1) : keys;
                    for (int start = 0; start < visible; start += Tile)
                    {
                        int count = Math.Min(Tile, visible - start), padded = (count + lanes - 1) / lanes * lanes;
                        Scores<TLanes>(ref qi, ref Unsafe.Add(ref kt, start), kp, headSize, padded, scale, ref scores);
                        if (masked) for (int j = 0; j < count; j++) Unsafe.Add(ref scores, j) += Unsafe.Add(ref maskRowStart, start + j);
                        for (int j = count; j < padded; j++) Unsafe.Add(ref scores, j) = float.NegativeInfinity;

                        TLanes top = TLanes.Load(ref scores);
                        for (int j = lanes; j < padded; j += lanes) top = TLanes.Max(top, TLanes.Load(ref Unsafe.Add(ref scores, j)));
                        float newMax = MathF.Max(max, TLanes.MaxAcross(top));
                        if (float.IsNegativeInfinity(newMax)) continue; // every key so far hidden: nothing to add yet
                        if (newMax != max)
                        {
                            float correction = MathF.Exp(max - newMax);
                            sum *= correction;
                            Scale<TLanes>(correction, ref o, valueSize);
                            max = newMax;
                        }
                        TLanes shift = TLanes.Broadcast(-max), total = TLanes.Broadcast(0f);
                        for (int j = 0; j < padded; j += lanes)
                        {
                            TLanes p = TLanes.Exp(TLanes.Add(TLanes.Load(ref Unsafe.Add(ref scores, j)), shift));
                            TLanes.Store(p, ref Unsafe.Add(ref scores, j));
                            total = TLanes.Add(total, p);
                        }
                        sum += TLanes.Sum(total);
                        WeightedValues<TLanes>(ref scores, count, ref Unsafe.Add(ref values, start * valueSize), valueSize, valueSize, ref o);
                    }
                    float inverse = 1f / sum; // 0 / 0 = NaN when every key is hidden
                    Scale<TLanes>(inverse, ref o, valueSize);
                }
            }
        }
    }

    /// <summary>
    /// One head by blocks of <see cref="KernelScratch.AttentionBlockRows"/> queries: the block's scores as one GEMM against
    /// the transposed keys (<see cref="PackedLinear.RunRowMajor"/>, whose register tiles reuse each key across six or eight
    /// queries where the flash loop reloads it per query), an exact softmax per row (the float exponential the flash-style loop uses), then the
    /// weighted values as a second GEMM. Causal blocks stop at the last key their last query sees; a row's hidden keys
    /// inside that range get probability 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ByBlocks<TLanes>(ref float q, int qRow, ref float kt, int kp, ref float values, ref float o, int oRow,
        ref float mask, int maskRow, AttentionGeometry geometry, float scale, ref float zeros, ref float block)
        where TLanes : struct, ILanes<TLanes>
    {
        int queries = geometry.Queries, keys = geometry.Keys, valueSize = geometry.ValueSize;
        bool causal = geometry.Causal, masked = !Unsafe.IsNullRef(ref mask);
        for (int first = 0; first < queries; first += KernelScratch.AttentionBlockRows)
        {
            int rows = Math.Min(KernelScratch.AttentionBlockRows, queries - first);
            // The keys any row of the block sees, and the score columns computed (whole panels).
            int seen = causal ? Math.Min(keys, first + rows) : keys, columns = (seen + 15) / 16 * 16;
            PackedLinear.RunRowMajor<IdentityOperator>(ref Unsafe.Add(ref q, (nint)first * qRow), qRow, rows, ref kt, kp, ref zeros,
                geometry.HeadSize, columns, ref block, kp);
            for (int r = 0; r < rows; r++)
            {
                int i = first + r, visible = causal ? Math.Min(keys, i + 1) : keys;
                ref float row = ref Unsafe.Add(ref block, (nint)r * kp);
                Softmax<TLanes>(ref row, visible, scale, ref masked ? ref Unsafe.Add(ref mask, (nint)i * maskRow) : ref mask);
                System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref Unsafe.Add(ref row, visible), seen - visible).Clear();
            }
            PackedLinear.RunRowMajor<IdentityOperator>(ref block, kp, rows, ref values, valueSize, ref zeros, seen, valueSize,
                ref Unsafe.Add(ref o, (nint)first * oRow), oRow);
        }
    }

    /// <summary>
    /// One row of scores in place: <c>x = row[j] · scale (+ mask[j])</c>, then <c>e^(x − max) / Σ e^(x − max)</c> over
    /// j &lt; <paramref name="count"/>, the exponential the flash-style path uses (<see cref="VectorMath.ExpFast(float)"/>,
    /// in float; .NET's vector exponential works in double). A row whose every score is −∞ gives NaN, as in PyTorch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Softmax<TLanes>(ref float row, int count, float scale, ref float mask)
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, whole = count / lanes * lanes, j = 0;
        TLanes factor = TLanes.Broadcast(scale), top = TLanes.Broadcast(float.NegativeInfinity);
        bool masked = !Unsafe.IsNullRef(ref mask);
        for (; j < whole; j += lanes)
        {
            TLanes x = TLanes.Multiply(TLanes.Load(ref Unsafe.Add(ref row, j)), factor);
            if (masked) x = TLanes.Add(x, TLanes.Load(ref Unsafe.Add(ref mask, j)));
            TLanes.Store(x, ref Unsafe.Add(ref row, j));
            top = TLanes.Max(top, x);
        }
        float max = TLanes.MaxAcross(top);
        for (; j < count; j++)
        {
            float x = Unsafe.Add(ref row, j) * scale + (masked ? Unsafe.Add(ref mask, j) : 0f);
            Unsafe.Add(ref row, j) = x;
            max = MathF.Max(max, x);
        }
        TLanes shift = TLanes.Broadcast(-max), total = TLanes.Broadcast(0f);
        for (j = 0; j < whole; j += lanes)
        {
            TLanes p = TLanes.Exp(TLanes.Add(TLanes.Load(ref Unsafe.Add(ref row, j)), shift));
            TLanes.Store(p, ref Unsafe.Add(ref row, j));
            total = TLanes.Add(total, p);
        }
        float sum = TLanes.Sum(total);
        for (; j < count; j++)
        {
            float p = VectorMath.ExpFast(Unsafe.Add(ref row, j) - max);
            Unsafe.Add(ref row, j) = p;
            sum += p;
        }
        TLanes inverse = TLanes.Broadcast(1f / sum);
        for (j = 0; j < whole; j += lanes) TLanes.Store(TLanes.Multiply(TLanes.Load(ref Unsafe.Add(ref row, j)), inverse), ref Unsafe.Add(ref row, j));
        for (; j < count; j++) Unsafe.Add(ref row, j) *= 1f / sum;
    }

    /// <summary>o[c] = factor · o[c]; a factor of 0 clears o.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale<TLanes>(float factor, ref float o, int count)
        where TLanes : struct, ILanes<TLanes>
    {
        if (factor == 0f)
        {
            System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref o, count).Clear();
            return;
        }
        int lanes = TLanes.Count, c = 0;
        TLanes f = TLanes.Broadcast(factor);
        for (; c + lanes <= count; c += lanes) TLanes.Store(TLanes.Multiply(TLanes.Load(ref Unsafe.Add(ref o, c)), f), ref Unsafe.Add(ref o, c));
        for (; c < count; c++) Unsafe.Add(ref o, c) *= factor;
    }

    /// <summary>scores[j] = scale · Σ_c q[c] · kt[c, j] for j &lt; <paramref name="padded"/> (a multiple of the width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores<TLanes>(ref float q, ref float kt, int kp, int headSize, int padded, float scale, ref float scores)
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, j = 0;
        TLanes factor = TLanes.Broadcast(scale);
        for (; j + 4 * lanes <= padded; j += 4 * lanes)
        {
            // Even and odd c in separate accumulators: eight independent chains keep both FMA pipes busy.
            TLanes a0 = TLanes.Broadcast(0f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            int c = 0;
            for (; c + 2 <= headSize; c += 2)
            {
                TLanes qc = TLanes.Broadcast(Unsafe.Add(ref q, c));
                ref float row = ref Unsafe.Add(ref kt, c * kp + j);
                a0 = TLanes.MultiplyAdd(qc, TLanes.Load(ref row), a0);
                a1 = TLanes.MultiplyAdd(qc, TLanes.Load(ref Unsafe.Add(ref row, lanes)), a1);
                a2 = TLanes.MultiplyAdd(qc, TLanes.Load(ref Unsafe.Add(ref row, 2 * lanes)), a2);
                a3 = TLanes.MultiplyAdd(qc, TLanes.Load(ref Unsafe.Add(ref row, 3 * lanes)), a3);
                TLanes qd = TLanes.Broadcast(Unsafe.Add(ref q, c + 1));
                ref float next = ref Unsafe.Add(ref row, kp);
                b0 = TLanes.MultiplyAdd(qd, TLanes.Load(ref next), b0);
                b1 = TLanes.MultiplyAdd(qd, TLanes.Load(ref Unsafe.Add(ref next, lanes)), b1);
                b2 = TLanes.MultiplyAdd(qd, TLanes.Load(ref Unsafe.Add(ref next, 2 * lanes)), b2);
                b3 = TLanes.MultiplyAdd(qd, TLanes.Load(ref Unsafe.Add(ref next, 3 * lanes)), b3);
            }
            if (c < headSize)
            {
                TLanes qc = TLanes.Broadcast(Unsafe.Add(ref q, c));
                ref float row = ref Unsafe.Add(ref kt, c * kp + j);
                a0 = TLanes.MultiplyAdd(qc, TLanes.Load(ref row), a0);
                a1 = TLanes.MultiplyAdd(qc, TLanes.Load(ref Unsafe.Add(ref row, lanes)), a1);
                a2 = TLanes.MultiplyAdd(qc, TLanes.Load(ref Unsafe.Add(ref row, 2 * lanes)), a2);
                a3 = TLanes.MultiplyAdd(qc, TLanes.Load(ref Unsafe.Add(ref row, 3 * lanes)), a3);
            }
            TLanes.Store(TLanes.Multiply(TLanes.Add(a0, b0), factor), ref Unsafe.Add(ref scores, j));
            TLanes.Store(TLanes.Multiply(TLanes.Add(a1, b1), factor), ref Unsafe.Add(ref scores, j + lanes));
            TLanes.Store(TLanes.Multiply(TLanes.Add(a2, b2), factor), ref Unsafe.Add(ref scores, j + 2 * lanes));
            TLanes.Store(TLanes.Multiply(TLanes.Add(a3, b3), factor), ref Unsafe.Add(ref scores, j + 3 * lanes));
        }
        for (; j < padded; j += lanes)
        {
            TLanes a = TLanes.Broadcast(0f);
            for (int c = 0; c < headSize; c++) a = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref q, c)), TLanes.Load(ref Unsafe.Add(ref kt, c * kp + j)), a);
            TLanes.Store(TLanes.Multiply(a, factor), ref Unsafe.Add(ref scores, j));
        }
    }

    /// <summary>o[c] += Σ_{j &lt; count} p[j] · v[j, c], four vectors of o at a time held in registers across the keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightedValues<TLanes>(ref float p, int count, ref float v, int vRow, int valueSize, ref float o)
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, c = 0;
        for (; c + 4 * lanes <= valueSize; c += 4 * lanes)
        {
            ref float oc = ref Unsafe.Add(ref o, c);
            TLanes o0 = TLanes.Load(ref oc), o1 = TLanes.Load(ref Unsafe.Add(ref oc, lanes));
            TLanes o2 = TLanes.Load(ref Unsafe.Add(ref oc, 2 * lanes)), o3 = TLanes.Load(ref Unsafe.Add(ref oc, 3 * lanes));
            // Even and odd keys in separate accumulators: eight independent chains.
            TLanes e0 = TLanes.Broadcast(0f), e1 = e0, e2 = e0, e3 = e0;
            int j = 0;
            for (; j + 2 <= count; j += 2)
            {
                TLanes pj = TLanes.Broadcast(Unsafe.Add(ref p, j));
                ref float row = ref Unsafe.Add(ref v, j * vRow + c);
                o0 = TLanes.MultiplyAdd(pj, TLanes.Load(ref row), o0);
                o1 = TLanes.MultiplyAdd(pj, TLanes.Load(ref Unsafe.Add(ref row, lanes)), o1);
                o2 = TLanes.MultiplyAdd(pj, TLanes.Load(ref Unsafe.Add(ref row, 2 * lanes)), o2);
                o3 = TLanes.MultiplyAdd(pj, TLanes.Load(ref Unsafe.Add(ref row, 3 * lanes)), o3);
                TLanes pk = TLanes.Broadcast(Unsafe.Add(ref p, j + 1));
                ref float next = ref Unsafe.Add(ref row, vRow);
                e0 = TLanes.MultiplyAdd(pk, TLanes.Load(ref next), e0);
                e1 = TLanes.MultiplyAdd(pk, TLanes.Load(ref Unsafe.Add(ref next, lanes)), e1);
                e2 = TLanes.MultiplyAdd(pk, TLanes.Load(ref Unsafe.Add(ref next, 2 * lanes)), e2);
                e3 = TLanes.MultiplyAdd(pk, TLanes.Load(ref Unsafe.Add(ref next, 3 * lanes)), e3);
            }
            if (j < count)
            {
                TLanes pj = TLanes.Broadcast(Unsafe.Add(ref p, j));
                ref float row = ref Unsafe.Add(ref v, j * vRow + c);
                o0 = TLanes.MultiplyAdd(pj, TLanes.Load(ref row), o0);
                o1 = TLanes.MultiplyAdd(pj, TLanes.Load(ref Unsafe.Add(ref row, lanes)), o1);
                o2 = TLanes.MultiplyAdd(pj, TLanes.Load(ref Unsafe.Add(ref row, 2 * lanes)), o2);
                o3 = TLanes.MultiplyAdd(pj, TLanes.Load(ref Unsafe.Add(ref row, 3 * lanes)), o3);
            }
            o0 = TLanes.Add(o0, e0); o1 = TLanes.Add(o1, e1); o2 = TLanes.Add(o2, e2); o3 = TLanes.Add(o3, e3);
            TLanes.Store(o0, ref oc);
            TLanes.Store(o1, ref Unsafe.Add(ref oc, lanes));
            TLanes.Store(o2, ref Unsafe.Add(ref oc, 2 * lanes));
            TLanes.Store(o3, ref Unsafe.Add(ref oc, 3 * lanes));
        }
        for (; c + lanes <= valueSize; c += lanes)
        {
            ref float oc = ref Unsafe.Add(ref o, c);
            TLanes acc = TLanes.Load(ref oc);
            for (int j = 0; j < count; j++) acc = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref p, j)), TLanes.Load(ref Unsafe.Add(ref v, j * vRow + c)), acc);
            TLanes.Store(acc, ref oc);
        }
        for (; c < valueSize; c++)
        {
            float acc = Unsafe.Add(ref o, c);
            for (int j = 0; j < count; j++) acc = float.MultiplyAddEstimate(Unsafe.Add(ref p, j), Unsafe.Add(ref v, j * vRow + c), acc);
            Unsafe.Add(ref o, c) = acc;
        }
    }
}
