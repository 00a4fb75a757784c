using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Computes <c>x · clamp(x / 6 + 1/2, 0, 1)</c> (HardSwish: ONNX's operator, PyTorch's <c>F.hardswish</c>, and
/// <c>x · clip(x + 3, 0, 6) / 6</c> as Paddle and TensorFlow exports write it). The clamp keeps a NaN, and x multiplies it
/// anyway, so NaN stays NaN; −∞ gives NaN (−∞ · 0), as ONNX's reference does.
/// </summary>
public readonly struct HardSwishOperator : IUnaryOperator
{
    private const float Sixth = 1f / 6f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x)
    {
        float gate = x * Sixth + 0.5f;
        return x * (gate < 0f ? 0f : gate > 1f ? 1f : gate);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x)
    {
        Vector128<float> gate = x * Vector128.Create(Sixth) + Vector128.Create(0.5f);
        gate = Vector128.ConditionalSelect(Vector128.LessThan(gate, Vector128<float>.Zero), Vector128<float>.Zero, gate);
        return x * Vector128.ConditionalSelect(Vector128.GreaterThan(gate, Vector128<float>.One), Vector128<float>.One, gate);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x)
    {
        Vector256<float> gate = x * Vector256.Create(Sixth) + Vector256.Create(0.5f);
        gate = Vector256.ConditionalSelect(Vector256.LessThan(gate, Vector256<float>.Zero), Vector256<float>.Zero, gate);
        return x * Vector256.ConditionalSelect(Vector256.GreaterThan(gate, Vector256<float>.One), Vector256<float>.One, gate);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x)
    {
        Vector512<float> gate = x * Vector512.Create(Sixth) + Vector512.Create(0.5f);
        gate = Vector512.ConditionalSelect(Vector512.LessThan(gate, Vector512<float>.Zero), Vector512<float>.Zero, gate);
        return x * Vector512.ConditionalSelect(Vector512.GreaterThan(gate, Vector512<float>.One), Vector512<float>.One, gate);
    }
}
