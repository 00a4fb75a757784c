using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Transcendental functions the activations need, in float, at every vector width and as scalars,
/// with the same polynomials at every width so that all code paths agree to a few ulp.
/// <c>Exp</c> is .NET's own (<c>Vector512.Exp</c>); tanh follows Cephes' <c>tanhf</c>; erf is the
/// rational approximation of Eigen's <c>generic_fast_erf_float</c> (also used by XLA), accurate to a
/// few ulp on [-4, 4] and exactly ±1 in float beyond.
/// The Vector256 and Vector128 bodies are the Vector512 body with the type changed.
/// </summary>
public static class VectorMath
{
    // Cephes tanhf: below |x| = 0.625, x + x³·P(x²); above, 1 − 2 / (e^{2|x|} + 1) with x's sign.
    private const float TanhSmall = 0.625f;
    private const float T0 = -5.70498872745E-3f, T1 = 2.06390887954E-2f, T2 = -5.37397155531E-2f,
        T3 = 1.33314422036E-1f, T4 = -3.33332819422E-1f;

    // Eigen / XLA erf: x·P(x²) / Q(x²) on x clamped to [-4, 4].
    private const float ErfClamp = 4f;
    private const float A1 = -1.60960333262415e-02f, A3 = -2.95459980854025e-03f, A5 = -7.34990630326855e-04f,
        A7 = -5.69250639462346e-05f, A9 = -2.10102402082508e-06f, A11 = 2.77068142495902e-08f, A13 = -2.72614225801306e-10f;
    private const float B0 = -1.42647390514189e-02f, B2 = -7.37332916720468e-03f, B4 = -1.68282697438203e-03f,
        B6 = -2.13374055278905e-04f, B8 = -1.45660718464996e-05f;

    /// <summary>Scalar tanh by the same formula as the vector forms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x)
    {
        float ax = MathF.Abs(x);
        if (ax < TanhSmall)
        {
            float z = x * x;
            float p = (((T0 * z + T1) * z + T2) * z + T3) * z + T4;
            return p * z * x + x;
        }
        float large = 1f - 2f / (MathF.Exp(ax + ax) + 1f);
        return MathF.CopySign(large, x);
    }

    /// <summary>Scalar erf by the same rational approximation as the vector forms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Erf(float x)
    {
        x = MathF.Min(MathF.Max(x, -ErfClamp), ErfClamp);
        float x2 = x * x;
        float p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
        float q = (((B8 * x2 + B6) * x2 + B4) * x2 + B2) * x2 + B0;
        return p / q;
    }

    /// <summary>tanh, sixteen lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        Vector512<float> ax = Vector512.Abs(x);
        Vector512<float> z = x * x;
        Vector512<float> p = Vector512.MultiplyAddEstimate(z, Vector512.Create(T0), Vector512.Create(T1));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(T2));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(T3));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(T4));
        Vector512<float> small = Vector512.MultiplyAddEstimate(p * z, x, x);
        Vector512<float> one = Vector512.Create(1f);
        Vector512<float> large = one - Vector512.Create(2f) / (Vector512.Exp(ax + ax) + one);
        large = Vector512.CopySign(large, x);
        return Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(TanhSmall)), small, large);
    }

    /// <summary>erf, sixteen lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-ErfClamp)), Vector512.Create(ErfClamp));
        Vector512<float> x2 = x * x;
        Vector512<float> p = Vector512.MultiplyAddEstimate(x2, Vector512.Create(A13), Vector512.Create(A11));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(A9));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(A7));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(A5));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(A3));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(A1));
        p *= x;
        Vector512<float> q = Vector512.MultiplyAddEstimate(x2, Vector512.Create(B8), Vector512.Create(B6));
        q = Vector512.MultiplyAddEstimate(x2, q, Vector512.Create(B4));
        q = Vector512.MultiplyAddEstimate(x2, q, Vector512.Create(B2));
        q = Vector512.MultiplyAddEstimate(x2, q, Vector512.Create(B0));
        return p / q;
    }
    /// <summary>tanh, eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        Vector256<float> ax = Vector256.Abs(x);
        Vector256<float> z = x * x;
        Vector256<float> p = Vector256.MultiplyAddEstimate(z, Vector256.Create(T0), Vector256.Create(T1));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(T2));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(T3));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(T4));
        Vector256<float> small = Vector256.MultiplyAddEstimate(p * z, x, x);
        Vector256<float> one = Vector256.Create(1f);
        Vector256<float> large = one - Vector256.Create(2f) / (Vector256.Exp(ax + ax) + one);
        large = Vector256.CopySign(large, x);
        return Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(TanhSmall)), small, large);
    }

    /// <summary>erf, eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-ErfClamp)), Vector256.Create(ErfClamp));
        Vector256<float> x2 = x * x;
        Vector256<float> p = Vector256.MultiplyAddEstimate(x2, Vector256.Create(A13), Vector256.Create(A11));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(A9));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(A7));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(A5));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(A3));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(A1));
        p *= x;
        Vector256<float> q = Vector256.MultiplyAddEstimate(x2, Vector256.Create(B8), Vector256.Create(B6));
        q = Vector256.MultiplyAddEstimate(x2, q, Vector256.Create(B4));
        q = Vector256.MultiplyAddEstimate(x2, q, Vector256.Create(B2));
        q = Vector256.MultiplyAddEstimate(x2, q, Vector256.Create(B0));
        return p / q;
    }
    /// <summary>tanh, four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        Vector128<float> ax = Vector128.Abs(x);
        Vector128<float> z = x * x;
        Vector128<float> p = Vector128.MultiplyAddEstimate(z, Vector128.Create(T0), Vector128.Create(T1));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(T2));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(T3));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(T4));
        Vector128<float> small = Vector128.MultiplyAddEstimate(p * z, x, x);
        Vector128<float> one = Vector128.Create(1f);
        Vector128<float> large = one - Vector128.Create(2f) / (Vector128.Exp(ax + ax) + one);
        large = Vector128.CopySign(large, x);
        return Vector128.ConditionalSelect(Vector128.LessThan(ax, Vector128.Create(TanhSmall)), small, large);
    }

    /// <summary>erf, four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Erf(Vector128<float> x)
    {
        x = Vector128.Min(Vector128.Max(x, Vector128.Create(-ErfClamp)), Vector128.Create(ErfClamp));
        Vector128<float> x2 = x * x;
        Vector128<float> p = Vector128.MultiplyAddEstimate(x2, Vector128.Create(A13), Vector128.Create(A11));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(A9));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(A7));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(A5));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(A3));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(A1));
        p *= x;
        Vector128<float> q = Vector128.MultiplyAddEstimate(x2, Vector128.Create(B8), Vector128.Create(B6));
        q = Vector128.MultiplyAddEstimate(x2, q, Vector128.Create(B4));
        q = Vector128.MultiplyAddEstimate(x2, q, Vector128.Create(B2));
        q = Vector128.MultiplyAddEstimate(x2, q, Vector128.Create(B0));
        return p / q;
    }

    // Cephes expf, in float at every width: e^x = 2^n · e^r with n = round(x·log₂e) and |r| ≤ ln2/2, e^r by a degree-6
    // polynomial; about 1 ulp. .NET's Vector512.Exp computes in double (two double vectors per float vector), which
    // made attention's softmax the slowest part of a transformer block.
    private const float ExpHigh = 88.3762626647949f, ExpLow = -87.3365447505531f;
    private const float Log2E = 1.44269504088896341f, Ln2High = 0.693359375f, Ln2Low = -2.12194440e-4f;
    private const float E0 = 1.9875691500E-4f, E1 = 1.3981999507E-3f, E2 = 8.3334519073E-3f, E3 = 4.1665795894E-2f,
        E4 = 1.6666665459E-1f, E5 = 5.0000001201E-1f;

    /// <summary>e^x in float (Cephes expf): about 1 ulp; 0 below −87.34 (and for −∞), +∞ above 88.38.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpFast(float x)
    {
        if (x < ExpLow) return 0f;
        if (x > ExpHigh) return float.PositiveInfinity;
        float n = MathF.Round(x * Log2E);
        float r = x - n * Ln2High - n * Ln2Low;
        float p = ((((E0 * r + E1) * r + E2) * r + E3) * r + E4) * r + E5;
        p = p * r * r + r + 1f;
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <summary>e^x, sixteen lanes, by the same formula as the scalar <see cref="ExpFast(float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpFast(Vector512<float> x)
    {
        Vector512<float> clamped = Vector512.Min(Vector512.Max(x, Vector512.Create(ExpLow)), Vector512.Create(ExpHigh));
        Vector512<float> n = Vector512.Round(clamped * Vector512.Create(Log2E));
        Vector512<float> r = clamped - n * Vector512.Create(Ln2High) - n * Vector512.Create(Ln2Low);
        Vector512<float> p = ((((Vector512.Create(E0) * r + Vector512.Create(E1)) * r + Vector512.Create(E2)) * r + Vector512.Create(E3)) * r + Vector512.Create(E4)) * r + Vector512.Create(E5);
        p = p * r * r + r + Vector512<float>.One;
        Vector512<float> scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        Vector512<float> result = p * scale;
        result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(ExpLow)), Vector512<float>.Zero, result);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(ExpHigh)), Vector512.Create(float.PositiveInfinity), result);
    }

    /// <summary>e^x, eight lanes (the Vector512 body with the type changed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpFast(Vector256<float> x)
    {
        Vector256<float> clamped = Vector256.Min(Vector256.Max(x, Vector256.Create(ExpLow)), Vector256.Create(ExpHigh));
        Vector256<float> n = Vector256.Round(clamped * Vector256.Create(Log2E));
        Vector256<float> r = clamped - n * Vector256.Create(Ln2High) - n * Vector256.Create(Ln2Low);
        Vector256<float> p = ((((Vector256.Create(E0) * r + Vector256.Create(E1)) * r + Vector256.Create(E2)) * r + Vector256.Create(E3)) * r + Vector256.Create(E4)) * r + Vector256.Create(E5);
        p = p * r * r + r + Vector256<float>.One;
        Vector256<float> scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        Vector256<float> result = p * scale;
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(ExpLow)), Vector256<float>.Zero, result);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(ExpHigh)), Vector256.Create(float.PositiveInfinity), result);
    }

    /// <summary>e^x, four lanes (the Vector512 body with the type changed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ExpFast(Vector128<float> x)
    {
        Vector128<float> clamped = Vector128.Min(Vector128.Max(x, Vector128.Create(ExpLow)), Vector128.Create(ExpHigh));
        Vector128<float> n = Vector128.Round(clamped * Vector128.Create(Log2E));
        Vector128<float> r = clamped - n * Vector128.Create(Ln2High) - n * Vector128.Create(Ln2Low);
        Vector128<float> p = ((((Vector128.Create(E0) * r + Vector128.Create(E1)) * r + Vector128.Create(E2)) * r + Vector128.Create(E3)) * r + Vector128.Create(E4)) * r + Vector128.Create(E5);
        p = p * r * r + r + Vector128<float>.One;
        Vector128<float> scale = Vector128.ShiftLeft(Vector128.ConvertToInt32(n) + Vector128.Create(127), 23).AsSingle();
        Vector128<float> result = p * scale;
        result = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(ExpLow)), Vector128<float>.Zero, result);
        return Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128.Create(ExpHigh)), Vector128.Create(float.PositiveInfinity), result);
    }
}
