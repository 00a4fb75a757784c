// Compiled into both the runtime and the generator: the layout a decoder's int4 weights keep at run time.
using System;

namespace ModelCompiler.Kernels;

/// <summary>
/// Int4 weights laid out for a kernel that dequantizes them in registers (a decode step reads 4 bits a weight instead of
/// 32): <see cref="Int4Quantization"/>'s codes and scales, regrouped into panels of 16 outputs like
/// <see cref="PanelLayout"/>. Each panel holds, for each block of 32 inputs, the 16 outputs' scales as float32, then one
/// 8-byte row per input: byte <c>j</c> holds output <c>j</c>'s code in its low nibble and output <c>j + 8</c>'s in its
/// high nibble (code = q + 8). The value a code stands for, <c>(code − 8) · scale</c>, is exactly the weight
/// <see cref="Int4Quantization.Decode"/> gives, so a product over this layout is bit-identical to one over the expanded
/// float32 panels. 5 bits a weight (4.5 with the scales as fp16; float32 scales save a conversion per block).
/// </summary>
internal static class Int4PanelLayout
{
    public const int PanelWidth = PanelLayout.PanelWidth;

    /// <summary>Floats one panel takes: a block's 16 scales and its inputs' 8-byte rows, for every block.</summary>
    public static int PanelFloats(int k) => Int4Quantization.Blocks(k) * PanelWidth + 2 * k;

    /// <summary>Floats an <c>[n, k]</c> weight takes.</summary>
    public static int Floats(int n, int k) => checked(PanelLayout.PanelCount(n) * PanelFloats(k));

    /// <summary>Lays out <paramref name="weight"/> <c>[n, k]</c> (row-major, float32) quantized to int4 into <paramref name="destination"/>.</summary>
    public static void Pack(float[] weight, int n, int k, float[] destination) => Pack(Int4Quantization.Encode(weight, n, k), n, k, destination);

    /// <summary>Lays out int4 weights <c>[n, k]</c> in <see cref="Int4Quantization"/>'s encoding into <paramref name="destination"/>.</summary>
    public static void Pack(byte[] encoded, int n, int k, float[] destination)
    {
        int blocks = Int4Quantization.Blocks(k), scaleStart = (n * k + 1) / 2;
        var bytes = new byte[Floats(n, k) * 4];
        for (int p = 0; p < PanelLayout.PanelCount(n); p++)
        {
            int at = p * PanelFloats(k) * 4;
            for (int b = 0; b < blocks; b++)
            {
                int start = b * Int4Quantization.BlockSize, end = Math.Min(k, start + Int4Quantization.BlockSize);
                for (int j = 0; j < PanelWidth; j++)
                {
                    int output = p * PanelWidth + j;
                    float scale = 0f;
                    if (output < n)
                    {
                        int s = scaleStart + 2 * (output * blocks + b);
                        scale = Weights.SafeTensorsHeader.HalfToSingle((ushort)(encoded[s] | (encoded[s + 1] << 8)));
                    }
                    BitConverter.GetBytes(scale).CopyTo(bytes, at + 4 * j);
                }
                at += 4 * PanelWidth;
                for (int i = start; i < end; i++, at += 8)
                    for (int j = 0; j < 8; j++)
                        bytes[at + j] = (byte)(Code(encoded, n, k, p * PanelWidth + j, i) | (Code(encoded, n, k, p * PanelWidth + j + 8, i) << 4));
            }
        }
        Buffer.BlockCopy(bytes, 0, destination, 0, bytes.Length);
    }

    /// <summary>The weights <c>[n, k]</c> a panel layout stands for, (code − 8) · scale, row-major: what <see cref="Pack(float[], int, int, float[])"/> was given, rounded.</summary>
    public static float[] Unpack(ReadOnlySpan<byte> panels, int n, int k)
    {
        int blocks = Int4Quantization.Blocks(k);
        var weight = new float[checked(n * k)];
        for (int p = 0; p < PanelLayout.PanelCount(n); p++)
        {
            int at = p * PanelFloats(k) * 4;
            for (int b = 0; b < blocks; b++)
            {
                var scales = new float[PanelWidth];
                for (int j = 0; j < PanelWidth; j++) scales[j] = BitConverter.ToSingle(panels.Slice(at + 4 * j, 4).ToArray(), 0);
                at += 4 * PanelWidth;
                int start = b * Int4Quantization.BlockSize, end = Math.Min(k, start + Int4Quantization.BlockSize);
                for (int i = start; i < end; i++, at += 8)
                {
                    for (int j = 0; j < 8; j++)
                    {
                        int low = p * PanelWidth + j, high = low + 8;
                        if (low < n) weight[low * k + i] = ((panels[at + j] & 0xF) - 8) * scales[j];
                        if (high < n) weight[high * k + i] = ((panels[at + j] >> 4) - 8) * scales[j + 8];
                    }
                }
            }
        }
        return weight;
    }

    /// <summary>Output <paramref name="output"/>'s code for input <paramref name="input"/> (q + 8; 8, a zero weight, past the last output).</summary>
    private static int Code(byte[] encoded, int n, int k, int output, int input)
    {
        if (output >= n) return 8;
        int index = output * k + input;
        return (encoded[index / 2] >> (index % 2 == 0 ? 0 : 4)) & 0xF;
    }
}
