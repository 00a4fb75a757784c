using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>An element-wise chain that no Linear precedes, run over a flat buffer.</summary>
public static class Elementwise
{
    /// <summary>
    /// Effectively computes <c>destination[i] = TOperator(source[i])</c> over <paramref name="rows"/> rows of
    /// <paramref name="width"/> values, at the widest accelerated width with a scalar tail per row (so each
    /// value takes the same path whatever the batch). <paramref name="destination"/> may be
    /// <paramref name="source"/> (in place) but must not otherwise overlap it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TOperator>(ref float source, ref float destination, nint rows, nint width)
        where TOperator : struct, IUnaryOperator
    {
        for (nint r = 0; r < rows; r++)
            Row<TOperator>(ref Unsafe.Add(ref source, r * width), ref Unsafe.Add(ref destination, r * width), width);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TOperator>(ref float source, ref float destination, nint count)
        where TOperator : struct, IUnaryOperator
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= count; i += 16)
                TOperator.Invoke(Vector512.LoadUnsafe(ref source, (nuint)i)).StoreUnsafe(ref destination, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= count; i += 8)
                TOperator.Invoke(Vector256.LoadUnsafe(ref source, (nuint)i)).StoreUnsafe(ref destination, (nuint)i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 4 <= count; i += 4)
                TOperator.Invoke(Vector128.LoadUnsafe(ref source, (nuint)i)).StoreUnsafe(ref destination, (nuint)i);
        }
        for (; i < count; i++) Unsafe.Add(ref destination, i) = TOperator.Invoke(Unsafe.Add(ref source, i));
    }
}
