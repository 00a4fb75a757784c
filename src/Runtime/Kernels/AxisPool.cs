using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelCompiler.Kernels;

/// <summary>
/// Max or average pooling along one axis of a row-major <c>[outer, length, inner]</c> view, with any window, stride,
/// padding and dilation: ONNX's MaxPool and AveragePool in 1-D, 3-D, with rectangular windows, per-axis strides,
/// asymmetric pads, dilations or <c>count_include_pad = 0</c> are one pass of this per spatial axis. A window's maximum
/// is the maximum of maxima along each axis, and an average's divisor is the product of the taps counted along each
/// axis, so the passes compose exactly. (The square 2-D pools keep <see cref="Convolution.MaxPool2d"/>.) Vectorized
/// across <c>inner</c>, one window tap after another; along the last axis (<c>inner</c> = 1) the taps of each output
/// are read one by one. Only positions inside <c>[0, length)</c> are read: padding is −∞ for the maximum and 0 for a sum.
/// </summary>
public static class AxisPool
{
    /// <summary>
    /// <c>output[o, j, i] = max (or average) over taps t of input[o, j·stride − padBegin + t·dilation, i]</c>, the average
    /// dividing by the number of taps inside <c>[countFrom, countTo)</c> (the padded extent when padding counts, else
    /// <c>[0, length)</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(ref float input, ref float output, nint outer, int length, nint inner, int window, int stride, int padBegin,
        int dilation, int outLength, bool max, int countFrom, int countTo, KernelWorkers? workers = null)
    {
        if (max && inner == 1 && window == 2 && stride == 2 && padBegin == 0 && (long)length == 2L * outLength)
        {
            // Pairs along the last axis (a [1, 2] max pool's pass): rows of whole pairs follow each other, so the tensor is
            // one run of pairs, taken eight at a time.
            PairMaxima(ref input, ref output, outer * outLength);
            return;
        }
        workers = KernelWorkers.For(workers, outer * outLength * inner * window);
        if (workers is not null)
        {
            // Shared among threads by runs of the outer dimension (pinned: the parts hold pointers).
            fixed (float* from = &input, to = &output)
            {
                var runs = new OuterRuns
                {
                    Input = from, Output = to, Length = length, Inner = inner, Window = window, Stride = stride, PadBegin = padBegin,
                    Dilation = dilation, OutLength = outLength, Max = max, CountFrom = countFrom, CountTo = countTo,
                };
                KernelWorkers.Split(workers, checked((int)outer), runs, null, 0);
            }
            return;
        }
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
            Lanes<Lanes512>(ref input, ref output, outer, length, inner, window, stride, padBegin, dilation, outLength, max, countFrom, countTo);
        else if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            Lanes<Lanes256>(ref input, ref output, outer, length, inner, window, stride, padBegin, dilation, outLength, max, countFrom, countTo);
        else if (System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)
            Lanes<Lanes128>(ref input, ref output, outer, length, inner, window, stride, padBegin, dilation, outLength, max, countFrom, countTo);
        else Lanes<Lanes1>(ref input, ref output, outer, length, inner, window, stride, padBegin, dilation, outLength, max, countFrom, countTo);
    }

    /// <summary>
    /// <c>output[k] = max(input[2k], input[2k + 1])</c> for k &lt; <paramref name="count"/>: with AVX2 the even and odd lanes of
    /// two loads (in each 128-bit half, then put in order), the same maxima as the scalar loop (NaN-propagating).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PairMaxima(ref float input, ref float output, nint count)
    {
        nint k = 0;
        if (Avx2.IsSupported)
        {
            for (; k + 8 <= count; k += 8)
            {
                Vector256<float> a = Vector256.LoadUnsafe(ref input, (nuint)(2 * k)), b = Vector256.LoadUnsafe(ref input, (nuint)(2 * k + 8));
                Vector256<float> pairs = Vector256.Max(Avx.Shuffle(a, b, 0b10_00_10_00), Avx.Shuffle(a, b, 0b11_01_11_01));
                Avx2.Permute4x64(pairs.AsDouble(), 0b11_01_10_00).AsSingle().StoreUnsafe(ref output, (nuint)k);
            }
        }
        for (; k < count; k++) Unsafe.Add(ref output, k) = MathF.Max(Unsafe.Add(ref input, 2 * k), Unsafe.Add(ref input, 2 * k + 1));
    }

    /// <summary>Outer indices <c>[first, last)</c> of a shared pool: the one-thread kernel over that run.</summary>
    private unsafe struct OuterRuns : KernelWorkers.IChunks
    {
        public float* Input, Output;
        public int Length, Window, Stride, PadBegin, Dilation, OutLength, CountFrom, CountTo;
        public nint Inner;
        public bool Max;

        public readonly void Run(int first, int last, float* scratch) =>
            AxisPool.Run(ref *(Input + first * Length * Inner), ref *(Output + first * OutLength * Inner), last - first, Length, Inner, Window, Stride,
                PadBegin, Dilation, OutLength, Max, CountFrom, CountTo);
    }

    /// <summary>The taps t in [0, window) whose positions start + t·dilation lie in [low, high): first and last (last &lt; first when none).</summary>
    private static (int First, int Last) Taps(int start, int low, int high, int window, int dilation)
    {
        int first = Math.Max(0, CeilingDivide(low - start, dilation));
        int last = Math.Min(window - 1, FloorDivide(high - 1 - start, dilation));
        return (first, last);
    }

    private static int FloorDivide(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    private static int CeilingDivide(int a, int b) => -FloorDivide(-a, b);

    private static long FloorDivide(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    private static long CeilingDivide(long a, long b) => -FloorDivide(-a, b);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Lanes<TLanes>(ref float input, ref float output, nint outer, int length, nint inner, int window, int stride, int padBegin,
        int dilation, int outLength, bool max, int countFrom, int countTo)
        where TLanes : struct, ILanes<TLanes>
    {
        int count = TLanes.Count;
        // The outputs whose every tap is inside the input, and inside [countFrom, countTo) for an average: all their taps
        // count, found once here instead of by two divisions per output (most outputs, along a last axis read one by one).
        long reach = (long)(window - 1) * dilation;
        bool countsEveryTap = max || (countFrom <= 0 && countTo >= length); // inside the input is inside the count range
        long interiorFrom = CeilingDivide((long)padBegin, stride);
        long interiorTo = countsEveryTap ? FloorDivide(length - 1 - reach + padBegin, stride) : -1; // inclusive
        float interiorScale = 1f / window;
        for (nint o = 0; o < outer; o++)
        {
            ref float x = ref Unsafe.Add(ref input, o * length * inner);
            ref float y = ref Unsafe.Add(ref output, o * outLength * inner);
            for (int j = 0; j < outLength; j++)
            {
                int start = j * stride - padBegin;
                // The taps inside the input, t from first to last (positions start + t·dilation in [0, length)), and for an
                // average the number inside [countFrom, countTo): each a range of t, found by division, not by a scan.
                int first = 0, last = window - 1;
                float scale = interiorScale;
                if (j < interiorFrom || j > interiorTo)
                {
                    (first, last) = Taps(start, 0, length, window, dilation);
                    scale = 1f;
                    if (!max)
                    {
                        (int from, int to) = Taps(start, countFrom, countTo, window, dilation);
                        scale = 1f / Math.Max(to - from + 1, 1);
                    }
                }
                ref float row = ref Unsafe.Add(ref y, j * inner);
                nint i = 0;
                for (; i + count <= inner; i += count)
                {
                    TLanes acc = TLanes.Broadcast(max ? float.NegativeInfinity : 0f);
                    for (int t = first; t <= last; t++)
                    {
                        TLanes value = TLanes.Load(ref Unsafe.Add(ref x, (start + t * dilation) * inner + i));
                        acc = max ? TLanes.Max(acc, value) : TLanes.Add(acc, value);
                    }
                    TLanes.Store(max ? acc : TLanes.Multiply(acc, TLanes.Broadcast(scale)), ref Unsafe.Add(ref row, i));
                }
                for (; i < inner; i++)
                {
                    float acc = max ? float.NegativeInfinity : 0f;
                    for (int t = first; t <= last; t++)
                    {
                        float value = Unsafe.Add(ref x, (start + t * dilation) * inner + i);
                        acc = max ? MathF.Max(acc, value) : acc + value;
                    }
                    Unsafe.Add(ref row, i) = max ? acc : acc * scale;
                }
            }
        }
    }
}
