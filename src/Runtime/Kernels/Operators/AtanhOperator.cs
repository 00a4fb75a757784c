using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>The inverse hyperbolic tangent, element-wise (ONNX Atanh), as log((1 + x) / (1 − x)) / 2.</summary>
public readonly struct AtanhOperator : IUnaryOperator
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => MathF.Atanh(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => Vector128.Log((Vector128<float>.One + x) / (Vector128<float>.One - x)) * Vector128.Create(0.5f);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.Log((Vector256<float>.One + x) / (Vector256<float>.One - x)) * Vector256.Create(0.5f);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.Log((Vector512<float>.One + x) / (Vector512<float>.One - x)) * Vector512.Create(0.5f);
}
