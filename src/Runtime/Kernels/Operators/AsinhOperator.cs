using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>The inverse hyperbolic sine, element-wise (ONNX Asinh), as ±log(|x| + √(x² + 1)) (odd, so no cancellation below 0).</summary>
public readonly struct AsinhOperator : IUnaryOperator
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => MathF.Asinh(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), -Magnitude(x), Magnitude(x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -Magnitude(x), Magnitude(x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -Magnitude(x), Magnitude(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Magnitude(Vector128<float> x)
    {
        Vector128<float> a = Vector128.Abs(x);
        return Vector128.Log(a + Vector128.Sqrt(a * a + Vector128<float>.One));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Magnitude(Vector256<float> x)
    {
        Vector256<float> a = Vector256.Abs(x);
        return Vector256.Log(a + Vector256.Sqrt(a * a + Vector256<float>.One));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Magnitude(Vector512<float> x)
    {
        Vector512<float> a = Vector512.Abs(x);
        return Vector512.Log(a + Vector512.Sqrt(a * a + Vector512<float>.One));
    }
}
