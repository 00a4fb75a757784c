using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// ONNX ScatterND and ScatterElements by indices computed at run time (or given as a model input): the output is the
/// data with updates written (or combined, <see cref="ScatterReduction"/>) where the indices say, in index order.
/// ScatterElements, along one axis of a row-major <c>[outer, length, inner]</c> view of each sample:
/// <c>y[o, index[o, j, i], i] = updates[o, j, i]</c>. ScatterND: each of <c>count</c> index tuples of
/// <c>dims.Length</c> integers names a place in the data's first <c>dims.Length</c> dimensions, and the contiguous slice of
/// <c>inner</c> values there gets the tuple's slice of updates. An index is a whole number in <c>[−size, size)</c>
/// (negative counts from the end); an update whose index names no place (NaN, a fraction, out of range) is skipped — a
/// kernel cannot throw halfway, and nothing is written outside the output.
/// </summary>
public static class Scatter
{
    /// <summary>
    /// Runs the scatter over <paramref name="samples"/> samples. ScatterElements (<paramref name="dims"/> empty): data and
    /// output <c>outer·length·inner</c> values a sample, indices and updates <c>outer·count·inner</c>. ScatterND: data and
    /// output <c>Π dims · inner</c>, indices <c>count · dims.Length</c>, updates <c>count · inner</c> (<paramref name="outer"/>
    /// 1, <paramref name="length"/> Π dims). The data, indices and updates are <paramref name="dataPerSample"/> (the
    /// sample's size, or 0), <paramref name="indicesPerSample"/> and <paramref name="updatesPerSample"/> apart (0: one set
    /// for every sample, a constant).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float data, ref float indices, ref float updates, ref float output, nint samples, int outer, int length, int inner, int count,
        ReadOnlySpan<int> dims, ScatterReduction reduction, int dataPerSample, int indicesPerSample, int updatesPerSample)
    {
        nint sample = (nint)outer * length * inner;
        for (nint s = 0; s < samples; s++)
        {
            ref float y = ref Unsafe.Add(ref output, s * sample);
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref data, s * dataPerSample), (int)sample).CopyTo(MemoryMarshal.CreateSpan(ref y, (int)sample));
            ref float index = ref Unsafe.Add(ref indices, s * indicesPerSample);
            ref float update = ref Unsafe.Add(ref updates, s * updatesPerSample);
            if (dims.IsEmpty)
            {
                // ScatterElements: one value an index.
                for (nint o = 0; o < outer; o++)
                for (nint j = 0; j < count; j++)
                for (nint i = 0; i < inner; i++)
                {
                    nint u = (o * count + j) * inner + i;
                    int at = Gather.Position(Unsafe.Add(ref index, u), length);
                    if (at >= 0) Combine(ref Unsafe.Add(ref y, (o * length + at) * inner + i), Unsafe.Add(ref update, u), reduction);
                }
                continue;
            }
            // ScatterND: one slice of inner values a tuple.
            for (nint u = 0; u < count; u++)
            {
                ref float tuple = ref Unsafe.Add(ref index, u * dims.Length);
                nint place = 0;
                bool valid = true;
                for (int d = 0; d < dims.Length && valid; d++)
                {
                    int at = Gather.Position(Unsafe.Add(ref tuple, d), dims[d]);
                    valid = at >= 0;
                    place = place * dims[d] + at;
                }
                if (!valid) continue;
                ref float target = ref Unsafe.Add(ref y, place * inner);
                ref float source = ref Unsafe.Add(ref update, u * inner);
                if (reduction == ScatterReduction.None)
                {
                    MemoryMarshal.CreateReadOnlySpan(ref source, inner).CopyTo(MemoryMarshal.CreateSpan(ref target, inner));
                    continue;
                }
                for (nint i = 0; i < inner; i++) Combine(ref Unsafe.Add(ref target, i), Unsafe.Add(ref source, i), reduction);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Combine(ref float value, float update, ScatterReduction reduction) => value = reduction switch
    {
        ScatterReduction.Add => value + update,
        ScatterReduction.Mul => value * update,
        ScatterReduction.Max => MathF.Max(value, update),
        ScatterReduction.Min => MathF.Min(value, update),
        _ => update,
    };
}
