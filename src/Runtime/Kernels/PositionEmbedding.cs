using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>Learned position embeddings, GPT-2's <c>wpe</c>: a table row per position, added to the token's row.</summary>
public static class PositionEmbedding
{
    /// <summary>
    /// Effectively computes <c>DecoderReference.AddPositions</c>: row <c>r</c> of <paramref name="width"/> values gets row
    /// <c>position + r</c> of the <c>[<paramref name="positions"/>, width]</c> table added. In place is allowed. A session
    /// never holds more tokens than the table has rows (CreateSession checks); a call past them throws before writing.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float source, ref float destination, nint rows, int width, ref float table, int positions, int position)
    {
        if (position < 0 || rows < 0 || position + rows > positions)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Learned positions cover {positions} tokens; rows {position}…{position + rows - 1} are past them.");
        for (nint r = 0; r < rows; r++)
        {
            ref float x = ref Unsafe.Add(ref source, r * width);
            ref float y = ref Unsafe.Add(ref destination, r * width);
            ref float p = ref Unsafe.Add(ref table, (position + r) * width);
            nint i = 0;
            for (; i + Vector<float>.Count <= width; i += Vector<float>.Count)
                (Vector.LoadUnsafe(ref x, (nuint)i) + Vector.LoadUnsafe(ref p, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
            for (; i < width; i++) Unsafe.Add(ref y, i) = Unsafe.Add(ref x, i) + Unsafe.Add(ref p, i);
        }
    }
}
