extern alias generator;

using System;
using System.Linq;
using ModelCompiler.Kernels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>Each runtime kernel against the eager reference, at this machine's widest vector width
/// (VectorWidthTests runs the compiled models at the narrower ones).</summary>
public class KernelTests
{
    public static TheoryData<int, int, int> LinearSizes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int rows in new[] { 1, 3, 8, 17, 64, 100 })
        {
            foreach ((int k, int n) in new[] { (1, 1), (3, 17), (17, 3), (64, 16), (100, 64), (784, 100), (5, 33) })
                data.Add(rows, k, n);
        }
        return data;
    }

    public static TheoryData<ReduceKind, int, int, int> ReduceCases()
    {
        var data = new TheoryData<ReduceKind, int, int, int>();
        foreach (ReduceKind kind in Enum.GetValues<ReduceKind>())
            foreach ((int outer, int reduce, int inner) in new[] { (1, 1, 1), (3, 37, 1), (2, 5, 33), (4, 17, 16), (2, 3, 7), (1, 100, 1) })
                data.Add(kind, outer, reduce, inner);
        return data;
    }

    /// <summary>Every reduction at each vector width's body and tails, against ONNX's definitions written out in double.</summary>
    [Theory]
    [MemberData(nameof(ReduceCases))]
    public void Reduce_matches_the_definitions_of_ONNX_Reduce_operators(ReduceKind kind, int outer, int reduce, int inner)
    {
        // Positive values keep LogSum defined and the product moderate.
        float[] x = Numerics.Random(outer * reduce * inner, seed: outer * 131 + reduce * 7 + inner);
        if (kind is ReduceKind.LogSum or ReduceKind.Prod)
            for (int i = 0; i < x.Length; i++) x[i] = 0.5f + Math.Abs(x[i]);
        var expected = new float[outer * inner];
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            double sum = 0, squares = 0, magnitudes = 0, product = 1, max = double.NegativeInfinity, min = double.PositiveInfinity;
            for (int r = 0; r < reduce; r++)
            {
                double v = x[(o * reduce + r) * inner + i];
                sum += v; squares += v * v; magnitudes += Math.Abs(v); product *= v; max = Math.Max(max, v); min = Math.Min(min, v);
            }
            double exps = 0;
            for (int r = 0; r < reduce; r++) exps += Math.Exp(x[(o * reduce + r) * inner + i]);
            expected[o * inner + i] = (float)(kind switch
            {
                ReduceKind.Mean => sum / reduce, ReduceKind.Sum => sum, ReduceKind.Max => max, ReduceKind.Min => min, ReduceKind.Prod => product,
                ReduceKind.SumSquare => squares, ReduceKind.L1 => magnitudes, ReduceKind.L2 => Math.Sqrt(squares), ReduceKind.LogSum => Math.Log(sum),
                _ => Math.Log(exps),
            });
        }
        var actual = new float[outer * inner + 1];
        actual[^1] = 42f;
        Reduce.Run(ref x[0], ref actual[0], outer, reduce, inner, kind);
        Assert.Equal(42f, actual[^1]);
        Assert.InRange(Numerics.RelativeError(actual.AsSpan(0, outer * inner), expected), 0, Numerics.Tolerance);
    }

    [Theory]
    [MemberData(nameof(LinearSizes))]
    public void PackedLinear_matches_the_eager_Linear(int rows, int k, int n)
    {
        float[] x = Numerics.Random(rows * k, seed: rows * 7919 + k);
        float[] weight = Numerics.Random(n * k, seed: n * 31 + k, scale: 0.2);
        float[] bias = Numerics.Random(n, seed: n, scale: 0.5);
        var weights = new TestWeights().Add("fc.weight", new[] { n, k }, weight).Add("fc.bias", new[] { n }, bias);
        float[] expected = Tensor.FromBatch(x, rows, new[] { k }, weights).Linear("fc").Relu().ToArray();

        float[] packed = new float[PanelLayout.PackedLength(n, k)];
        PanelLayout.Pack(weight, n, k, packed, 0);
        float[] paddedBias = new float[PanelLayout.PaddedBiasLength(n)];
        bias.CopyTo(paddedBias, 0);
        // One guard value past the output: the kernel must write exactly rows × n floats.
        float[] actual = new float[rows * n + 1];
        actual[^1] = 42f;
        PackedLinear.Run<ReluOperator>(ref x[0], k, rows, ref packed[0], ref paddedBias[0], k, n, ref actual[0], n);

        Assert.Equal(42f, actual[^1]);
        Assert.InRange(Numerics.RelativeError(actual.AsSpan(0, rows * n), expected), 0, Numerics.Tolerance);
    }

    /// <summary>
    /// GridSample, bilinear with zero padding, against the textbook definition written out here (the four neighbours'
    /// weights by distance, 0 outside), at points inside, on the edges and outside — and at hostile points (NaN, ±∞,
    /// 1e30, −1e30) that must read nothing: 0, never memory outside the input (the AVX2 gather and the scalar tail both run:
    /// 21 positions are two blocks of eight and five).
    /// </summary>
    [Fact]
    public void GridSample_bilinear_matches_the_definition_and_reads_nothing_outside_the_input()
    {
        const int channels = 3, height = 4, width = 5, outHeight = 3, outWidth = 7, positions = outHeight * outWidth;
        float[] input = Numerics.Random(2 * channels * height * width, seed: 3);
        float[] grid = Numerics.Random(2 * positions * 2, seed: 4, scale: 1.3);
        float[] hostile = { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e30f, -1e30f, 1f, -1f };
        for (int k = 0; k < hostile.Length; k++) (grid[4 * k], grid[4 * k + 3]) = (hostile[k], hostile[(k + 3) % hostile.Length]);
        var output = new float[2 * channels * positions];
        GridSample.Run(ref input[0], ref grid[0], ref output[0], 2, channels, height, width, outHeight, outWidth, GridSampleMode.Linear, GridSamplePadding.Zeros, alignCorners: false);
        for (int n = 0; n < 2; n++)
            for (int p = 0; p < positions; p++)
            {
                double gx = grid[(n * positions + p) * 2], gy = grid[(n * positions + p) * 2 + 1];
                double x = ((gx + 1) * width - 1) / 2, y = ((gy + 1) * height - 1) / 2; // align_corners = 0
                for (int c = 0; c < channels; c++)
                {
                    double expected = 0;
                    if (double.IsFinite(x) && double.IsFinite(y) && Math.Abs(x) < 1e6 && Math.Abs(y) < 1e6)
                    {
                        double x0 = Math.Floor(x), y0 = Math.Floor(y);
                        foreach ((double px, double py) in new[] { (x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1) })
                            if (px >= 0 && px < width && py >= 0 && py < height)
                                expected += input[((n * channels + c) * height + (int)py) * width + (int)px] * (1 - Math.Abs(x - px)) * (1 - Math.Abs(y - py));
                    }
                    float actual = output[(n * channels + c) * positions + p];
                    Assert.True(Math.Abs(actual - expected) <= 1e-5, $"pair {n}, point ({gx}, {gy}), channel {c}: {actual}, expected {expected}");
                }
            }
    }

    [Fact]
    public void Panel_layout_puts_output_j_input_k_where_the_kernel_reads_it()
    {
        int n = 20, k = 3;
        var weight = new float[n * k];
        for (int j = 0; j < n; j++) for (int i = 0; i < k; i++) weight[j * k + i] = j * 100 + i;
        var packed = new float[PanelLayout.PackedLength(n, k)];
        PanelLayout.Pack(weight, n, k, packed, 0);

        Assert.Equal(2 * 3 * 16, packed.Length);
        Assert.Equal(1702f, packed[(1 * k + 2) * 16 + 1]); // panel 1, k = 2, output 17
        Assert.Equal(0f, packed[(1 * k + 0) * 16 + 4]);    // output 20 does not exist: zero padding
    }

    public static TheoryData<string> Activations => new() { "Relu", "Sigmoid", "Tanh", "Gelu", "GeluTanh", "Erf" };

    [Theory]
    [MemberData(nameof(Activations))]
    public void Activation_operators_match_the_double_precision_reference(string name)
    {
        const int count = 20001;
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = -12f + 24f * i / (count - 1);
        var actual = new float[count];
        Tensor input = new(new[] { count }, x);
        Tensor expected;
        switch (name)
        {
            case "Relu": Elementwise.Run<ReluOperator>(ref x[0], ref actual[0], 1, count); expected = input.Relu(); break;
            case "Sigmoid": Elementwise.Run<SigmoidOperator>(ref x[0], ref actual[0], 1, count); expected = input.Sigmoid(); break;
            case "Tanh": Elementwise.Run<TanhOperator>(ref x[0], ref actual[0], 1, count); expected = input.Tanh(); break;
            case "Gelu": Elementwise.Run<GeluOperator>(ref x[0], ref actual[0], 1, count); expected = input.Gelu(); break;
            case "Erf": Elementwise.Run<ErfOperator>(ref x[0], ref actual[0], 1, count); expected = input.Erf(); break;
            default: Elementwise.Run<GeluTanhOperator>(ref x[0], ref actual[0], 1, count); expected = input.Gelu(GeluApproximation.Tanh); break;
        }
        // Element by element: within 2e-6 of the value, plus 2e-7·|x| near zero. The floor is float's own limit on
        // GELU's left tail, 0.5·x·(1 + erf(x/√2)): the sum cancels to a few ulp of 1 (PyTorch's float GELU does the same).
        for (int i = 0; i < count; i++)
        {
            float e = expected.Data[i];
            Assert.True(Math.Abs(actual[i] - e) <= 2e-6 * Math.Abs(e) + 2e-7 * Math.Max(1, Math.Abs(x[i])), $"{name}({x[i]}) = {actual[i]}, reference {e}");
        }
    }

    [Fact]
    public void Erf_matches_known_values()
    {
        // Abramowitz & Stegun, table 7.1.
        Assert.Equal(0.5204998778, VectorMath.Erf(0.5f), 6);
        Assert.Equal(0.8427007929, VectorMath.Erf(1f), 6);
        Assert.Equal(-0.9953222650, VectorMath.Erf(-2f), 6);
        Assert.Equal(1.0, VectorMath.Erf(9f), 6);
        Assert.Equal(0.8427007929497149, ReferenceMath.Erf(1.0), 13);
        Assert.Equal(0.9999779095030014, ReferenceMath.Erf(3.0), 13);
        Assert.Equal(-0.9999999845827421, ReferenceMath.Erf(-4.0), 13);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RowSoftmax_matches_the_eager_Softmax(bool log)
    {
        int rows = 7, width = 13;
        float[] x = Numerics.Random(rows * width, seed: 5, scale: 20); // large values: the max must be subtracted
        var actual = new float[x.Length];
        RowSoftmax.Run(ref x[0], ref actual[0], rows, width, log);
        Tensor t = new(new[] { rows, width }, x);
        Assert.InRange(Numerics.RelativeError(actual, (log ? t.LogSoftmax() : t.Softmax()).Data), 0, Numerics.Tolerance);
    }

    [Fact]
    public void Broadcast_matches_the_eager_Mul_for_a_vector_across_rows()
    {
        int rows = 5, cols = 37;
        float[] a = Numerics.Random(rows * cols, seed: 1), b = Numerics.Random(cols, seed: 2);
        var actual = new float[rows * cols];
        Broadcast.Run<MultiplyOperator>(ref a[0], new[] { cols, 1 }, ref b[0], new[] { 0, 1 }, ref actual[0], rows, new[] { cols });
        Tensor expected = new Tensor(new[] { rows, cols }, a).Mul(new Tensor(new[] { cols }, b));
        Assert.Equal(expected.ToArray(), actual);
    }

    [Theory]
    [InlineData(9, 2)]   // two vectors of four, then one value alone
    [InlineData(3, 2)]   // shorter than a vector
    [InlineData(5, 4)]   // one vector per value
    [InlineData(6, 8)]   // two vectors per value: rows as long as a vector, still the short-row loop
    [InlineData(7, 3)]   // a factor the vector loops leave to the scalar one
    public void Broadcast_matches_the_eager_Add_for_a_nearest_upsampling_through_zeros(int w, int s)
    {
        // An ONNX nearest Resize as the importer writes it: [C, H, 1, W, 1] + zeros [1, 1, s, 1, s]. Collapsed, the
        // innermost rows are s long (the short-row loop); a second operand of random values makes the sum visible.
        int rows = 2, c = 3, h = 5;
        float[] a = Numerics.Random(rows * c * h * w, seed: 3), b = Numerics.Random(s * s, seed: 4);
        int[] shape = { c, h, s, w, s };
        (int[] walked, int[] aStrides, int[] bStrides) = generator::ModelCompiler.Generator.Ops.LoweringContext.Collapse(shape,
            new[] { c * h * w, h * w, w, 0, 1, 0 }, new[] { 0, 0, 0, s, 0, 1 });
        Assert.Equal(new[] { c * h, s, w, s }, walked);
        var actual = new float[rows * c * h * s * w * s];
        Broadcast.Run<AddOperator>(ref a[0], aStrides, ref b[0], bStrides, ref actual[0], rows, walked);
        Tensor expected = new Tensor(new[] { rows, c, h, 1, w, 1 }, a).Add(new Tensor(new[] { 1, 1, s, 1, s }, b));
        Assert.Equal(expected.ToArray(), actual);
    }

    [Theory]
    [InlineData(9, 2)]   // pairs: two vectors of four, then one value alone
    [InlineData(16, 2)]
    [InlineData(5, 4)]   // one vector per value
    [InlineData(10, 8)]  // two vectors per value
    [InlineData(7, 3)]   // a factor the vector loops leave to the scalar one
    public void Broadcast_of_an_upsampling_against_one_repeated_value_matches_the_eager_Add(int w, int s)
    {
        // The generator reads a constant of one repeated value (a Resize's zeros) through strides of 0 everywhere. Then the
        // repeated rows (strides 0 in both operands) are computed once and copied; a value of 0.75, not 0, makes the sum visible.
        int rows = 2, c = 3, h = 5;
        float[] a = Numerics.Random(rows * c * h * w, seed: 9), b = { 0.75f };
        int[] shape = { c, h, s, w, s };
        (int[] walked, int[] aStrides, int[] bStrides) = generator::ModelCompiler.Generator.Ops.LoweringContext.Collapse(shape,
            new[] { c * h * w, h * w, w, 0, 1, 0 }, new int[6]);
        Assert.Equal(new[] { c * h, s, w, s }, walked);
        var actual = new float[rows * c * h * s * w * s];
        Broadcast.Run<AddOperator>(ref a[0], aStrides, ref b[0], bStrides, ref actual[0], rows, walked);
        Tensor expected = new Tensor(new[] { rows, c, h, 1, w, 1 }, a).Add(new Tensor(new[] { 1, 1, s, 1, s }, Enumerable.Repeat(0.75f, s * s).ToArray()));
        Assert.Equal(expected.ToArray(), actual);
    }

    [Fact]
    public void Broadcast_fills_a_walk_where_neither_operand_moves()
    {
        // Both operands one value each (a row of 11, then [4, 11] with the outer dimension repeated): the fill and the copy.
        float[] a = { -2.5f }, b = { 0.75f };
        foreach (int[] walked in new[] { new[] { 11 }, new[] { 4, 11 } })
        {
            int count = Count(walked);
            var actual = new float[2 * count];
            Broadcast.Run<MultiplyOperator>(ref a[0], new int[walked.Length + 1], ref b[0], new int[walked.Length + 1], ref actual[0], 2, walked);
            Assert.All(actual, v => Assert.Equal(-1.875f, v));
        }
    }

    private static int Count(int[] dims) => dims.Aggregate(1, (x, y) => x * y);

    /// <summary>An operand's strides against the broadcast <paramref name="shape"/>: per sample first, 0 where it is broadcast.</summary>
    private static int[] BroadcastStrides(int[] dims, int[] shape)
    {
        var strides = new int[dims.Length + 1];
        strides[0] = Count(dims);
        for (int d = dims.Length - 1, dense = 1; d >= 0; dense *= dims[d], d--) strides[d + 1] = dims[d] == 1 && shape[d] != 1 ? 0 : dense;
        return strides;
    }

    [Theory]
    [InlineData(new[] { 4, 6, 7 }, new[] { 4, 6, 7 }, new[] { 168 })]      // same shapes: one row of 168
    [InlineData(new[] { 4, 6, 7 }, new[] { 4, 1, 1 }, new[] { 4, 42 })]    // a gate per channel: rows of 42 times one value
    [InlineData(new[] { 4, 6, 7 }, new[] { 1, 6, 1 }, new[] { 4, 6, 7 })]  // nothing merges
    [InlineData(new[] { 1, 6, 7 }, new[] { 3, 1, 7 }, new[] { 3, 6, 7 })]  // the first operand broadcast along the rows
    public void Broadcast_over_collapsed_dimensions_matches_the_eager_Add(int[] aShape, int[] bShape, int[] expectedWalk)
    {
        const int rows = 2;
        int[] shape = aShape.Zip(bShape, Math.Max).ToArray();
        int[] Strides(int[] dims) => BroadcastStrides(dims, shape);
        float[] a = Numerics.Random(rows * Count(aShape), seed: 5), b = Numerics.Random(rows * Count(bShape), seed: 6);
        (int[] walked, int[] aStrides, int[] bStrides) = generator::ModelCompiler.Generator.Ops.LoweringContext.Collapse(shape, Strides(aShape), Strides(bShape));
        Assert.Equal(expectedWalk, walked);
        var actual = new float[rows * Count(shape)];
        Broadcast.Run<AddOperator>(ref a[0], aStrides, ref b[0], bStrides, ref actual[0], rows, walked);
        Tensor expected = new Tensor(new[] { rows }.Concat(aShape).ToArray(), a).Add(new Tensor(new[] { rows }.Concat(bShape).ToArray(), b));
        Assert.Equal(expected.ToArray(), actual);
    }

    [Theory]
    [InlineData(new[] { 5, 48, 160 }, new[] { 5, 1, 1 })]            // a gate per channel, rows long enough to vectorize
    [InlineData(new[] { 7, 40, 1, 60, 1 }, new[] { 1, 1, 2, 1, 2 })] // a nearest upsampling: runs of short rows
    [InlineData(new[] { 1, 90, 130 }, new[] { 3, 90, 1 })]           // an outermost dimension broadcast from the first operand
    public void Broadcast_and_strided_copy_shared_among_threads_equal_one_thread(int[] aShape, int[] bShape)
    {
        // Large enough to be shared (KernelWorkers.MinSharedWork); three rows, so runs of the outermost dimension cross rows.
        const int rows = 3;
        int[] shape = aShape.Zip(bShape, Math.Max).ToArray();
        int[] Strides(int[] dims) => BroadcastStrides(dims, shape);
        float[] a = Numerics.Random(rows * Count(aShape), seed: 7), b = Numerics.Random(rows * Count(bShape), seed: 8);
        (int[] walked, int[] aStrides, int[] bStrides) = generator::ModelCompiler.Generator.Ops.LoweringContext.Collapse(shape, Strides(aShape), Strides(bShape));
        Assert.True((long)rows * Count(shape) >= KernelWorkers.MinSharedWork);
        float[] expected = new Tensor(new[] { rows }.Concat(aShape).ToArray(), a).Add(new Tensor(new[] { rows }.Concat(bShape).ToArray(), b)).ToArray();
        // The same walk as a strided copy of a into a dense output (b's strides unused).
        float[] copied = new Tensor(new[] { rows }.Concat(aShape).ToArray(), a).Add(new Tensor(new[] { rows }.Concat(bShape).ToArray(), new float[rows * Count(bShape)])).ToArray();
        int[] dense = new[] { Count(shape) }.Concat(ReferenceOps.DenseStrides(walked)).ToArray();
        foreach (int threads in new[] { 2, 3 })
        {
            using var workers = new KernelWorkers(threads);
            var sum = new float[rows * Count(shape)];
            Broadcast.Run<AddOperator, IdentityOperator>(ref a[0], aStrides, ref b[0], bStrides, ref sum[0], rows, walked, workers);
            Assert.Equal(expected, sum);
            var copy = new float[rows * Count(shape)];
            Strided.Copy(ref a[0], aStrides, ref copy[0], dense, rows, walked, workers);
            Assert.Equal(copied, copy);
        }
    }
}
