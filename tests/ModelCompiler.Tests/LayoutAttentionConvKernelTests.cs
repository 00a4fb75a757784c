extern alias generator;

using System;
using System.Linq;
using ModelCompiler.Kernels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The layout, MatMul, attention, grouped/depthwise convolution and pooling kernels against the eager ops, over random
/// shapes with odd sizes (and, for attention, more keys than one tile, causal and masked).
/// </summary>
public class LayoutAttentionConvKernelTests
{
    public static TheoryData<int[], int[]> Permutations() => new()
    {
        { new[] { 3, 5, 7 }, new[] { 2, 0, 1 } },
        { new[] { 1, 17 }, new[] { 1, 0 } },
        { new[] { 4, 1, 9, 2 }, new[] { 0, 2, 1, 3 } },
        { new[] { 33, 16 }, new[] { 0, 1 } }, // identity: the contiguous block path
        { new[] { 3, 2, 2, 4, 5 }, new[] { 0, 3, 1, 4, 2 } }, // DepthToSpace (CRD): rows of 2 copied in one flat loop
        { new[] { 2, 2, 2, 3, 16 }, new[] { 0, 3, 1, 4, 2 } }, // a ×2 ConvTranspose's interleave: four vectors of pairs
        { new[] { 2, 2, 2, 3, 9 }, new[] { 0, 3, 1, 4, 2 } },  // two vectors of pairs, then one pair alone
        { new[] { 2, 3, 6, 5 }, new[] { 0, 2, 3, 1 } },       // rows of 3
    };

    [Fact]
    public void Strided_copy_over_collapsed_dimensions_matches_the_eager_Permute()
    {
        // A DepthToSpace as the importer writes it, its strides collapsed as the generator collapses them.
        const int rows = 2;
        int[] shape = { 3, 2, 2, 4, 5 }, order = { 0, 3, 1, 4, 2 };
        float[] x = Numerics.Random(rows * 240, seed: 240);
        int[] dense = ReferenceOps.DenseStrides(shape);
        int[] outShape = order.Select(d => shape[d]).ToArray();
        (int[] walked, int[] source, int[] destination) = generator::ModelCompiler.Generator.Ops.LoweringContext.Collapse(outShape,
            new[] { 240 }.Concat(order.Select(d => dense[d])).ToArray(), new[] { 240 }.Concat(ReferenceOps.DenseStrides(outShape)).ToArray());
        Assert.Equal(outShape, walked); // nothing merges here: every neighbour pair is walked apart
        var actual = new float[x.Length];
        Strided.Copy(ref x[0], source, ref actual[0], destination, rows, walked);
        Assert.Equal(Tensor.FromBatch(x, rows, shape).Permute(order).ToArray(), actual);
    }

    [Theory]
    [MemberData(nameof(Permutations))]
    public void Strided_copy_matches_the_eager_Permute(int[] shape, int[] order)
    {
        const int rows = 3;
        int perSample = shape.Aggregate(1, (p, d) => p * d);
        float[] x = Numerics.Random(rows * perSample, seed: perSample);
        Tensor expected = Tensor.FromBatch(x, rows, shape).Permute(order);

        int[] dense = ReferenceOps.DenseStrides(shape);
        int[] source = new[] { perSample }.Concat(order.Select(d => dense[d])).ToArray();
        int[] outShape = order.Select(d => shape[d]).ToArray();
        int[] destination = new[] { perSample }.Concat(ReferenceOps.DenseStrides(outShape)).ToArray();
        var actual = new float[x.Length];
        Strided.Copy(ref x[0], source, ref actual[0], destination, rows, outShape);

        Assert.Equal(expected.ToArray(), actual);
    }

    [Theory]
    [InlineData(1, 1, 1, 1, false)]
    [InlineData(3, 5, 17, 33, false)]
    [InlineData(2, 7, 64, 16, true)]
    [InlineData(4, 1, 3, 100, true)]
    public void MatMul_matches_the_eager_MatMul(int lead, int m, int k, int n, bool sharedWeight)
    {
        const int rows = 2;
        float[] a = Numerics.Random(rows * lead * m * k, seed: m * k + n);
        float[] b = Numerics.Random(sharedWeight ? k * n : rows * lead * k * n, seed: k * n + 1, scale: 0.3);
        Tensor left = Tensor.FromBatch(a, rows, new[] { lead, m, k });
        Tensor right = sharedWeight ? new Tensor(new[] { k, n }, b) : Tensor.FromBatch(b, rows, new[] { lead, k, n });
        float[] expected = left.MatMul(right).Relu().ToArray();

        var actual = new float[expected.Length + 1];
        actual[^1] = 42f;
        MatMul.Run<ReluOperator>(ref a[0], ref b[0], ref actual[0], rows * lead, m, k, n, sharedWeight ? 0 : k * n);

        Assert.Equal(42f, actual[^1]);
        Assert.InRange(Numerics.RelativeError(actual.AsSpan(0, expected.Length), expected), 0, Numerics.Tolerance);
    }

    public static TheoryData<int, int, int, int, int, string> AttentionShapes() => new()
    {
        // heads, queries, keys, head size, value size, mask
        { 1, 1, 1, 1, 1, "none" },
        { 2, 5, 7, 3, 5, "none" },
        { 3, 9, 9, 8, 8, "causal" },
        { 2, 70, 150, 16, 24, "weight" },      // three tiles of keys, the last one partial
        { 1, 130, 130, 64, 64, "causal" },     // causal across tile boundaries
        { 2, 65, 65, 17, 17, "per-sample" },
        // By blocks of 48 queries through the GEMM (values in whole 16-column panels, at most 1,024 keys):
        { 4, 64, 64, 64, 64, "none" },         // the encoder block's heads
        { 2, 50, 70, 24, 32, "weight" },       // a block and a 2-row remainder, keys not a whole panel, an odd head size
        { 1, 100, 100, 8, 16, "causal" },      // causal blocks stop at their last query's keys
        { 2, 7, 1024, 4, 16, "per-sample" },   // the most keys by blocks
        { 1, 5, 1025, 4, 16, "none" },         // one more: flash-style again
    };

    [Theory]
    [MemberData(nameof(AttentionShapes))]
    public void Attention_matches_the_eager_ScaledDotProductAttention(int heads, int queries, int keys, int headSize, int valueSize, string mask)
    {
        const int rows = 2;
        float[] q = Numerics.Random(rows * heads * queries * headSize, seed: 1 + queries);
        float[] k = Numerics.Random(rows * heads * keys * headSize, seed: 2 + keys);
        float[] v = Numerics.Random(rows * heads * keys * valueSize, seed: 3 + valueSize);
        float[]? m = mask switch
        {
            "weight" => Numerics.Random(queries * keys, seed: 4),
            "per-sample" => Numerics.Random(rows * queries * keys, seed: 5),
            _ => null,
        };
        Tensor maskTensor = mask == "weight" ? new Tensor(new[] { queries, keys }, m!) : mask == "per-sample" ? Tensor.FromBatch(m, rows, new[] { queries, keys }) : null!;
        float[] expected = Tensor.FromBatch(q, rows, new[] { heads, queries, headSize })
            .ScaledDotProductAttention(Tensor.FromBatch(k, rows, new[] { heads, keys, headSize }), Tensor.FromBatch(v, rows, new[] { heads, keys, valueSize }),
                m is null ? null : maskTensor, causal: mask == "causal")
            .ToArray();

        var geometry = AttentionGeometry.Separate(heads, queries, keys, headSize, valueSize, mask == "per-sample" ? queries * keys : 0, mask == "causal");
        var actual = new float[expected.Length];
        var scratch = new float[Attention.ScratchFloats(keys, headSize, valueSize)];
        scratch.AsSpan().Fill(float.NaN); // the kernel must not rely on the scratch it is given being zero
        Attention.Run(ref q[0], ref k[0], ref v[0], ref actual[0], rows, geometry,
            ref m is null ? ref System.Runtime.CompilerServices.Unsafe.NullRef<float>() : ref m[0], ref scratch[0]);

        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
        // Shared among threads (runs of heads, each with its own scratch): the same bits.
        AssertSharedEqual(actual, workers =>
        {
            var shared = new float[expected.Length];
            scratch.AsSpan().Fill(float.NaN);
            Attention.Run(ref q[0], ref k[0], ref v[0], ref shared[0], rows, geometry,
                ref m is null ? ref System.Runtime.CompilerServices.Unsafe.NullRef<float>() : ref m[0], ref scratch[0], workers);
            return shared;
        });
    }

    /// <summary>
    /// A kernel run with workers of 2 and of 3 threads (uneven shares) gives exactly <paramref name="alone"/>, the result on
    /// the calling thread: each piece of work is computed by one thread, in the same order.
    /// </summary>
    private static void AssertSharedEqual(float[] alone, Func<KernelWorkers, float[]> run)
    {
        foreach (int threads in new[] { 2, 3 })
        {
            using var workers = new KernelWorkers(threads);
            Assert.Equal(alone, run(workers));
        }
    }

    [Fact]
    public void Attention_where_every_key_is_hidden_is_NaN_as_in_PyTorch()
    {
        float[] q = { 1f, 2f }, k = { 1f, 0f, 0f, 1f }, v = { 3f, 4f };
        float[] mask = { float.NegativeInfinity, float.NegativeInfinity, 0f, float.NegativeInfinity };
        var output = new float[2];
        var scratch = new float[Attention.ScratchFloats(2, 1, 1)];
        Attention.Run(ref q[0], ref k[0], ref v[0], ref output[0], 1, AttentionGeometry.Separate(1, 2, 2, 1, 1, 0, false), ref mask[0], ref scratch[0]);

        Assert.True(float.IsNaN(output[0]));
        Assert.Equal(3f, output[1]); // only key 0 is visible to query 1
    }

    [Fact]
    public void Attention_by_blocks_where_every_key_is_hidden_is_NaN_as_in_PyTorch()
    {
        // Values of 16 take the block path; query 0 sees no key, query 1 only key 0.
        float[] q = { 1f, 2f }, k = { 1f, 0f };
        float[] v = Enumerable.Range(0, 32).Select(i => (float)i).ToArray();
        float[] mask = { float.NegativeInfinity, float.NegativeInfinity, 0f, float.NegativeInfinity };
        var output = new float[32];
        var scratch = new float[Attention.ScratchFloats(2, 1, 16)];
        Assert.True(KernelScratch.AttentionByBlocks(2, 16));
        Attention.Run(ref q[0], ref k[0], ref v[0], ref output[0], 1, AttentionGeometry.Separate(1, 2, 2, 1, 16, 0, false), ref mask[0], ref scratch[0]);

        Assert.All(output.AsSpan(0, 16).ToArray(), x => Assert.True(float.IsNaN(x)));
        Assert.Equal(v.AsSpan(0, 16).ToArray(), output.AsSpan(16).ToArray());
    }

    [Theory]
    [InlineData(64, 64, true)]
    [InlineData(1024, 16, true)]
    [InlineData(1025, 64, false)]   // a block of scores would outgrow L2: flash-style
    [InlineData(64, 24, false)]     // values not in whole panels
    [InlineData(0, 16, false)]
    [InlineData(int.MaxValue, 16, false)]
    public void Attention_runs_by_blocks_only_where_the_scores_fit_and_the_values_are_whole_panels(int keys, int valueSize, bool byBlocks) =>
        Assert.Equal(byBlocks, KernelScratch.AttentionByBlocks(keys, valueSize));

    public static TheoryData<int, int, int, int, int, int, int, int, int> Convolutions() => new()
    {
        // channels, height, width, out, kernel, stride, padding, dilation, groups
        { 4, 7, 21, 8, 3, 1, 1, 1, 4 },    // depthwise, multiplier 2, vector interior
        { 5, 9, 30, 5, 5, 1, 2, 1, 5 },    // depthwise 5×5
        { 3, 8, 11, 3, 3, 2, 1, 2, 3 },    // depthwise, strided and dilated
        { 6, 9, 45, 6, 3, 2, 1, 1, 6 },    // depthwise 3×3, stride 2, rows wide enough for vectors of even lanes
        { 4, 11, 70, 8, 5, 2, 2, 1, 4 },   // depthwise 5×5, stride 2, multiplier 2 (MobileNetV3's downsampling)
        { 3, 7, 60, 3, 3, 2, 2, 2, 3 },    // depthwise, stride 2, dilated, wide
        { 5, 6, 41, 5, 5, 1, 2, 1, 5 },    // depthwise 5×5, stride 1, a small plane: from a zero-padded copy, whole vectors
        { 3, 40, 110, 3, 3, 1, 1, 1, 3 },  // depthwise 3×3, stride 1, a large plane: four vectors at a time, then one overlapping the last
        { 2, 50, 90, 4, 5, 1, 2, 1, 2 },   // depthwise 5×5, stride 1, multiplier 2, a large plane
        { 2, 9, 161, 2, 3, 2, 1, 1, 2 },   // depthwise 3×3, stride 2, odd width: pairs of vectors, then one overlapping the last
        { 6, 10, 10, 6, 5, 1, 2, 1, 6 },   // depthwise 5×5 on 10 × 10 (no interior at all): a vector and an overlapping one per row
        { 4, 9, 6, 4, 3, 1, 1, 2, 4 },     // depthwise, dilated, rows of 4: 128-bit vectors
        { 2, 70, 70, 2, 3, 1, 1, 1, 2 },   // depthwise, a plane too large for the stack: a vector interior and scalar edges
        { 6, 5, 7, 9, 3, 1, 1, 1, 3 },     // grouped GEMM
        { 8, 6, 6, 4, 1, 1, 0, 1, 2 },     // grouped 1×1
        { 3, 1, 40, 6, 5, 2, 2, 1, 1 },    // height 1: a Conv1d (no vertical padding)
        { 96, 12, 20, 24, 3, 1, 1, 1, 1 }, // deep: one panel per chunk, panels across output rows
        { 40, 10, 10, 16, 1, 1, 0, 1, 1 }, // 1×1 without padding: whole panels read from the input as it lies, the last gathered
        { 200, 8, 48, 13, 1, 1, 0, 1, 1 }, // 1×1 over several chunks of whole panels; 13 outputs: a row left to the one-row tiles
        { 16, 1, 37, 20, 1, 1, 0, 1, 1 },  // pointwise Conv1d: two whole panels, then five positions gathered
        { 64, 32, 32, 7, 1, 1, 0, 1, 1 },  // 1×1 over planes 4 KB apart: products staged in scratch, three chunks, 7 outputs
        { 12, 16, 16, 10, 1, 1, 0, 1, 2 }, // grouped 1×1 over planes 1 KB apart: each group's products staged
        { 8, 13, 29, 12, 3, 1, 2, 2, 1 },  // dilated, stride 1: rows of 29 split across panels
        { 8, 20, 45, 16, 3, 2, 1, 1, 1 },  // stride 2: rows of 23 gathered from the even lanes of pairs of loads, the row's end one by one
        { 4, 9, 70, 8, 5, 2, 0, 2, 1 },    // stride 2, dilated, no padding: patches read in place
        { 3, 1, 40, 6, 5, 1, 2, 1, 1 },    // a stride-1 Conv1d: over wide positions on AVX2 (IndirectGemm), read at one offset per tap
        { 8, 40, 40, 48, 3, 1, 1, 1, 1 },  // wide: 48 outputs (eight 6-row tiles), four chunks of products, threads by wide panels
        { 10, 7, 9, 20, 3, 1, 1, 1, 2 },   // wide, grouped: 10 outputs a group (a 6-row and a 4-row tile)
        { 5, 6, 6, 7, 3, 1, 0, 1, 1 },     // wide without padding: the planes copied all the same, the slack read past the last
    };

    [Theory]
    [MemberData(nameof(Convolutions))]
    public void Grouped_and_depthwise_Conv2d_match_the_eager_Conv2d(int c, int h, int w, int outC, int kernel, int stride, int padding, int dilation, int groups)
    {
        const int rows = 2;
        bool oneD = h == 1;
        int kh = oneD ? 1 : kernel;
        float[] x = Numerics.Random(rows * c * h * w, seed: c * h + w);
        float[] weight = Numerics.Random(outC * (c / groups) * kh * kernel, seed: outC, scale: 0.3);
        float[] bias = Numerics.Random(outC, seed: 9, scale: 0.5);
        var weights = new TestWeights().Add("conv.weight", oneD ? new[] { outC, c / groups, kernel } : new[] { outC, c / groups, kh, kernel }, weight)
            .Add("conv.bias", new[] { outC }, bias);
        Tensor input = oneD ? Tensor.FromBatch(x, rows, new[] { c, w }, weights) : Tensor.FromBatch(x, rows, new[] { c, h, w }, weights);
        Tensor result = oneD
            ? input.Conv1d("conv", stride, padding, dilation, groups)
            : input.Conv2d("conv", stride, padding, dilation, groups);
        float[] expected = result.Silu().ToArray();
        int oh = oneD ? 1 : result.Shape[2], ow = result.Shape[^1];
        var geometry = new ConvGeometry(c, h, w, outC, kh, kernel, stride, padding, dilation, oh, ow, groups, oneD ? 0 : padding);

        var actual = new float[expected.Length];
        bool depthwise = groups > 1 && c == groups;
        if (depthwise)
        {
            float[] paddedBias = new float[PanelLayout.PaddedBiasLength(outC)];
            bias.CopyTo(paddedBias, 0);
            Convolution.Depthwise<SiluOperator>(ref x[0], ref actual[0], rows, geometry, ref weight[0], ref paddedBias[0]);
            AssertSharedEqual(actual, workers =>
            {
                var shared = new float[expected.Length];
                Convolution.Depthwise<SiluOperator>(ref x[0], ref shared[0], rows, geometry, ref weight[0], ref paddedBias[0], workers);
                return shared;
            });
        }
        else
        {
            // Filters as PyTorch stores them, one bias per output channel; scratch dirty, as the arena leaves it.
            var scratch = new float[Convolution.ScratchFloats(geometry)];
            Array.Fill(scratch, float.NaN);
            Convolution.Conv2d<SiluOperator>(ref x[0], ref actual[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0]);
            // Shared among threads (smaller chunks of output positions, each gathered into the thread's own scratch).
            AssertSharedEqual(actual, workers =>
            {
                var shared = new float[expected.Length];
                Array.Fill(scratch, float.NaN);
                Convolution.Conv2d<SiluOperator>(ref x[0], ref shared[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0], workers);
                return shared;
            });
        }

        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
    }

    /// <summary>
    /// Stride-1 layers with a kernel of one row or one column and padding along one axis (the speech embedding's 1×3 and
    /// 3×1 layers, padding 0 × 1), computed over wide positions on AVX2: against a plain loop over the definition.
    /// </summary>
    [Theory]
    [InlineData(24, 20, 32, 24, 1, 3, 0, 1)]
    [InlineData(24, 20, 32, 24, 3, 1, 0, 0)]
    [InlineData(7, 9, 5, 13, 3, 1, 1, 0)]
    [InlineData(6, 5, 3, 9, 1, 5, 0, 2)]
    public void Conv2d_with_a_one_row_or_one_column_kernel_matches_the_definition(int c, int h, int w, int outC, int kh, int kw, int padTop, int padding)
    {
        const int rows = 2;
        int oh = h + 2 * padTop - kh + 1, ow = w + 2 * padding - kw + 1;
        float[] x = Numerics.Random(rows * c * h * w, seed: c + h * kh);
        float[] weight = Numerics.Random(outC * c * kh * kw, seed: outC + kw, scale: 0.3);
        float[] bias = Numerics.Random(outC, seed: 3, scale: 0.5);
        var expected = new float[rows * outC * oh * ow];
        for (int n = 0; n < rows; n++)
            for (int o = 0; o < outC; o++)
                for (int y = 0; y < oh; y++)
                    for (int q = 0; q < ow; q++)
                    {
                        double sum = bias[o];
                        for (int i = 0; i < c; i++)
                            for (int u = 0; u < kh; u++)
                                for (int v = 0; v < kw; v++)
                                {
                                    int iy = y + u - padTop, ix = q + v - padding;
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                        sum += (double)weight[((o * c + i) * kh + u) * kw + v] * x[((n * c + i) * h + iy) * w + ix];
                                }
                        expected[((n * outC + o) * oh + y) * ow + q] = (float)Math.Max(0, sum);
                    }
        var geometry = new ConvGeometry(c, h, w, outC, kh, kw, 1, padding, 1, oh, ow, 1, padTop);
        var scratch = new float[Convolution.ScratchFloats(geometry)];
        Array.Fill(scratch, float.NaN);
        var actual = new float[expected.Length + 1];
        actual[^1] = 42f;
        Convolution.Conv2d<ReluOperator>(ref x[0], ref actual[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0]);
        Assert.Equal(42f, actual[^1]);
        Assert.InRange(Numerics.RelativeError(actual.AsSpan(0, expected.Length), expected), 0, Numerics.Tolerance);
        AssertSharedEqual(actual, workers =>
        {
            var shared = new float[expected.Length + 1];
            shared[^1] = 42f;
            Array.Fill(scratch, float.NaN);
            Convolution.Conv2d<ReluOperator>(ref x[0], ref shared[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0], workers);
            return shared;
        });
    }

    [Theory]
    [InlineData(3, 1, 1)]     // a plane of one value
    [InlineData(5, 3, 5)]     // shorter than a vector
    [InlineData(4, 7, 9)]     // vectors and a scalar tail
    [InlineData(2, 80, 80)]   // many vectors: four running sums
    public void GlobalAvgPool_matches_the_eager_GlobalAvgPool(int c, int h, int w)
    {
        const int rows = 3;
        float[] x = Numerics.Random(rows * c * h * w, seed: c * 7 + h);
        float[] expected = Tensor.FromBatch(x, rows, new[] { c, h, w }, new TestWeights()).GlobalAvgPool().ToArray();
        var actual = new float[rows * c + 1];
        actual[^1] = 42f;
        Convolution.GlobalAvgPool(ref x[0], ref actual[0], rows * c, h * w);
        Assert.Equal(42f, actual[^1]);
        Assert.InRange(Numerics.RelativeError(actual.AsSpan(0, rows * c), expected), 0, Numerics.Tolerance);
    }

    [Theory]
    [InlineData(6, 12, 40, 6, 3, 1, 2)]   // MobileNetV3 as PaddleOCR's text classifier writes it: strides [2, 1]
    [InlineData(4, 9, 37, 8, 5, 2, 2)]    // 5×5, multiplier 2, an odd height
    [InlineData(3, 10, 21, 3, 3, 1, 3)]   // rows three apart
    public void Convolutions_with_rows_a_stride_apart_keep_every_strideth_row_of_the_stride_1_convolution(int c, int h, int w, int outC, int kernel, int padding, int rowStride)
    {
        // Oracle: the eager stride-1 depthwise convolution, every rowStride-th row of it.
        const int rows = 2;
        float[] x = Numerics.Random(rows * c * h * w, seed: c + h * w);
        float[] weight = Numerics.Random(outC * kernel * kernel, seed: outC + kernel, scale: 0.3);
        float[] bias = Numerics.Random(outC, seed: 5, scale: 0.5);
        var weights = new TestWeights().Add("conv.weight", new[] { outC, 1, kernel, kernel }, weight).Add("conv.bias", new[] { outC }, bias);
        float[] full = Tensor.FromBatch(x, rows, new[] { c, h, w }, weights).Conv2d("conv", 1, padding, 1, c).ToArray();
        int h1 = h + 2 * padding - kernel + 1, oh = (h1 - 1) / rowStride + 1, ow = w + 2 * padding - kernel + 1;
        var expected = new float[rows * outC * oh * ow];
        for (int n = 0; n < rows * outC; n++)
            for (int y = 0; y < oh; y++)
                Array.Copy(full, (n * h1 + y * rowStride) * ow, expected, (n * oh + y) * ow, ow);
        var geometry = new ConvGeometry(c, h, w, outC, kernel, kernel, 1, padding, 1, oh, ow, c, padding, VerticalStride: rowStride);

        var depthwise = new float[expected.Length];
        float[] paddedBias = new float[PanelLayout.PaddedBiasLength(outC)];
        bias.CopyTo(paddedBias, 0);
        Convolution.Depthwise<IdentityOperator>(ref x[0], ref depthwise[0], rows, geometry, ref weight[0], ref paddedBias[0]);
        Assert.InRange(Numerics.RelativeError(depthwise, expected), 0, Numerics.Tolerance);

        var gemm = new float[expected.Length];
        var scratch = new float[Convolution.ScratchFloats(geometry)];
        Array.Fill(scratch, float.NaN);
        Convolution.Conv2d<IdentityOperator>(ref x[0], ref gemm[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0]);
        Assert.InRange(Numerics.RelativeError(gemm, expected), 0, Numerics.Tolerance);
    }

    [Theory]
    [InlineData(1, 28, 28, 6, 5, 2, 1)]   // LeNet-5's first layer: rows wider than one vector
    [InlineData(6, 14, 14, 16, 5, 0, 1)]  // its second: rows that fit one vector, two rows per block
    [InlineData(3, 9, 13, 5, 3, 1, 1)]    // odd sizes, a channel block of 1
    [InlineData(2, 11, 37, 7, 3, 2, 2)]   // dilation, and a partial last block
    [InlineData(4, 1, 50, 3, 5, 2, 1)]    // height 1: a Conv1d
    [InlineData(5, 7, 7, 64, 1, 0, 1)]    // 1×1
    [InlineData(3, 35, 37, 7, 3, 1, 1)]   // wide rows, odd output sizes (pooled: the last row and column dropped)
    [InlineData(24, 30, 33, 24, 3, 1, 1)] // 5 M multiply-adds: on 256-bit x86 handed to Winograd F(4×4), or pooled, to the GEMM (odd width)
    [InlineData(8, 12, 25, 10, 3, 1, 1)]  // rows of 13 tiles: on 256-bit x86 handed to Winograd F(4×4), 10 channels in tiles of 6 and 4
    [InlineData(120, 6, 24, 128, 3, 1, 1)] // on 256-bit x86 handed to Winograd F(2×2): an F(4×4) chunk would take 571 KB
    [InlineData(16, 10, 4, 16, 3, 0, 1)]  // rows of 2 outputs: on 256-bit x86 to the GEMM even pooled and small
    [InlineData(24, 10, 12, 3, 1, 0, 1)]  // 1×1 with 3 outputs: on 256-bit x86 to the GEMM, which reads the input in place (pooled: direct)
    public void Direct_convolution_matches_the_eager_Conv2d(int c, int h, int w, int outC, int kernel, int padding, int dilation)
    {
        foreach (int block in new[] { 4, 6, 8 })
        foreach (bool pooled in new[] { false, true })
            DirectConvolution(c, h, w, outC, kernel, padding, dilation, block, pooled);
    }

    private static void DirectConvolution(int c, int h, int w, int outC, int kernel, int padding, int dilation, int block, bool pooled)
    {
        const int rows = 3;
        bool oneD = h == 1;
        int kh = oneD ? 1 : kernel;
        float[] x = Numerics.Random(rows * c * h * w, seed: c + h * w);
        float[] weight = Numerics.Random(outC * c * kh * kernel, seed: outC * 3, scale: 0.3);
        float[] bias = Numerics.Random(outC, seed: 11, scale: 0.5);
        var weights = new TestWeights().Add("conv.weight", oneD ? new[] { outC, c, kernel } : new[] { outC, c, kh, kernel }, weight)
            .Add("conv.bias", new[] { outC }, bias);
        Tensor input = oneD ? Tensor.FromBatch(x, rows, new[] { c, w }, weights) : Tensor.FromBatch(x, rows, new[] { c, h, w }, weights);
        Tensor result = oneD ? input.Conv1d("conv", 1, padding, dilation) : input.Conv2d("conv", 1, padding, dilation);
        int oh = oneD ? 1 : result.Shape[2], ow = result.Shape[^1], padTop = oneD ? 0 : padding;
        if (pooled && (oneD || oh < 2 || ow < 2)) return; // a 2×2 pool needs two rows and two columns
        float[] expected = pooled ? result.Relu().MaxPool2d(2).ToArray() : result.Relu().ToArray();
        var geometry = new ConvGeometry(c, h, w, outC, kh, kernel, 1, padding, dilation, oh, ow, 1, padTop) { ChannelBlock = block, Pooled = pooled };

        var actual = new float[expected.Length + 1];
        actual[^1] = 42f;
        var scratch = new float[Kernels.DirectConvolution.ScratchFloats(geometry)];
        scratch.AsSpan().Fill(float.NaN); // the kernel must not rely on the scratch it is given being zero
        Kernels.DirectConvolution.Run<ReluOperator>(ref x[0], ref actual[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0]);

        Assert.Equal(42f, actual[^1]);
        Assert.InRange(Numerics.RelativeError(actual.AsSpan(0, expected.Length), expected), 0, Numerics.Tolerance);
        // Shared among threads (runs of channel blocks, or the GEMM's chunks where the kernel hands the layer to it).
        AssertSharedEqual(actual, workers =>
        {
            var shared = new float[expected.Length + 1];
            shared[^1] = 42f;
            scratch.AsSpan().Fill(float.NaN);
            Kernels.DirectConvolution.Run<ReluOperator>(ref x[0], ref shared[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0], workers);
            return shared;
        });
    }

    [Theory]
    [InlineData(16, 28, 28, 16, 1)]   // ResNet-style: padding 1 keeps the size
    [InlineData(3, 9, 13, 5, 1)]      // odd sizes: partial tiles, a partial last tile row
    [InlineData(8, 10, 37, 24, 0)]    // no padding, more than one panel of tiles per row
    [InlineData(5, 4, 4, 7, 0)]       // a single tile
    [InlineData(32, 7, 7, 64, 1)]     // rows of 4 tiles: every tile at once, numbered across rows
    [InlineData(64, 14, 14, 100, 1)]  // 49 tiles in four panels; output channels in blocks of 12 with a remainder of 4
    [InlineData(6, 11, 7, 13, 2)]     // padding 2, odd sizes, every tile at once
    [InlineData(4, 30, 24, 8, 1)]     // rows of 12 tiles: by chunks of tile rows, each row padded to a panel
    public void Winograd_convolution_matches_the_eager_Conv2d(int c, int h, int w, int outC, int padding) =>
        AssertWinogradMatchesEager(c, h, w, outC, padding, 2);

    [Theory]
    [InlineData(16, 28, 28, 16, 1)]   // ResNet-style: 7 rows of 7 tiles, packed 8 to a row, by chunks of two rows (the last one)
    [InlineData(5, 40, 14, 6, 1)]     // rows of 4 tiles, four to a chunk's panel: chunks of 4, 4 and 2 rows
    [InlineData(7, 20, 42, 9, 1)]     // rows of 11 tiles, packed 16 to a row, by chunks
    [InlineData(3, 9, 13, 5, 1)]      // partial tiles both ways (1 of 4 rows, 1 of 4 columns)
    [InlineData(8, 10, 52, 24, 0)]    // no padding, rows of 13 tiles, the last half outside: by chunks of tile rows
    [InlineData(5, 6, 6, 7, 0)]       // a single tile
    [InlineData(6, 11, 7, 13, 2)]     // padding 2: the input starts in phase 2
    [InlineData(12, 18, 62, 20, 3)]   // padding 3 (phase 3), rows of 17 tiles in two panels, a partial last tile row
    [InlineData(64, 14, 14, 100, 1)]  // 16 tiles in one panel; output channels with a remainder
    [InlineData(4, 58, 70, 8, 1)]     // wider than the vectors' copy (4 of them per step), 15 tile rows
    public void Winograd_4x4_convolution_matches_the_eager_Conv2d(int c, int h, int w, int outC, int padding) =>
        AssertWinogradMatchesEager(c, h, w, outC, padding, 4);

    [Theory]
    [InlineData(2, 8, 9, 7, 1)]       // every tile at once
    [InlineData(4, 10, 52, 6, 0)]     // by chunks
    [InlineData(2, 8, 9, 7, 2)]
    public void Winograd_4x4_puts_NaN_and_infinities_where_direct_convolution_does(int c, int h, int w, int outC, int padding)
    {
        // F(4×4)'s transforms spread a 6×6 input tile over all 16 outputs, so Inf·0 and Inf − Inf would make NaN of
        // outputs whose 3×3 windows hold no special value; the kernel computes such tiles again directly.
        const int rows = 3;
        float[] x = Numerics.Random(rows * c * h * w, seed: 7, scale: 2);
        x[c * h * w + 5] = float.NaN;                              // sample 1: a NaN
        x[2 * c * h * w + 3 * w + 2] = float.PositiveInfinity;     // sample 2: +Inf and −Inf in different places
        x[3 * c * h * w - 1] = float.NegativeInfinity;
        float[] weight = Numerics.Random(outC * c * 9, seed: 8, scale: 0.3);
        float[] bias = Numerics.Random(outC, seed: 9, scale: 0.5);
        var weights = new TestWeights().Add("conv.weight", new[] { outC, c, 3, 3 }, weight).Add("conv.bias", new[] { outC }, bias);
        Tensor result = Tensor.FromBatch(x, rows, new[] { c, h, w }, weights).Conv2d("conv", 1, padding);
        float[] expected = result.Relu().ToArray();
        int oh = result.Shape[2], ow = result.Shape[3];
        var geometry = new ConvGeometry(c, h, w, outC, 3, 3, 1, padding, 1, oh, ow, 1, padding);
        float[] filters = WeightLayout.Loaded(WeightLayoutKind.WinogradF4Filters, _ => weight, "conv.weight", null, 0, outC, c, 36 * outC * c);
        var actual = new float[expected.Length];
        var scratch = new float[WinogradConvolution.ScratchFloats4x4(c, outC, oh, ow)];
        WinogradConvolution.Run4x4<ReluOperator>(ref x[0], ref actual[0], rows, geometry, ref filters[0], ref bias[0], ref scratch[0]);

        int specials = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!float.IsFinite(expected[i]))
            {
                specials++;
                Assert.Equal(expected[i], actual[i]);                  // the same NaN or infinity (xunit: NaN equals NaN)
            }
            else Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"output {i}: {actual[i]} against {expected[i]}");
        }
        Assert.InRange(specials, 1, expected.Length / 2);
    }

    /// <summary>
    /// A skip connection added in a convolution's store (<c>…WithResidual</c>, the generator's fusion of conv + other): the
    /// same bits as the convolution stored alone, then the Add, then the epilogue, on every route the kernels take (the
    /// im2col GEMM, strided and pointwise; the direct kernel's blocks, or where it hands the layer on to the GEMM or
    /// Winograd; Winograd F(2×2) and F(4×4), by chunks and every tile at once, and F(4×4)'s exact recomputation around a
    /// NaN or an infinity), alone and shared among threads.
    /// </summary>
    [Theory]
    [InlineData("im2col", 8, 12, 12, 16, 3, 2, 1)]      // stride 2
    [InlineData("im2col", 24, 10, 9, 20, 1, 1, 0)]      // pointwise, read in place: 90 positions, the last panel gathered
    [InlineData("im2col", 64, 32, 32, 20, 1, 1, 0)]     // pointwise over planes 4 KB apart: staged products, three chunks
    [InlineData("direct", 3, 9, 13, 5, 3, 1, 1)]        // blocks on every CPU (5 channels)
    [InlineData("direct", 24, 30, 33, 24, 3, 1, 1)]     // on 256-bit x86 handed to Winograd F(4×4)
    [InlineData("direct", 16, 10, 4, 16, 3, 1, 0)]      // on 256-bit x86 handed to the GEMM
    [InlineData("direct", 24, 10, 12, 4, 1, 1, 0)]      // 1×1, 4 channels: on 256-bit x86 handed to the GEMM, read in place
    [InlineData("winograd2", 16, 28, 28, 16, 3, 1, 1)]  // by chunks of tile rows
    [InlineData("winograd2", 32, 7, 7, 64, 3, 1, 1)]    // every tile at once
    [InlineData("winograd4", 7, 20, 42, 9, 3, 1, 1)]    // by chunks
    [InlineData("winograd4", 6, 11, 7, 13, 3, 1, 2)]    // every tile at once, padding 2
    [InlineData("winograd4-nan", 4, 10, 52, 6, 3, 1, 0)] // a NaN and infinities: tiles computed again directly
    public void A_residual_added_in_a_convolutions_store_is_the_convolution_then_an_Add(string route, int c, int h, int w, int outC, int kernel, int stride, int padding)
    {
        const int rows = 3;
        float[] x = Numerics.Random(rows * c * h * w, seed: c + h + w, scale: 2);
        if (route == "winograd4-nan")
        {
            x[c * h * w + 5] = float.NaN;
            x[2 * c * h * w + 3 * w + 2] = float.PositiveInfinity;
            x[3 * c * h * w - 1] = float.NegativeInfinity;
        }
        float[] weight = Numerics.Random(outC * c * kernel * kernel, seed: outC, scale: 0.3);
        float[] bias = Numerics.Random(outC, seed: 5, scale: 0.5);
        int oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1, count = rows * outC * oh * ow;
        var geometry = new ConvGeometry(c, h, w, outC, kernel, kernel, stride, padding, 1, oh, ow, 1, padding);
        int tile = route.StartsWith("winograd4", StringComparison.Ordinal) ? 4 : 2;
        float[] filters = route.StartsWith("winograd", StringComparison.Ordinal)
            ? WeightLayout.Loaded(tile == 4 ? WeightLayoutKind.WinogradF4Filters : WeightLayoutKind.WinogradFilters, _ => weight, "conv.weight", null, 0, outC, c, (tile + 2) * (tile + 2) * outC * c)
            : weight;
        int scratchFloats = route switch
        {
            "im2col" => Convolution.ScratchFloats(geometry),
            "direct" => Kernels.DirectConvolution.ScratchFloats(geometry),
            _ => tile == 4 ? WinogradConvolution.ScratchFloats4x4(c, outC, oh, ow) : WinogradConvolution.ScratchFloats(c, outC, oh, ow),
        };
        var scratch = new float[scratchFloats];
        float[] residual = Numerics.Random(count, seed: 77, scale: 1.5);

        // The convolution alone, then the Add and Relu as a kernel of their own would compute them.
        var alone = new float[count];
        Run(alone, null, null);
        float[] expected = alone.Select((v, i) => MathF.Max(v + residual[i], 0f)).ToArray();

        var fused = new float[count + 1];
        fused[^1] = 42f;
        Run(fused, residual, null);
        Assert.Equal(42f, fused[^1]);
        Assert.Equal(expected, fused.AsSpan(0, count).ToArray());
        Assert.Contains(expected, v => v == 0f);               // Relu did cut something: the epilogue comes after the Add
        AssertSharedEqual(fused, workers =>
        {
            var shared = new float[count + 1];
            shared[^1] = 42f;
            Run(shared, residual, workers);
            return shared;
        });

        void Run(float[] y, float[]? r, KernelWorkers? workers)
        {
            scratch.AsSpan().Fill(float.NaN);
            if (r is null)
            {
                switch (route)
                {
                    case "im2col": Convolution.Conv2d<IdentityOperator>(ref x[0], ref y[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0], workers); break;
                    case "direct": Kernels.DirectConvolution.Run<IdentityOperator>(ref x[0], ref y[0], rows, geometry, ref weight[0], ref bias[0], ref scratch[0], workers); break;
                    default:
                        if (tile == 4) WinogradConvolution.Run4x4<IdentityOperator>(ref x[0], ref y[0], rows, geometry, ref filters[0], ref bias[0], ref scratch[0], workers);
                        else WinogradConvolution.Run<IdentityOperator>(ref x[0], ref y[0], rows, geometry, ref filters[0], ref bias[0], ref scratch[0], workers);
                        break;
                }
                return;
            }
            switch (route)
            {
                case "im2col": Convolution.Conv2dWithResidual<ReluOperator>(ref x[0], ref y[0], rows, geometry, ref weight[0], ref bias[0], ref r[0], ref scratch[0], workers); break;
                case "direct": Kernels.DirectConvolution.RunWithResidual<ReluOperator>(ref x[0], ref y[0], rows, geometry, ref weight[0], ref bias[0], ref r[0], ref scratch[0], workers); break;
                default:
                    if (tile == 4) WinogradConvolution.Run4x4WithResidual<ReluOperator>(ref x[0], ref y[0], rows, geometry, ref filters[0], ref bias[0], ref r[0], ref scratch[0], workers);
                    else WinogradConvolution.RunWithResidual<ReluOperator>(ref x[0], ref y[0], rows, geometry, ref filters[0], ref bias[0], ref r[0], ref scratch[0], workers);
                    break;
            }
        }
    }

    [Fact]
    public void A_pooled_direct_convolution_refuses_a_residual()
    {
        var geometry = new ConvGeometry(2, 6, 6, 3, 3, 3, 1, 1, 1, 6, 6, 1, 1) { Pooled = true };
        float[] x = new float[72], weight = new float[54], bias = new float[3], y = new float[27], r = new float[27];
        var scratch = new float[Kernels.DirectConvolution.ScratchFloats(geometry)];
        var error = Assert.Throws<ArgumentException>(() =>
            Kernels.DirectConvolution.RunWithResidual<IdentityOperator>(ref x[0], ref y[0], 1, geometry, ref weight[0], ref bias[0], ref r[0], ref scratch[0]));
        Assert.Equal("residual", error.ParamName);
    }

    private static void AssertWinogradMatchesEager(int c, int h, int w, int outC, int padding, int tile)
    {
        const int rows = 2;
        float[] x = Numerics.Random(rows * c * h * w, seed: c * h + w);
        float[] weight = Numerics.Random(outC * c * 9, seed: outC + 5, scale: 0.3);
        float[] bias = Numerics.Random(outC, seed: 13, scale: 0.5);
        var weights = new TestWeights().Add("conv.weight", new[] { outC, c, 3, 3 }, weight).Add("conv.bias", new[] { outC }, bias);
        Tensor result = Tensor.FromBatch(x, rows, new[] { c, h, w }, weights).Conv2d("conv", 1, padding);
        float[] expected = result.Relu().ToArray();
        int oh = result.Shape[2], ow = result.Shape[3];
        var geometry = new ConvGeometry(c, h, w, outC, 3, 3, 1, padding, 1, oh, ow, 1, padding);

        int positions = (tile + 2) * (tile + 2);
        float[] filters = WeightLayout.Loaded(tile == 4 ? WeightLayoutKind.WinogradF4Filters : WeightLayoutKind.WinogradFilters, _ => weight, "conv.weight", null, 0,
            outC, c, positions * outC * c);
        var actual = new float[expected.Length + 1];
        actual[^1] = 42f;
        var scratch = new float[tile == 4 ? WinogradConvolution.ScratchFloats4x4(c, outC, oh, ow) : WinogradConvolution.ScratchFloats(c, outC, oh, ow)];
        scratch.AsSpan().Fill(float.NaN); // only what the kernel zeroes may be read as zero
        Run(actual, null);

        Assert.Equal(42f, actual[^1]);
        Assert.InRange(Numerics.RelativeError(actual.AsSpan(0, expected.Length), expected), 0, Numerics.Tolerance);
        // Shared among threads (chunks of tile rows, each transformed in the thread's own scratch): the same bits.
        AssertSharedEqual(actual, workers =>
        {
            var shared = new float[expected.Length + 1];
            shared[^1] = 42f;
            scratch.AsSpan().Fill(float.NaN);
            Run(shared, workers);
            return shared;
        });

        void Run(float[] y, KernelWorkers? workers)
        {
            if (tile == 4) WinogradConvolution.Run4x4<ReluOperator>(ref x[0], ref y[0], rows, geometry, ref filters[0], ref bias[0], ref scratch[0], workers);
            else WinogradConvolution.Run<ReluOperator>(ref x[0], ref y[0], rows, geometry, ref filters[0], ref bias[0], ref scratch[0], workers);
        }
    }

    [Theory]
    [InlineData(56, 56, true, 0)]     // rows of 28 tiles: by chunks of tile rows
    [InlineData(28, 28, true, 0)]     // rows of 14
    [InlineData(14, 14, true, 64)]    // 7 rows of 7 tiles, each padded to 8: 56 columns in 4 panels
    [InlineData(7, 7, true, 16)]      // 4 rows of 4: one whole panel
    [InlineData(4, 4, false, 16)]     // 4 tiles in a panel of 16: im2col's 16 columns cost less
    [InlineData(1, 1, false, 16)]
    [InlineData(200, 10, false, 0)]   // 100 rows of 8: more columns than one pass takes
    [InlineData(int.MaxValue, 5, false, 0)] // hostile sizes: no overflow
    [InlineData(5, int.MaxValue, true, 0)]
    public void Winograd_takes_a_layer_by_its_output_size(int outHeight, int outWidth, bool fits, int flatColumns)
    {
        Assert.Equal(fits, KernelScratch.WinogradFits(outHeight, outWidth));
        Assert.Equal(flatColumns, KernelScratch.WinogradFlatColumns(outHeight, outWidth));
    }

    [Theory]
    [InlineData(64, 64, 56, 56, 4)]           // 36 products of 224 columns against 16 of 896; 295 KB a chunk
    [InlineData(64, 64, 28, 28, 4)]           // rows of 7 tiles packed 8 to a row: 64 columns against 224
    [InlineData(64, 64, 14, 14, 4)]           // 16 columns at once against 64
    [InlineData(24, 24, 80, 80, 4)]           // 640 against 1,920: exactly 3/4
    [InlineData(64, 64, 24, 24, 4)]
    [InlineData(64, 64, 7, 7, 2)]             // 16 columns either way: F(2×2)'s 16 products
    [InlineData(128, 128, 28, 28, 2)]         // 590 KB a chunk (and filters of 2.4 MB)
    [InlineData(64, 106, 56, 56, 4)]          // 391,680 bytes a chunk
    [InlineData(64, 107, 56, 56, 2)]          // 393,984
    [InlineData(96, 24, 80, 80, 2)]           // a chunk's transformed input and products: 553 KB
    [InlineData(96, 24, 40, 40, 4)]           // 276 KB
    public void Winograd_picks_its_tile_by_its_products_and_its_chunks(int c, int outC, int outHeight, int outWidth, int tile)
    {
        Assert.Equal(tile, KernelScratch.WinogradTile(c, outC, outHeight, outWidth));
    }

    [Theory]
    [InlineData(5, int.MaxValue)]
    [InlineData(int.MaxValue, 5)]
    [InlineData(int.MaxValue, int.MaxValue)]
    public void Winograd_picks_a_tile_for_hostile_sizes_without_overflow(int outHeight, int outWidth)
    {
        Assert.Contains(KernelScratch.WinogradTile(int.MaxValue, 8, outHeight, outWidth), new[] { 2, 4 });
        Assert.Contains(KernelScratch.WinogradTile(8, 8, outHeight, outWidth), new[] { 2, 4 });
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Winograd_filters_transformed_at_run_time_match_the_build_time_layout(int tile)
    {
        // A direct layer handed to Winograd transforms its filters at each call (in float); the build-time layout computes
        // the same matrices in double.
        const int outC = 7, c = 5;
        int positions = (tile + 2) * (tile + 2);
        float[] weight = Numerics.Random(outC * c * 9, seed: 21, scale: 0.7);
        float[] expected = WeightLayout.Loaded(tile == 4 ? WeightLayoutKind.WinogradF4Filters : WeightLayoutKind.WinogradFilters, _ => weight, "conv.weight", null, 0,
            outC, c, positions * outC * c);
        var actual = new float[positions * outC * c];
        WinogradConvolution.TransformFilters(ref weight[0], outC, c, ref actual[0], tile);
        for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i], actual[i], 1e-6f);
    }

    [Fact]
    public void Winograd_filter_matrices_compute_a_3x3_correlation_exactly()
    {
        // Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A against the correlation, in double, for both tiles: the tables the layouts and the GPU read.
        foreach (int tile in new[] { 2, 4 })
        {
            int t = tile + 2;
            double[,] bt = WinogradMatrices.Input(tile), at = WinogradMatrices.Output(tile);
            float[] g = Numerics.Random(9, seed: tile, scale: 1.0), d = Numerics.Random(t * t, seed: tile + 1, scale: 1.0);
            double[] u = WinogradMatrices.TransformFilters(g, 1, 1, null, tile);
            var v = new double[t, t];
            for (int i = 0; i < t; i++)
                for (int j = 0; j < t; j++)
                    for (int a = 0; a < t; a++)
                        for (int b = 0; b < t; b++) v[i, j] += bt[i, a] * d[a * t + b] * bt[j, b];
            for (int y = 0; y < tile; y++)
            for (int x = 0; x < tile; x++)
            {
                double winograd = 0, direct = 0;
                for (int i = 0; i < t; i++)
                    for (int j = 0; j < t; j++) winograd += at[y, i] * u[i * t + j] * v[i, j] * at[x, j];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) direct += (double)g[ky * 3 + kx] * d[(y + ky) * t + x + kx];
                Assert.Equal(direct, winograd, 1e-12);
            }
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 17)]
    [InlineData(64, 256)]
    [InlineData(5, 33)]
    public void Residual_LayerNorm_matches_the_eager_Add_then_LayerNorm(int rows, int width)
    {
        float[] a = Numerics.Random(rows * width, seed: width), b = Numerics.Random(rows * width, seed: width + 1);
        float[] gamma = Numerics.Random(width, seed: 3, scale: 0.5), beta = Numerics.Random(width, seed: 4, scale: 0.5);
        var weights = new TestWeights().Add("ln.weight", new[] { width }, gamma).Add("ln.bias", new[] { width }, beta);
        float[] expected = (Tensor.FromBatch(a, rows, new[] { width }, weights) + Tensor.FromBatch(b, rows, new[] { width }, weights)).LayerNorm("ln").ToArray();
        var actual = new float[expected.Length];
        RowLayerNorm.RunResidual(ref a[0], ref b[0], ref actual[0], rows, width, ref gamma[0], ref beta[0], 1e-5f);
        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
    }

    [Theory]
    [InlineData(3, 16)]   // the speech embedding's [1, 2] pools: rows of 16 halved
    [InlineData(37, 2)]   // 37 pairs: four vectors and a scalar tail
    public void A_pairwise_max_pool_along_the_last_axis_takes_each_pairs_maximum(int outer, int length)
    {
        float[] x = Numerics.Random(outer * length, seed: outer);
        x[3] = float.NaN;           // NaN propagates, as MathF.Max
        x[4] = -0f; x[5] = 0f;      // +0 is the larger zero
        var expected = new float[outer * length / 2];
        for (int k = 0; k < expected.Length; k++) expected[k] = MathF.Max(x[2 * k], x[2 * k + 1]);
        var actual = new float[expected.Length];
        AxisPool.Run(ref x[0], ref actual[0], outer, length, 1, window: 2, stride: 2, padBegin: 0, dilation: 1, outLength: length / 2, max: true, 0, length);
        Assert.Equal(expected, actual);
        Assert.True(float.IsNaN(actual[1]));
        Assert.True(float.IsPositive(actual[2]) && actual[2] == 0f);
    }

    [Theory]
    [InlineData(6, 28, 28, 2, 2, 0)]   // LeNet-5's first pool: vector and scalar parts of each row
    [InlineData(2, 9, 33, 2, 2, 0)]    // odd sizes: the last row and column are dropped, as in PyTorch
    [InlineData(3, 8, 40, 3, 2, 1)]    // overlapping windows, padding
    [InlineData(1, 7, 7, 3, 3, 0)]
    [InlineData(13, 56, 56, 3, 2, 1)]  // ResNet's stem pool: large enough to be shared among threads
    [InlineData(7, 60, 44, 2, 2, 0)]
    [InlineData(3, 9, 112, 3, 2, 1)]   // ResNet's stem pool at full width: eight outputs a vector, the last one overlapping
    [InlineData(2, 6, 37, 3, 2, 0)]    // no padding, odd width
    [InlineData(2, 7, 50, 5, 2, 2)]    // 5-wide windows
    [InlineData(2, 5, 18, 3, 2, 1)]    // one column short of a vector: scalar
    public void MaxPool2d_matches_the_eager_MaxPool2d(int c, int h, int w, int kernel, int stride, int padding)
    {
        const int rows = 3;
        float[] x = Numerics.Random(rows * c * h * w, seed: h + w);
        Tensor expected = Tensor.FromBatch(x, rows, new[] { c, h, w }).MaxPool2d(kernel, stride, padding);
        var actual = new float[expected.Data.Length];
        Convolution.MaxPool2d(ref x[0], ref actual[0], rows * c, h, w, kernel, stride, padding, expected.Shape[2], expected.Shape[3]);
        Assert.Equal(expected.ToArray(), actual);
        AssertSharedEqual(actual, workers =>
        {
            var shared = new float[expected.Data.Length];
            Convolution.MaxPool2d(ref x[0], ref shared[0], rows * c, h, w, kernel, stride, padding, expected.Shape[2], expected.Shape[3], workers);
            return shared;
        });
    }

    [Theory]
    [InlineData(3, 8, 8, 2, 2, 0)]
    [InlineData(2, 7, 9, 3, 1, 1)]
    [InlineData(1, 5, 5, 5, 1, 2)]
    [InlineData(4, 11, 6, 3, 2, 1)]
    [InlineData(9, 40, 40, 3, 1, 1)]   // large enough to be shared among threads
    public void AvgPool2d_matches_the_eager_AvgPool2d(int c, int h, int w, int kernel, int stride, int padding)
    {
        const int rows = 3;
        float[] x = Numerics.Random(rows * c * h * w, seed: h * w);
        Tensor expected = Tensor.FromBatch(x, rows, new[] { c, h, w }).AvgPool2d(kernel, stride, padding);
        var actual = new float[expected.Data.Length];
        Convolution.AvgPool2d(ref x[0], ref actual[0], rows * c, h, w, kernel, stride, padding, expected.Shape[2], expected.Shape[3]);
        Assert.InRange(Numerics.RelativeError(actual, expected.Data), 0, Numerics.Tolerance);
        AssertSharedEqual(actual, workers =>
        {
            var shared = new float[expected.Data.Length];
            Convolution.AvgPool2d(ref x[0], ref shared[0], rows * c, h, w, kernel, stride, padding, expected.Shape[2], expected.Shape[3], workers);
            return shared;
        });
    }

    [Theory]
    [InlineData(3, 20_001)] // blocks of 4,096 within each row, a partial last block and a scalar tail per row
    [InlineData(70, 1_000)] // many short rows: one block each
    public void Elementwise_chains_shared_among_threads_equal_one_thread(int rows, int width)
    {
        float[] x = Numerics.Random(rows * width, seed: width, scale: 4);
        foreach (bool tanh in new[] { false, true })
        {
            var alone = new float[x.Length];
            if (tanh) Elementwise.Run<TanhOperator>(ref x[0], ref alone[0], rows, width);
            else Elementwise.Run<GeluOperator>(ref x[0], ref alone[0], rows, width);
            Tensor input = Tensor.FromBatch(x, rows, new[] { width });
            Assert.InRange(Numerics.RelativeError(alone, (tanh ? input.Tanh() : input.Gelu()).ToArray()), 0, Numerics.Tolerance);
            AssertSharedEqual(alone, workers =>
            {
                var shared = new float[x.Length];
                if (tanh) Elementwise.Run<TanhOperator>(ref x[0], ref shared[0], rows, width, workers);
                else Elementwise.Run<GeluOperator>(ref x[0], ref shared[0], rows, width, workers);
                return shared;
            });
        }
    }

    [Fact]
    public void AxisPool_shared_among_threads_equals_one_thread()
    {
        // [outer 30, length 50, inner 40], a window of 3 along the middle axis, stride 2, padded: max and average.
        const int outer = 30, length = 50, inner = 40, window = 3, stride = 2, padBegin = 1, outLength = 25;
        float[] x = Numerics.Random(outer * length * inner, seed: 77);
        foreach (bool max in new[] { true, false })
        {
            var alone = new float[outer * outLength * inner];
            AxisPool.Run(ref x[0], ref alone[0], outer, length, inner, window, stride, padBegin, 1, outLength, max, 0, length);
            // One output by hand: position 3 of outer 2, inner 5 covers inputs 5, 6, 7 along the axis.
            float[] taps = { x[(2 * length + 5) * inner + 5], x[(2 * length + 6) * inner + 5], x[(2 * length + 7) * inner + 5] };
            Assert.Equal(max ? taps.Max() : taps.Sum() / 3, alone[(2 * outLength + 3) * inner + 5], 5);
            AssertSharedEqual(alone, workers =>
            {
                var shared = new float[alone.Length];
                AxisPool.Run(ref x[0], ref shared[0], outer, length, inner, window, stride, padBegin, 1, outLength, max, 0, length, workers);
                return shared;
            });
        }
    }
}
