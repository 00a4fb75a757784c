using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>A binary element-wise op between two tensors with NumPy broadcasting.</summary>
public static class Broadcast
{
    /// <summary>
    /// Effectively computes <c>c[r, i…] = TOperator(a[r·aStrides[0] + i·aStrides[1..]], b[…])</c> for every row
    /// <c>r &lt; rows</c> and every index <c>i</c> of <paramref name="sampleShape"/>; a stride of 0 broadcasts that
    /// dimension (a weight tensor has row stride 0). <paramref name="c"/> is dense (row-major). The innermost
    /// dimension is vectorized when both operands are contiguous there or one of them is broadcast.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TOperator>(ref float a, ReadOnlySpan<int> aStrides, ref float b, ReadOnlySpan<int> bStrides,
        ref float c, nint rows, ReadOnlySpan<int> sampleShape)
        where TOperator : struct, IBinaryOperator =>
        Run<TOperator, IdentityOperator>(ref a, aStrides, ref b, bStrides, ref c, rows, sampleShape);

    /// <summary>
    /// <see cref="Run{TOperator}"/> with <typeparamref name="TEpilogue"/> applied to each result as it is stored (a
    /// residual connection's ReLU, say): <c>c = TEpilogue(TOperator(a, b))</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TOperator, TEpilogue>(ref float a, ReadOnlySpan<int> aStrides, ref float b, ReadOnlySpan<int> bStrides,
        ref float c, nint rows, ReadOnlySpan<int> sampleShape)
        where TOperator : struct, IBinaryOperator
        where TEpilogue : struct, IUnaryOperator
    {
        nint perSample = 1;
        foreach (int d in sampleShape) perSample *= d;
        for (nint r = 0; r < rows; r++)
        {
            Dimension<TOperator, TEpilogue>(ref Unsafe.Add(ref a, r * aStrides[0]), aStrides.Slice(1), ref Unsafe.Add(ref b, r * bStrides[0]), bStrides.Slice(1),
                ref Unsafe.Add(ref c, r * perSample), sampleShape);
        }
    }

    private static void Dimension<TOperator, TEpilogue>(ref float a, ReadOnlySpan<int> aStrides, ref float b, ReadOnlySpan<int> bStrides,
        ref float c, ReadOnlySpan<int> shape)
        where TOperator : struct, IBinaryOperator
        where TEpilogue : struct, IUnaryOperator
    {
        if (shape.Length == 0)
        {
            c = TEpilogue.Invoke(TOperator.Invoke(a, b));
            return;
        }
        if (shape.Length == 1)
        {
            Inner<TOperator, TEpilogue>(ref a, aStrides[0], ref b, bStrides[0], ref c, shape[0]);
            return;
        }
        nint inner = 1;
        for (int d = 1; d < shape.Length; d++) inner *= shape[d];
        for (nint i = 0; i < shape[0]; i++)
        {
            Dimension<TOperator, TEpilogue>(ref Unsafe.Add(ref a, i * aStrides[0]), aStrides.Slice(1), ref Unsafe.Add(ref b, i * bStrides[0]), bStrides.Slice(1),
                ref Unsafe.Add(ref c, i * inner), shape.Slice(1));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Inner<TOperator, TEpilogue>(ref float a, nint sa, ref float b, nint sb, ref float c, nint n)
        where TOperator : struct, IBinaryOperator
        where TEpilogue : struct, IUnaryOperator
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated && sa <= 1 && sb <= 1)
        {
            for (; i + 16 <= n; i += 16)
            {
                Vector512<float> x = sa == 1 ? Vector512.LoadUnsafe(ref a, (nuint)i) : Vector512.Create(a);
                Vector512<float> y = sb == 1 ? Vector512.LoadUnsafe(ref b, (nuint)i) : Vector512.Create(b);
                TEpilogue.Invoke(TOperator.Invoke(x, y)).StoreUnsafe(ref c, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && sa <= 1 && sb <= 1)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector256<float> x = sa == 1 ? Vector256.LoadUnsafe(ref a, (nuint)i) : Vector256.Create(a);
                Vector256<float> y = sb == 1 ? Vector256.LoadUnsafe(ref b, (nuint)i) : Vector256.Create(b);
                TEpilogue.Invoke(TOperator.Invoke(x, y)).StoreUnsafe(ref c, (nuint)i);
            }
        }
        else if (Vector128.IsHardwareAccelerated && sa <= 1 && sb <= 1)
        {
            for (; i + 4 <= n; i += 4)
            {
                Vector128<float> x = sa == 1 ? Vector128.LoadUnsafe(ref a, (nuint)i) : Vector128.Create(a);
                Vector128<float> y = sb == 1 ? Vector128.LoadUnsafe(ref b, (nuint)i) : Vector128.Create(b);
                TEpilogue.Invoke(TOperator.Invoke(x, y)).StoreUnsafe(ref c, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref c, i) = TEpilogue.Invoke(TOperator.Invoke(Unsafe.Add(ref a, i * sa), Unsafe.Add(ref b, i * sb)));
    }
}
