using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// Stride-1 convolution computed directly in PyTorch's <c>[channels, height, width]</c> layout: each output row is
/// vectorized along its width, and four output channels at a time are kept in registers (two vectors of each), so
/// every input load feeds eight multiply-adds and nothing is gathered or transposed. The input is first copied into
/// zero-padded planes, so the inner loop has no bounds checks. Chosen at build time over the im2col GEMM
/// (<see cref="Convolution.Conv2d{TEpilogue}"/>) for layers with few output channels and wide rows, such as the
/// first layers of small CNNs, where a 16-wide output-channel panel would be mostly padding.
/// </summary>
public static class DirectConvolution
{
    /// <summary>Columns of zeros to the right of each padded row: two full vectors of the widest width may be read past its end.</summary>
    private const int Slack = 32;

    /// <summary>Scratch floats <see cref="Run{TEpilogue}"/> needs: one sample's zero-padded input planes.</summary>
    public static int ScratchFloats(int channels, int height, int width, int padding, int verticalPadding) =>
        channels * (height + 2 * verticalPadding) * (width + 2 * padding + Slack) + Slack;

    /// <summary>
    /// Effectively computes PyTorch's <c>conv2d</c> (stride 1, groups 1, zero padding, any dilation) followed by
    /// <typeparamref name="TEpilogue"/>: <c>out[o, y, x] = bias[o] + Σ w[o, c, u, v] · in[c, y − p + u·d, x − p + v·d]</c>, summed
    /// over c, then u, then v. <paramref name="weights"/> are <c>[out, c, kh, kw]</c> as PyTorch stores them; <paramref name="bias"/>
    /// has one value per output channel. <c>geometry</c> is as for <see cref="Convolution.Conv2d{TEpilogue}"/> (stride must be 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(ref float input, ref float output, nint samples, ReadOnlySpan<int> geometry,
        ref float weights, ref float bias, ref float scratch)
        where TEpilogue : struct, IUnaryOperator
    {
        if (Vector512.IsHardwareAccelerated) Core<TEpilogue, Lanes512>(ref input, ref output, samples, geometry, ref weights, ref bias, ref scratch);
        else if (Vector256.IsHardwareAccelerated) Core<TEpilogue, Lanes256>(ref input, ref output, samples, geometry, ref weights, ref bias, ref scratch);
        else if (Vector128.IsHardwareAccelerated) Core<TEpilogue, Lanes128>(ref input, ref output, samples, geometry, ref weights, ref bias, ref scratch);
        else Core<TEpilogue, Lanes1>(ref input, ref output, samples, geometry, ref weights, ref bias, ref scratch);
    }

    private static void Core<TEpilogue, TLanes>(ref float input, ref float output, nint samples, ReadOnlySpan<int> geometry,
        ref float weights, ref float bias, ref float scratch)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        int c = geometry[0], h = geometry[1], w = geometry[2], outC = geometry[3], kh = geometry[4], kw = geometry[5];
        int padding = geometry[7], dilation = geometry[8], oh = geometry[9], ow = geometry[10], padTop = geometry[12];
        int lanes = TLanes.Count, ph = h + 2 * padTop, pw = w + 2 * padding + Slack, taps = c * kh * kw, plane = oh * ow;
        // The borders stay zero for every sample; the scratch is shared with other kernels, so clear it once per call.
        MemoryMarshal.CreateSpan(ref scratch, c * ph * pw).Clear();
        // After the planes: room for two vectors, where a row's last, partial block is stored before its valid lanes are copied.
        ref float partial = ref Unsafe.Add(ref scratch, c * ph * pw);
        for (nint n = 0; n < samples; n++)
        {
            for (int i = 0; i < c; i++)
            for (int y = 0; y < h; y++)
            {
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref input, ((n * c + i) * h + y) * w), w)
                    .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref scratch, (i * ph + y + padTop) * pw + padding), w));
            }
            ref float result = ref Unsafe.Add(ref output, n * outC * plane);
            for (int o0 = 0; o0 < outC; o0 += 4)
            {
                // Four channels at a time; past the last channel the last one is computed again and not stored.
                int count = Math.Min(4, outC - o0);
                ref float w0 = ref Unsafe.Add(ref weights, o0 * taps);
                ref float w1 = ref Unsafe.Add(ref weights, Math.Min(o0 + 1, outC - 1) * taps);
                ref float w2 = ref Unsafe.Add(ref weights, Math.Min(o0 + 2, outC - 1) * taps);
                ref float w3 = ref Unsafe.Add(ref weights, Math.Min(o0 + 3, outC - 1) * taps);
                TLanes b0 = TLanes.Broadcast(Unsafe.Add(ref bias, o0)), b1 = TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 1, outC - 1)));
                TLanes b2 = TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 2, outC - 1))), b3 = TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 3, outC - 1)));
                // Each block is two vectors: side by side on one output row, or, when a row fits in one vector, the
                // same columns of two consecutive rows (so narrow rows do not leave most lanes idle).
                bool twoRows = ow <= lanes;
                for (int y = 0; y < oh; y += twoRows ? 2 : 1)
                for (int x0 = 0; x0 < ow; x0 += twoRows ? lanes : 2 * lanes)
                {
                    int yB = twoRows ? Math.Min(y + 1, oh - 1) : y, xB = twoRows ? x0 : x0 + lanes;
                    TLanes a00 = b0, a01 = b0, a10 = b1, a11 = b1, a20 = b2, a21 = b2, a30 = b3, a31 = b3;
                    int t = 0;
                    for (int i = 0; i < c; i++)
                    for (int u = 0; u < kh; u++)
                    {
                        ref float rowA = ref Unsafe.Add(ref scratch, (i * ph + y + u * dilation) * pw + x0);
                        ref float rowB = ref Unsafe.Add(ref scratch, (i * ph + yB + u * dilation) * pw + xB);
                        for (int v = 0; v < kw; v++, t++)
                        {
                            TLanes i0 = TLanes.Load(ref Unsafe.Add(ref rowA, v * dilation)), i1 = TLanes.Load(ref Unsafe.Add(ref rowB, v * dilation));
                            TLanes k = TLanes.Broadcast(Unsafe.Add(ref w0, t));
                            a00 = TLanes.MultiplyAdd(i0, k, a00); a01 = TLanes.MultiplyAdd(i1, k, a01);
                            k = TLanes.Broadcast(Unsafe.Add(ref w1, t));
                            a10 = TLanes.MultiplyAdd(i0, k, a10); a11 = TLanes.MultiplyAdd(i1, k, a11);
                            k = TLanes.Broadcast(Unsafe.Add(ref w2, t));
                            a20 = TLanes.MultiplyAdd(i0, k, a20); a21 = TLanes.MultiplyAdd(i1, k, a21);
                            k = TLanes.Broadcast(Unsafe.Add(ref w3, t));
                            a30 = TLanes.MultiplyAdd(i0, k, a30); a31 = TLanes.MultiplyAdd(i1, k, a31);
                        }
                    }
                    // Where the second vector goes, and how many of each vector's lanes are real outputs.
                    int validA = Math.Min(lanes, ow - x0), validB = twoRows ? (y + 1 < oh ? validA : 0) : Math.Max(0, Math.Min(lanes, ow - xB));
                    ref float atA = ref Unsafe.Add(ref result, o0 * plane + y * ow + x0);
                    ref float atB = ref Unsafe.Add(ref result, o0 * plane + yB * ow + xB);
                    Store<TEpilogue, TLanes>(a00, ref atA, validA, ref partial);
                    Store<TEpilogue, TLanes>(a01, ref atB, validB, ref partial);
                    if (count > 1)
                    {
                        Store<TEpilogue, TLanes>(a10, ref Unsafe.Add(ref atA, plane), validA, ref partial);
                        Store<TEpilogue, TLanes>(a11, ref Unsafe.Add(ref atB, plane), validB, ref partial);
                    }
                    if (count > 2)
                    {
                        Store<TEpilogue, TLanes>(a20, ref Unsafe.Add(ref atA, 2 * plane), validA, ref partial);
                        Store<TEpilogue, TLanes>(a21, ref Unsafe.Add(ref atB, 2 * plane), validB, ref partial);
                    }
                    if (count > 3)
                    {
                        Store<TEpilogue, TLanes>(a30, ref Unsafe.Add(ref atA, 3 * plane), validA, ref partial);
                        Store<TEpilogue, TLanes>(a31, ref Unsafe.Add(ref atB, 3 * plane), validB, ref partial);
                    }
                }
            }
        }
    }

    /// <summary>Stores the first <paramref name="valid"/> lanes of a vector, through the epilogue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TEpilogue, TLanes>(TLanes value, ref float destination, int valid, ref float partial)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        if (valid == TLanes.Count)
        {
            TLanes.Store(TLanes.Apply<TEpilogue>(value), ref destination);
            return;
        }
        TLanes.Store(TLanes.Apply<TEpilogue>(value), ref partial);
        for (int i = 0; i < valid; i++) Unsafe.Add(ref destination, i) = Unsafe.Add(ref partial, i);
    }
}
