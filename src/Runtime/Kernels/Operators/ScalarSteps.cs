using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// The scalar forms of the element-wise steps that take a constant (generated epilogues inline the vector forms):
/// the same comparisons as the vector code and the eager reference, so NaN behaves the same on every path.
/// </summary>
public static class ScalarSteps
{
    /// <summary><c>x</c> where <c>x ≥ 0</c>, else <c>slope · x</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LeakyRelu(float x, float slope) => x >= 0 ? x : x * slope;

    /// <summary>ONNX QuantizeLinear as a float: <c>clamp(round_half_even(x / scale) + zero, low, high)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Quantize(float x, float scale, int zero, int low, int high) =>
        MathF.Min(high, MathF.Max(low, MathF.Round(x / scale) + zero));

    /// <summary><paramref name="min"/> where <c>x &lt; min</c>, else <c>x</c> (NaN stays NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ClampMin(float x, float min) => x < min ? min : x;

    /// <summary><paramref name="max"/> where <c>x &gt; max</c>, else <c>x</c> (NaN stays NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ClampMax(float x, float max) => x > max ? max : x;

    /// <summary><c>x</c> where <c>x &gt; 0</c>, else <c>alpha · (eˣ − 1)</c> (ONNX Elu).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Elu(float x, float alpha) => x > 0f ? x : alpha * (MathF.Exp(x) - 1f);

    /// <summary><c>x</c> where <c>x &gt; alpha</c>, else 0 (ONNX ThresholdedRelu; NaN gives 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ThresholdedRelu(float x, float alpha) => x > alpha ? x : 0f;

    /// <summary><c>x + bias</c> below <c>−lambd</c>, <c>x − bias</c> above <c>lambd</c>, else 0 (ONNX Shrink; NaN gives 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Shrink(float x, float lambd, float bias) => x < -lambd ? x + bias : x > lambd ? x - bias : 0f;
}
