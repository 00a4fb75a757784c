// Compiled into both the runtime and the generator: how each weight tensor is laid out for its kernel. The generator
// uses it to embed weights at build time; the runtime uses it to lay out weights read from a file beside the
// assembly (models compiled with EmbedWeights = false). One source, so both give the same bytes.
using System;

namespace ModelCompiler.Kernels;

/// <summary>The forms a weight tensor takes in a compiled model's weights buffer.</summary>
#if MODELCOMPILER_GENERATOR
internal
#else
public
#endif
enum WeightLayoutKind
{
    /// <summary>float32 Linear weights in 16-column panels (<see cref="PanelLayout"/>).</summary>
    PackedLinear,
    /// <summary>A bias, zero-padded to whole panels.</summary>
    PaddedBias,
    /// <summary>A tensor as it is (Parameter).</summary>
    Raw,
    /// <summary>int8 codes in <see cref="QuantizedPanelLayout"/>.</summary>
    QuantizedLinear,
    /// <summary>One int8 scale per output.</summary>
    WeightScales,
    /// <summary>Σ of each output's int8 codes.</summary>
    ColumnSums,
    /// <summary>int4 weights: embedded encoded, expanded into float32 panels when loaded.</summary>
    Int4Linear,
}

internal static class WeightLayout
{
    /// <summary>The floats a tensor occupies in the weights buffer at run time (<paramref name="floats"/> of them).</summary>
    public static float[] Loaded(WeightLayoutKind kind, float[] values, int n, int k, int floats)
    {
        var result = new float[floats];
        switch (kind)
        {
            case WeightLayoutKind.PackedLinear:
                PanelLayout.Pack(values, n, k, result, 0);
                break;
            case WeightLayoutKind.Int4Linear:
                PanelLayout.Pack(Int4Quantization.RoundTrip(values, n, k), n, k, result, 0);
                break;
            case WeightLayoutKind.QuantizedLinear:
            {
                sbyte[] codes = Int8Quantization.QuantizeWeights(values, n, k, new float[n]);
                var packed = new sbyte[QuantizedPanelLayout.PackedBytes(n, k)];
                QuantizedPanelLayout.Pack(codes, n, k, packed, 0);
                Buffer.BlockCopy(packed, 0, result, 0, packed.Length);
                break;
            }
            case WeightLayoutKind.WeightScales:
                Int8Quantization.QuantizeWeights(values, n, k, result);
                break;
            case WeightLayoutKind.ColumnSums:
            {
                int[] sums = QuantizedPanelLayout.ColumnSums(Int8Quantization.QuantizeWeights(values, n, k, new float[n]), n, k);
                Buffer.BlockCopy(sums, 0, result, 0, sums.Length * 4);
                break;
            }
            default:
                Array.Copy(values, result, values.Length);
                break;
        }
        return result;
    }

    /// <summary>The bytes embedded in the assembly for a tensor: its loaded floats, except int4, which is embedded encoded.</summary>
    public static byte[] Embedded(WeightLayoutKind kind, float[] values, int n, int k, int floats)
    {
        if (kind == WeightLayoutKind.Int4Linear) return Int4Quantization.Encode(values, n, k);
        float[] loaded = Loaded(kind, values, n, k, floats);
        var bytes = new byte[loaded.Length * 4];
        Buffer.BlockCopy(loaded, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>FNV-1a, 64-bit, as lowercase hex: identifies a weights file's contents, at build time and at load time.</summary>
    public static string Hash(byte[] bytes)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in bytes)
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}
