using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>Effectively computes <c>0.5 · x · (1 + erf(x / √2))</c>, PyTorch's exact GELU.</summary>
public readonly struct GeluOperator : IUnaryOperator
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => 0.5f * x * (1f + VectorMath.Erf(x * 0.70710678118654752f));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => Vector128.Create(0.5f) * x * (Vector128.Create(1f) + VectorMath.Erf(x * Vector128.Create(0.70710678118654752f)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.Create(0.5f) * x * (Vector256.Create(1f) + VectorMath.Erf(x * Vector256.Create(0.70710678118654752f)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.Create(0.5f) * x * (Vector512.Create(1f) + VectorMath.Erf(x * Vector512.Create(0.70710678118654752f)));
}
