using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>Effectively computes <c>0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))</c>, PyTorch's GELU with <c>approximate='tanh'</c>.</summary>
public readonly struct GeluTanhOperator : IUnaryOperator
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => 0.5f * x * (1f + VectorMath.Tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => Vector128.Create(0.5f) * x * (Vector128.Create(1f) + VectorMath.Tanh(Vector128.Create(0.7978845608028654f) * (x + Vector128.Create(0.044715f) * x * x * x)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.Create(0.5f) * x * (Vector256.Create(1f) + VectorMath.Tanh(Vector256.Create(0.7978845608028654f) * (x + Vector256.Create(0.044715f) * x * x * x)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.Create(0.5f) * x * (Vector512.Create(1f) + VectorMath.Tanh(Vector512.Create(0.7978845608028654f) * (x + Vector512.Create(0.044715f) * x * x * x)));
}
