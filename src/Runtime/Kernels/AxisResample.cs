using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// Resampling along one axis of a row-major <c>[outer, length, inner]</c> view by a table of taps: ONNX's Resize (nearest,
/// linear, cubic; any scale and coordinate transformation) is one pass of this per resized axis, since each of its modes is
/// separable. The table, computed at build time, holds for each output position <c>taps</c> pairs (input index, weight);
/// <c>output[o, j, i] = Σ weight · input[o, index, i]</c>, where a negative index stands for <c>fill</c> (ONNX Pad's
/// constant; Pad's edge, reflect and wrap modes are tables too). Indices are clamped below the input's length, so no table
/// can read past it.
/// Vectorized across <c>inner</c>; along the last axis (<c>inner</c> = 1) each output's taps are summed one by one.
/// </summary>
public static class AxisResample
{
    /// <summary>Runs the pass; <paramref name="table"/> holds <c>outLength × taps</c> (index, weight) pairs as floats.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float input, ref float output, nint outer, int length, nint inner, int outLength, int taps, ref float table, float fill = 0f)
    {
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Lanes<Lanes512>(ref input, ref output, outer, length, inner, outLength, taps, ref table, fill);
        else if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) Lanes<Lanes256>(ref input, ref output, outer, length, inner, outLength, taps, ref table, fill);
        else if (System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated) Lanes<Lanes128>(ref input, ref output, outer, length, inner, outLength, taps, ref table, fill);
        else Lanes<Lanes1>(ref input, ref output, outer, length, inner, outLength, taps, ref table, fill);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Lanes<TLanes>(ref float input, ref float output, nint outer, int length, nint inner, int outLength, int taps, ref float table, float fill)
        where TLanes : struct, ILanes<TLanes>
    {
        int count = TLanes.Count;
        for (nint o = 0; o < outer; o++)
        {
            ref float x = ref Unsafe.Add(ref input, o * length * inner);
            ref float y = ref Unsafe.Add(ref output, o * outLength * inner);
            for (int j = 0; j < outLength; j++)
            {
                ref float pairs = ref Unsafe.Add(ref table, j * taps * 2);
                ref float row = ref Unsafe.Add(ref y, j * inner);
                nint i = 0;
                for (; i + count <= inner; i += count)
                {
                    TLanes acc = TLanes.Broadcast(0f);
                    for (int t = 0; t < taps; t++)
                    {
                        int index = Math.Min((int)Unsafe.Add(ref pairs, 2 * t), length - 1);
                        TLanes value = index < 0 ? TLanes.Broadcast(fill) : TLanes.Load(ref Unsafe.Add(ref x, index * inner + i));
                        acc = TLanes.MultiplyAdd(value, TLanes.Broadcast(Unsafe.Add(ref pairs, 2 * t + 1)), acc);
                    }
                    TLanes.Store(acc, ref Unsafe.Add(ref row, i));
                }
                for (; i < inner; i++)
                {
                    float acc = 0f;
                    for (int t = 0; t < taps; t++)
                    {
                        int index = Math.Min((int)Unsafe.Add(ref pairs, 2 * t), length - 1);
                        acc = float.MultiplyAddEstimate(index < 0 ? fill : Unsafe.Add(ref x, index * inner + i), Unsafe.Add(ref pairs, 2 * t + 1), acc);
                    }
                    Unsafe.Add(ref row, i) = acc;
                }
            }
        }
    }
}
