using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// The activations a decoder's int4 layers multiply: each row rounded to int8 per block of 32 inputs, the int4 weights'
/// own blocks (ggml's Q8_0, which llama.cpp multiplies its Q4_0 weights by): scale <c>max|x| / 127</c>, codes
/// <c>round_half_even(x · 127 / max|x|)</c> (<see cref="Int8Quantization.RowScale"/> and
/// <see cref="Int8Quantization.QuantizeActivation"/>; a block holding a NaN or an infinity gets scale 0). The decode step's
/// product then runs on 8-bit integer instructions (<see cref="Int4Linear"/>), and a prompt's rows, the eager reference and
/// every vector width multiply the same values, <c>code · scale</c> (<see cref="RoundTrip"/>).
/// </summary>
internal static class Int4Activations
{
    public const int BlockSize = Int4Quantization.BlockSize;

    /// <summary>
    /// One row, <paramref name="x"/>, quantized: codes, each block's scale and the sum of its codes (the <c>−8</c>
    /// of every weight code, taken out once per block).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quantize(ReadOnlySpan<float> x, Span<sbyte> codes, Span<float> scales, Span<int> sums)
    {
        for (int start = 0, b = 0; start < x.Length; start += BlockSize, b++)
        {
            int end = Math.Min(x.Length, start + BlockSize);
            if (Vector256.IsHardwareAccelerated && end - start == BlockSize)
            {
                // The scalar rule below, eight lanes at a time (Max propagates a NaN, Round is half to even).
                Vector256<float> x0 = Vector256.Create(x.Slice(start, 8)), x1 = Vector256.Create(x.Slice(start + 8, 8));
                Vector256<float> x2 = Vector256.Create(x.Slice(start + 16, 8)), x3 = Vector256.Create(x.Slice(start + 24, 8));
                Vector256<float> m = Vector256.Max(Vector256.Max(Vector256.Abs(x0), Vector256.Abs(x1)), Vector256.Max(Vector256.Abs(x2), Vector256.Abs(x3)));
                Vector128<float> half = Vector128.Max(m.GetLower(), m.GetUpper());
                float amax = MathF.Max(MathF.Max(half[0], half[1]), MathF.Max(half[2], half[3]));
                scales[b] = Int8Quantization.RowScale(amax, out float inverse);
                Vector256<int> q0 = Code(x0, inverse), q1 = Code(x1, inverse), q2 = Code(x2, inverse), q3 = Code(x3, inverse);
                sums[b] = Vector256.Sum(q0 + q1 + q2 + q3);
                Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3)).CopyTo(codes.Slice(start, BlockSize));
                continue;
            }
            float max = 0f;
            for (int i = start; i < end; i++) max = MathF.Max(max, MathF.Abs(x[i]));
            scales[b] = Int8Quantization.RowScale(max, out float scalarInverse);
            int sum = 0;
            for (int i = start; i < end; i++) sum += codes[i] = Int8Quantization.QuantizeActivation(x[i], scalarInverse);
            sums[b] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Code(Vector256<float> x, float inverse) =>
        Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(Vector256.Round(x * inverse), Vector256.Create(-127f)), Vector256.Create(127f)));

    /// <summary>Replaces each value by the one its code stands for, <c>code · scale</c>.</summary>
    public static void RoundTrip(Span<float> x)
    {
        for (int start = 0; start < x.Length; start += BlockSize)
        {
            int end = Math.Min(x.Length, start + BlockSize);
            float amax = 0f;
            for (int i = start; i < end; i++) amax = MathF.Max(amax, MathF.Abs(x[i]));
            float scale = Int8Quantization.RowScale(amax, out float inverse);
            for (int i = start; i < end; i++) x[i] = Int8Quantization.QuantizeActivation(x[i], inverse) * scale;
        }
    }
}
