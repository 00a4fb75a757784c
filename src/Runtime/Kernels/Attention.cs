using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Scaled dot-product attention, flash-style: keys and values are visited in tiles of <see cref="Tile"/> with a running
/// maximum and sum (the online softmax of Milakov and Gimelshein, as FlashAttention uses it), so neither the
/// queries×keys score matrix nor a whole row of it is ever stored; the scratch is one tile of scores.
/// </summary>
public static class Attention
{
    /// <summary>Keys per tile.</summary>
    public const int Tile = 64;

    /// <summary>Floats of scratch <see cref="Run"/> needs: one tile of scores.</summary>
    public static int ScratchFloats(int keys) => Math.Min(keys, Tile);

    /// <summary>
    /// Effectively computes, for each sample s, head h and query i:
    /// <c>out[i] = Σⱼ softmax(q[i]·k[j]/√e + mask[i, j])ⱼ · v[j]</c>, where <paramref name="geometry"/> is
    /// <c>AttentionGeometry.ToArray()</c>: heads, queries, keys, head size e, value size, then for q, k, v and the output
    /// the strides (in floats) between samples, heads and rows, then the mask's strides between samples and rows, then
    /// 1 for causal (key j hidden from query i when j &gt; i; those keys are not visited). <paramref name="mask"/> is
    /// additive and may be a null reference (no mask). A query whose keys are all hidden gives NaN, as in PyTorch.
    /// <paramref name="output"/> must not overlap the operands.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float q, ref float k, ref float v, ref float output, nint samples, ReadOnlySpan<int> geometry,
        ref float mask, ref float scratch)
    {
        int heads = geometry[0], queries = geometry[1], keys = geometry[2], headSize = geometry[3], valueSize = geometry[4];
        int qSample = geometry[5], qHead = geometry[6], qRow = geometry[7];
        int kSample = geometry[8], kHead = geometry[9], kRow = geometry[10];
        int vSample = geometry[11], vHead = geometry[12], vRow = geometry[13];
        int oSample = geometry[14], oHead = geometry[15], oRow = geometry[16];
        int maskSample = geometry[17], maskRow = geometry[18];
        bool causal = geometry[19] != 0, masked = !Unsafe.IsNullRef(ref mask);
        float scale = 1f / MathF.Sqrt(headSize);
        for (nint s = 0; s < samples; s++)
        for (nint h = 0; h < heads; h++)
        {
            ref float kh = ref Unsafe.Add(ref k, s * kSample + h * kHead);
            ref float vh = ref Unsafe.Add(ref v, s * vSample + h * vHead);
            for (nint i = 0; i < queries; i++)
            {
                ref float qi = ref Unsafe.Add(ref q, s * qSample + h * qHead + i * qRow);
                ref float o = ref Unsafe.Add(ref output, s * oSample + h * oHead + i * oRow);
                ref float maskRowStart = ref masked ? ref Unsafe.Add(ref mask, s * maskSample + i * maskRow) : ref mask;
                for (nint c = 0; c < valueSize; c++) Unsafe.Add(ref o, c) = 0f;
                float max = float.NegativeInfinity, sum = 0f;
                nint visible = causal ? Math.Min(keys, i + 1) : keys;
                for (nint start = 0; start < visible; start += Tile)
                {
                    nint count = Math.Min(Tile, visible - start);
                    float tileMax = float.NegativeInfinity;
                    for (nint j = 0; j < count; j++)
                    {
                        float score = Dot(ref qi, ref Unsafe.Add(ref kh, (start + j) * kRow), headSize) * scale;
                        if (masked) score += Unsafe.Add(ref maskRowStart, start + j);
                        Unsafe.Add(ref scratch, j) = score;
                        tileMax = MathF.Max(tileMax, score);
                    }
                    float newMax = MathF.Max(max, tileMax);
                    if (float.IsNegativeInfinity(newMax)) continue; // every key so far hidden: nothing to add yet
                    if (newMax != max)
                    {
                        float correction = MathF.Exp(max - newMax);
                        sum *= correction;
                        Scale(correction, ref o, valueSize);
                        max = newMax;
                    }
                    for (nint j = 0; j < count; j++)
                    {
                        float p = MathF.Exp(Unsafe.Add(ref scratch, j) - max);
                        sum += p;
                        Axpy(p, ref Unsafe.Add(ref vh, (start + j) * vRow), ref o, valueSize);
                    }
                }
                Scale(1f / sum, ref o, valueSize); // 0 / 0 = NaN when every key is hidden
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ref float a, ref float b, nint n)
    {
        float sum = 0f;
        nint i = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16) acc = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref a, (nuint)i), Vector512.LoadUnsafe(ref b, (nuint)i), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref a, (nuint)i), Vector256.LoadUnsafe(ref b, (nuint)i), acc);
            sum = Vector256.Sum(acc);
        }
        else if (Vector128.IsHardwareAccelerated && n >= 4)
        {
            Vector128<float> acc = Vector128<float>.Zero;
            for (; i + 4 <= n; i += 4) acc = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref a, (nuint)i), Vector128.LoadUnsafe(ref b, (nuint)i), acc);
            sum = Vector128.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
        return sum;
    }

    /// <summary>y += alpha · x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float alpha, ref float x, ref float y, nint n)
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a = Vector512.Create(alpha);
            for (; i + 16 <= n; i += 16)
                Vector512.MultiplyAddEstimate(a, Vector512.LoadUnsafe(ref x, (nuint)i), Vector512.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a = Vector256.Create(alpha);
            for (; i + 8 <= n; i += 8)
                Vector256.MultiplyAddEstimate(a, Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> a = Vector128.Create(alpha);
            for (; i + 4 <= n; i += 4)
                Vector128.MultiplyAddEstimate(a, Vector128.LoadUnsafe(ref x, (nuint)i), Vector128.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref y, i) += alpha * Unsafe.Add(ref x, i);
    }

    /// <summary>y *= alpha.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float alpha, ref float y, nint n)
    {
        for (nint i = 0; i < n; i++) Unsafe.Add(ref y, i) *= alpha;
    }
}
