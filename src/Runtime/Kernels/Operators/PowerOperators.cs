using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

// Power and remainder of two values, computed in double lanes (each float32 lane widened, then narrowed once), so the
// result is the float32 rounding of the exact one for every input a float32 graph can give: exp(y · log|x|) in
// double keeps ~1e-15 relative error where float32 would lose |y · log x| ulps. .NET's vector Exp and Log (Vector256,
// .NET 9 and later) do the transcendental part. The 128- and 512-bit forms run the 256-bit one on halves or a
// widened register.

/// <summary>Effectively computes <c>MathF.Pow(x, y)</c> (ONNX Pow of two values; C's pow: a negative base needs a whole exponent, else NaN).</summary>
public readonly struct PowerOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => (float)Math.Pow(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Invoke(x.ToVector256(), y.ToVector256()).GetLower();

    public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y)
    {
        (Vector256<double> xl, Vector256<double> xh) = Vector256.Widen(x);
        (Vector256<double> yl, Vector256<double> yh) = Vector256.Widen(y);
        return Vector256.Narrow(Pow(xl, yl), Pow(xh, yh));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) =>
        Vector512.Create(Invoke(x.GetLower(), y.GetLower()), Invoke(x.GetUpper(), y.GetUpper()));

    private static Vector256<double> Pow(Vector256<double> x, Vector256<double> y)
    {
        Vector256<double> magnitude = Vector256.Exp(y * Vector256.Log(Vector256.Abs(x)));
        Vector256<double> whole = Vector256.Equals(Vector256.Floor(y), y);
        Vector256<double> half = y * Vector256.Create(0.5);
        Vector256<double> odd = whole & ~Vector256.Equals(Vector256.Floor(half), half);
        Vector256<double> negative = Vector256.LessThan(x, Vector256<double>.Zero);
        // A negative base: the magnitude, negated for an odd exponent; NaN for an exponent that is not whole.
        Vector256<double> signed = Vector256.ConditionalSelect(odd, -magnitude, magnitude);
        Vector256<double> result = Vector256.ConditionalSelect(negative, Vector256.ConditionalSelect(whole, signed, Vector256.Create(double.NaN)), magnitude);
        // x⁰ = 1 and 1ʸ = 1, NaN operands included, as pow has them.
        Vector256<double> one = Vector256.Equals(y, Vector256<double>.Zero) | Vector256.Equals(x, Vector256<double>.One);
        return Vector256.ConditionalSelect(one, Vector256<double>.One, result);
    }
}

/// <summary>Effectively computes C's <c>fmod(x, y)</c>: <c>x − trunc(x / y) · y</c>, the sign of x (ONNX Mod with fmod = 1).</summary>
public readonly struct RemainderOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => (float)((double)x % y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Invoke(x.ToVector256(), y.ToVector256()).GetLower();

    public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y)
    {
        (Vector256<double> xl, Vector256<double> xh) = Vector256.Widen(x);
        (Vector256<double> yl, Vector256<double> yh) = Vector256.Widen(y);
        return Vector256.Narrow(Remainder(xl, yl, floor: false), Remainder(xh, yh, floor: false));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) =>
        Vector512.Create(Invoke(x.GetLower(), y.GetLower()), Invoke(x.GetUpper(), y.GetUpper()));

    /// <summary>x − round(x / y) · y, rounded toward zero (fmod) or down (Python's %); x itself where y is infinite and x finite.</summary>
    internal static Vector256<double> Remainder(Vector256<double> x, Vector256<double> y, bool floor)
    {
        Vector256<double> q = x / y;
        Vector256<double> down = Vector256.Floor(q);
        Vector256<double> rounded = floor ? down : Vector256.ConditionalSelect(Vector256.LessThan(q, Vector256<double>.Zero), Vector256.Ceiling(q), down);
        Vector256<double> r = x - rounded * y;
        Vector256<double> infinite = Vector256.Equals(Vector256.Abs(y), Vector256.Create(double.PositiveInfinity));
        Vector256<double> finite = Vector256.LessThan(Vector256.Abs(x), Vector256.Create(double.PositiveInfinity));
        // Python's % by ±∞: x where the signs agree (or x is 0), else y; fmod: x.
        Vector256<double> byInfinity = floor
            ? Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<double>.Zero) | Vector256.Equals(Vector256.LessThan(x, Vector256<double>.Zero), Vector256.LessThan(y, Vector256<double>.Zero)), x, y)
            : x;
        return Vector256.ConditionalSelect(infinite & finite, byInfinity, r);
    }
}

/// <summary>Effectively computes <c>x − floor(x / y) · y</c>, the sign of y (ONNX Mod with fmod = 0, integers: Python's %).</summary>
public readonly struct FloorRemainderOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x, float y)
    {
        double r = (double)x % y;
        return (float)(r != 0 && (r < 0) != (y < 0) ? r + y : r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Invoke(x.ToVector256(), y.ToVector256()).GetLower();

    public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y)
    {
        (Vector256<double> xl, Vector256<double> xh) = Vector256.Widen(x);
        (Vector256<double> yl, Vector256<double> yh) = Vector256.Widen(y);
        return Vector256.Narrow(RemainderOperator.Remainder(xl, yl, floor: true), RemainderOperator.Remainder(xh, yh, floor: true));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) =>
        Vector512.Create(Invoke(x.GetLower(), y.GetLower()), Invoke(x.GetUpper(), y.GetUpper()));
}
