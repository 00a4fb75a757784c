using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>Rotary position embeddings (RoPE) in the rotate-half layout Hugging Face's Llama uses.</summary>
public static class Rotary
{
    /// <summary>The widest head the kernel takes (its angle tables live on the stack).</summary>
    public const int MaxHeadSize = DecoderReference.MaxRotaryHeadSize;

    /// <summary>
    /// The cosines and sines <see cref="Run"/> rotates by, for positions <c>0…positions−1</c>, as it computes them (the
    /// angle <c>p · θ^(−2i/headSize)</c> rounded to float32, then <see cref="Math.Cos(double)"/> and
    /// <see cref="Math.Sin(double)"/> rounded to float32): <c>table[(p · headSize/2 + i) · 2]</c> is the cosine of pair
    /// <c>i</c> at position <c>p</c>, the next value its sine. A GPU session uploads this table once, so its rotations are
    /// the CPU's bit for bit.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The head size is not even, or past <see cref="MaxHeadSize"/>; or <paramref name="table"/> is not <c>positions · headSize</c> long.</exception>
    public static void Angles(int headSize, float theta, int positions, Span<float> table)
    {
        if (headSize <= 0 || headSize % 2 != 0 || headSize > MaxHeadSize)
            throw new ArgumentOutOfRangeException(nameof(headSize), headSize, $"Rotary embeddings need an even head size of at most {MaxHeadSize}.");
        if (positions < 0 || table.Length != (long)positions * headSize)
            throw new ArgumentOutOfRangeException(nameof(table), table.Length, $"The table of {positions} positions holds {(long)positions * headSize} values.");
        int half = headSize / 2;
        Span<float> frequencies = stackalloc float[half];
        for (int i = 0; i < half; i++) frequencies[i] = DecoderReference.InverseFrequency(i, headSize, theta);
        for (int p = 0; p < positions; p++)
        for (int i = 0; i < half; i++)
        {
            float angle = p * frequencies[i];
            table[(p * half + i) * 2] = (float)Math.Cos(angle);
            table[(p * half + i) * 2 + 1] = (float)Math.Sin(angle);
        }
    }

    /// <summary>
    /// Effectively computes <c>DecoderReference.Rotary</c>: in each head of <paramref name="headSize"/> values of each row
    /// of <paramref name="width"/>, values <c>i</c> and <c>i + headSize/2</c> are rotated by <c>p · θ^(−2i/headSize)</c>,
    /// where <c>p = position + row</c>. The angles are rounded as PyTorch's float32 computes them; cos and sin are
    /// computed once per row and pair and applied to every head. In place is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float source, ref float destination, nint rows, int width, int headSize, float theta, int position)
    {
        if (headSize <= 0 || headSize % 2 != 0 || headSize > MaxHeadSize || width % headSize != 0)
            throw new ArgumentOutOfRangeException(nameof(headSize), headSize, $"Rotary embeddings need an even head size of at most {MaxHeadSize} that divides the row ({width}).");
        int half = headSize / 2;
        Span<float> frequencies = stackalloc float[half], cos = stackalloc float[half], sin = stackalloc float[half];
        for (int i = 0; i < half; i++) frequencies[i] = DecoderReference.InverseFrequency(i, headSize, theta);
        for (nint r = 0; r < rows; r++)
        {
            float p = (float)(position + r);
            for (int i = 0; i < half; i++)
            {
                float angle = p * frequencies[i];
                cos[i] = (float)Math.Cos(angle);
                sin[i] = (float)Math.Sin(angle);
            }
            for (int head = 0; head < width; head += headSize)
            {
                ref float x = ref Unsafe.Add(ref source, r * width + head);
                ref float y = ref Unsafe.Add(ref destination, r * width + head);
                for (int i = 0; i < half; i++)
                {
                    float a = Unsafe.Add(ref x, i), b = Unsafe.Add(ref x, i + half);
                    Unsafe.Add(ref y, i) = a * cos[i] - b * sin[i];
                    Unsafe.Add(ref y, i + half) = b * cos[i] + a * sin[i];
                }
            }
        }
    }
}
