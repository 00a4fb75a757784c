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

    /// <summary>Bytes of im2col patches gathered at once: a chunk that stays in a core's L2 while the GEMM reads it.</summary>
    public const int Im2ColChunkBytes = 96 * 1024;

    /// <summary>
    /// im2col convolution: the 16-position panels gathered and multiplied at a time, so the patches are read back from
    /// cache instead of memory (at least one panel, at most every panel of the output).
    /// </summary>
    public static int Im2ColChunkPanels(int filterLength, int outPositions) =>
        Math.Max(1, Math.Min((outPositions + PanelLayout.PanelWidth - 1) / PanelLayout.PanelWidth,
            Im2ColChunkBytes / (Math.Max(1, filterLength) * PanelLayout.PanelWidth * sizeof(float))));

    /// <summary>
    /// im2col convolution: one chunk of a group's patches <c>[c/g·kh·kw, oh·ow]</c> in 16-position panels
    /// (<see cref="Im2ColChunkPanels"/>); a zero bias as long as a chunk's panel row (the GEMM adds one; the kernel adds the
    /// real bias per output channel after); the group's input planes with their padding; and one int offset per position
    /// (of a whole panel).
    /// </summary>
    public static int Im2Col(int channels, int height, int width, int kh, int kw, int padding, int verticalPadding, int outHeight, int outWidth, int groups)
    {
        int k = channels / groups * kh * kw, chunk = Im2ColChunkPanels(k, outHeight * outWidth) * PanelLayout.PanelWidth;
        return chunk * (k + 1) + PanelLayout.PaddedBiasLength(outHeight * outWidth)
            + channels / groups * (height + 2 * verticalPadding) * (width + 2 * padding);
    }

    /// <summary>
    /// Direct convolution: one sample's zero-padded input planes and two vectors for a partial store; with a fused pool,
    /// also one sample's unpooled output (the scalar form's). At least what the im2col GEMM needs, which the kernel hands
    /// the layer to where registers are too few for its channel blocks (256-bit x86): pooled, after one sample's unpooled
    /// output, which the pool then reads.
    /// </summary>
    public static int Direct(ConvGeometry g)
    {
        int unpooled = g.Pooled ? g.OutChannels * g.OutHeight * g.OutWidth : 0;
        return Math.Max(DirectPlanes(g) + unpooled,
            unpooled + Im2Col(g.Channels, g.Height, g.Width, g.KernelHeight, g.KernelWidth, g.Padding, g.VerticalPadding, g.OutHeight, g.OutWidth, g.Groups));
    }

    /// <summary>Direct convolution: one sample's zero-padded input planes and two vectors for a partial store.</summary>
    public static int DirectPlanes(ConvGeometry g) =>
        g.Channels * (g.Height + 2 * g.VerticalPadding) * (g.Width + 2 * g.Padding + DirectSlack) + DirectSlack;

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
    /// Winograd: the padded input with even and odd columns apart, zeros for the GEMM's bias, then one chunk's scratch
    /// (<see cref="WinogradChunk"/>, the calling thread's; each worker that shares the call has its own).
    /// </summary>
    public static int Winograd(int channels, int outChannels, int outHeight, int outWidth)
    {
        (int tilesPerRow, int rowsPerChunk) = WinogradChunking(outWidth);
        int half = tilesPerRow + 1 + WinogradSlack, paddedRows = 2 * ((outHeight + 1) / 2) + 2, n = tilesPerRow * rowsPerChunk;
        return channels * paddedRows * 2 * half + n + WinogradChunk(channels, outChannels, outWidth);
    }

    /// <summary>Winograd: the transformed input and the products for one chunk of tile rows, four rows of the vertical transform, and two vectors.</summary>
    public static int WinogradChunk(int channels, int outChannels, int outWidth)
    {
        (int tilesPerRow, int rowsPerChunk) = WinogradChunking(outWidth);
        int half = tilesPerRow + 1 + WinogradSlack, n = tilesPerRow * rowsPerChunk;
        return 16 * channels * n + 16 * outChannels * n + 8 * half + 2 * 16;
    }
}
