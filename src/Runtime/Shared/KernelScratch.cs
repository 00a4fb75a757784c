// Compiled into both the runtime (each kernel's ScratchFloats) and the generator (which sizes the arena's fixed scratch
// at build time): one definition of how much scratch each kernel uses, and of the build-time choices a kernel reads back.
using System;

namespace ModelCompiler.Kernels;

/// <summary>Floats of fixed scratch each kernel needs, and the layout constants behind them.</summary>
internal static class KernelScratch
{
    /// <summary>DirectConvolution: columns of zeros right of each padded row (two full 512-bit vectors may be read past its end).</summary>
    public const int DirectSlack = 32;

    /// <summary>WinogradConvolution: floats of slack after each half row, so vector loads one tile further stay inside.</summary>
    public const int WinogradSlack = 16;

    /// <summary>Attention: keys per tile.</summary>
    public const int AttentionTile = 64;

    /// <summary>Attention: one head's keys transposed (rows padded to 16), its values side by side, one tile of scores.</summary>
    public static int Attention(int keys, int headSize, int valueSize) => headSize * ((keys + 15) / 16 * 16) + keys * valueSize + AttentionTile;

    /// <summary>
    /// im2col convolution: one group's patches <c>[c/g·kh·kw, oh·ow]</c> in 16-position panels; a zero bias as long as a
    /// panel row (the GEMM adds one; the kernel adds the real bias per output channel after); the group's input planes
    /// with their padding; and one int offset per position (of a whole panel).
    /// </summary>
    public static int Im2Col(int channels, int height, int width, int kh, int kw, int padding, int verticalPadding, int outHeight, int outWidth, int groups) =>
        PanelLayout.PaddedBiasLength(outHeight * outWidth) * (channels / groups * kh * kw + 2)
        + channels / groups * (height + 2 * verticalPadding) * (width + 2 * padding);

    /// <summary>
    /// Direct convolution: one sample's zero-padded input planes and two vectors for a partial store; with a fused pool,
    /// also one sample's unpooled output (used only by the scalar form).
    /// </summary>
    public static int Direct(int channels, int height, int width, int padding, int verticalPadding, int pooledOutput = 0) =>
        channels * (height + 2 * verticalPadding) * (width + 2 * padding + DirectSlack) + DirectSlack + pooledOutput;

    /// <summary>
    /// Direct convolution: output channels kept in registers, 8, 6 or 4, whichever computes fewest in vain, the larger on a
    /// tie (fewer passes over the input): 6 channels are one block of 6, 16 two of 8, 12 two of 6.
    /// </summary>
    public static int DirectChannelBlock(int outChannels)
    {
        int best = 8;
        foreach (int block in new[] { 6, 4 })
        {
            if (block * ((outChannels + block - 1) / block) < best * ((outChannels + best - 1) / best)) best = block;
        }
        return best;
    }

    /// <summary>Winograd: tiles per row rounded up to whole 16-column panels, and tile rows multiplied together (about 32 tiles: measured best).</summary>
    public static (int TilesPerRow, int RowsPerChunk) WinogradChunking(int outWidth)
    {
        int padded = ((outWidth + 1) / 2 + 15) / 16 * 16;
        return (padded, Math.Max(1, 32 / padded));
    }

    /// <summary>
    /// Winograd: the padded input with even and odd columns apart, the transformed input and the products for one chunk of
    /// tile rows, four rows of the vertical transform, zeros for the GEMM's bias, and two vectors.
    /// </summary>
    public static int Winograd(int channels, int outChannels, int outHeight, int outWidth)
    {
        (int tilesPerRow, int rowsPerChunk) = WinogradChunking(outWidth);
        int half = tilesPerRow + 1 + WinogradSlack, paddedRows = 2 * ((outHeight + 1) / 2) + 2, n = tilesPerRow * rowsPerChunk;
        return channels * paddedRows * 2 * half + 16 * channels * n + 16 * outChannels * n + 8 * half + n + 2 * 16;
    }
}
