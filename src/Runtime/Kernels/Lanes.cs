using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// A vector of floats of one width, so that a kernel can be written once and instantiated at 512, 256 and 128 bits and
/// as scalars (<see cref="Lanes1"/>); the JIT specializes each instantiation and keeps the wrapped vector in a register.
/// </summary>
internal interface ILanes<TSelf> where TSelf : struct, ILanes<TSelf>
{
    static abstract int Count { get; }
    static abstract TSelf Broadcast(float value);
    static abstract TSelf Load(ref float source);
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);
    static abstract void Store(TSelf value, ref float destination);
    static abstract TSelf Apply<TOperator>(TSelf value) where TOperator : struct, IUnaryOperator;
    static abstract TSelf Add(TSelf a, TSelf b);
    /// <summary>a − b (the same value as a + b·(−1), one instruction).</summary>
    static abstract TSelf Subtract(TSelf a, TSelf b);
    static abstract TSelf Multiply(TSelf a, TSelf b);
    static abstract TSelf Max(TSelf a, TSelf b);
    static abstract TSelf Min(TSelf a, TSelf b);
    static abstract TSelf Abs(TSelf value);
    static abstract TSelf Exp(TSelf value);
    static abstract float Sum(TSelf value);
    static abstract float MaxAcross(TSelf value);

    /// <summary>
    /// Stores the maxima of the value's adjacent lane pairs (lanes 0 and 1, 2 and 3, …): the first <paramref name="count"/>
    /// of the Count/2 of them, at <paramref name="destination"/>; <paramref name="temp"/> has room for one vector.
    /// </summary>
    static abstract void StorePairMaxima(TSelf value, ref float destination, int count, ref float temp);

    /// <summary>
    /// Stores <paramref name="even"/> and <paramref name="odd"/> interleaved (e₀ o₀ e₁ o₁ …): the first
    /// <paramref name="count"/> of the 2·Count values; <paramref name="temp"/> has room for two vectors.
    /// </summary>
    static abstract void StoreInterleaved(TSelf even, TSelf odd, ref float destination, int count, ref float temp);

    /// <summary>Of the 2·Count values <paramref name="first"/> then <paramref name="second"/>, stores those at even positions at <paramref name="evens"/> and the others at <paramref name="odds"/>.</summary>
    static abstract void StoreDeinterleaved(TSelf first, TSelf second, ref float evens, ref float odds);
}

internal readonly struct Lanes512 : ILanes<Lanes512>
{
    private static readonly Vector512<int> LowPairs = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    private static readonly Vector512<int> HighPairs = Vector512.Create(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    private static readonly Vector512<float> OddLanes = Vector512.Create(0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1).AsSingle();
    private static readonly Vector512<int> Evens = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
    private static readonly Vector512<int> Odds = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);
    private readonly Vector512<float> _v;
    private Lanes512(Vector512<float> v) => _v = v;
    public static int Count => 16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Broadcast(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Load(ref float source) => new(Vector512.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 MultiplyAdd(Lanes512 a, Lanes512 b, Lanes512 c) => new(Vector512.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Lanes512 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Apply<TOperator>(Lanes512 value) where TOperator : struct, IUnaryOperator => new(TOperator.Invoke(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Add(Lanes512 a, Lanes512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Subtract(Lanes512 a, Lanes512 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Multiply(Lanes512 a, Lanes512 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Max(Lanes512 a, Lanes512 b) => new(Vector512.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Min(Lanes512 a, Lanes512 b) => new(Vector512.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Abs(Lanes512 value) => new(Vector512.Abs(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Exp(Lanes512 value) => new(VectorMath.ExpFast(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Lanes512 value) => Vector512.Sum(value._v);
    /// <summary>The largest lane: halves folded together, then four lanes (NaN propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Lanes512 value)
    {
        Vector256<float> half = Vector256.Max(value._v.GetLower(), value._v.GetUpper());
        Vector128<float> quarter = Vector128.Max(half.GetLower(), half.GetUpper());
        return MathF.Max(MathF.Max(quarter.GetElement(0), quarter.GetElement(1)), MathF.Max(quarter.GetElement(2), quarter.GetElement(3)));
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreDeinterleaved(Lanes512 first, Lanes512 second, ref float evens, ref float odds)
    {
        Vector512.Create(Vector512.Shuffle(first._v, Evens).GetLower(), Vector512.Shuffle(second._v, Evens).GetLower()).StoreUnsafe(ref evens);
        Vector512.Create(Vector512.Shuffle(first._v, Odds).GetLower(), Vector512.Shuffle(second._v, Odds).GetLower()).StoreUnsafe(ref odds);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInterleaved(Lanes512 even, Lanes512 odd, ref float destination, int count, ref float temp)
    {
        Vector512<float> low = Vector512.ConditionalSelect(OddLanes, Vector512.Shuffle(odd._v, LowPairs), Vector512.Shuffle(even._v, LowPairs));
        Vector512<float> high = Vector512.ConditionalSelect(OddLanes, Vector512.Shuffle(odd._v, HighPairs), Vector512.Shuffle(even._v, HighPairs));
        if (count == 2 * Vector512<float>.Count)
        {
            low.StoreUnsafe(ref destination);
            high.StoreUnsafe(ref destination, (nuint)Vector512<float>.Count);
            return;
        }
        low.StoreUnsafe(ref temp);
        high.StoreUnsafe(ref temp, (nuint)Vector512<float>.Count);
        for (int i = 0; i < count; i++) Unsafe.Add(ref destination, i) = Unsafe.Add(ref temp, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePairMaxima(Lanes512 value, ref float destination, int count, ref float temp)
    {
        Vector512<float> maxima = Vector512.Max(Vector512.Shuffle(value._v, Evens), Vector512.Shuffle(value._v, Odds));
        if (count == 8)
        {
            maxima.GetLower().StoreUnsafe(ref destination);
            return;
        }
        maxima.StoreUnsafe(ref temp);
        for (int i = 0; i < count; i++) Unsafe.Add(ref destination, i) = Unsafe.Add(ref temp, i);
    }
}

internal readonly struct Lanes256 : ILanes<Lanes256>
{
    private static readonly Vector256<int> LowPairs = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
    private static readonly Vector256<int> HighPairs = Vector256.Create(4, 4, 5, 5, 6, 6, 7, 7);
    private static readonly Vector256<float> OddLanes = Vector256.Create(0, -1, 0, -1, 0, -1, 0, -1).AsSingle();
    private static readonly Vector256<int> Evens = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
    private static readonly Vector256<int> Odds = Vector256.Create(1, 3, 5, 7, 1, 3, 5, 7);
    private readonly Vector256<float> _v;
    private Lanes256(Vector256<float> v) => _v = v;
    public static int Count => 8;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Broadcast(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Load(ref float source) => new(Vector256.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 MultiplyAdd(Lanes256 a, Lanes256 b, Lanes256 c) => new(Vector256.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Lanes256 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Apply<TOperator>(Lanes256 value) where TOperator : struct, IUnaryOperator => new(TOperator.Invoke(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Add(Lanes256 a, Lanes256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Subtract(Lanes256 a, Lanes256 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Multiply(Lanes256 a, Lanes256 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Max(Lanes256 a, Lanes256 b) => new(Vector256.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Min(Lanes256 a, Lanes256 b) => new(Vector256.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Abs(Lanes256 value) => new(Vector256.Abs(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Exp(Lanes256 value) => new(VectorMath.ExpFast(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Lanes256 value) => Vector256.Sum(value._v);
    /// <summary>The largest lane: halves folded together, then four lanes (NaN propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Lanes256 value)
    {
        Vector128<float> half = Vector128.Max(value._v.GetLower(), value._v.GetUpper());
        return MathF.Max(MathF.Max(half.GetElement(0), half.GetElement(1)), MathF.Max(half.GetElement(2), half.GetElement(3)));
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreDeinterleaved(Lanes256 first, Lanes256 second, ref float evens, ref float odds)
    {
        Vector256.Create(Vector256.Shuffle(first._v, Evens).GetLower(), Vector256.Shuffle(second._v, Evens).GetLower()).StoreUnsafe(ref evens);
        Vector256.Create(Vector256.Shuffle(first._v, Odds).GetLower(), Vector256.Shuffle(second._v, Odds).GetLower()).StoreUnsafe(ref odds);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInterleaved(Lanes256 even, Lanes256 odd, ref float destination, int count, ref float temp)
    {
        Vector256<float> low = Vector256.ConditionalSelect(OddLanes, Vector256.Shuffle(odd._v, LowPairs), Vector256.Shuffle(even._v, LowPairs));
        Vector256<float> high = Vector256.ConditionalSelect(OddLanes, Vector256.Shuffle(odd._v, HighPairs), Vector256.Shuffle(even._v, HighPairs));
        if (count == 2 * Vector256<float>.Count)
        {
            low.StoreUnsafe(ref destination);
            high.StoreUnsafe(ref destination, (nuint)Vector256<float>.Count);
            return;
        }
        low.StoreUnsafe(ref temp);
        high.StoreUnsafe(ref temp, (nuint)Vector256<float>.Count);
        for (int i = 0; i < count; i++) Unsafe.Add(ref destination, i) = Unsafe.Add(ref temp, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePairMaxima(Lanes256 value, ref float destination, int count, ref float temp)
    {
        Vector256<float> maxima = Vector256.Max(Vector256.Shuffle(value._v, Evens), Vector256.Shuffle(value._v, Odds));
        if (count == 4)
        {
            maxima.GetLower().StoreUnsafe(ref destination);
            return;
        }
        maxima.StoreUnsafe(ref temp);
        for (int i = 0; i < count; i++) Unsafe.Add(ref destination, i) = Unsafe.Add(ref temp, i);
    }
}

internal readonly struct Lanes128 : ILanes<Lanes128>
{
    private static readonly Vector128<int> LowPairs = Vector128.Create(0, 0, 1, 1);
    private static readonly Vector128<int> HighPairs = Vector128.Create(2, 2, 3, 3);
    private static readonly Vector128<float> OddLanes = Vector128.Create(0, -1, 0, -1).AsSingle();
    private static readonly Vector128<int> Evens = Vector128.Create(0, 2, 0, 2);
    private static readonly Vector128<int> Odds = Vector128.Create(1, 3, 1, 3);
    private readonly Vector128<float> _v;
    private Lanes128(Vector128<float> v) => _v = v;
    public static int Count => 4;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Broadcast(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Load(ref float source) => new(Vector128.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 MultiplyAdd(Lanes128 a, Lanes128 b, Lanes128 c) => new(Vector128.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Lanes128 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Apply<TOperator>(Lanes128 value) where TOperator : struct, IUnaryOperator => new(TOperator.Invoke(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Add(Lanes128 a, Lanes128 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Subtract(Lanes128 a, Lanes128 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Multiply(Lanes128 a, Lanes128 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Max(Lanes128 a, Lanes128 b) => new(Vector128.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Min(Lanes128 a, Lanes128 b) => new(Vector128.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Abs(Lanes128 value) => new(Vector128.Abs(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes128 Exp(Lanes128 value) => new(VectorMath.ExpFast(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Lanes128 value) => Vector128.Sum(value._v);
    /// <summary>The largest lane: halves folded together, then four lanes (NaN propagates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Lanes128 value)
    {
        return MathF.Max(MathF.Max(value._v.GetElement(0), value._v.GetElement(1)), MathF.Max(value._v.GetElement(2), value._v.GetElement(3)));
    }
    /// <remarks>
    /// One two-source shuffle each where the CPU has it (SSE's shufps, Arm64's uzp1 / uzp2): the halves joined through
    /// <see cref="Vector64{T}"/>, which x86 does not accelerate, cost a Winograd F(4×4) copy about 2 ns a float.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreDeinterleaved(Lanes128 first, Lanes128 second, ref float evens, ref float odds)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            System.Runtime.Intrinsics.X86.Sse.Shuffle(first._v, second._v, 0b10_00_10_00).StoreUnsafe(ref evens);
            System.Runtime.Intrinsics.X86.Sse.Shuffle(first._v, second._v, 0b11_01_11_01).StoreUnsafe(ref odds);
        }
        else if (System.Runtime.Intrinsics.Arm.AdvSimd.Arm64.IsSupported)
        {
            System.Runtime.Intrinsics.Arm.AdvSimd.Arm64.UnzipEven(first._v, second._v).StoreUnsafe(ref evens);
            System.Runtime.Intrinsics.Arm.AdvSimd.Arm64.UnzipOdd(first._v, second._v).StoreUnsafe(ref odds);
        }
        else
        {
            Vector128.Create(Vector128.Shuffle(first._v, Evens).GetLower(), Vector128.Shuffle(second._v, Evens).GetLower()).StoreUnsafe(ref evens);
            Vector128.Create(Vector128.Shuffle(first._v, Odds).GetLower(), Vector128.Shuffle(second._v, Odds).GetLower()).StoreUnsafe(ref odds);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInterleaved(Lanes128 even, Lanes128 odd, ref float destination, int count, ref float temp)
    {
        Vector128<float> low = Vector128.ConditionalSelect(OddLanes, Vector128.Shuffle(odd._v, LowPairs), Vector128.Shuffle(even._v, LowPairs));
        Vector128<float> high = Vector128.ConditionalSelect(OddLanes, Vector128.Shuffle(odd._v, HighPairs), Vector128.Shuffle(even._v, HighPairs));
        if (count == 2 * Vector128<float>.Count)
        {
            low.StoreUnsafe(ref destination);
            high.StoreUnsafe(ref destination, (nuint)Vector128<float>.Count);
            return;
        }
        low.StoreUnsafe(ref temp);
        high.StoreUnsafe(ref temp, (nuint)Vector128<float>.Count);
        for (int i = 0; i < count; i++) Unsafe.Add(ref destination, i) = Unsafe.Add(ref temp, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePairMaxima(Lanes128 value, ref float destination, int count, ref float temp)
    {
        Vector128<float> maxima = Vector128.Max(Vector128.Shuffle(value._v, Evens), Vector128.Shuffle(value._v, Odds));
        if (count == 2)
        {
            maxima.GetLower().StoreUnsafe(ref destination);
            return;
        }
        maxima.StoreUnsafe(ref temp);
        for (int i = 0; i < count; i++) Unsafe.Add(ref destination, i) = Unsafe.Add(ref temp, i);
    }
}

/// <summary>One lane: the scalar fallback where no vector width is accelerated.</summary>
internal readonly struct Lanes1 : ILanes<Lanes1>
{
    private readonly float _v;
    private Lanes1(float v) => _v = v;
    /// <summary>The value.</summary>
    public float First => _v;
    public static int Count => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Broadcast(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Load(ref float source) => new(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 MultiplyAdd(Lanes1 a, Lanes1 b, Lanes1 c) => new(float.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Lanes1 value, ref float destination) => destination = value._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Apply<TOperator>(Lanes1 value) where TOperator : struct, IUnaryOperator => new(TOperator.Invoke(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Add(Lanes1 a, Lanes1 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Subtract(Lanes1 a, Lanes1 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Multiply(Lanes1 a, Lanes1 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Max(Lanes1 a, Lanes1 b) => new(MathF.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Min(Lanes1 a, Lanes1 b) => new(MathF.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Abs(Lanes1 value) => new(MathF.Abs(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes1 Exp(Lanes1 value) => new(VectorMath.ExpFast(value._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Lanes1 value) => value._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Lanes1 value) => value._v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreDeinterleaved(Lanes1 first, Lanes1 second, ref float evens, ref float odds)
    {
        evens = first._v;
        odds = second._v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreInterleaved(Lanes1 even, Lanes1 odd, ref float destination, int count, ref float temp)
    {
        destination = even._v;
        if (count > 1) Unsafe.Add(ref destination, 1) = odd._v;
    }

    /// <summary>One lane has no pairs: kernels that pool run their scalar form another way.</summary>
    public static void StorePairMaxima(Lanes1 value, ref float destination, int count, ref float temp) =>
        throw new NotSupportedException("One lane has no pairs.");
}
