using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>Convolution and pooling over samples laid out <c>[channels, height, width]</c> (PyTorch's NCHW).</summary>
public static class Convolution
{
    /// <summary>Scratch floats <see cref="Conv2d"/> needs: one sample's patches and its GEMM result.</summary>
    public static int ScratchFloats(int channels, int kh, int kw, int outHeight, int outWidth, int outChannels) =>
        outHeight * outWidth * (channels * kh * kw + outChannels);

    /// <summary>
    /// Effectively computes PyTorch's <c>conv2d</c> (groups = 1, zero padding) followed by <typeparamref name="TEpilogue"/>:
    /// per sample, the patches are gathered into rows (im2col, <c>[oh·ow, c·kh·kw]</c>), multiplied by the weights packed
    /// as a <c>[out, c·kh·kw]</c> Linear (<see cref="PackedLinear"/>, bias and epilogue fused), and the result is
    /// transposed back to <c>[out, oh, ow]</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Conv2d<TEpilogue>(ref float input, ref float output, nint samples, ReadOnlySpan<int> geometry,
        ref float packedWeights, ref float paddedBias, ref float scratch)
        where TEpilogue : struct, IUnaryOperator
    {
        // geometry: channels, height, width, outChannels, kh, kw, stride, padding, dilation, outHeight, outWidth
        int c = geometry[0], h = geometry[1], w = geometry[2], outC = geometry[3], kh = geometry[4], kw = geometry[5];
        int stride = geometry[6], padding = geometry[7], dilation = geometry[8], oh = geometry[9], ow = geometry[10];
        int k = c * kh * kw, positions = oh * ow;
        ref float patches = ref scratch;
        ref float product = ref Unsafe.Add(ref scratch, positions * k);
        for (nint n = 0; n < samples; n++)
        {
            ref float x = ref Unsafe.Add(ref input, n * c * h * w);
            for (int y = 0; y < oh; y++)
            for (int xo = 0; xo < ow; xo++)
            {
                ref float row = ref Unsafe.Add(ref patches, (y * ow + xo) * k);
                int column = 0;
                for (int i = 0; i < c; i++)
                for (int u = 0; u < kh; u++)
                {
                    int iy = y * stride - padding + u * dilation;
                    for (int v = 0; v < kw; v++, column++)
                    {
                        int ix = xo * stride - padding + v * dilation;
                        Unsafe.Add(ref row, column) = iy >= 0 && iy < h && ix >= 0 && ix < w ? Unsafe.Add(ref x, (i * h + iy) * w + ix) : 0f;
                    }
                }
            }
            PackedLinear.Run<TEpilogue>(ref patches, k, positions, ref packedWeights, ref paddedBias, k, outC, ref product, outC);
            ref float o = ref Unsafe.Add(ref output, n * outC * positions);
            for (int p = 0; p < positions; p++)
                for (int j = 0; j < outC; j++) Unsafe.Add(ref o, j * positions + p) = Unsafe.Add(ref product, p * outC + j);
        }
    }

    /// <summary>Effectively computes PyTorch's <c>max_pool2d</c> (padding counts as −∞) on <paramref name="planes"/> planes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void MaxPool2d(ref float input, ref float output, nint planes, int h, int w, int kernel, int stride, int padding, int oh, int ow)
    {
        for (nint p = 0; p < planes; p++)
        {
            ref float x = ref Unsafe.Add(ref input, p * h * w);
            ref float o = ref Unsafe.Add(ref output, p * oh * ow);
            for (int y = 0; y < oh; y++)
            for (int xo = 0; xo < ow; xo++)
            {
                float max = float.NegativeInfinity;
                for (int u = 0; u < kernel; u++)
                {
                    int iy = y * stride - padding + u;
                    if (iy < 0 || iy >= h) continue;
                    for (int v = 0; v < kernel; v++)
                    {
                        int ix = xo * stride - padding + v;
                        if (ix >= 0 && ix < w) max = MathF.Max(max, Unsafe.Add(ref x, iy * w + ix));
                    }
                }
                Unsafe.Add(ref o, y * ow + xo) = max;
            }
        }
    }

    /// <summary>Effectively computes the mean of each of <paramref name="planes"/> planes of <paramref name="area"/> values.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAvgPool(ref float input, ref float output, nint planes, int area)
    {
        for (nint p = 0; p < planes; p++)
        {
            float sum = 0f;
            ref float x = ref Unsafe.Add(ref input, p * area);
            for (int i = 0; i < area; i++) sum += Unsafe.Add(ref x, i);
            Unsafe.Add(ref output, p) = sum / area;
        }
    }
}
