// Compiled into both the runtime and the generator: the int4 codes the generator embeds at build time and the
// weights the eager reference (and the loader) reconstructs at run time come out of this one file.
using System;

namespace ModelCompiler.Kernels;

/// <summary>
/// Weight-only int4 quantization, block-wise along the input dimension (as ggml's Q4_0 or ONNX MatMulNBits):
/// each block of 32 weights of one output has one scale, <c>s = fp16(max|w| / 7)</c>, and codes
/// <c>q = round_half_even(w / s)</c> in [-7, 7]. Encoded form: the codes row-major <c>[n, k]</c>, two per byte
/// (low nibble first, stored as q + 8), then the scales <c>[n, blocks]</c> as little-endian fp16: 4.5 bits a weight.
/// </summary>
internal static class Int4Quantization
{
    public const int BlockSize = 32;
    public const int MaxLevel = 7;
    private const ushort MaxFiniteHalf = 0x7BFF;

    public static int Blocks(int k) => (k + BlockSize - 1) / BlockSize;

    /// <summary>Bytes of the encoded form of an <c>[n, k]</c> weight.</summary>
    public static int EncodedBytes(int n, int k) => (n * k + 1) / 2 + n * Blocks(k) * 2;

    public static byte[] Encode(float[] weight, int n, int k)
    {
        int blocks = Blocks(k);
        var codes = new sbyte[n * k];
        var scales = new ushort[n * blocks];
        for (int j = 0; j < n; j++)
        {
            for (int b = 0; b < blocks; b++)
            {
                int start = b * BlockSize, end = Math.Min(k, start + BlockSize);
                float amax = 0f;
                for (int i = start; i < end; i++) amax = Math.Max(amax, Math.Abs(weight[j * k + i]));
                ushort half = scales[j * blocks + b] = Scale(amax);
                float scale = Weights.SafeTensorsHeader.HalfToSingle(half);
                for (int i = start; i < end; i++) codes[j * k + i] = Code(weight[j * k + i], scale);
            }
        }
        return Pack(codes, scales, n, k);
    }

    /// <summary>A block's scale, fp16(max|w| / 7), for the largest magnitude in it (the largest finite fp16 for NaN or overflow).</summary>
    public static ushort Scale(float amax)
    {
        ushort half = SingleToHalf(amax / MaxLevel);
        return half > MaxFiniteHalf ? MaxFiniteHalf : half;
    }

    /// <summary>A weight's code on a block's grid: round half to even, clamped to [-7, 7]; 0 where the scale is.</summary>
    public static sbyte Code(double weight, float scale) =>
        scale == 0f ? (sbyte)0 : (sbyte)Math.Max(-MaxLevel, Math.Min(MaxLevel, Math.Round(weight / scale, MidpointRounding.ToEven)));

    /// <summary>The encoded form of codes <c>[n, k]</c> in [-7, 7] and fp16 scales <c>[n, blocks]</c>.</summary>
    public static byte[] Pack(sbyte[] codes, ushort[] scales, int n, int k)
    {
        int blocks = Blocks(k), scaleStart = (n * k + 1) / 2;
        var encoded = new byte[EncodedBytes(n, k)];
        for (int index = 0; index < n * k; index++) encoded[index / 2] |= (byte)((codes[index] + 8) << (index % 2 == 0 ? 0 : 4));
        for (int s = 0; s < n * blocks; s++)
        {
            encoded[scaleStart + 2 * s] = (byte)(scales[s] & 0xFF);
            encoded[scaleStart + 2 * s + 1] = (byte)(scales[s] >> 8);
        }
        return encoded;
    }

    /// <summary>The weights the codes stand for, <c>q · s</c>, row-major <c>[n, k]</c>.</summary>
    public static float[] Decode(byte[] encoded, int n, int k)
    {
        int blocks = Blocks(k), scaleStart = (n * k + 1) / 2;
        var weight = new float[n * k];
        for (int j = 0; j < n; j++)
        {
            for (int i = 0; i < k; i++)
            {
                int at = scaleStart + 2 * (j * blocks + i / BlockSize);
                float scale = Weights.SafeTensorsHeader.HalfToSingle((ushort)(encoded[at] | (encoded[at + 1] << 8)));
                int index = j * k + i;
                int q = ((encoded[index / 2] >> (index % 2 == 0 ? 0 : 4)) & 0xF) - 8;
                weight[index] = q * scale;
            }
        }
        return weight;
    }

    /// <summary>What a float32 weight becomes after int4 quantization.</summary>
    public static float[] RoundTrip(float[] weight, int n, int k) => Decode(Encode(weight, n, k), n, k);

    /// <summary>IEEE 754 binary32 to binary16, rounding to nearest even (netstandard2.0 has no System.Half).</summary>
    internal static ushort SingleToHalf(float value)
    {
        uint bits = BitConverter.ToUInt32(BitConverter.GetBytes(value), 0);
        uint sign = (bits >> 16) & 0x8000;
        int rawExponent = (int)((bits >> 23) & 0xFF);
        uint mantissa = bits & 0x7FFFFF;
        if (rawExponent == 0xFF) return (ushort)(sign | 0x7C00 | (mantissa != 0 ? 0x200u : 0u));
        int exponent = rawExponent - 127 + 15;
        if (exponent >= 31) return (ushort)(sign | 0x7C00);
        if (exponent <= 0)
        {
            if (exponent < -10) return (ushort)sign;
            mantissa |= 0x800000;
            int shift = 14 - exponent;
            uint half = mantissa >> shift, rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
            if (rest > halfway || (rest == halfway && (half & 1) != 0)) half++;
            return (ushort)(sign | half);
        }
        uint result = ((uint)exponent << 10) | (mantissa >> 13), remainder = mantissa & 0x1FFF;
        if (remainder > 0x1000 || (remainder == 0x1000 && (result & 1) != 0)) result++;
        return (ushort)(sign | result);
    }
}
