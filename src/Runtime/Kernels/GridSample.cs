using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelCompiler.Kernels;

/// <summary>
/// ONNX GridSample (opset 16 and 20, 2-D; PyTorch's <c>grid_sample</c>, whose CPU kernel ONNX's reference follows):
/// for each of <c>pairs</c> inputs <c>[channels, height, width]</c> and grids <c>[outHeight, outWidth, 2]</c> of (x, y) in
/// [−1, 1], output pixel p of every channel interpolates the input at the grid's point p. A data-dependent gather: the
/// taps (offsets into a plane, weights) are computed once per output position for a block of eight positions, then each
/// channel sums its taps — eight positions at a time with AVX2's gather where the CPU has it, one by one elsewhere.
/// A tap outside the input has weight 0 and reads offset 0, so no grid value (NaN, ±∞, huge) reads out of bounds.
/// </summary>
public static class GridSample
{
    private const int Block = 8, MaxTaps = 16;

    /// <summary>Runs GridSample over <paramref name="pairs"/> (input, grid) pairs laid out one after another.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run(ref float input, ref float grid, ref float output, nint pairs, int channels, int height, int width,
        int outHeight, int outWidth, GridSampleMode mode, GridSamplePadding padding, bool alignCorners)
    {
        int positions = outHeight * outWidth, plane = height * width;
        int taps = mode switch { GridSampleMode.Nearest => 1, GridSampleMode.Linear => 4, _ => 16 };
        // Tap t of lane q at [t · Block + q]: one vector of offsets and one of weights per tap.
        int* offsets = stackalloc int[MaxTaps * Block];
        float* weights = stackalloc float[MaxTaps * Block];
        for (nint n = 0; n < pairs; n++)
        {
            ref float x = ref Unsafe.Add(ref input, n * channels * plane);
            ref float g = ref Unsafe.Add(ref grid, n * positions * 2);
            ref float y = ref Unsafe.Add(ref output, n * channels * positions);
            for (int start = 0; start < positions; start += Block)
            {
                int count = Math.Min(Block, positions - start);
                for (int q = 0; q < Block; q++)
                {
                    if (q < count)
                        Taps(Unsafe.Add(ref g, 2 * (start + q)), Unsafe.Add(ref g, 2 * (start + q) + 1), height, width, mode, padding, alignCorners, offsets + q, weights + q);
                    else
                        for (int t = 0; t < taps; t++) (offsets[t * Block + q], weights[t * Block + q]) = (0, 0f);
                }
                for (int c = 0; c < channels; c++)
                {
                    ref float source = ref Unsafe.Add(ref x, (nint)c * plane);
                    ref float row = ref Unsafe.Add(ref y, (nint)c * positions + start);
                    if (Avx2.IsSupported && count == Block)
                    {
                        fixed (float* s = &source)
                        {
                            Vector256<float> acc = Vector256<float>.Zero;
                            for (int t = 0; t < taps; t++)
                            {
                                Vector256<float> values = Avx2.GatherVector256(s, Avx.LoadVector256(offsets + t * Block), 4);
                                acc = Vector256.MultiplyAddEstimate(values, Avx.LoadVector256(weights + t * Block), acc);
                            }
                            acc.StoreUnsafe(ref row);
                        }
                        continue;
                    }
                    for (int q = 0; q < count; q++)
                    {
                        float sum = 0f;
                        for (int t = 0; t < taps; t++) sum = float.MultiplyAddEstimate(Unsafe.Add(ref source, offsets[t * Block + q]), weights[t * Block + q], sum);
                        Unsafe.Add(ref row, q) = sum;
                    }
                }
            }
        }
    }

    /// <summary>One output position's taps: an offset into the plane and a weight each, <see cref="Block"/> apart.</summary>
    private static unsafe void Taps(float gx, float gy, int height, int width, GridSampleMode mode, GridSamplePadding padding, bool alignCorners, int* offsets, float* weights)
    {
        float ix = GridSampling.Unnormalize(gx, width, alignCorners), iy = GridSampling.Unnormalize(gy, height, alignCorners);
        switch (mode)
        {
            case GridSampleMode.Nearest:
            {
                ix = GridSampling.Source(ix, width, padding, alignCorners);
                iy = GridSampling.Source(iy, height, padding, alignCorners);
                Tap(GridSampling.RoundHalfEven(ix), GridSampling.RoundHalfEven(iy), 1f, height, width, offsets, weights);
                break;
            }
            case GridSampleMode.Linear:
            {
                ix = GridSampling.Source(ix, width, padding, alignCorners);
                iy = GridSampling.Source(iy, height, padding, alignCorners);
                float x0 = MathF.Floor(ix), y0 = MathF.Floor(iy), tx = ix - x0, ty = iy - y0;
                Tap(x0, y0, (1f - tx) * (1f - ty), height, width, offsets, weights);
                Tap(x0 + 1f, y0, tx * (1f - ty), height, width, offsets + Block, weights + Block);
                Tap(x0, y0 + 1f, (1f - tx) * ty, height, width, offsets + 2 * Block, weights + 2 * Block);
                Tap(x0 + 1f, y0 + 1f, tx * ty, height, width, offsets + 3 * Block, weights + 3 * Block);
                break;
            }
            default:
            {
                // Bicubic: the 4×4 neighbours of the unpadded point, each moved inside by the padding mode on its own.
                float x0 = MathF.Floor(ix), y0 = MathF.Floor(iy), tx = ix - x0, ty = iy - y0;
                for (int j = 0; j < 4; j++)
                {
                    float yy = GridSampling.Source(y0 - 1 + j, height, padding, alignCorners), wy = GridSampling.CubicWeight(j, ty);
                    for (int i = 0; i < 4; i++)
                    {
                        float xx = GridSampling.Source(x0 - 1 + i, width, padding, alignCorners);
                        Tap(MathF.Truncate(xx), MathF.Truncate(yy), GridSampling.CubicWeight(i, tx) * wy, height, width, offsets + (j * 4 + i) * Block, weights + (j * 4 + i) * Block);
                    }
                }
                break;
            }
        }
    }

    /// <summary>A tap at whole pixel (x, y): its offset and weight, or offset 0 and weight 0 outside the input.</summary>
    private static unsafe void Tap(float x, float y, float weight, int height, int width, int* offset, float* w)
    {
        // Compared as floats first: NaN and values past int's range never pass.
        bool inside = x >= 0f && x < width && y >= 0f && y < height;
        *offset = inside ? (int)y * width + (int)x : 0;
        *w = inside ? weight : 0f;
    }
}
