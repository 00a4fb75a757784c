using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelCompiler.Kernels;

/// <summary>
/// Moves values without computing: transpose, permute, slice and concatenation are one strided copy each (a
/// concatenation is one per operand, into its part of the output).
/// </summary>
public static class Strided
{
    /// <summary>
    /// Effectively computes <c>destination[r·dStrides[0] + i·dStrides[1..]] = source[r·sStrides[0] + i·sStrides[1..]]</c>
    /// for every row <c>r &lt; rows</c> and every index <c>i</c> of <paramref name="shape"/> (strides in floats, the
    /// per-sample stride first). Where the innermost dimension is contiguous on both sides it is copied as a block.
    /// The two must not overlap.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Copy(ref float source, ReadOnlySpan<int> sourceStrides, ref float destination, ReadOnlySpan<int> destinationStrides,
        nint rows, ReadOnlySpan<int> shape, KernelWorkers? workers = null)
    {
        nint perSample = 1;
        foreach (int d in shape) perSample *= d;
        workers = shape.Length == 0 ? null : KernelWorkers.For(workers, rows * perSample);
        if (workers is not null)
        {
            // Shared among threads by runs of the outermost dimension (of every row): pinned, as the parts hold pointers.
            fixed (float* from = &source, to = &destination)
            fixed (int* fromStrides = sourceStrides, toStrides = destinationStrides, dims = shape)
            {
                var outer = new Outer { Source = from, Destination = to, SourceStrides = fromStrides, DestinationStrides = toStrides, Shape = dims, Dims = shape.Length };
                KernelWorkers.Split(workers, checked((int)(rows * shape[0])), outer, null, 0);
            }
            return;
        }
        for (nint r = 0; r < rows; r++)
        {
            Dimension(ref Unsafe.Add(ref source, r * sourceStrides[0]), sourceStrides.Slice(1),
                ref Unsafe.Add(ref destination, r * destinationStrides[0]), destinationStrides.Slice(1), shape);
        }
    }

    /// <summary>
    /// Units <c>[first, last)</c> of a shared copy, unit u being row u / shape[0]'s index u % shape[0] of the outermost
    /// dimension: consecutive units of one row go to <see cref="Dimension"/> as one run.
    /// </summary>
    private unsafe struct Outer : KernelWorkers.IChunks
    {
        public float* Source, Destination;
        public int* SourceStrides, DestinationStrides, Shape;
        public int Dims;

        public readonly void Run(int first, int last, float* scratch)
        {
            var sourceStrides = new ReadOnlySpan<int>(SourceStrides, Dims + 1);
            var destinationStrides = new ReadOnlySpan<int>(DestinationStrides, Dims + 1);
            Span<int> run = stackalloc int[Dims];
            new ReadOnlySpan<int>(Shape, Dims).CopyTo(run);
            int outer = run[0];
            for (int u = first; u < last;)
            {
                int r = u / outer, i = u % outer, count = Math.Min(last - u, outer - i);
                run[0] = count;
                Dimension(ref *(Source + r * (nint)sourceStrides[0] + i * (nint)sourceStrides[1]), sourceStrides.Slice(1),
                    ref *(Destination + r * (nint)destinationStrides[0] + i * (nint)destinationStrides[1]), destinationStrides.Slice(1), run);
                u += count;
            }
        }
    }

    /// <summary>Innermost rows shorter than this are copied in one flat loop with the dimension before them.</summary>
    private const int ShortRow = 8;

    /// <summary>
    /// Two contiguous rows <paramref name="gap"/> apart interleaved into one (a 2× DepthToSpace's or a stride-2 ConvTranspose's
    /// column interleave): <c>destination[2i + j] = source[i + j·gap]</c> four pairs at a time (unpcklps and unpckhps, or
    /// zip1 and zip2). Returns how many pairs it wrote; the caller writes the rest.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint Interleave(ref float source, nint gap, ref float destination, nint pairs)
    {
        nint i = 0;
        if (Sse.IsSupported)
        {
            for (; i + 4 <= pairs; i += 4)
            {
                Vector128<float> even = Vector128.LoadUnsafe(ref source, (nuint)i), odd = Vector128.LoadUnsafe(ref source, (nuint)(i + gap));
                Sse.UnpackLow(even, odd).StoreUnsafe(ref destination, (nuint)(2 * i));
                Sse.UnpackHigh(even, odd).StoreUnsafe(ref destination, (nuint)(2 * i + 4));
            }
        }
        else if (AdvSimd.Arm64.IsSupported)
        {
            for (; i + 4 <= pairs; i += 4)
            {
                Vector128<float> even = Vector128.LoadUnsafe(ref source, (nuint)i), odd = Vector128.LoadUnsafe(ref source, (nuint)(i + gap));
                AdvSimd.Arm64.ZipLow(even, odd).StoreUnsafe(ref destination, (nuint)(2 * i));
                AdvSimd.Arm64.ZipHigh(even, odd).StoreUnsafe(ref destination, (nuint)(2 * i + 4));
            }
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dimension(ref float source, ReadOnlySpan<int> sourceStrides, ref float destination, ReadOnlySpan<int> destinationStrides,
        ReadOnlySpan<int> shape)
    {
        if (shape.Length == 0)
        {
            destination = source;
            return;
        }
        if (shape.Length == 2 && shape[1] < ShortRow)
        {
            // Rows shorter than a vector (a DepthToSpace's or an upsampling's interleave): one flat loop, not a call per row.
            nint m = shape[0], n = shape[1], sm = sourceStrides[0], sn = sourceStrides[1], dm = destinationStrides[0], dn = destinationStrides[1];
            nint first = 0;
            if (n == 2 && sm == 1 && dm == 2 && dn == 1) first = Interleave(ref source, sn, ref destination, m);
            for (nint i = first; i < m; i++)
            {
                ref float from = ref Unsafe.Add(ref source, i * sm);
                ref float to = ref Unsafe.Add(ref destination, i * dm);
                for (nint j = 0; j < n; j++) Unsafe.Add(ref to, j * dn) = Unsafe.Add(ref from, j * sn);
            }
            return;
        }
        if (shape.Length == 1)
        {
            nint n = shape[0], s = sourceStrides[0], d = destinationStrides[0];
            if (s == 1 && d == 1)
            {
                MemoryMarshal.CreateReadOnlySpan(ref source, (int)n).CopyTo(MemoryMarshal.CreateSpan(ref destination, (int)n));
                return;
            }
            for (nint i = 0; i < n; i++) Unsafe.Add(ref destination, i * d) = Unsafe.Add(ref source, i * s);
            return;
        }
        for (nint i = 0; i < shape[0]; i++)
        {
            Dimension(ref Unsafe.Add(ref source, i * sourceStrides[0]), sourceStrides.Slice(1),
                ref Unsafe.Add(ref destination, i * destinationStrides[0]), destinationStrides.Slice(1), shape.Slice(1));
        }
    }
}
