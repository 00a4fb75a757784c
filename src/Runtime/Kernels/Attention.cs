using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>The core of multi-head self-attention, between the input and output projections.</summary>
public static class Attention
{
    /// <summary>Floats of scratch <see cref="Run"/> needs: one row of scores.</summary>
    public static int ScratchFloats(int sequence) => sequence;

    /// <summary>
    /// Effectively computes, for each sample, each head <c>h</c> and each position <c>i</c>:
    /// <c>out[i, h] = Σⱼ softmax(q[i, h] · k[j, h] / √d)ⱼ · v[j, h]</c>, where a sample's <paramref name="qkv"/> is
    /// <c>[sequence, 3·heads·d]</c> (all queries, then all keys, then all values, head-major within each, as PyTorch's
    /// <c>in_proj</c> produces them) and its <paramref name="output"/> is <c>[sequence, heads·d]</c>. No mask.
    /// The maximum score is subtracted before exponentiation. <paramref name="output"/> must not overlap <paramref name="qkv"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float qkv, ref float output, nint samples, nint sequence, nint heads, nint headSize, ref float scratch)
    {
        nint model = heads * headSize;
        float scale = 1f / MathF.Sqrt(headSize);
        for (nint s = 0; s < samples; s++)
        {
            ref float sample = ref Unsafe.Add(ref qkv, s * sequence * 3 * model);
            ref float result = ref Unsafe.Add(ref output, s * sequence * model);
            for (nint h = 0; h < heads; h++)
            {
                for (nint i = 0; i < sequence; i++)
                {
                    ref float q = ref Unsafe.Add(ref sample, i * 3 * model + h * headSize);
                    float max = float.NegativeInfinity;
                    for (nint j = 0; j < sequence; j++)
                    {
                        float score = Dot(ref q, ref Unsafe.Add(ref sample, j * 3 * model + model + h * headSize), headSize) * scale;
                        Unsafe.Add(ref scratch, j) = score;
                        max = MathF.Max(max, score);
                    }
                    float sum = 0f;
                    for (nint j = 0; j < sequence; j++)
                    {
                        float e = MathF.Exp(Unsafe.Add(ref scratch, j) - max);
                        Unsafe.Add(ref scratch, j) = e;
                        sum += e;
                    }
                    float inverse = 1f / sum;
                    ref float o = ref Unsafe.Add(ref result, i * model + h * headSize);
                    for (nint c = 0; c < headSize; c++) Unsafe.Add(ref o, c) = 0f;
                    for (nint j = 0; j < sequence; j++)
                        Axpy(Unsafe.Add(ref scratch, j) * inverse, ref Unsafe.Add(ref sample, j * 3 * model + 2 * model + h * headSize), ref o, headSize);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ref float a, ref float b, nint n)
    {
        float sum = 0f;
        nint i = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref a, (nuint)i), Vector256.LoadUnsafe(ref b, (nuint)i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
        return sum;
    }

    /// <summary>y += alpha · x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float alpha, ref float x, ref float y, nint n)
    {
        nint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a = Vector256.Create(alpha);
            for (; i + 8 <= n; i += 8)
                Vector256.MultiplyAddEstimate(a, Vector256.LoadUnsafe(ref x, (nuint)i), Vector256.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref y, i) += alpha * Unsafe.Add(ref x, i);
    }
}
