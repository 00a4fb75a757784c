using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// ONNX Hardmax over the last dimension of <c>[rows, width]</c>: 1 at the first largest value of each row, 0 elsewhere
/// (a NaN counts as the largest, as numpy's argmax has it). The row is cleared with a vector fill and its largest value
/// found by the vectorized span search after the vectorized maximum of <see cref="Reduce"/>.
/// </summary>
public static class Hardmax
{
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float source, ref float destination, nint rows, int width)
    {
        for (nint r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref source, r * width), width);
            Span<float> output = MemoryMarshal.CreateSpan(ref Unsafe.Add(ref destination, r * width), width);
            int first = FirstLargest(row);
            output.Clear();
            output[first] = 1f;
        }
    }

    /// <summary>The index of the first NaN, else of the first largest value.</summary>
    internal static int FirstLargest(ReadOnlySpan<float> row)
    {
        float largest = 0f;
        Reduce.Run(ref MemoryMarshal.GetReference(row), ref largest, 1, row.Length, 1, ReduceKind.Max); // NaN if any value is NaN
        if (float.IsNaN(largest))
        {
            for (int i = 0; i < row.Length; i++) if (float.IsNaN(row[i])) return i;
        }
        int at = row.IndexOf(largest);
        return at >= 0 ? at : 0;
    }
}
