using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>Effectively computes <c>x / (1 + e^-x)</c> (SiLU, also called swish), PyTorch's <c>F.silu</c>.</summary>
public readonly struct SiluOperator : IUnaryOperator
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => x / (1f + System.MathF.Exp(-x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => x / (Vector128.Create(1f) + Vector128.Exp(-x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => x / (Vector256.Create(1f) + Vector256.Exp(-x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => x / (Vector512.Create(1f) + Vector512.Exp(-x));
}
