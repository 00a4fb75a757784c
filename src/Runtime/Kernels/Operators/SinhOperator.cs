using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>The hyperbolic sine, element-wise (ONNX Sinh), as (eˣ − e⁻ˣ) / 2.</summary>
public readonly struct SinhOperator : IUnaryOperator
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => MathF.Sinh(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => (Vector128.Exp(x) - Vector128.Exp(-x)) * Vector128.Create(0.5f);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => (Vector256.Exp(x) - Vector256.Exp(-x)) * Vector256.Create(0.5f);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => (Vector512.Exp(x) - Vector512.Exp(-x)) * Vector512.Create(0.5f);
}
