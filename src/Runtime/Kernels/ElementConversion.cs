using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// The conversions at a compiled model's edges: inputs and outputs that the ONNX file types as integers, booleans,
/// or float16 are converted to and from the float32 values every kernel computes on, one chunk of rows at a
/// time. Integers are exact up to 2^24 in magnitude. Int32 and int64, the common cases
/// (token ids, indices), convert by vectors; the rest element by element (a model's edges, not its inner loops).
/// </summary>
public static class ElementConversion
{
    /// <summary>Converts <paramref name="source"/> to float32 (booleans as 0 and 1) into <paramref name="destination"/>, of the same length.</summary>
    public static void ToSingle<T>(ReadOnlySpan<T> source, Span<float> destination) where T : unmanaged
    {
        if (destination.Length != source.Length) throw new ArgumentException("The spans differ in length.", nameof(destination));
        if (typeof(T) == typeof(int)) { FromInt32(MemoryMarshal.Cast<T, int>(source), destination); return; }
        if (typeof(T) == typeof(long)) { FromInt64(MemoryMarshal.Cast<T, long>(source), destination); return; }
        for (int i = 0; i < source.Length; i++) destination[i] = Single(source[i]);
    }

    /// <summary>
    /// Converts float32 values back to <typeparamref name="T"/>: integers rounded to the nearest (the values an integer
    /// graph computes are whole) and saturated to the type's range, NaN as 0; booleans true where not 0.
    /// </summary>
    public static void FromSingle<T>(ReadOnlySpan<float> source, Span<T> destination) where T : unmanaged
    {
        if (destination.Length != source.Length) throw new ArgumentException("The spans differ in length.", nameof(destination));
        if (typeof(T) == typeof(long)) { ToInt64(source, MemoryMarshal.Cast<T, long>(destination)); return; }
        for (int i = 0; i < source.Length; i++) destination[i] = From<T>(source[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Single<T>(T value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return (float)(object)value;
        if (typeof(T) == typeof(bool)) return (bool)(object)value ? 1f : 0f;
        if (typeof(T) == typeof(double)) return (float)(double)(object)value;
        if (typeof(T) == typeof(Half)) return (float)(Half)(object)value;
        if (typeof(T) == typeof(short)) return (short)(object)value;
        if (typeof(T) == typeof(sbyte)) return (sbyte)(object)value;
        if (typeof(T) == typeof(ulong)) return (ulong)(object)value;
        if (typeof(T) == typeof(uint)) return (uint)(object)value;
        if (typeof(T) == typeof(ushort)) return (ushort)(object)value;
        if (typeof(T) == typeof(byte)) return (byte)(object)value;
        throw new NotSupportedException($"{typeof(T)} is not an element type of a compiled model.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T From<T>(float value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return (T)(object)value;
        if (typeof(T) == typeof(bool)) return (T)(object)(value != 0f);
        if (typeof(T) == typeof(double)) return (T)(object)(double)value;
        if (typeof(T) == typeof(Half)) return (T)(object)(Half)value;
        float whole = MathF.Round(value); // NaN stays NaN; CreateSaturating makes it 0
        if (typeof(T) == typeof(int)) return (T)(object)int.CreateSaturating(whole);
        if (typeof(T) == typeof(short)) return (T)(object)short.CreateSaturating(whole);
        if (typeof(T) == typeof(sbyte)) return (T)(object)sbyte.CreateSaturating(whole);
        if (typeof(T) == typeof(ulong)) return (T)(object)ulong.CreateSaturating(whole);
        if (typeof(T) == typeof(uint)) return (T)(object)uint.CreateSaturating(whole);
        if (typeof(T) == typeof(ushort)) return (T)(object)ushort.CreateSaturating(whole);
        if (typeof(T) == typeof(byte)) return (T)(object)byte.CreateSaturating(whole);
        throw new NotSupportedException($"{typeof(T)} is not an element type of a compiled model.");
    }

    private static void FromInt32(ReadOnlySpan<int> source, Span<float> destination)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= source.Length - Vector256<int>.Count; i += Vector256<int>.Count)
                Vector256.ConvertToSingle(Vector256.Create(source.Slice(i, Vector256<int>.Count))).CopyTo(destination.Slice(i));
        for (; i < source.Length; i++) destination[i] = source[i];
    }

    private static void FromInt64(ReadOnlySpan<long> source, Span<float> destination)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= source.Length - 2 * Vector256<long>.Count; i += 2 * Vector256<long>.Count)
            {
                Vector256<double> low = Vector256.ConvertToDouble(Vector256.Create(source.Slice(i, Vector256<long>.Count)));
                Vector256<double> high = Vector256.ConvertToDouble(Vector256.Create(source.Slice(i + Vector256<long>.Count, Vector256<long>.Count)));
                Vector256.Narrow(low, high).CopyTo(destination.Slice(i));
            }
        for (; i < source.Length; i++) destination[i] = source[i];
    }

    private static void ToInt64(ReadOnlySpan<float> source, Span<long> destination)
    {
        for (int i = 0; i < source.Length; i++) destination[i] = long.CreateSaturating(MathF.Round(source[i]));
    }
}
