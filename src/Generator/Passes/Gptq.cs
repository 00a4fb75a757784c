using System;
using System.Threading;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers", 2022):
/// rounds a Linear's weights to int4 one input column at a time and moves each column's rounding error onto the columns
/// not yet rounded, weighted by the inverse Hessian of the layer's calibration inputs (H = Σ x xᵀ), so that the layer's
/// outputs on those inputs change least. This is IST-DASLab/gptq's <c>fasterquant</c> step for step (the lazy-batch
/// form: errors applied inside a batch of <see cref="LazyBatch"/> columns at once, to the rest after the batch; the
/// upper Cholesky factor of the damped inverse Hessian; dead inputs zeroed; act-order with AutoGPTQ's static groups),
/// in float64, onto ModelCompiler's int4 grid (<see cref="Int4Quantization"/>: per output and block of 32 inputs a
/// scale fp16(max|w| / 7), codes in [-7, 7]), so the result runs on the same kernels as round-to-nearest int4.
/// tests/ModelCompiler.TestModels/make_gptq.py is the reference transcription GptqTests compare against.
/// </summary>
internal static class Gptq
{
    /// <summary>Columns whose updates are applied together (the reference's blocksize).</summary>
    public const int LazyBatch = 128;

    /// <summary>Added to the Hessian's diagonal: this fraction of its mean (the reference's percdamp).</summary>
    public const double PercentDamp = 0.01;

    /// <summary>Inputs a layer may have for GPTQ: its working set is five k × k float64 matrices (640 MB at 4,096).</summary>
    public const int MaxInputs = 4096;

    /// <summary>Weights a layer may have for GPTQ: the float64 working copy of the weights (512 MB at 2^26).</summary>
    public const long MaxWeights = 1L << 26;

    /// <summary>
    /// Whether GPTQ rounds an <c>[n, k]</c> layer within the generator's memory (in the compiler's process, on files from
    /// anywhere); larger layers are rounded to nearest, and the header shows them without GPTQ's output error.
    /// </summary>
    public static bool Fits(int n, int k) => k <= MaxInputs && (long)n * k <= MaxWeights;

    /// <summary>
    /// The int4 encoding of <paramref name="weight"/> <c>[n, k]</c> and the relative output errors
    /// <c>tr(E H Eᵀ) / tr(W H Wᵀ)</c> of GPTQ's and of round-to-nearest's weights, or null when the damped Hessian is
    /// not positive definite even with a hundred times the damping. With <paramref name="actOrder"/>, columns are
    /// rounded in order of decreasing Hessian diagonal and every block's scale is fixed from the original weights
    /// first; without, a block's scale comes from its weights as updated when its first column is reached.
    /// </summary>
    public static Result? Quantize(float[] weight, int n, int k, double[] hessian, bool actOrder, int lazyBatch = LazyBatch,
        CancellationToken cancellationToken = default)
    {
        int blocks = Int4Quantization.Blocks(k);
        // Column-major working copy: column i is w[i·n … i·n + n), so a column update is one contiguous AXPY.
        var w = new double[(long)k * n];
        for (int j = 0; j < n; j++) for (int i = 0; i < k; i++) w[(long)i * n + j] = weight[(long)j * k + i];
        var h = (double[])hessian.Clone();
        for (int i = 0; i < k; i++)
        {
            if (h[(long)i * k + i] != 0) continue;
            h[(long)i * k + i] = 1; // an input that is always zero: its weights do not matter, and are rounded to zero
            Array.Clear(w, i * n, n);
        }
        var scales = new ushort[n * blocks];
        if (actOrder) for (int b = 0; b < blocks; b++) SetScales(w, n, k, b * Int4Quantization.BlockSize, scales);

        int[] order = new int[k];
        for (int i = 0; i < k; i++) order[i] = i;
        if (actOrder)
        {
            var keys = new double[k];
            for (int i = 0; i < k; i++) keys[i] = -h[(long)i * k + i];
            Array.Sort(keys, order); // introsort is not stable: equal diagonals are ordered by index below
            for (int i = 0; i < k;)
            {
                int end = i + 1;
                while (end < k && keys[end] == keys[i]) end++;
                Array.Sort(order, i, end - i);
                i = end;
            }
            w = PermuteColumns(w, n, order);
            h = PermuteSymmetric(h, k, order);
        }

        double[]? u = null;
        double mean = 0;
        for (int i = 0; i < k; i++) mean += h[(long)i * k + i];
        mean /= k;
        for (double damp = PercentDamp; u is null && damp <= 100 * PercentDamp; damp *= 10)
        {
            var damped = (double[])h.Clone();
            for (int i = 0; i < k; i++) damped[(long)i * k + i] += damp * mean;
            u = UpperCholeskyOfInverse(damped, k, cancellationToken);
        }
        if (u is null) return null;

        var codes = new sbyte[(long)n * k];
        var batch = new double[(long)lazyBatch * n];
        var errors = new double[(long)lazyBatch * n];
        for (int i1 = 0; i1 < k; i1 += lazyBatch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int i2 = Math.Min(i1 + lazyBatch, k), count = i2 - i1;
            Array.Copy(w, (long)i1 * n, batch, 0, (long)count * n);
            for (int i = 0; i < count; i++)
            {
                int column = i1 + i, original = order[column];
                double d = u[(long)column * k + column];
                // The reference finds a block's grid in the columns as the last lazy batch left them (w, not batch).
                if (!actOrder && column % Int4Quantization.BlockSize == 0) SetScales(w, n, k, column, scales);
                int block = original / Int4Quantization.BlockSize;
                for (int j = 0; j < n; j++)
                {
                    float scale = SafeTensorsHeader.HalfToSingle(scales[j * blocks + block]);
                    double value = batch[(long)i * n + j];
                    sbyte q = Int4Quantization.Code(value, scale);
                    codes[(long)j * k + original] = q;
                    errors[(long)i * n + j] = (value - q * (double)scale) / d;
                }
                for (int c = i + 1; c < count; c++) DoubleVectors.Axpy(batch, (long)c * n, errors, (long)i * n, -u[(long)column * k + i1 + c], n);
            }
            for (int c = i2; c < k; c++)
            {
                for (int i = 0; i < count; i++) DoubleVectors.Axpy(w, (long)c * n, errors, (long)i * n, -u[(long)(i1 + i) * k + c], n);
            }
        }

        byte[] encoded = Int4Quantization.Pack(codes, scales, n, k);
        (double error, double nearestError) = OutputErrors(weight, Int4Quantization.Decode(encoded, n, k), Int4Quantization.RoundTrip(weight, n, k), n, k, hessian);
        return new Result(encoded, error, nearestError);
    }

    /// <summary>GPTQ's int4 weights and how much they change the layer's outputs on the calibration inputs, beside round-to-nearest.</summary>
    public sealed class Result
    {
        public Result(byte[] encoded, double error, double roundToNearestError)
        {
            Encoded = encoded;
            Error = error;
            RoundToNearestError = roundToNearestError;
        }

        /// <summary>The int4 encoding (<see cref="Int4Quantization"/>'s form).</summary>
        public byte[] Encoded { get; }

        /// <summary><c>tr(E H Eᵀ) / tr(W H Wᵀ)</c> with E the change GPTQ made to the weights.</summary>
        public double Error { get; }

        /// <summary>The same for round-to-nearest.</summary>
        public double RoundToNearestError { get; }
    }

    /// <summary>Every output's scale for the block starting at <paramref name="column"/>, from the columns' current values.</summary>
    private static void SetScales(double[] w, int n, int k, int column, ushort[] scales)
    {
        int blocks = Int4Quantization.Blocks(k), end = Math.Min(k, column + Int4Quantization.BlockSize);
        for (int j = 0; j < n; j++)
        {
            double amax = 0;
            for (int c = column; c < end; c++) amax = Math.Max(amax, Math.Abs(w[(long)c * n + j]));
            scales[j * blocks + column / Int4Quantization.BlockSize] = Int4Quantization.Scale((float)amax);
        }
    }

    /// <summary>
    /// U upper triangular with UᵀU = A⁻¹ (the reference's cholesky, cholesky_inverse, cholesky(upper=True)), or null
    /// when A is not positive definite. A is <c>[k, k]</c> row-major and is overwritten.
    /// </summary>
    internal static double[]? UpperCholeskyOfInverse(double[] a, int k, CancellationToken cancellationToken)
    {
        // A = L Lᵀ, L in the lower triangle of a.
        if (!CholeskyLower(a, k, cancellationToken)) return null;
        // L⁻¹ by forward substitution a row at a time (row r = (e_r − Σ_{m<r} L[r, m] · row m) / L[r, r]): contiguous AXPYs.
        var inverse = new double[(long)k * k];
        for (int r = 0; r < k; r++)
        {
            if (r % 64 == 0) cancellationToken.ThrowIfCancellationRequested();
            long row = (long)r * k;
            inverse[row + r] = 1;
            for (int m = 0; m < r; m++) DoubleVectors.Axpy(inverse, row, inverse, (long)m * k, -a[row + m], m + 1);
            double pivot = a[row + r];
            for (int c = 0; c <= r; c++) inverse[row + c] /= pivot;
        }
        cancellationToken.ThrowIfCancellationRequested();
        // A⁻¹ = L⁻ᵀ L⁻¹: element (r, c) = Σ_{m ≥ max(r, c)} L⁻¹[m, r] · L⁻¹[m, c]; rows of the transpose are contiguous.
        var transposed = new double[(long)k * k];
        for (int r = 0; r < k; r++) for (int m = r; m < k; m++) transposed[(long)r * k + m] = inverse[(long)m * k + r];
        for (int r = 0; r < k; r++)
        {
            for (int c = 0; c <= r; c++)
            {
                double value = DoubleVectors.Dot(transposed, (long)r * k + r, transposed, (long)c * k + r, k - r);
                a[(long)r * k + c] = a[(long)c * k + r] = value;
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (!CholeskyLower(a, k, cancellationToken)) return null;
        var upper = new double[(long)k * k];
        for (int r = 0; r < k; r++) for (int c = r; c < k; c++) upper[(long)r * k + c] = a[(long)c * k + r];
        return upper;
    }

    /// <summary>Cholesky–Banachiewicz in place: the lower triangle of <paramref name="a"/> becomes L (A = L Lᵀ); false when a pivot is not positive.</summary>
    private static bool CholeskyLower(double[] a, int k, CancellationToken cancellationToken)
    {
        for (int r = 0; r < k; r++)
        {
            if (r % 64 == 0) cancellationToken.ThrowIfCancellationRequested();
            for (int c = 0; c <= r; c++)
            {
                double sum = a[(long)r * k + c] - DoubleVectors.Dot(a, (long)r * k, a, (long)c * k, c);
                if (r == c)
                {
                    if (!(sum > 0)) return false;
                    a[(long)r * k + r] = Math.Sqrt(sum);
                }
                else a[(long)r * k + c] = sum / a[(long)c * k + c];
            }
        }
        return true;
    }

    private static double[] PermuteColumns(double[] w, int n, int[] order)
    {
        var result = new double[w.Length];
        for (int i = 0; i < order.Length; i++) Array.Copy(w, (long)order[i] * n, result, (long)i * n, n);
        return result;
    }

    private static double[] PermuteSymmetric(double[] h, int k, int[] order)
    {
        var result = new double[h.Length];
        for (int r = 0; r < k; r++) for (int c = 0; c < k; c++) result[(long)r * k + c] = h[(long)order[r] * k + order[c]];
        return result;
    }

    /// <summary>Outputs the output errors are measured on at most (evenly spaced): the measure costs k² per output.</summary>
    private const int ErrorOutputs = 256;

    /// <summary>
    /// <c>tr(E H Eᵀ) / tr(W H Wᵀ)</c>, E = W − Q, for GPTQ's weights and round-to-nearest's: how much of the layer's
    /// output energy on the calibration inputs each rounding changes, over every output, or <see cref="ErrorOutputs"/>
    /// evenly spaced ones when there are more. Eight outputs at a time, so each row of H is read once per eight.
    /// </summary>
    private static (double Gptq, double Nearest) OutputErrors(float[] weight, float[] gptq, float[] nearest, int n, int k, double[] hessian)
    {
        const int Rows = 8;
        int step = Math.Max(1, n / ErrorOutputs);
        var vectors = new double[3 * Rows * k]; // per output of the block: w, w − gptq, w − nearest
        double total = 0, gptqError = 0, nearestError = 0;
        var outputs = new System.Collections.Generic.List<int>();
        for (int j = 0; j < n; j += step) outputs.Add(j);
        for (int start = 0; start < outputs.Count; start += Rows)
        {
            int count = Math.Min(Rows, outputs.Count - start);
            for (int r = 0; r < count; r++)
            {
                long j = outputs[start + r];
                for (int i = 0; i < k; i++)
                {
                    double w = weight[j * k + i];
                    vectors[(3 * r) * k + i] = w;
                    vectors[(3 * r + 1) * k + i] = w - gptq[j * k + i];
                    vectors[(3 * r + 2) * k + i] = w - nearest[j * k + i];
                }
            }
            for (int i = 0; i < k; i++)
            {
                for (int r = 0; r < count; r++)
                {
                    total += vectors[(3 * r) * k + i] * DoubleVectors.Dot(hessian, (long)i * k, vectors, (3 * r) * k, k);
                    gptqError += vectors[(3 * r + 1) * k + i] * DoubleVectors.Dot(hessian, (long)i * k, vectors, (3 * r + 1) * k, k);
                    nearestError += vectors[(3 * r + 2) * k + i] * DoubleVectors.Dot(hessian, (long)i * k, vectors, (3 * r + 2) * k, k);
                }
            }
        }
        return total > 0 ? (gptqError / total, nearestError / total) : (0, 0);
    }
}
