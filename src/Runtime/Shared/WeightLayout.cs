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
    /// <summary>An inference BatchNorm's per-channel scale, <c>weight / √(running_var + eps)</c>.</summary>
    BatchNormScale,
    /// <summary>An inference BatchNorm's per-channel shift, <c>bias − running_mean · scale</c>.</summary>
    BatchNormShift,
    /// <summary>
    /// 3×3 convolution filters <c>[n, k, 3, 3]</c> in the Winograd F(2×2, 3×3) domain: <c>U = G g Gᵀ</c>, sixteen
    /// row-major <c>[n, k]</c> matrices, one per position of the 4×4 transform.
    /// </summary>
    WinogradFilters,
    /// <summary>int4 weights kept at 4 bits in 16-output panels (<see cref="Int4PanelLayout"/>), dequantized in registers: a decoder's.</summary>
    Int4Panels,
    /// <summary>
    /// 3×3 convolution filters <c>[n, k, 3, 3]</c> in the Winograd F(4×4, 3×3) domain: <c>U = G g Gᵀ</c>, 36 row-major
    /// <c>[n, k]</c> matrices, one per position of the 6×6 transform (<see cref="WinogradMatrices"/>).
    /// </summary>
    WinogradF4Filters,
}

internal static class WeightLayout
{
    /// <summary>
    /// The floats a tensor occupies in the weights buffer at run time (<paramref name="floats"/> of them).
    /// <paramref name="norm"/> names a BatchNorm folded into this Linear/Conv weight or bias (or the BatchNorm itself,
    /// for its scale and shift): its <c>weight</c>, <c>bias</c>, <c>running_mean</c> and <c>running_var</c> are read
    /// through <paramref name="read"/>.
    /// </summary>
    /// <paramref name="int4Encoded"/>: int4 weights already rounded (GPTQ's, Int4Quantization's encoding), laid out instead
    /// of rounding the tensor to nearest.
    public static float[] Loaded(WeightLayoutKind kind, Func<string, float[]> read, string tensor, string? norm, float epsilon, int n, int k, int floats,
        byte[]? int4Encoded = null)
    {
        if (int4Encoded is not null && kind is WeightLayoutKind.Int4Linear or WeightLayoutKind.Int4Panels)
        {
            var laid = new float[floats];
            if (kind == WeightLayoutKind.Int4Linear) PanelLayout.Pack(Int4Quantization.Decode(int4Encoded, n, k), n, k, laid, 0);
            else Int4PanelLayout.Pack(int4Encoded, n, k, laid);
            return laid;
        }
        float[] values = tensor.Length == 0 ? new float[n] : read(tensor);
        float[]? scale = norm is null ? null : NormScale(read, norm, epsilon);
        var result = new float[floats];
        switch (kind)
        {
            case WeightLayoutKind.PackedLinear:
                if (scale is not null)
                {
                    values = (float[])values.Clone();
                    for (int j = 0; j < n; j++) for (int i = 0; i < k; i++) values[j * k + i] *= scale[j];
                }
                PanelLayout.Pack(values, n, k, result, 0);
                break;
            case WeightLayoutKind.PaddedBias:
                if (scale is not null)
                {
                    float[] mean = read(norm + ".running_mean"), beta = read(norm + ".bias");
                    for (int j = 0; j < n; j++) result[j] = (float)(((double)values[j] - mean[j]) * scale[j] + beta[j]);
                }
                else Array.Copy(values, result, Math.Min(values.Length, n == 0 ? values.Length : n));
                break;
            case WeightLayoutKind.BatchNormScale:
                Array.Copy(scale!, result, scale!.Length);
                break;
            case WeightLayoutKind.BatchNormShift:
            {
                float[] mean = read(norm + ".running_mean"), beta = read(norm + ".bias");
                for (int j = 0; j < scale!.Length; j++) result[j] = (float)(beta[j] - (double)mean[j] * scale[j]);
                break;
            }
            case WeightLayoutKind.Int4Linear:
                PanelLayout.Pack(Int4Quantization.RoundTrip(values, n, k), n, k, result, 0);
                break;
            case WeightLayoutKind.Int4Panels:
                Int4PanelLayout.Pack(values, n, k, result);
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
            case WeightLayoutKind.WinogradFilters:
            case WeightLayoutKind.WinogradF4Filters:
            {
                int t = kind == WeightLayoutKind.WinogradFilters ? 4 : 6;
                double[] transformed = WinogradMatrices.TransformFilters(values, n, k, scale, t - 2);
                for (int position = 0; position < t * t; position++)
                    for (int i = 0; i < n * k; i++) result[position * n * k + i] = (float)transformed[i * t * t + position];
                break;
            }
            case WeightLayoutKind.Raw when scale is not null:
                // Depthwise filters [n, k] with a BatchNorm folded in: each output's filter scaled.
                for (int j = 0; j < n; j++) for (int i = 0; i < k; i++) result[j * k + i] = values[j * k + i] * scale[j];
                break;
            default:
                Array.Copy(values, result, values.Length);
                break;
        }
        return result;
    }

    /// <summary>A BatchNorm's per-channel <c>weight / √(running_var + eps)</c>.</summary>
    private static float[] NormScale(Func<string, float[]> read, string norm, float epsilon)
    {
        float[] weight = read(norm + ".weight"), variance = read(norm + ".running_var");
        var scale = new float[weight.Length];
        for (int c = 0; c < scale.Length; c++) scale[c] = (float)(weight[c] / Math.Sqrt((double)variance[c] + epsilon));
        return scale;
    }

    /// <summary>The bytes embedded in the assembly for a tensor: its loaded floats, except int4, which is embedded encoded.</summary>
    public static byte[] Embedded(WeightLayoutKind kind, Func<string, float[]> read, string tensor, string? norm, float epsilon, int n, int k, int floats,
        byte[]? int4Encoded = null)
    {
        if (kind == WeightLayoutKind.Int4Linear) return int4Encoded ?? Int4Quantization.Encode(read(tensor), n, k);
        float[] loaded = Loaded(kind, read, tensor, norm, epsilon, n, k, floats, int4Encoded);
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
            hash = unchecked(hash * 1099511628211UL); // FNV's multiply wraps by design (the generator builds checked)
        }
        return hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}
