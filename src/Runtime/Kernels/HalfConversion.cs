using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Rows of a compact key/value cache widened to float32 as the attention kernel reads them. Optimized from the first call
/// (as every kernel): at tier 0 the vector code runs many times slower, and a short generation would measure that.
/// </summary>
internal static class HalfConversion
{
    // 2^112: a binary16 value's bits shifted into a float32's place read as 2^−112 times the value (normal and subnormal
    // alike), so one multiply restores it exactly.
    private const float Rebias = 5.192296858534828e33f;

    /// <summary>binary16 to float32, exactly (infinities and NaN too), eight at a time where vectors are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToSingle(ref ushort source, Span<float> destination)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<uint> magnitudeMask = Vector256.Create(0x7FFFu), exponentMask = Vector256.Create(0x7C00u), infinity = Vector256.Create(0x7F800000u);
            Vector256<float> rebias = Vector256.Create(Rebias);
            for (; i + 8 <= destination.Length; i += 8)
            {
                Vector128<ushort> h = Vector128.LoadUnsafe(ref source, (nuint)i);
                Vector256<uint> bits = Vector256.Create(Vector128.WidenLower(h), Vector128.WidenUpper(h));
                Vector256<uint> shifted = (bits & magnitudeMask) << 13;
                Vector256<float> value = shifted.AsSingle() * rebias;
                // Exponent 31: infinity or NaN, which the multiply would have made finite.
                Vector256<uint> special = Vector256.Equals(bits & exponentMask, exponentMask);
                Vector256<uint> result = Vector256.ConditionalSelect(special, shifted | infinity, value.AsUInt32()) | ((bits & Vector256.Create(0x8000u)) << 16);
                result.AsSingle().StoreUnsafe(ref destination[i]);
            }
        }
        for (; i < destination.Length; i++) destination[i] = (float)BitConverter.UInt16BitsToHalf(Unsafe.Add(ref source, i));
    }

    /// <summary>Int8 codes times their row's scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FromInt8(ref sbyte source, float scale, Span<float> destination)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> s = Vector256.Create(scale);
            for (; i + 8 <= destination.Length; i += 8)
            {
                Vector128<short> wide = Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref source, i)))).AsSByte());
                Vector256<int> ints = Vector256.Create(Vector128.WidenLower(wide), Vector128.WidenUpper(wide));
                (Vector256.ConvertToSingle(ints) * s).StoreUnsafe(ref destination[i]);
            }
        }
        for (; i < destination.Length; i++) destination[i] = Unsafe.Add(ref source, i) * scale;
    }
}
