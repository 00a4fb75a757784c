using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Arcsine, arccosine and arctangent in float at every vector width, after Cephes' <c>asinf</c>, <c>acosf</c> and
/// <c>atanf</c> (S. L. Moshier): a range reduction, then a minimax polynomial; a few ulp on their whole domains, NaN
/// outside [−1, 1] for asin and acos, and NaN in, NaN out. .NET has no vectorized forms of these (it has Sin and Cos).
/// The scalar forms (also what the GPU code calls: plain arithmetic) run the same steps as the vector ones; the Vector256
/// and Vector128 bodies are the Vector512 body with the type changed.
/// </summary>
public static class InverseTrigonometry
{
    private const float HalfPi = 1.5707963267948966f, QuarterPi = 0.7853981633974483f, Pi = 3.141592653589793f;
    private const float TanThreeEighthsPi = 2.414213562373095f, TanEighthPi = 0.41421356237309503f;
    private const float S0 = 4.2163199048E-2f, S1 = 2.4181311049E-2f, S2 = 4.5470025998E-2f, S3 = 7.4953002686E-2f, S4 = 1.6666752422E-1f;
    private const float T0 = 8.05374449538e-2f, T1 = -1.38776856032E-1f, T2 = 1.99777106478E-1f, T3 = -3.33329491539E-1f;

    /// <summary>asin(t) for |t| ≤ 0.5 (Cephes asinf's polynomial).</summary>
    private static float AsinCore(float t)
    {
        float z = t * t;
        float p = (((S0 * z + S1) * z + S2) * z + S3) * z + S4;
        return p * z * t + t;
    }

    /// <summary>The arcsine: |x| ≤ 0.5 directly, else π/2 − 2·asin(√((1 − |x|) / 2)); NaN beyond [−1, 1].</summary>
    public static float Asin(float x)
    {
        float a = MathF.Abs(x);
        bool big = a > 0.5f;
        float p = AsinCore(big ? MathF.Sqrt((1f - a) * 0.5f) : a);
        float r = big ? HalfPi - (p + p) : p;
        return x < 0f ? -r : r;
    }

    /// <summary>The arccosine: 2·asin(√((1 − x) / 2)) above ½, π − that of −x below −½, else π/2 − asin(x); NaN beyond [−1, 1].</summary>
    public static float Acos(float x)
    {
        float a = MathF.Abs(x);
        if (!(a > 0.5f)) return HalfPi - AsinCore(x); // NaN takes this way too
        float twice = 2f * AsinCore(MathF.Sqrt((1f - a) * 0.5f));
        return x < 0f ? Pi - twice : twice;
    }

    /// <summary>The arctangent: reduced to |t| ≤ tan(π/8) by π/2 − atan(1/x) and π/4 + atan((x − 1)/(x + 1)).</summary>
    public static float Atan(float x)
    {
        float a = MathF.Abs(x);
        float t = a, offset = 0f;
        if (a > TanThreeEighthsPi)
        {
            t = -1f / a;
            offset = HalfPi;
        }
        else if (a > TanEighthPi)
        {
            t = (a - 1f) / (a + 1f);
            offset = QuarterPi;
        }
        float z = t * t;
        float r = offset + ((((T0 * z + T1) * z + T2) * z + T3) * z * t + t);
        return x < 0f ? -r : r;
    }

    private static Vector512<float> AsinCore(Vector512<float> t)
    {
        Vector512<float> z = t * t;
        Vector512<float> p = Vector512.MultiplyAddEstimate(Vector512.Create(S0), z, Vector512.Create(S1));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(S2));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(S3));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(S4));
        return Vector512.MultiplyAddEstimate(p * z, t, t);
    }

    /// <summary>The arcsine, sixteen lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Asin(Vector512<float> x)
    {
        Vector512<float> a = Vector512.Abs(x);
        Vector512<float> big = Vector512.GreaterThan(a, Vector512.Create(0.5f));
        Vector512<float> p = AsinCore(Vector512.ConditionalSelect(big, Vector512.Sqrt((Vector512<float>.One - a) * Vector512.Create(0.5f)), a));
        Vector512<float> r = Vector512.ConditionalSelect(big, Vector512.Create(HalfPi) - (p + p), p);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -r, r);
    }

    /// <summary>The arccosine, sixteen lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Acos(Vector512<float> x)
    {
        Vector512<float> a = Vector512.Abs(x);
        Vector512<float> big = Vector512.GreaterThan(a, Vector512.Create(0.5f));
        Vector512<float> p = AsinCore(Vector512.ConditionalSelect(big, Vector512.Sqrt((Vector512<float>.One - a) * Vector512.Create(0.5f)), x));
        Vector512<float> twice = p + p;
        Vector512<float> farSide = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), Vector512.Create(Pi) - twice, twice);
        return Vector512.ConditionalSelect(big, farSide, Vector512.Create(HalfPi) - p);
    }

    /// <summary>The arctangent, sixteen lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Atan(Vector512<float> x)
    {
        Vector512<float> a = Vector512.Abs(x);
        Vector512<float> large = Vector512.GreaterThan(a, Vector512.Create(TanThreeEighthsPi));
        Vector512<float> middle = Vector512.AndNot(Vector512.GreaterThan(a, Vector512.Create(TanEighthPi)), large);
        Vector512<float> t = Vector512.ConditionalSelect(large, -Vector512<float>.One / a,
            Vector512.ConditionalSelect(middle, (a - Vector512<float>.One) / (a + Vector512<float>.One), a));
        Vector512<float> offset = Vector512.ConditionalSelect(large, Vector512.Create(HalfPi),
            Vector512.ConditionalSelect(middle, Vector512.Create(QuarterPi), Vector512<float>.Zero));
        Vector512<float> z = t * t;
        Vector512<float> p = Vector512.MultiplyAddEstimate(Vector512.Create(T0), z, Vector512.Create(T1));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(T2));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(T3));
        Vector512<float> r = offset + Vector512.MultiplyAddEstimate(p * z, t, t);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -r, r);
    }

    private static Vector256<float> AsinCore(Vector256<float> t)
    {
        Vector256<float> z = t * t;
        Vector256<float> p = Vector256.MultiplyAddEstimate(Vector256.Create(S0), z, Vector256.Create(S1));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(S2));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(S3));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(S4));
        return Vector256.MultiplyAddEstimate(p * z, t, t);
    }

    /// <summary>The arcsine, eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Asin(Vector256<float> x)
    {
        Vector256<float> a = Vector256.Abs(x);
        Vector256<float> big = Vector256.GreaterThan(a, Vector256.Create(0.5f));
        Vector256<float> p = AsinCore(Vector256.ConditionalSelect(big, Vector256.Sqrt((Vector256<float>.One - a) * Vector256.Create(0.5f)), a));
        Vector256<float> r = Vector256.ConditionalSelect(big, Vector256.Create(HalfPi) - (p + p), p);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -r, r);
    }

    /// <summary>The arccosine, eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Acos(Vector256<float> x)
    {
        Vector256<float> a = Vector256.Abs(x);
        Vector256<float> big = Vector256.GreaterThan(a, Vector256.Create(0.5f));
        Vector256<float> p = AsinCore(Vector256.ConditionalSelect(big, Vector256.Sqrt((Vector256<float>.One - a) * Vector256.Create(0.5f)), x));
        Vector256<float> twice = p + p;
        Vector256<float> farSide = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256.Create(Pi) - twice, twice);
        return Vector256.ConditionalSelect(big, farSide, Vector256.Create(HalfPi) - p);
    }

    /// <summary>The arctangent, eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Atan(Vector256<float> x)
    {
        Vector256<float> a = Vector256.Abs(x);
        Vector256<float> large = Vector256.GreaterThan(a, Vector256.Create(TanThreeEighthsPi));
        Vector256<float> middle = Vector256.AndNot(Vector256.GreaterThan(a, Vector256.Create(TanEighthPi)), large);
        Vector256<float> t = Vector256.ConditionalSelect(large, -Vector256<float>.One / a,
            Vector256.ConditionalSelect(middle, (a - Vector256<float>.One) / (a + Vector256<float>.One), a));
        Vector256<float> offset = Vector256.ConditionalSelect(large, Vector256.Create(HalfPi),
            Vector256.ConditionalSelect(middle, Vector256.Create(QuarterPi), Vector256<float>.Zero));
        Vector256<float> z = t * t;
        Vector256<float> p = Vector256.MultiplyAddEstimate(Vector256.Create(T0), z, Vector256.Create(T1));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(T2));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(T3));
        Vector256<float> r = offset + Vector256.MultiplyAddEstimate(p * z, t, t);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -r, r);
    }

    private static Vector128<float> AsinCore(Vector128<float> t)
    {
        Vector128<float> z = t * t;
        Vector128<float> p = Vector128.MultiplyAddEstimate(Vector128.Create(S0), z, Vector128.Create(S1));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(S2));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(S3));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(S4));
        return Vector128.MultiplyAddEstimate(p * z, t, t);
    }

    /// <summary>The arcsine, four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Asin(Vector128<float> x)
    {
        Vector128<float> a = Vector128.Abs(x);
        Vector128<float> big = Vector128.GreaterThan(a, Vector128.Create(0.5f));
        Vector128<float> p = AsinCore(Vector128.ConditionalSelect(big, Vector128.Sqrt((Vector128<float>.One - a) * Vector128.Create(0.5f)), a));
        Vector128<float> r = Vector128.ConditionalSelect(big, Vector128.Create(HalfPi) - (p + p), p);
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), -r, r);
    }

    /// <summary>The arccosine, four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Acos(Vector128<float> x)
    {
        Vector128<float> a = Vector128.Abs(x);
        Vector128<float> big = Vector128.GreaterThan(a, Vector128.Create(0.5f));
        Vector128<float> p = AsinCore(Vector128.ConditionalSelect(big, Vector128.Sqrt((Vector128<float>.One - a) * Vector128.Create(0.5f)), x));
        Vector128<float> twice = p + p;
        Vector128<float> farSide = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), Vector128.Create(Pi) - twice, twice);
        return Vector128.ConditionalSelect(big, farSide, Vector128.Create(HalfPi) - p);
    }

    /// <summary>The arctangent, four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Atan(Vector128<float> x)
    {
        Vector128<float> a = Vector128.Abs(x);
        Vector128<float> large = Vector128.GreaterThan(a, Vector128.Create(TanThreeEighthsPi));
        Vector128<float> middle = Vector128.AndNot(Vector128.GreaterThan(a, Vector128.Create(TanEighthPi)), large);
        Vector128<float> t = Vector128.ConditionalSelect(large, -Vector128<float>.One / a,
            Vector128.ConditionalSelect(middle, (a - Vector128<float>.One) / (a + Vector128<float>.One), a));
        Vector128<float> offset = Vector128.ConditionalSelect(large, Vector128.Create(HalfPi),
            Vector128.ConditionalSelect(middle, Vector128.Create(QuarterPi), Vector128<float>.Zero));
        Vector128<float> z = t * t;
        Vector128<float> p = Vector128.MultiplyAddEstimate(Vector128.Create(T0), z, Vector128.Create(T1));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(T2));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(T3));
        Vector128<float> r = offset + Vector128.MultiplyAddEstimate(p * z, t, t);
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), -r, r);
    }
}
