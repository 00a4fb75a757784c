using System;
using System.Buffers;
using System.Buffers.Text;

namespace ModelCompiler.Kernels;

/// <summary>
/// Loads a Linear layer's int4 weights, embedded compactly (<see cref="Int4Quantization"/>), into the float32
/// panel layout the GEMM reads. Int4 makes the assembly small; at run time the weights are float32 again, so an
/// int4 model runs at float32 speed and computes exactly with the dequantized weights <c>q · s</c>.
/// </summary>
public static class Int4Weights
{
    /// <summary>Decodes the base64 of an <c>[n, k]</c> weight's int4 form and packs <c>q · s</c> at <paramref name="offset"/>.</summary>
    public static void LoadPacked(AlignedBuffer buffer, int offset, int n, int k, ReadOnlySpan<byte> base64Utf8)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        float[] weight = Int4Quantization.Decode(DecodeBase64(base64Utf8, n, k), n, k);
        var packed = new float[PanelLayout.PackedLength(n, k)];
        PanelLayout.Pack(weight, n, k, packed, 0);
        packed.CopyTo(buffer.Span.Slice(offset, packed.Length));
    }

    /// <summary>
    /// The weights <c>q · s</c> (<c>[n, k]</c>, row-major) an embedded int4 blob stands for: the encoded form, or with
    /// <paramref name="panels"/> a decoder's panel layout (<see cref="Int4PanelLayout"/>). The eager reference of a
    /// GPTQ model runs with these.
    /// </summary>
    /// <exception cref="InvalidOperationException">The embedded form is corrupt.</exception>
    public static float[] Dequantize(ReadOnlySpan<byte> base64Utf8, int n, int k, bool panels)
    {
        if (!panels) return Int4Quantization.Decode(DecodeBase64(base64Utf8, n, k), n, k);
        var laid = new byte[checked(Int4PanelLayout.Floats(n, k) * 4)];
        if (Base64.DecodeFromUtf8(base64Utf8, laid, out _, out int written) != OperationStatus.Done || written != laid.Length)
            throw new InvalidOperationException($"Embedded int4 weights are corrupt: expected {laid.Length} bytes, decoded {written}.");
        return Int4PanelLayout.Unpack(laid, n, k);
    }

    /// <summary>
    /// The encoded form of an <c>[n, k]</c> weight from its embedded base64: the codes row-major, two a byte, low nibble
    /// first (stored as q + 8), then the fp16 scales <c>[n, ⌈k/32⌉]</c> (the GPU runtime lays these out for its kernels).
    /// </summary>
    /// <exception cref="InvalidOperationException">The embedded form is corrupt.</exception>
    public static byte[] DecodeBase64(ReadOnlySpan<byte> base64Utf8, int n, int k)
    {
        var encoded = new byte[Int4Quantization.EncodedBytes(n, k)];
        if (Base64.DecodeFromUtf8(base64Utf8, encoded, out _, out int written) != OperationStatus.Done || written != encoded.Length)
            throw new InvalidOperationException($"Embedded int4 weights are corrupt: expected {encoded.Length} bytes, decoded {written}.");
        return encoded;
    }
}
