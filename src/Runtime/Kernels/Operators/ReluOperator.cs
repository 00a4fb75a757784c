using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Effectively computes <c>max(x, 0)</c> as <see cref="MathF.Max(float, float)"/> and PyTorch do: NaN stays NaN, −0 becomes +0.
/// The vector forms use the IEEE 754 maximum (<c>Vector512.Max</c>), not the plain max instruction (MaxNative): x86's
/// <c>maxps(x, 0)</c> returns 0 for NaN, which hid a NaN input. Measured (ReluBenchmark, docs/performance.md): within
/// 1 % of MaxNative in a GEMM's store and in a ReLU pass of its own (a compare-and-clear cost 1.6× on the pass).
/// </summary>
public readonly struct ReluOperator : IUnaryOperator
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => MathF.Max(x, 0f);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => Vector128.Max(x, Vector128<float>.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
}
