using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// Convolution as an implicit GEMM over output channels: the weights are packed like a Linear's (16-channel panels,
/// <see cref="PanelLayout"/>), each vector of accumulators holds consecutive output channels of one output position, and
/// eight positions are computed at once, so each weight vector loaded feeds eight multiply-adds whose other operand is
/// one input value broadcast straight from the zero-padded input planes. Nothing is gathered into patches (im2col);
/// the results are transposed into <c>[channels, height, width]</c> as they are stored. Any stride and dilation; chosen
/// at build time for layers whose output channels fill the panels.
/// </summary>
public static class PanelConvolution
{
    /// <summary>Positions computed at once.</summary>
    private const int Tile = 8;

    /// <summary>Scratch floats <see cref="Run{TEpilogue}"/> needs: one sample's zero-padded input planes, then one tile of results.</summary>
    public static int ScratchFloats(int channels, int height, int width, int padding, int verticalPadding) =>
        channels * (height + 2 * verticalPadding) * (width + 2 * padding) + Tile * PanelLayout.PanelWidth;

    /// <summary>
    /// Effectively computes PyTorch's <c>conv2d</c> (groups 1, zero padding) followed by <typeparamref name="TEpilogue"/>:
    /// <c>out[o, y, x] = bias[o] + Σ w[o, c, u, v] · in[c, y·s − p + u·d, x·s − p + v·d]</c>, summed over c, then u, then v.
    /// <paramref name="packedWeights"/> are the <c>[out, c·kh·kw]</c> filters in 16-column panels; <paramref name="paddedBias"/>
    /// is padded to whole panels. <c>geometry</c> is as for <see cref="Convolution.Conv2d{TEpilogue}"/> (groups must be 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(ref float input, ref float output, nint samples, ReadOnlySpan<int> geometry,
        ref float packedWeights, ref float paddedBias, ref float scratch)
        where TEpilogue : struct, IUnaryOperator
    {
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Core<TEpilogue, Lanes512>(ref input, ref output, samples, geometry, ref packedWeights, ref paddedBias, ref scratch);
        else if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) Core<TEpilogue, Lanes256>(ref input, ref output, samples, geometry, ref packedWeights, ref paddedBias, ref scratch);
        else if (System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated) Core<TEpilogue, Lanes128>(ref input, ref output, samples, geometry, ref packedWeights, ref paddedBias, ref scratch);
        else Core<TEpilogue, Lanes1>(ref input, ref output, samples, geometry, ref packedWeights, ref paddedBias, ref scratch);
    }

    private static void Core<TEpilogue, TLanes>(ref float input, ref float output, nint samples, ReadOnlySpan<int> geometry,
        ref float packedWeights, ref float paddedBias, ref float scratch)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        int c = geometry[0], h = geometry[1], w = geometry[2], outC = geometry[3], kh = geometry[4], kw = geometry[5];
        int stride = geometry[6], padding = geometry[7], dilation = geometry[8], oh = geometry[9], ow = geometry[10], padTop = geometry[12];
        int lanes = TLanes.Count, ph = h + 2 * padTop, pw = w + 2 * padding, k = c * kh * kw, plane = oh * ow;
        const int panelWidth = PanelLayout.PanelWidth;
        int panels = (outC + panelWidth - 1) / panelWidth;
        ref float tile = ref Unsafe.Add(ref scratch, c * ph * pw);
        MemoryMarshal.CreateSpan(ref scratch, c * ph * pw).Clear(); // the borders stay zero for every sample
        for (nint n = 0; n < samples; n++)
        {
            for (int i = 0; i < c; i++)
            for (int y = 0; y < h; y++)
            {
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref input, ((n * c + i) * h + y) * w), w)
                    .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref scratch, (i * ph + y + padTop) * pw + padding), w));
            }
            ref float result = ref Unsafe.Add(ref output, n * outC * plane);
            for (int p0 = 0; p0 < plane; p0 += Tile)
            {
                // Where each of the tile's positions starts reading in the padded planes (past the last, the last again).
                int valid = Math.Min(Tile, plane - p0);
                ref float r0 = ref Unsafe.Add(ref scratch, Origin(p0, plane, ow, stride, pw));
                ref float r1 = ref Unsafe.Add(ref scratch, Origin(p0 + 1, plane, ow, stride, pw));
                ref float r2 = ref Unsafe.Add(ref scratch, Origin(p0 + 2, plane, ow, stride, pw));
                ref float r3 = ref Unsafe.Add(ref scratch, Origin(p0 + 3, plane, ow, stride, pw));
                ref float r4 = ref Unsafe.Add(ref scratch, Origin(p0 + 4, plane, ow, stride, pw));
                ref float r5 = ref Unsafe.Add(ref scratch, Origin(p0 + 5, plane, ow, stride, pw));
                ref float r6 = ref Unsafe.Add(ref scratch, Origin(p0 + 6, plane, ow, stride, pw));
                ref float r7 = ref Unsafe.Add(ref scratch, Origin(p0 + 7, plane, ow, stride, pw));
                for (int panel = 0; panel < panels; panel++)
                for (int sub = 0; sub < panelWidth; sub += lanes)
                {
                    ref float weights = ref Unsafe.Add(ref packedWeights, panel * k * panelWidth + sub);
                    TLanes bias = TLanes.Load(ref Unsafe.Add(ref paddedBias, panel * panelWidth + sub));
                    TLanes a0 = bias, a1 = bias, a2 = bias, a3 = bias, a4 = bias, a5 = bias, a6 = bias, a7 = bias;
                    int t = 0;
                    for (int i = 0; i < c; i++)
                    for (int u = 0; u < kh; u++)
                    {
                        int row = (i * ph + u * dilation) * pw;
                        for (int v = 0; v < kw; v++, t++)
                        {
                            int at = row + v * dilation;
                            TLanes wv = TLanes.Load(ref Unsafe.Add(ref weights, t * panelWidth));
                            a0 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref r0, at)), wv, a0);
                            a1 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref r1, at)), wv, a1);
                            a2 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref r2, at)), wv, a2);
                            a3 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref r3, at)), wv, a3);
                            a4 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref r4, at)), wv, a4);
                            a5 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref r5, at)), wv, a5);
                            a6 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref r6, at)), wv, a6);
                            a7 = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref r7, at)), wv, a7);
                        }
                    }
                    // Through the epilogue into [position][channel], then transposed into the output planes.
                    TLanes.Store(TLanes.Apply<TEpilogue>(a0), ref tile);
                    TLanes.Store(TLanes.Apply<TEpilogue>(a1), ref Unsafe.Add(ref tile, lanes));
                    TLanes.Store(TLanes.Apply<TEpilogue>(a2), ref Unsafe.Add(ref tile, 2 * lanes));
                    TLanes.Store(TLanes.Apply<TEpilogue>(a3), ref Unsafe.Add(ref tile, 3 * lanes));
                    TLanes.Store(TLanes.Apply<TEpilogue>(a4), ref Unsafe.Add(ref tile, 4 * lanes));
                    TLanes.Store(TLanes.Apply<TEpilogue>(a5), ref Unsafe.Add(ref tile, 5 * lanes));
                    TLanes.Store(TLanes.Apply<TEpilogue>(a6), ref Unsafe.Add(ref tile, 6 * lanes));
                    TLanes.Store(TLanes.Apply<TEpilogue>(a7), ref Unsafe.Add(ref tile, 7 * lanes));
                    int first = panel * panelWidth + sub, channels = Math.Min(lanes, outC - first);
                    for (int l = 0; l < channels; l++)
                    {
                        ref float destination = ref Unsafe.Add(ref result, (first + l) * plane + p0);
                        for (int j = 0; j < valid; j++) Unsafe.Add(ref destination, j) = Unsafe.Add(ref tile, j * lanes + l);
                    }
                }
            }
        }
    }

    /// <summary>Offset in the padded planes of output position <paramref name="position"/>'s first tap (past the plane's end, its last position's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Origin(int position, int plane, int ow, int stride, int pw)
    {
        position = Math.Min(position, plane - 1);
        return position / ow * stride * pw + position % ow * stride;
    }
}
