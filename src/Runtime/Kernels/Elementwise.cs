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
    public static unsafe void Run<TOperator>(ref float source, ref float destination, nint rows, nint width, KernelWorkers? workers = null)
        where TOperator : struct, IUnaryOperator
    {
        workers = KernelWorkers.For(workers, rows * width);
        if (workers is not null)
        {
            // Shared among threads by blocks of Block values of each row (pinned: the parts hold pointers).
            fixed (float* from = &source, to = &destination)
            {
                nint perRow = (width + Block - 1) / Block;
                var blocks = new Blocks<TOperator> { Source = from, Destination = to, Width = width, PerRow = perRow };
                KernelWorkers.Split(workers, checked((int)(rows * perRow)), blocks, null, 0);
            }
            return;
        }
        for (nint r = 0; r < rows; r++)
            Row<TOperator>(ref Unsafe.Add(ref source, r * width), ref Unsafe.Add(ref destination, r * width), width);
    }

    /// <summary>Values per piece of a shared call.</summary>
    private const int Block = 4096;

    /// <summary>
    /// Blocks <c>[first, last)</c> of a shared call, block u being values <c>[b·Block, (b + 1)·Block)</c> of row u / PerRow
    /// (b = u % PerRow): a block starts a whole number of vectors into its row, so each value takes the path it takes
    /// when the row runs whole (the scalar tail stays at the row's end).
    /// </summary>
    private unsafe struct Blocks<TOperator> : KernelWorkers.IChunks
        where TOperator : struct, IUnaryOperator
    {
        public float* Source, Destination;
        public nint Width, PerRow;

        public readonly void Run(int first, int last, float* scratch)
        {
            for (int u = first; u < last; u++)
            {
                nint row = u / PerRow, start = u % PerRow * Block, count = Width - start < Block ? Width - start : Block;
                Row<TOperator>(ref *(Source + row * Width + start), ref *(Destination + row * Width + start), count);
            }
        }
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
