using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Causal grouped-query attention of new tokens over a decoder's <see cref="KvCache"/>: the decode step's and the
/// prefill's attention.
/// </summary>
public static class CachedAttention
{
    /// <summary>
    /// Effectively computes <c>DecoderReference.CausalAttention</c> for rows at positions <c>position…position+rows−1</c>
    /// of a sequence whose earlier keys and values are in <paramref name="cache"/>'s slot <paramref name="slot"/>: first
    /// each row's keys and values (<paramref name="kvHeads"/> heads of <paramref name="headSize"/>) are stored at the
    /// row's position, then each row's queries (<paramref name="heads"/> heads) attend to positions <c>0…its own</c>,
    /// <c>softmax(q·kᵀ/√e)·v</c>, query head <c>h</c> reading key head <c>h / (heads / kvHeads)</c>. Rows are dense:
    /// queries and outputs <c>heads · headSize</c> apart, keys and values <c>kvHeads · headSize</c>. Scores are computed in
    /// float, with one max-subtracted exponential pass (two passes over the cache: keys, then values).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows do not fit in the cache, or the heads do not fit the slot.</exception>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float q, ref float k, ref float v, ref float output, int rows, int heads, int kvHeads, int headSize,
        KvCache cache, int slot, int position)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if ((uint)slot >= (uint)cache.KvWidths.Length || kvHeads <= 0 || heads % kvHeads != 0 || (long)kvHeads * headSize != cache.KvWidths[slot]
            || cache.Format != KvCacheFormat.Float32 && cache.HeadSize(slot) != headSize)
            throw new ArgumentOutOfRangeException(nameof(slot), slot, "The attention layer does not fit its cache slot.");
        if (position < 0 || rows < 0 || (long)position + rows > cache.MaxTokens)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Positions {position}…{(long)position + rows - 1} do not fit a cache of {cache.MaxTokens}.");
        int qWidth = heads * headSize, kvWidth = kvHeads * headSize, group = heads / kvHeads, capacity = cache.MaxTokens;
        long keys = cache.Start(slot, values: false), values = cache.Start(slot, values: true);
        for (int r = 0; r < rows; r++)
        for (int g = 0; g < kvHeads; g++)
        {
            long at = ((long)g * capacity + position + r) * headSize;
            cache.Store(slot, keys + at, ref Unsafe.Add(ref k, (nint)r * kvWidth + g * headSize), headSize);
            cache.Store(slot, values + at, ref Unsafe.Add(ref v, (nint)r * kvWidth + g * headSize), headSize);
        }
        if (cache.Format == KvCacheFormat.Float32)
            Attend(ref q, ref output, rows, heads, headSize, group, position, ref cache.Floats(keys), ref cache.Floats(values), ref cache.Scores, capacity);
        else
            AttendCompact(ref q, ref output, rows, heads, headSize, group, position, cache, slot, keys, values);
    }

    /// <summary>Each row's queries over a float32 cache's keys and values, read in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Attend(ref float q, ref float output, int rows, int heads, int headSize, int group, int position,
        ref float keys, ref float values, ref float scores, int capacity)
    {
        int qWidth = heads * headSize;
        float scale = 1f / MathF.Sqrt(headSize);
        for (int r = 0; r < rows; r++)
        {
            for (int h = 0; h < heads; h++)
            {
                AttendHead(ref Unsafe.Add(ref q, (nint)r * qWidth + h * headSize), ref Unsafe.Add(ref keys, (nint)(h / group) * capacity * headSize),
                    ref Unsafe.Add(ref values, (nint)(h / group) * capacity * headSize), ref scores, position + r + 1, headSize, scale,
                    ref Unsafe.Add(ref output, (nint)r * qWidth + h * headSize));
            }
        }
    }

    /// <summary>
    /// Each row's queries over a Float16 or Int8 cache: for each key/value head, the positions the chunk reads are widened
    /// to float32 once (<see cref="KvCache.Widen"/>, into the cache's scratch), then every row and every query head of its
    /// group attends to them with the float32 arithmetic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttendCompact(ref float q, ref float output, int rows, int heads, int headSize, int group, int position,
        KvCache cache, int slot, long keys, long values)
    {
        int qWidth = heads * headSize, capacity = cache.MaxTokens, count = position + rows, kvHeads = heads / group;
        float scale = 1f / MathF.Sqrt(headSize);
        ref float scores = ref cache.Scores;
        for (int g = 0; g < kvHeads; g++)
        {
            ref float headKeys = ref cache.Widen(slot, keys + (long)g * capacity * headSize, count, values: false);
            ref float headValues = ref cache.Widen(slot, values + (long)g * capacity * headSize, count, values: true);
            for (int r = 0; r < rows; r++)
            {
                for (int h = g * group; h < (g + 1) * group; h++)
                {
                    AttendHead(ref Unsafe.Add(ref q, (nint)r * qWidth + h * headSize), ref headKeys, ref headValues, ref scores, position + r + 1, headSize, scale,
                        ref Unsafe.Add(ref output, (nint)r * qWidth + h * headSize));
                }
            }
        }
    }

    /// <summary>One query head over <paramref name="count"/> positions of its key/value head: <c>softmax(q·kᵀ·scale)·v</c> into <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AttendHead(ref float query, ref float headKeys, ref float headValues, ref float scores, int count, int headSize, float scale, ref float y)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < count; j++)
        {
            float score = Dot(ref query, ref Unsafe.Add(ref headKeys, (nint)j * headSize), headSize) * scale;
            Unsafe.Add(ref scores, j) = score;
            max = MathF.Max(max, score);
        }
        float sum = ExpAndSum(ref scores, count, max);
        Clear(ref y, headSize);
        for (int j = 0; j < count; j++) MultiplyAdd(Unsafe.Add(ref scores, j), ref Unsafe.Add(ref headValues, (nint)j * headSize), ref y, headSize);
        Scale(ref y, 1f / sum, headSize);
    }

    private static void Clear(ref float destination, int count) =>
        Unsafe.InitBlockUnaligned(ref Unsafe.As<float, byte>(ref destination), 0, (uint)count * sizeof(float));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ref float a, ref float b, int count)
    {
        float sum = 0f;
        int i = 0;
        if (Vector256.IsHardwareAccelerated && count >= 8)
        {
            Vector256<float> s = Vector256<float>.Zero;
            for (; i + 8 <= count; i += 8) s = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref a, (nuint)i), Vector256.LoadUnsafe(ref b, (nuint)i), s);
            sum = Vector256.Sum(s);
        }
        else if (Vector128.IsHardwareAccelerated && count >= 4)
        {
            Vector128<float> s = Vector128<float>.Zero;
            for (; i + 4 <= count; i += 4) s = Vector128.MultiplyAddEstimate(Vector128.LoadUnsafe(ref a, (nuint)i), Vector128.LoadUnsafe(ref b, (nuint)i), s);
            sum = Vector128.Sum(s);
        }
        for (; i < count; i++) sum += Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
        return sum;
    }

    /// <summary><c>y += weight · x</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAdd(float weight, ref float x, ref float y, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> w = Vector256.Create(weight);
            for (; i + 8 <= count; i += 8)
                Vector256.MultiplyAddEstimate(w, Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> w = Vector128.Create(weight);
            for (; i + 4 <= count; i += 4)
                Vector128.MultiplyAddEstimate(w, Vector128.LoadUnsafe(ref x, (nuint)i), Vector128.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        for (; i < count; i++) Unsafe.Add(ref y, i) += weight * Unsafe.Add(ref x, i);
    }

    private static void Scale(ref float y, float factor, int count)
    {
        for (int i = 0; i < count; i++) Unsafe.Add(ref y, i) *= factor;
    }

    /// <summary>Replaces each score by <c>e^(score − max)</c> and returns their sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ExpAndSum(ref float scores, int count, float max)
    {
        float sum = 0f;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> m = Vector256.Create(max), s = Vector256<float>.Zero;
            for (; i + 8 <= count; i += 8)
            {
                Vector256<float> e = VectorMath.ExpFast(Vector256.LoadUnsafe(ref scores, (nuint)i) - m);
                e.StoreUnsafe(ref scores, (nuint)i);
                s += e;
            }
            sum = Vector256.Sum(s);
        }
        for (; i < count; i++) sum += Unsafe.Add(ref scores, i) = VectorMath.ExpFast(Unsafe.Add(ref scores, i) - max);
        return sum;
    }
}
