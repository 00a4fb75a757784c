using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelCompiler.Kernels;

/// <summary>
/// Causal grouped-query attention of new tokens over a decoder's <see cref="KvCache"/>: the decode step's and the
/// prefill's attention, computed flash-style (FlashAttention, Dao et al. 2022, as llama.cpp's and ONNX Runtime's CPU
/// kernels do it): the keys and values are read in tiles of <see cref="TileKeys"/> positions, each tile shared by a block
/// of up to <see cref="BlockQueries"/> queries of one key/value head (the query heads of its group, for several rows),
/// and each query keeps a running maximum and sum (online softmax) instead of a row of scores as long as the cache.
/// </summary>
/// <remarks>
/// Every query is computed alone, in the same order whatever block, chunk or thread it falls in: the tiles start at
/// position 0 and are walked in order, so a row's output does not depend on how the prompt was split into calls or
/// how many threads shared one (prefill + decode gives exactly what one prefill gives).
/// </remarks>
public static class CachedAttention
{
    /// <summary>Key/value positions read per tile (a float32 tile of 64-value heads is 16 KiB of keys and as much of values).</summary>
    internal const int TileKeys = 64;

    /// <summary>Queries (rows × query heads of one group) that share each tile.</summary>
    internal const int BlockQueries = 16;

    /// <summary>Floats of keys (and as many of values) a Float16 or Int8 cache's tile is widened into, on the stack: fewer positions per tile for wider heads.</summary>
    private const int WidenedFloats = KvCache.MaxCompactHeadSize;

    /// <summary>Below this many multiply-adds a call runs on the calling thread alone (waking a worker costs microseconds).</summary>
    private const long ParallelWork = 1 << 16;

    /// <summary>
    /// Effectively computes <c>DecoderReference.CausalAttention</c> for rows at positions <c>position…position+rows−1</c>
    /// of a sequence whose earlier keys and values are in <paramref name="cache"/>'s slot <paramref name="slot"/>: first
    /// each row's keys and values (<paramref name="kvHeads"/> heads of <paramref name="headSize"/>) are stored at the
    /// row's position, then each row's queries (<paramref name="heads"/> heads) attend to positions <c>0…its own</c>,
    /// <c>softmax(q·kᵀ/√e)·v</c>, query head <c>h</c> reading key head <c>h / (heads / kvHeads)</c>. Rows are dense:
    /// queries and outputs <c>heads · headSize</c> apart, keys and values <c>kvHeads · headSize</c>. With
    /// <paramref name="workers"/>, the blocks of queries are shared among its threads (a static split; each output is
    /// computed by one thread exactly as one thread alone would).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The rows do not fit in the cache, or the heads do not fit the slot.</exception>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(ref float q, ref float k, ref float v, ref float output, int rows, int heads, int kvHeads, int headSize,
        KvCache cache, int slot, int position, KernelWorkers? workers = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if ((uint)slot >= (uint)cache.KvWidths.Length || kvHeads <= 0 || heads % kvHeads != 0 || (long)kvHeads * headSize != cache.KvWidths[slot]
            || cache.HeadSize(slot) != headSize && cache.Format != KvCacheFormat.Float32)
            throw new ArgumentOutOfRangeException(nameof(slot), slot, "The attention layer does not fit its cache slot.");
        if (position < 0 || rows < 0 || (long)position + rows > cache.MaxTokens)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Positions {position}…{(long)position + rows - 1} do not fit a cache of {cache.MaxTokens}.");
        int kvWidth = kvHeads * headSize, capacity = cache.MaxTokens;
        long keys = cache.Start(slot, values: false), values = cache.Start(slot, values: true);
        for (int r = 0; r < rows; r++)
        for (int g = 0; g < kvHeads; g++)
        {
            long at = ((long)g * capacity + position + r) * headSize;
            cache.Store(slot, keys + at, ref Unsafe.Add(ref k, (nint)r * kvWidth + g * headSize), headSize);
            cache.Store(slot, values + at, ref Unsafe.Add(ref v, (nint)r * kvWidth + g * headSize), headSize);
        }
        if (rows == 0) return;
        fixed (float* queries = &q, outputs = &output)
        {
            var call = new Call(queries, outputs, cache, slot, keys, values, rows, heads, kvHeads, headSize, position);
            int items = call.Items;
            if (workers is null || items < 2 || (long)rows * heads * headSize * (position + rows) < ParallelWork)
            {
                call.RunItems(0, items);
                return;
            }
            AttentionJob job = AttentionJob.Instance ??= new AttentionJob();
            job.Call = call;
            try
            {
                workers.Run(job);
            }
            finally
            {
                job.Call = default;
            }
        }
    }

    /// <summary>One call's arguments, and its work: <see cref="Items"/> blocks of queries, each of one key/value head.</summary>
    private readonly unsafe struct Call
    {
        private readonly float* _queries, _outputs;
        private readonly KvCache _cache;
        private readonly long _keys, _values;
        private readonly int _slot, _rows, _heads, _group, _headSize, _position, _blocks;

        public Call(float* queries, float* outputs, KvCache cache, int slot, long keys, long values, int rows, int heads, int kvHeads, int headSize, int position)
        {
            _queries = queries;
            _outputs = outputs;
            (_cache, _slot, _keys, _values) = (cache, slot, keys, values);
            (_rows, _heads, _group, _headSize, _position) = (rows, heads, heads / kvHeads, headSize, position);
            _blocks = (int)(((long)rows * _group + BlockQueries - 1) / BlockQueries);
            Items = _blocks * kvHeads;
        }

        /// <summary>Blocks of queries: <c>kvHeads × ⌈rows · group / BlockQueries⌉</c>.</summary>
        public int Items { get; }

        /// <summary>Blocks <c>[first, last)</c>: key/value head <c>item / blocks</c>, its queries <c>(item % blocks) · BlockQueries…</c> in (row, head) order.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RunItems(int first, int last)
        {
            for (int item = first; item < last; item++)
            {
                int g = item / _blocks, start = item % _blocks * BlockQueries;
                AttendBlock(g, start, Math.Min(BlockQueries, _rows * _group - start));
            }
        }

        /// <summary>
        /// Queries <c>first…first+count−1</c> of key/value head <paramref name="g"/> (query <c>t</c> is row <c>t / group</c>,
        /// head <c>g · group + t % group</c>), tile by tile over the positions the last of them sees.
        /// </summary>
        [SkipLocalsInit]
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void AttendBlock(int g, int first, int count)
        {
            int headSize = _headSize, capacity = _cache.MaxTokens;
            bool compact = _cache.Format != KvCacheFormat.Float32;
            int tile = compact ? Math.Clamp(WidenedFloats / headSize, 1, TileKeys) : TileKeys;
            float* scores = stackalloc float[BlockQueries * TileKeys];
            float* maxima = stackalloc float[BlockQueries];
            float* sums = stackalloc float[BlockQueries];
            nint* rowsAt = stackalloc nint[BlockQueries]; // each query's offset in the queries and outputs
            int* seen = stackalloc int[BlockQueries];      // positions each query attends to
            float* widened = stackalloc float[compact ? 2 * WidenedFloats : 0];
            float scale = 1f / MathF.Sqrt(headSize);
            for (int i = 0; i < count; i++)
            {
                int t = first + i, row = t / _group;
                rowsAt[i] = ((nint)row * _heads + g * _group + t % _group) * headSize;
                seen[i] = _position + row + 1;
                maxima[i] = float.NegativeInfinity;
                sums[i] = 0f;
            }
            int end = seen[count - 1];
            long headStart = (long)g * capacity * headSize;
            for (int start = 0; start < end; start += tile)
            {
                int n = Math.Min(tile, end - start);
                float* keys, values;
                if (compact)
                {
                    keys = widened;
                    values = widened + WidenedFloats;
                    _cache.Widen(_slot, _keys + headStart + (long)start * headSize, n, new Span<float>(keys, n * headSize));
                    _cache.Widen(_slot, _values + headStart + (long)start * headSize, n, new Span<float>(values, n * headSize));
                }
                else
                {
                    keys = (float*)Unsafe.AsPointer(ref _cache.Floats(_keys + headStart + (long)start * headSize));
                    values = (float*)Unsafe.AsPointer(ref _cache.Floats(_values + headStart + (long)start * headSize));
                }
                for (int i = 0; i < count; i++)
                {
                    int m = Math.Min(n, seen[i] - start);
                    if (m <= 0) continue;
                    float* s = scores + i * TileKeys;
                    float tileMax = Scores(_queries + rowsAt[i], keys, m, headSize, scale, s);
                    float max = MathF.Max(maxima[i], tileMax);
                    float correction = VectorMath.ExpFast(maxima[i] - max); // 0 on the first tile (e^−∞)
                    sums[i] = sums[i] * correction + ExpAndSum(ref *s, m, max);
                    maxima[i] = max;
                    AddValues(_outputs + rowsAt[i], start == 0 ? 0f : correction, s, values, m, headSize);
                }
            }
            for (int i = 0; i < count; i++) Scale(ref *(_outputs + rowsAt[i]), 1f / sums[i], headSize);
        }
    }

    /// <summary>The job <see cref="KernelWorkers"/> runs: a contiguous share of the call's blocks per thread.</summary>
    private sealed class AttentionJob : KernelWorkers.IJob
    {
        [ThreadStatic] internal static AttentionJob? Instance;

        internal Call Call;

        public void RunPart(int part, int parts)
        {
            int items = Call.Items, share = (items + parts - 1) / parts, first = part * share;
            if (first < items) Call.RunItems(first, Math.Min(items, first + share));
        }
    }

    /// <summary>
    /// <c>s[j] = scale · q·k_j</c> for the <paramref name="count"/> keys of a tile (<paramref name="headSize"/> apart);
    /// returns their maximum. Four keys at a time share each load of the query.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Scores(float* query, float* keys, int count, int headSize, float scale, float* s)
    {
        float max = float.NegativeInfinity;
        int j = 0;
        if (Vector256.IsHardwareAccelerated && headSize >= 8 && count >= 4)
        {
            Vector128<float> maxima = Vector128.Create(float.NegativeInfinity);
            for (; j + 4 <= count; j += 4)
            {
                Vector128<float> dots = Dot4(query, keys + (nint)j * headSize, headSize) * scale;
                dots.Store(s + j);
                maxima = Vector128.Max(maxima, dots);
            }
            max = MathF.Max(MathF.Max(maxima[0], maxima[1]), MathF.Max(maxima[2], maxima[3]));
        }
        for (; j < count; j++)
        {
            float score = Dot(ref *query, ref *(keys + (nint)j * headSize), headSize) * scale;
            s[j] = score;
            max = MathF.Max(max, score);
        }
        return max;
    }

    /// <summary>The dot products of <paramref name="query"/> with four consecutive keys, eight lanes at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<float> Dot4(float* query, float* k0, int headSize)
    {
        float* k1 = k0 + headSize, k2 = k1 + headSize, k3 = k2 + headSize;
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + 8 <= headSize; i += 8)
        {
            Vector256<float> x = Vector256.Load(query + i);
            a0 = Vector256.MultiplyAddEstimate(x, Vector256.Load(k0 + i), a0);
            a1 = Vector256.MultiplyAddEstimate(x, Vector256.Load(k1 + i), a1);
            a2 = Vector256.MultiplyAddEstimate(x, Vector256.Load(k2 + i), a2);
            a3 = Vector256.MultiplyAddEstimate(x, Vector256.Load(k3 + i), a3);
        }
        Vector128<float> dots;
        if (Avx.IsSupported)
        {
            // The four sums at once: three horizontal adds leave each key's lower and upper halves side by side.
            Vector256<float> halves = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
            dots = halves.GetLower() + halves.GetUpper();
        }
        else
        {
            dots = Vector128.Create(Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3));
        }
        for (; i < headSize; i++)
            dots += Vector128.Create(query[i]) * Vector128.Create(k0[i], k1[i], k2[i], k3[i]);
        return dots;
    }

    /// <summary>
    /// <c>y = correction · y + Σ_j p[j] · v_j</c> over a tile's <paramref name="count"/> values (<c>y = Σ…</c> when
    /// <paramref name="correction"/> is 0: the first tile, whatever <paramref name="y"/> held). Thirty-two lanes of
    /// <paramref name="y"/> at a time stay in registers across the tile (then eight, then one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddValues(float* y, float correction, float* p, float* values, int count, int headSize)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 32 <= headSize; i += 32)
            {
                Vector256<float> y0 = correction == 0f ? Vector256<float>.Zero : Vector256.Load(y + i) * correction;
                Vector256<float> y1 = correction == 0f ? Vector256<float>.Zero : Vector256.Load(y + i + 8) * correction;
                Vector256<float> y2 = correction == 0f ? Vector256<float>.Zero : Vector256.Load(y + i + 16) * correction;
                Vector256<float> y3 = correction == 0f ? Vector256<float>.Zero : Vector256.Load(y + i + 24) * correction;
                float* v = values + i;
                for (int j = 0; j < count; j++, v += headSize)
                {
                    Vector256<float> w = Vector256.Create(p[j]);
                    y0 = Vector256.MultiplyAddEstimate(w, Vector256.Load(v), y0);
                    y1 = Vector256.MultiplyAddEstimate(w, Vector256.Load(v + 8), y1);
                    y2 = Vector256.MultiplyAddEstimate(w, Vector256.Load(v + 16), y2);
                    y3 = Vector256.MultiplyAddEstimate(w, Vector256.Load(v + 24), y3);
                }
                y0.Store(y + i);
                y1.Store(y + i + 8);
                y2.Store(y + i + 16);
                y3.Store(y + i + 24);
            }
            for (; i + 8 <= headSize; i += 8)
            {
                Vector256<float> y0 = correction == 0f ? Vector256<float>.Zero : Vector256.Load(y + i) * correction;
                float* v = values + i;
                for (int j = 0; j < count; j++, v += headSize) y0 = Vector256.MultiplyAddEstimate(Vector256.Create(p[j]), Vector256.Load(v), y0);
                y0.Store(y + i);
            }
        }
        for (; i < headSize; i++)
        {
            float sum = correction == 0f ? 0f : y[i] * correction;
            for (int j = 0; j < count; j++) sum += p[j] * values[(nint)j * headSize + i];
            y[i] = sum;
        }
    }

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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
