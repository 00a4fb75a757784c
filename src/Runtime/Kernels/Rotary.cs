using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>Rotary position embeddings (RoPE) in the rotate-half layout Hugging Face's Llama uses.</summary>
public static class Rotary
{
    /// <summary>The widest head the kernel takes (its angle tables live on the stack).</summary>
    public const int MaxHeadSize = DecoderReference.MaxRotaryHeadSize;

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
