using System;
using System.Runtime.InteropServices;

namespace ModelCompiler.Gpu;

/// <summary>
/// Int4 weights as the GPU kernels read them, dequantizing in the kernel: the CPU expands them to float32 at start-up,
/// the GPU keeps 4 bits a weight (plus one float scale per 32) and reads those. Laid out for the kernels' loads, in the
/// float weights buffer as raw bits: for an <c>[n, k]</c> weight, <c>n · ⌈k/8⌉</c> words of eight codes (output j's
/// inputs 8w … 8w+7 in word <c>j·⌈k/8⌉ + w</c>, input 8w+i in bits 4i … 4i+3, stored as q + 8; padding holds 8, zero),
/// then <c>n · ⌈k/32⌉</c> float scales. Weight (j, i) is <c>(code − 8) · scale[j·⌈k/32⌉ + i/32]</c>, exactly the value the
/// CPU computes with (<c>Int4Quantization</c>: the codes row-major, two a byte, low nibble first, then fp16 scales).
/// </summary>
public static class DeviceInt4
{
    private const int BlockSize = 32;

    /// <summary>Words of eight codes per output.</summary>
    public static int WordsPerOutput(int k) => (k + 7) / 8;

    /// <summary>Scales per output (one per 32 inputs).</summary>
    public static int BlocksPerOutput(int k) => (k + BlockSize - 1) / BlockSize;

    /// <summary>Floats an <c>[n, k]</c> weight takes on the device: its words, then its scales.</summary>
    public static int Length(int n, int k) => n * (WordsPerOutput(k) + BlocksPerOutput(k));

    /// <summary>
    /// Decodes the base64 of an <c>[n, k]</c> weight's embedded int4 form and writes its device form into
    /// <paramref name="destination"/> (<see cref="Length"/> floats).
    /// </summary>
    /// <exception cref="ArgumentException">The destination has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The embedded form is corrupt.</exception>
    public static void Write(ReadOnlySpan<byte> base64Utf8, int n, int k, Span<float> destination)
    {
        if (destination.Length != Length(n, k))
            throw new ArgumentException($"destination must hold {Length(n, k)} floats for a [{n}, {k}] int4 weight, but holds {destination.Length}.", nameof(destination));
        int codeBytes = (n * k + 1) / 2, blocks = BlocksPerOutput(k), words = WordsPerOutput(k);
        byte[] encoded = ModelCompiler.Kernels.Int4Weights.DecodeBase64(base64Utf8, n, k);
        Span<int> bits = MemoryMarshal.Cast<float, int>(destination);
        for (int j = 0; j < n; j++)
        {
            for (int w = 0; w < words; w++)
            {
                int word = 0;
                for (int i = 0; i < 8; i++)
                {
                    int input = 8 * w + i, code = 8;
                    if (input < k)
                    {
                        int index = j * k + input;
                        code = (encoded[index / 2] >> (index % 2 == 0 ? 0 : 4)) & 0xF;
                    }
                    word |= code << (4 * i);
                }
                bits[j * words + w] = word;
            }
            for (int b = 0; b < blocks; b++)
            {
                int at = codeBytes + 2 * (j * blocks + b);
                destination[n * words + j * blocks + b] = (float)BitConverter.UInt16BitsToHalf((ushort)(encoded[at] | (encoded[at + 1] << 8)));
            }
        }
    }
}
