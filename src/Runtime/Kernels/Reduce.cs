using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Reductions over one axis of a row-major <c>[outer, reduce, inner]</c> view: ONNX's <c>Reduce*</c> operators, one axis at a
/// time (a reduction over several axes is several of these). Vectorized across <c>inner</c> when it is wide, across the
/// reduced values when <c>inner</c> is 1 (a reduction over the last axis), at the widest accelerated width.
/// </summary>
public static class Reduce
{
    /// <summary>Effectively computes <c>output[o, i] = kind over r of input[o, r, i]</c>; <paramref name="reduce"/> is at least 1.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float input, ref float output, nint outer, nint reduce, nint inner, ReduceKind kind)
    {
        switch (kind)
        {
            case ReduceKind.Mean: Widest<MeanOf>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.Sum: Widest<SumOf>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.Max: Widest<MaxOf>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.Min: Widest<MinOf>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.Prod: Widest<ProdOf>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.SumSquare: Widest<SumSquareOf>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.L1: Widest<L1Of>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.L2: Widest<L2Of>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.LogSum: Widest<LogSumOf>(ref input, ref output, outer, reduce, inner); break;
            case ReduceKind.LogSumExp:
                // Computed from the largest value, so that no exponential overflows: max + log Σ e^(x − max).
                Widest<MaxOf>(ref input, ref output, outer, reduce, inner);
                LogSumExpFromMax(ref input, ref output, outer, reduce, inner);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a reduction.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Widest<TReduction>(ref float input, ref float output, nint outer, nint reduce, nint inner)
        where TReduction : struct, IReduction
    {
        if (Vector512.IsHardwareAccelerated) Lanes<TReduction, Lanes512>(ref input, ref output, outer, reduce, inner);
        else if (Vector256.IsHardwareAccelerated) Lanes<TReduction, Lanes256>(ref input, ref output, outer, reduce, inner);
        else if (Vector128.IsHardwareAccelerated) Lanes<TReduction, Lanes128>(ref input, ref output, outer, reduce, inner);
        else Lanes<TReduction, Lanes1>(ref input, ref output, outer, reduce, inner);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Lanes<TReduction, TLanes>(ref float input, ref float output, nint outer, nint reduce, nint inner)
        where TReduction : struct, IReduction
        where TLanes : struct, ILanes<TLanes>
    {
        int count = TLanes.Count;
        for (nint o = 0; o < outer; o++)
        {
            ref float x = ref Unsafe.Add(ref input, o * reduce * inner);
            ref float y = ref Unsafe.Add(ref output, o * inner);
            if (inner == 1)
            {
                // Along a contiguous row: lanes across the reduced values, then across the lanes.
                TLanes acc = TLanes.Broadcast(TReduction.Identity);
                nint r = 0;
                for (; r + count <= reduce; r += count) acc = TReduction.Combine(acc, TReduction.Map(TLanes.Load(ref Unsafe.Add(ref x, r))));
                float total = Across<TReduction, TLanes>(acc);
                for (; r < reduce; r++) total = TReduction.Combine(Lanes1.Broadcast(total), TReduction.Map(Lanes1.Broadcast(Unsafe.Add(ref x, r)))).First;
                y = TReduction.Finish(total, reduce);
                continue;
            }
            // Across inner: one lane per output value, the reduced values one after another.
            nint i = 0;
            for (; i + count <= inner; i += count)
            {
                TLanes acc = TLanes.Broadcast(TReduction.Identity);
                for (nint r = 0; r < reduce; r++) acc = TReduction.Combine(acc, TReduction.Map(TLanes.Load(ref Unsafe.Add(ref x, r * inner + i))));
                TLanes.Store(acc, ref Unsafe.Add(ref y, i));
                for (nint k = 0; k < count; k++) Unsafe.Add(ref y, i + k) = TReduction.Finish(Unsafe.Add(ref y, i + k), reduce);
            }
            for (; i < inner; i++)
            {
                Lanes1 acc = Lanes1.Broadcast(TReduction.Identity);
                for (nint r = 0; r < reduce; r++) acc = TReduction.Combine(acc, TReduction.Map(Lanes1.Broadcast(Unsafe.Add(ref x, r * inner + i))));
                Unsafe.Add(ref y, i) = TReduction.Finish(acc.First, reduce);
            }
        }
    }

    /// <summary>The lanes of <paramref name="acc"/> combined into one value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Across<TReduction, TLanes>(TLanes acc)
        where TReduction : struct, IReduction
        where TLanes : struct, ILanes<TLanes>
    {
        Span<float> lanes = stackalloc float[TLanes.Count];
        TLanes.Store(acc, ref lanes[0]);
        Lanes1 total = Lanes1.Broadcast(lanes[0]);
        for (int k = 1; k < lanes.Length; k++) total = TReduction.Combine(total, Lanes1.Broadcast(lanes[k]));
        return total.First;
    }

    /// <summary>With the maxima in <paramref name="output"/>: <c>max + log Σ e^(x − max)</c>; an infinite or NaN maximum is the result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LogSumExpFromMax(ref float input, ref float output, nint outer, nint reduce, nint inner)
    {
        if (Vector512.IsHardwareAccelerated) LogSumExp<Lanes512>(ref input, ref output, outer, reduce, inner);
        else if (Vector256.IsHardwareAccelerated) LogSumExp<Lanes256>(ref input, ref output, outer, reduce, inner);
        else if (Vector128.IsHardwareAccelerated) LogSumExp<Lanes128>(ref input, ref output, outer, reduce, inner);
        else LogSumExp<Lanes1>(ref input, ref output, outer, reduce, inner);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LogSumExp<TLanes>(ref float input, ref float output, nint outer, nint reduce, nint inner)
        where TLanes : struct, ILanes<TLanes>
    {
        int count = TLanes.Count;
        Span<float> sums = stackalloc float[count];
        for (nint o = 0; o < outer; o++)
        {
            ref float x = ref Unsafe.Add(ref input, o * reduce * inner);
            ref float y = ref Unsafe.Add(ref output, o * inner);
            nint i = 0;
            if (inner == 1)
            {
                float max = y;
                if (!float.IsFinite(max)) continue;
                TLanes m = TLanes.Broadcast(-max), acc = TLanes.Broadcast(0f);
                nint r = 0;
                for (; r + count <= reduce; r += count) acc = TLanes.Add(acc, TLanes.Exp(TLanes.Add(TLanes.Load(ref Unsafe.Add(ref x, r)), m)));
                float sum = TLanes.Sum(acc);
                for (; r < reduce; r++) sum += MathF.Exp(Unsafe.Add(ref x, r) - max);
                y = max + MathF.Log(sum);
                continue;
            }
            for (; i + count <= inner; i += count)
            {
                // Maxima that are not finite give NaN here and are put back below.
                TLanes m = TLanes.Multiply(TLanes.Load(ref Unsafe.Add(ref y, i)), TLanes.Broadcast(-1f)), acc = TLanes.Broadcast(0f);
                for (nint r = 0; r < reduce; r++) acc = TLanes.Add(acc, TLanes.Exp(TLanes.Add(TLanes.Load(ref Unsafe.Add(ref x, r * inner + i)), m)));
                TLanes.Store(acc, ref sums[0]);
                for (int k = 0; k < count; k++)
                {
                    ref float value = ref Unsafe.Add(ref y, i + k);
                    if (float.IsFinite(value)) value += MathF.Log(sums[k]);
                }
            }
            for (; i < inner; i++)
            {
                ref float value = ref Unsafe.Add(ref y, i);
                float max = value;
                if (!float.IsFinite(max)) continue;
                float sum = 0f;
                for (nint r = 0; r < reduce; r++) sum += MathF.Exp(Unsafe.Add(ref x, r * inner + i) - max);
                value = max + MathF.Log(sum);
            }
        }
    }

    /// <summary>A reduction: each value mapped, combined from an identity, and the total finished (a mean divides, L2 takes the root).</summary>
    private interface IReduction
    {
        static abstract float Identity { get; }
        static abstract TLanes Map<TLanes>(TLanes value) where TLanes : struct, ILanes<TLanes>;
        static abstract TLanes Combine<TLanes>(TLanes a, TLanes b) where TLanes : struct, ILanes<TLanes>;
        static abstract float Finish(float total, nint count);
    }

    private readonly struct SumOf : IReduction
    {
        public static float Identity => 0f;
        public static T Map<T>(T value) where T : struct, ILanes<T> => value;
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Add(a, b);
        public static float Finish(float total, nint count) => total;
    }

    private readonly struct MeanOf : IReduction
    {
        public static float Identity => 0f;
        public static T Map<T>(T value) where T : struct, ILanes<T> => value;
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Add(a, b);
        public static float Finish(float total, nint count) => total * (1f / count);
    }

    private readonly struct MaxOf : IReduction
    {
        public static float Identity => float.NegativeInfinity;
        public static T Map<T>(T value) where T : struct, ILanes<T> => value;
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Max(a, b);
        public static float Finish(float total, nint count) => total;
    }

    private readonly struct MinOf : IReduction
    {
        public static float Identity => float.PositiveInfinity;
        public static T Map<T>(T value) where T : struct, ILanes<T> => value;
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Min(a, b);
        public static float Finish(float total, nint count) => total;
    }

    private readonly struct ProdOf : IReduction
    {
        public static float Identity => 1f;
        public static T Map<T>(T value) where T : struct, ILanes<T> => value;
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Multiply(a, b);
        public static float Finish(float total, nint count) => total;
    }

    private readonly struct SumSquareOf : IReduction
    {
        public static float Identity => 0f;
        public static T Map<T>(T value) where T : struct, ILanes<T> => T.Multiply(value, value);
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Add(a, b);
        public static float Finish(float total, nint count) => total;
    }

    private readonly struct L1Of : IReduction
    {
        public static float Identity => 0f;
        public static T Map<T>(T value) where T : struct, ILanes<T> => T.Abs(value);
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Add(a, b);
        public static float Finish(float total, nint count) => total;
    }

    private readonly struct L2Of : IReduction
    {
        public static float Identity => 0f;
        public static T Map<T>(T value) where T : struct, ILanes<T> => T.Multiply(value, value);
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Add(a, b);
        public static float Finish(float total, nint count) => MathF.Sqrt(total);
    }

    private readonly struct LogSumOf : IReduction
    {
        public static float Identity => 0f;
        public static T Map<T>(T value) where T : struct, ILanes<T> => value;
        public static T Combine<T>(T a, T b) where T : struct, ILanes<T> => T.Add(a, b);
        public static float Finish(float total, nint count) => MathF.Log(total);
    }
}
