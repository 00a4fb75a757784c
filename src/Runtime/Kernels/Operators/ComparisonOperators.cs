using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

// Comparisons give 1 where true and 0 where false (the float32 form of ONNX's bool tensors; NaN compares false, and
// unequal to everything, as IEEE and ONNX Runtime have it): the vector compare's all-ones lanes masked with 1.0's bits.

/// <summary>Effectively computes <c>x &gt; y ? 1 : 0</c> (ONNX Greater).</summary>
public readonly struct GreaterOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => x > y ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.GreaterThan(x, y) & Vector128<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.GreaterThan(x, y) & Vector256<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.GreaterThan(x, y) & Vector512<float>.One;
}

/// <summary>Effectively computes <c>x &lt; y ? 1 : 0</c> (ONNX Less).</summary>
public readonly struct LessOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => x < y ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.LessThan(x, y) & Vector128<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.LessThan(x, y) & Vector256<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.LessThan(x, y) & Vector512<float>.One;
}

/// <summary>Effectively computes <c>x ≥ y ? 1 : 0</c> (ONNX GreaterOrEqual).</summary>
public readonly struct GreaterOrEqualOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => x >= y ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.GreaterThanOrEqual(x, y) & Vector128<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.GreaterThanOrEqual(x, y) & Vector256<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.GreaterThanOrEqual(x, y) & Vector512<float>.One;
}

/// <summary>Effectively computes <c>x ≤ y ? 1 : 0</c> (ONNX LessOrEqual).</summary>
public readonly struct LessOrEqualOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => x <= y ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.LessThanOrEqual(x, y) & Vector128<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.LessThanOrEqual(x, y) & Vector256<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.LessThanOrEqual(x, y) & Vector512<float>.One;
}

/// <summary>Effectively computes <c>x == y ? 1 : 0</c> (ONNX Equal).</summary>
public readonly struct EqualOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => x == y ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.Equals(x, y) & Vector128<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.Equals(x, y) & Vector256<float>.One;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.Equals(x, y) & Vector512<float>.One;
}

/// <summary>Effectively computes <c>x != y ? 1 : 0</c> (ONNX Xor of booleans; Not of Equal).</summary>
public readonly struct NotEqualOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => x != y ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.AndNot(Vector128<float>.One, Vector128.Equals(x, y));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.AndNot(Vector256<float>.One, Vector256.Equals(x, y));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.AndNot(Vector512<float>.One, Vector512.Equals(x, y));
}

/// <summary>Effectively computes <c>x != 0 ? y : 0</c>: ONNX Where's chosen-if-true half (the other is <see cref="DropOperator"/>; their sum is exactly one of the two values, infinities and NaN included).</summary>
public readonly struct KeepOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => x != 0f ? y : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.AndNot(y, Vector128.Equals(x, Vector128<float>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.AndNot(y, Vector256.Equals(x, Vector256<float>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.AndNot(y, Vector512.Equals(x, Vector512<float>.Zero));
}

/// <summary>Effectively computes <c>x != 0 ? 0 : y</c>: ONNX Where's chosen-if-false half.</summary>
public readonly struct DropOperator : IBinaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Invoke(float x, float y) => x != 0f ? 0f : y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x, Vector128<float> y) => Vector128.Equals(x, Vector128<float>.Zero) & y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x, Vector256<float> y) => Vector256.Equals(x, Vector256<float>.Zero) & y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x, Vector512<float> y) => Vector512.Equals(x, Vector512<float>.Zero) & y;
}
