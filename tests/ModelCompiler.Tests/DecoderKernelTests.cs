using System;
using System.Linq;
using ModelCompiler.Kernels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The decoder's kernels against DecoderReference (the definition the eager ops use), on shapes the test model does not
/// have: head sizes that are not a multiple of any vector width, multi-query (one key/value head) and multi-head
/// (as many as queries) attention, tokens arriving in uneven chunks; and the sampler.
/// </summary>
public sealed class DecoderKernelTests
{
    [Theory]
    [InlineData(4, 2, 16)]
    [InlineData(3, 1, 6)]   // multi-query, a head size below one vector
    [InlineData(2, 2, 12)]  // multi-head, 12 = 8 + 4
    [InlineData(6, 3, 20)]
    public void Cached_attention_over_chunks_equals_attention_over_the_whole_sequence(int heads, int kvHeads, int headSize)
    {
        const int tokens = 37;
        int width = heads * headSize, kvWidth = kvHeads * headSize;
        float[] q = Numerics.Random(tokens * width, 1), k = Numerics.Random(tokens * kvWidth, 2), v = Numerics.Random(tokens * kvWidth, 3);
        var expected = new float[q.Length];
        DecoderReference.CausalAttention(q, k, v, expected, tokens, heads, kvHeads, headSize);
        var cache = new KvCache(40, new[] { 8, kvWidth });
        var actual = new float[q.Length];

        Assert.Equal(tokens, InChunks(q, k, v, actual, heads, kvHeads, headSize, cache));
        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
    }

    /// <summary>
    /// CachedAttention over slot 1 of <paramref name="cache"/> with the tokens arriving in uneven chunks (by default
    /// 1, 9, 1, 1, 20, 5); returns the tokens run.
    /// </summary>
    private static int InChunks(float[] q, float[] k, float[] v, float[] actual, int heads, int kvHeads, int headSize, KvCache cache,
        int[]? chunks = null, KernelWorkers? workers = null)
    {
        int width = heads * headSize, kvWidth = kvHeads * headSize, position = 0;
        foreach (int rows in chunks ?? new[] { 1, 9, 1, 1, 20, 5 })
        {
            CachedAttention.Run(ref q[position * width], ref k[position * kvWidth], ref v[position * kvWidth], ref actual[position * width], rows,
                heads, kvHeads, headSize, cache, slot: 1, position, workers);
            position += rows;
        }
        return position;
    }

    [Theory]
    [InlineData(KvCacheFormat.Float32, 6, 2, 20)]
    [InlineData(KvCacheFormat.Float32, 4, 4, 64)]
    [InlineData(KvCacheFormat.Float16, 3, 1, 24)]
    [InlineData(KvCacheFormat.Int8, 2, 1, 200)]   // a compact tile of 4096 / 200 = 20 positions
    public void Long_attention_is_the_same_whatever_the_chunks_and_threads(KvCacheFormat format, int heads, int kvHeads, int headSize)
    {
        // 300 positions: several 64-position tiles, chunks that start and end inside them, single rows past a tile's end.
        const int tokens = 300;
        int width = heads * headSize, kvWidth = kvHeads * headSize;
        float[] q = Numerics.Random(tokens * width, 4), k = Numerics.Random(tokens * kvWidth, 5), v = Numerics.Random(tokens * kvWidth, 6);
        for (int i = 0; i < q.Length; i++) q[i] *= 4; // sharper softmax rows, so a tile's running maximum moves
        var expected = new float[q.Length];
        DecoderReference.CausalAttention(q, Stored(k, tokens, kvHeads, headSize, format), Stored(v, tokens, kvHeads, headSize, format), expected,
            tokens, heads, kvHeads, headSize);
        float[] Attend(int[] chunks, KernelWorkers? workers)
        {
            var actual = new float[q.Length];
            var cache = new KvCache(tokens + 4, new[] { 8, kvWidth }, format, new[] { 8, headSize });
            Assert.Equal(tokens, InChunks(q, k, v, actual, heads, kvHeads, headSize, cache, chunks, workers));
            return actual;
        }

        float[] whole = Attend(new[] { tokens }, null);
        using var workers = new KernelWorkers(2);
        float[] chunked = Attend(new[] { 1, 63, 1, 64, 70, 1, 1, 99 }, workers);
        float[] decoded = Attend(Enumerable.Repeat(1, tokens).ToArray(), workers);

        Assert.InRange(Numerics.RelativeError(whole, expected), 0, Numerics.Tolerance);
        Assert.Equal(whole, chunked); // bit for bit: every query is computed alone, tile by tile from position 0
        Assert.Equal(whole, decoded);
    }

    /// <summary>Each head's row of keys or values as the cache holds it: float32 as it is, binary16 rounded to nearest, or int8 codes of max |x| / 127.</summary>
    private static float[] Stored(float[] x, int rows, int kvHeads, int headSize, KvCacheFormat format)
    {
        if (format == KvCacheFormat.Float32) return x;
        var y = new float[x.Length];
        for (int start = 0; start < x.Length; start += headSize)
        {
            float max = 0;
            for (int i = 0; i < headSize; i++) max = MathF.Max(max, MathF.Abs(x[start + i]));
            float scale = max / 127f;
            for (int i = 0; i < headSize; i++)
                y[start + i] = format == KvCacheFormat.Float16 ? (float)(Half)x[start + i]
                    : scale == 0 ? 0 : MathF.Round(x[start + i] / scale, MidpointRounding.ToEven) * scale;
        }
        return y;
    }

    [Theory]
    [InlineData(KvCacheFormat.Float16, 4, 2, 16)]
    [InlineData(KvCacheFormat.Float16, 3, 1, 6)]
    [InlineData(KvCacheFormat.Int8, 4, 2, 16)]
    [InlineData(KvCacheFormat.Int8, 6, 3, 20)]
    public void Cached_attention_over_a_compact_cache_attends_to_the_values_as_stored(KvCacheFormat format, int heads, int kvHeads, int headSize)
    {
        const int tokens = 37;
        int width = heads * headSize, kvWidth = kvHeads * headSize;
        float[] q = Numerics.Random(tokens * width, 1), k = Numerics.Random(tokens * kvWidth, 2), v = Numerics.Random(tokens * kvWidth, 3);
        var expected = new float[q.Length];
        var exact = new float[q.Length];
        DecoderReference.CausalAttention(q, Stored(k, tokens, kvHeads, headSize, format), Stored(v, tokens, kvHeads, headSize, format), expected, tokens, heads, kvHeads, headSize);
        DecoderReference.CausalAttention(q, k, v, exact, tokens, heads, kvHeads, headSize);
        var cache = new KvCache(40, new[] { 8, kvWidth }, format, new[] { 8, headSize });
        var actual = new float[q.Length];

        InChunks(q, k, v, actual, heads, kvHeads, headSize, cache);

        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
        Assert.InRange(Numerics.RelativeError(actual, exact), 1e-5, format == KvCacheFormat.Float16 ? 2e-3 : 3e-2);
        Assert.Equal((format == KvCacheFormat.Float16 ? 2L : 1L) * 2 * 40 * (8 + kvWidth) + (format == KvCacheFormat.Int8 ? 4L * 2 * 40 * (1 + kvHeads) : 0), cache.Bytes);
    }

    [Fact]
    public void Every_binary16_value_widens_exactly()
    {
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        var widened = new float[bits.Length];

        HalfConversion.ToSingle(ref bits[0], widened);

        for (int i = 0; i < bits.Length; i++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf(bits[i]);
            Assert.True(float.IsNaN(expected) ? float.IsNaN(widened[i]) : BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(widened[i]),
                $"0x{i:X4}: {widened[i]} instead of {expected}");
        }
    }

    [Fact]
    public void Cached_attention_refuses_positions_past_the_cache_and_a_wrong_slot()
    {
        var cache = new KvCache(4, new[] { 8 });
        var buffer = new float[64];

        Assert.Equal("position", Assert.Throws<ArgumentOutOfRangeException>(() =>
            CachedAttention.Run(ref buffer[0], ref buffer[0], ref buffer[0], ref buffer[0], 2, 2, 1, 8, cache, 0, 3)).ParamName);
        Assert.Equal("slot", Assert.Throws<ArgumentOutOfRangeException>(() =>
            CachedAttention.Run(ref buffer[0], ref buffer[0], ref buffer[0], ref buffer[0], 1, 2, 1, 8, cache, 1, 0)).ParamName);
        Assert.Equal("slot", Assert.Throws<ArgumentOutOfRangeException>(() =>
            CachedAttention.Run(ref buffer[0], ref buffer[0], ref buffer[0], ref buffer[0], 1, 4, 2, 8, cache, 0, 0)).ParamName); // 2 × 8 ≠ 8
    }

    [Theory]
    [InlineData(64, 16, 10000f, 0)]
    [InlineData(24, 6, 500000f, 3000)]  // Llama 3's θ, far positions
    [InlineData(10, 10, 10000f, 7)]
    public void Rotary_kernel_equals_the_reference(int width, int headSize, float theta, int position)
    {
        const int rows = 5;
        float[] x = Numerics.Random(rows * width, 4);
        var shifted = new float[x.Length];
        var actual = new float[x.Length];
        // The reference rotates rows from position 0: its row r + position is this call's row r.
        var padded = new float[(rows + position) * width];
        x.CopyTo(padded, position * width);
        var expected = new float[padded.Length];
        DecoderReference.Rotary(padded, expected, width, headSize, theta, 0);

        Rotary.Run(ref x[0], ref actual[0], rows, width, headSize, theta, position);
        Rotary.Run(ref x[0], ref x[0], rows, width, headSize, theta, position); // in place

        Assert.InRange(Numerics.RelativeError(actual, expected.AsSpan(position * width)), 0, Numerics.Tolerance);
        Assert.Equal(actual, x);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(13)]
    public void Rms_norm_kernel_equals_the_reference(int width)
    {
        float[] x = Numerics.Random(3 * width, 5), gamma = Numerics.Random(width, 6);
        var expected = new float[x.Length];
        var actual = new float[x.Length];
        DecoderReference.RmsNorm(x, gamma, 1e-6f, expected, width);

        RowRmsNorm.Run(ref x[0], ref actual[0], 3, width, ref gamma[0], 1e-6f);

        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
    }

    [Theory]
    [InlineData(1, 768, 200, 2)]
    [InlineData(7, 64, 1000, 3)]
    [InlineData(64, 96, 129, 2)]
    public void A_product_shared_among_workers_is_bit_identical_to_one_thread(int rows, int k, int n, int threads)
    {
        float[] a = Numerics.Random(rows * k, 7), weight = Numerics.Random(n * k, 8), bias = Numerics.Random(n, 9);
        var packed = new AlignedBuffer(PanelLayout.PackedLength(n, k));
        var packedArray = new float[packed.Length];
        PanelLayout.Pack(weight, n, k, packedArray, 0);
        packedArray.CopyTo(packed.Span);
        var paddedBias = new AlignedBuffer(PanelLayout.PaddedBiasLength(n));
        bias.CopyTo(paddedBias.Span);
        var input = new AlignedBuffer(a.Length);
        a.CopyTo(input.Span);
        var alone = new AlignedBuffer(rows * n);
        var shared = new AlignedBuffer(rows * n);
        using var workers = new KernelWorkers(threads);

        PackedLinear.Run<ReluOperator>(ref input.Start, k, rows, ref packed.Start, ref paddedBias.Start, k, n, ref alone.Start, n);
        for (int repeat = 0; repeat < 3; repeat++)
            PackedLinear.Run<ReluOperator>(ref input.Start, k, rows, ref packed.Start, ref paddedBias.Start, k, n, ref shared.Start, n, workers);

        Assert.Equal(alone.Span.ToArray(), shared.Span.ToArray());
        Assert.Contains(shared.Span.ToArray(), v => v > 0);
    }

    [Theory]
    [InlineData(1, 64, 32, 1)]
    [InlineData(1, 70, 40, 2)]    // a partial block of inputs and a partial panel of outputs, shared by two threads
    [InlineData(2, 3, 20, 1)]     // fewer inputs than one group of four: every input one at a time
    [InlineData(1, 64, 48, 2)]    // three panels: a pair on one thread, one alone on the other
    [InlineData(2, 768, 200, 1)]
    [InlineData(3, 70, 40, 1)]    // past the matrix-vector rows: panels expanded and run through the float32 tiles
    [InlineData(64, 96, 129, 2)]
    public void Int4_kept_at_four_bits_matches_the_expanded_float32_panels(int rows, int k, int n, int threads)
    {
        float[] a = Numerics.Random(rows * k, 10), weight = Numerics.Random(n * k, 11), bias = Numerics.Random(n, 12);
        a[Math.Min(5, a.Length - 1)] *= 40; // one block with an outlier: its other activations round coarsely
        var expanded = new AlignedBuffer(PanelLayout.PackedLength(n, k));
        var expandedArray = new float[expanded.Length];
        PanelLayout.Pack(Int4Quantization.RoundTrip(weight, n, k), n, k, expandedArray, 0);
        expandedArray.CopyTo(expanded.Span);
        var packed = new AlignedBuffer(Int4PanelLayout.Floats(n, k));
        var packedArray = new float[packed.Length];
        Int4PanelLayout.Pack(weight, n, k, packedArray);
        packedArray.CopyTo(packed.Span);
        var paddedBias = new AlignedBuffer(PanelLayout.PaddedBiasLength(n));
        bias.CopyTo(paddedBias.Span);
        var input = new AlignedBuffer(a.Length);
        a.CopyTo(input.Span);
        (float[] rounded, sbyte[] codes, float[] scales) = Q8(a, rows, k);
        var roundedInput = new AlignedBuffer(a.Length);
        rounded.CopyTo(roundedInput.Span);
        var expected = new AlignedBuffer(rows * n);
        var actual = new AlignedBuffer(rows * n);
        using var workers = threads > 1 ? new KernelWorkers(threads) : null;

        PackedLinear.Run<IdentityOperator>(ref roundedInput.Start, k, rows, ref expanded.Start, ref paddedBias.Start, k, n, ref expected.Start, n);
        Int4Linear.Run<IdentityOperator>(ref input.Start, k, rows, ref packed.Start, ref paddedBias.Start, k, n, ref actual.Start, n, workers);

        if (rows > Int4Linear.VectorRows)
        {
            Assert.Equal(expected.Span.ToArray(), actual.Span.ToArray()); // the rounded rows and the expanded panel through the same tiles
        }
        else
        {
            // Integer sums per block, then one fused multiply-add per block with the two scales' product, in block order.
            float[] weightScales = Int4Scales(weight, n, k);
            float[] exact = new float[rows * n];
            sbyte[] weightCodes = Int4Codes(weight, weightScales, n, k);
            int blocks = Int4Quantization.Blocks(k);
            for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                float total = bias[j];
                for (int blk = 0; blk < blocks; blk++)
                {
                    int sum = 0;
                    for (int i = blk * 32; i < Math.Min(k, blk * 32 + 32); i++) sum += codes[r * k + i] * weightCodes[j * k + i];
                    total = MathF.FusedMultiplyAdd(sum, weightScales[j * blocks + blk] * scales[r * blocks + blk], total);
                }
                exact[r * n + j] = total;
            }
            Assert.Equal(exact, actual.Span.ToArray());
            Assert.InRange(Numerics.RelativeError(actual.Span, expected.Span), 0, Numerics.Tolerance); // the same values, summed in another order
        }
        if (threads > 1)
        {
            var alone = new AlignedBuffer(rows * n);
            Int4Linear.Run<IdentityOperator>(ref input.Start, k, rows, ref packed.Start, ref paddedBias.Start, k, n, ref alone.Start, n);
            Assert.Equal(alone.Span.ToArray(), actual.Span.ToArray());
        }
        Assert.Equal((long)n * k * 5 / 8, (long)Int4PanelLayout.Floats(n, k) * 4, (double)n * 64); // 5 bits a weight, give or take the padding
    }

    [Fact]
    public void Int8_rounded_activations_are_the_same_values_on_the_vector_and_scalar_routes()
    {
        // Whole blocks of 32 take the vector route in Quantize, RoundTrip the scalar one; a block holding a NaN or an
        // infinity rounds to zeros on both (scale 0), a block of zeros too.
        float[] x = Numerics.Random(32 * 5 + 7, 13);
        x[3] = float.NaN;
        x[40] = float.PositiveInfinity;
        for (int i = 64; i < 96; i++) x[i] = 0;
        for (int i = 96; i < 128; i++) x[i] = (i - 112) * 0.5f; // a ramp from −8: its first value gets code −127
        var codes = new sbyte[x.Length];
        var scales = new float[6];
        var sums = new int[6];
        Int4Activations.Quantize(x, codes, scales, sums);
        float[] rounded = (float[])x.Clone();
        Int4Activations.RoundTrip(rounded);

        for (int i = 0; i < x.Length; i++) Assert.Equal(rounded[i], codes[i] * scales[i / 32]);
        for (int b = 0; b < 6; b++) Assert.Equal(codes.Skip(b * 32).Take(32).Sum(c => c), sums[b]);
        Assert.Equal(new[] { 0f, 0f, 0f }, scales.Take(3).ToArray()); // NaN, ∞, zeros
        Assert.All(codes.Take(96), c => Assert.Equal(0, c));
        Assert.Equal(-127, codes[96]);
        Assert.Equal(8f / 127f, scales[3]);
    }

    /// <summary>Rows rounded as ggml's Q8_0 rounds them, per block of 32: scale max|x| / 127, codes round-half-even(x · 127 / max|x|).</summary>
    private static (float[] Rounded, sbyte[] Codes, float[] Scales) Q8(float[] x, int rows, int k)
    {
        int blocks = Int4Quantization.Blocks(k);
        var rounded = new float[x.Length];
        var codes = new sbyte[x.Length];
        var scales = new float[rows * blocks];
        for (int r = 0; r < rows; r++)
        for (int blk = 0; blk < blocks; blk++)
        {
            int start = r * k + blk * 32, end = r * k + Math.Min(k, blk * 32 + 32);
            float max = 0;
            for (int i = start; i < end; i++) max = MathF.Max(max, MathF.Abs(x[i]));
            float scale = scales[r * blocks + blk] = max / 127f, inverse = 127f / max;
            for (int i = start; i < end; i++)
            {
                codes[i] = (sbyte)Math.Clamp(MathF.Round(x[i] * inverse, MidpointRounding.ToEven), -127, 127);
                rounded[i] = codes[i] * scale;
            }
        }
        return (rounded, codes, scales);
    }

    /// <summary>The int4 weights' block scales, fp16(max|w| / 7) as float32, <c>[n, blocks]</c>.</summary>
    private static float[] Int4Scales(float[] weight, int n, int k)
    {
        int blocks = Int4Quantization.Blocks(k);
        var scales = new float[n * blocks];
        for (int j = 0; j < n; j++)
        for (int blk = 0; blk < blocks; blk++)
        {
            float max = 0;
            for (int i = blk * 32; i < Math.Min(k, blk * 32 + 32); i++) max = MathF.Max(max, MathF.Abs(weight[j * k + i]));
            scales[j * blocks + blk] = (float)(Half)(max / 7);
        }
        return scales;
    }

    /// <summary>The int4 weights' codes, round-half-even(w / scale) in [−7, 7].</summary>
    private static sbyte[] Int4Codes(float[] weight, float[] scales, int n, int k)
    {
        int blocks = Int4Quantization.Blocks(k);
        var codes = new sbyte[n * k];
        for (int j = 0; j < n; j++)
        for (int i = 0; i < k; i++)
            codes[j * k + i] = (sbyte)Math.Clamp(Math.Round(weight[j * k + i] / (double)scales[j * blocks + i / 32], MidpointRounding.ToEven), -7, 7);
        return codes;
    }

    [Fact]
    public void Greedy_and_top_k_of_one_pick_the_first_largest_logit()
    {
        float[] logits = { 0.5f, 3f, float.NaN, 3f, -1f };

        Assert.Equal(1, Sampler.Greedy.Sample(logits));
        Assert.Equal(1, new Sampler(temperature: 2f, topK: 1, seed: 1).Sample(logits));
        Assert.Equal(1, Sampler.ArgMax(logits));
    }

    [Fact]
    public void Seeded_sampling_repeats_and_follows_the_softmax()
    {
        float[] logits = { 0f, 1f, 2f, -30f };
        int[] first = Draw(new Sampler(temperature: 1f, seed: 42), logits, 20000);
        int[] second = Draw(new Sampler(temperature: 1f, seed: 42), logits, 20000);

        Assert.Equal(first, second);
        double[] p = logits.Select(l => Math.Exp(l)).ToArray();
        double total = p.Sum();
        for (int id = 0; id < logits.Length; id++)
        {
            double frequency = first.Count(t => t == id) / 20000.0;
            Assert.InRange(frequency, p[id] / total - 0.015, p[id] / total + 0.015);
        }
    }

    [Fact]
    public void Top_k_and_top_p_keep_only_the_most_likely_tokens()
    {
        float[] logits = { 1f, 4f, 0f, 3.5f, 3f, -2f };

        int[] topK = Draw(new Sampler(temperature: 5f, topK: 3, seed: 7), logits, 3000);
        // Probabilities at temperature 1: 4 → 0.47, 3.5 → 0.29, 3 → 0.17: top-p 0.7 keeps the first two.
        int[] topP = Draw(new Sampler(temperature: 1f, topP: 0.7f, seed: 7), logits, 3000);

        Assert.Equal(new[] { 1, 3, 4 }, topK.Distinct().OrderBy(t => t));
        Assert.Equal(new[] { 1, 3 }, topP.Distinct().OrderBy(t => t));
    }

    [Fact]
    public void Sampler_settings_out_of_range_throw_naming_them()
    {
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(temperature: -1f)).ParamName);
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(temperature: float.NaN)).ParamName);
        Assert.Equal("topK", Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(topK: -1)).ParamName);
        Assert.Equal("topP", Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(topP: 0f)).ParamName);
        Assert.Equal("topP", Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(topP: 1.5f)).ParamName);
        Assert.Equal("logits", Assert.Throws<ArgumentException>(() => Sampler.Greedy.Sample(ReadOnlySpan<float>.Empty)).ParamName);
    }

    private static int[] Draw(Sampler sampler, float[] logits, int count) => Enumerable.Range(0, count).Select(_ => sampler.Sample(logits)).ToArray();
}
