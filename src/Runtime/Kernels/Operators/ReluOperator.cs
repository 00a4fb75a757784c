using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Effectively computes <c>max(x, 0)</c> as <see cref="MathF.Max(float, float)"/> and PyTorch do: NaN stays NaN, −0 becomes +0.
/// The vector forms clear the lanes where <c>x ≤ 0</c> (a compare and an and-not): a NaN compares false and is kept.
/// Not the plain max instruction (MaxNative): x86's <c>maxps(x, 0)</c> returns 0 for NaN, which hid a NaN input.
/// </summary>
public readonly struct ReluOperator : IUnaryOperator
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => MathF.Max(x, 0f);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => Vector128.AndNot(x, Vector128.LessThanOrEqual(x, Vector128<float>.Zero));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.AndNot(x, Vector256.LessThanOrEqual(x, Vector256<float>.Zero));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.AndNot(x, Vector512.LessThanOrEqual(x, Vector512<float>.Zero));
}
