using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// ONNX Gather and GatherElements by indices computed at run time (or given as a model input), along one axis of a
/// row-major <c>[outer, length, inner]</c> view of each sample. Gather: <c>y[o, j, i] = x[o, index[j], i]</c>, the
/// indices shared by the sample's outer positions, each pick a contiguous copy of <c>inner</c> values. GatherElements:
/// <c>y[o, j, i] = x[o, index[o, j, i], i]</c>, one value a pick. An index is a whole number in <c>[−length, length)</c>
/// (negative counts from the end, as ONNX's); any other (NaN, a fraction, out of range) writes NaN there — a kernel cannot
/// throw halfway, and nothing is read outside the input.
/// </summary>
public static class Gather
{
    /// <summary>
    /// Runs the gather over <paramref name="samples"/> samples: x has <c>outer·length·inner</c> values a sample, the
    /// indices <paramref name="indicesPerSample"/> (0: one set shared by all samples, a constant), y <c>outer·count·inner</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float input, ref float indices, ref float output, nint samples, int outer, int length, int inner, int count,
        bool elements, int indicesPerSample)
    {
        nint sampleIn = (nint)outer * length * inner, sampleOut = (nint)outer * count * inner;
        for (nint s = 0; s < samples; s++)
        {
            ref float x = ref Unsafe.Add(ref input, s * sampleIn);
            ref float index = ref Unsafe.Add(ref indices, s * indicesPerSample);
            ref float y = ref Unsafe.Add(ref output, s * sampleOut);
            for (nint o = 0; o < outer; o++)
            {
                ref float plane = ref Unsafe.Add(ref x, o * length * inner);
                for (nint j = 0; j < count; j++)
                {
                    ref float row = ref Unsafe.Add(ref y, (o * count + j) * inner);
                    if (!elements)
                    {
                        int at = Position(Unsafe.Add(ref index, j), length);
                        if (at < 0) MemoryMarshal.CreateSpan(ref row, inner).Fill(float.NaN);
                        else MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref plane, (nint)at * inner), inner).CopyTo(MemoryMarshal.CreateSpan(ref row, inner));
                        continue;
                    }
                    ref float picks = ref Unsafe.Add(ref index, (o * count + j) * inner);
                    for (nint i = 0; i < inner; i++)
                    {
                        int at = Position(Unsafe.Add(ref picks, i), length);
                        Unsafe.Add(ref row, i) = at < 0 ? float.NaN : Unsafe.Add(ref plane, (nint)at * inner + i);
                    }
                }
            }
        }
    }

    /// <summary>An index as a place along an axis of <paramref name="length"/>, or −1 when it names none (Scatter's indices too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Position(float index, int length)
    {
        // Compared as floats first: NaN and values past int's range never pass.
        if (!(index >= -length && index < length) || index != MathF.Floor(index)) return -1;
        int at = (int)index;
        return at < 0 ? at + length : at;
    }
}
