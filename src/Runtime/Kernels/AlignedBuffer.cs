using System;
using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// A float buffer whose first element sits on a 64-byte boundary, so that 512-bit loads of weight panels
/// and activation rows never split a cache line. Pinned (on the pinned object heap), so the alignment holds.
/// Generated models keep their weights in one, and one scratch arena per thread.
/// </summary>
public sealed class AlignedBuffer
{
    private const int AlignmentFloats = 16; // 64 bytes
    private readonly float[] _array;
    private readonly int _offset;

    /// <summary>Allocates <paramref name="length"/> zeroed floats.</summary>
    public unsafe AlignedBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _array = GC.AllocateArray<float>(length + AlignmentFloats, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        _offset = (int)((64 - (address & 63)) & 63) / sizeof(float);
        Length = length;
    }

    /// <summary>Number of usable floats.</summary>
    public int Length { get; }

    /// <summary>The first (64-byte aligned) element.</summary>
    public ref float Start => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_array), _offset);

    /// <summary>The usable floats.</summary>
    public Span<float> Span => _array.AsSpan(_offset, Length);

    /// <summary>
    /// Decodes base64 (as UTF-8 bytes, the form generated code embeds weights in) holding exactly
    /// <paramref name="count"/> little-endian floats into the buffer at <paramref name="offset"/>.
    /// </summary>
    public void DecodeBase64(int offset, int count, ReadOnlySpan<byte> base64Utf8)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Embedded weights are little-endian.");
        Span<byte> target = MemoryMarshal.AsBytes(Span.Slice(offset, count));
        OperationStatus status = Base64.DecodeFromUtf8(base64Utf8, target, out _, out int written);
        if (status != OperationStatus.Done || written != target.Length)
            throw new InvalidOperationException($"Embedded weights are corrupt: expected {target.Length} bytes, decoded {written} ({status}).");
    }
}
