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

    /// <summary>Attention by blocks: queries per block of scores.</summary>
    public const int AttentionBlockRows = 48;

    /// <summary>Attention by blocks: the most keys (a block of scores, 48 × 1,024 floats, stays in L2).</summary>
    public const int AttentionBlockKeys = 1024;

    /// <summary>
    /// Whether attention runs by blocks of queries (the scores of a block as one GEMM, an exact softmax per row, then the
    /// weighted values as a second GEMM) instead of flash-style: when a block of scores fits in L2 and the values come in
    /// whole 16-column panels, as the GEMM reads them.
    /// </summary>
    public static bool AttentionByBlocks(int keys, int valueSize) =>
        keys is > 0 and <= AttentionBlockKeys && valueSize > 0 && valueSize % PanelLayout.PanelWidth == 0;

    /// <summary>
    /// Attention: one head's keys transposed (rows padded to 16), its values side by side, then flash-style one tile of
    /// scores, or by blocks a zero bias for the GEMMs and one block of scores.
    /// </summary>
    public static int Attention(int keys, int headSize, int valueSize)
    {
        int kp = (keys + 15) / 16 * 16;
        int shared = headSize * kp + keys * valueSize;
        return AttentionByBlocks(keys, valueSize)
            ? shared + Math.Max(kp, valueSize) + AttentionBlockRows * kp
            : shared + AttentionTile;
    }

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
    /// (<see cref="Im2ColChunkPanels"/>), and for a pointwise layer a chunk of its products (<see cref="Im2ColStaging"/>),
    /// these two per thread; a zero bias as long as a chunk's panel row (the GEMM adds one; the kernel adds the real bias
    /// per output channel after); the group's input planes with their padding; and one int offset per position (of a
    /// whole panel).
    /// </summary>
    public static int Im2Col(ConvGeometry g)
    {
        int k = g.FilterLength, chunk = Im2ColChunkPanels(k, g.OutHeight * g.OutWidth) * PanelLayout.PanelWidth;
        return checked(Im2ColPart(g) + chunk + Math.Max(PanelLayout.PaddedBiasLength(g.OutHeight * g.OutWidth), k)
            + g.GroupChannels * (g.Height + 2 * g.VerticalPadding) * (g.Width + 2 * g.Padding) + Im2ColWideSlack(g));
    }

    /// <summary>
    /// im2col convolution: the scratch each thread works in: a chunk's patches and, pointwise, its products; or, computed
    /// over wide positions (<see cref="Im2ColWideShape"/>), a chunk of products; whichever is larger (the path is the
    /// CPU's choice, at run time).
    /// </summary>
    public static int Im2ColPart(ConvGeometry g)
    {
        int k = g.FilterLength, chunk = Im2ColChunkPanels(k, g.OutHeight * g.OutWidth) * PanelLayout.PanelWidth;
        int gathered = checked(chunk * k + (Im2ColStaged(g) ? Im2ColStaging(g.OutChannels / g.Groups, chunk) : 0));
        return Im2ColWideShape(g) ? Math.Max(gathered, Im2ColStaging(g.OutChannels / g.Groups, Im2ColWideChunk(g))) : gathered;
    }

    /// <summary>
    /// A stride-1 layer other than a pointwise one, with few outputs per group or short filters: where the CPU has the
    /// tiles (<c>Kernels.IndirectGemm.IsSupported</c>), <c>Kernels.Convolution</c> computes it over "wide" positions,
    /// <c>OutHeight × (Width + 2·Padding)</c>, each filter tap reading the padded planes at one offset, so nothing is
    /// gathered; the columns that fall in the padding are dropped as the products are copied out. Gathering costs the
    /// same per position whatever the outputs, so it weighs most with few of them; the wide tiles read each tap's 64 bytes
    /// from a different line, which stay in L1 across a panel's row tiles while the taps' lines fit 32 KB (512 taps).
    /// Measured on Zen 3, one sample, calls of both builds alternated in one process (medians): 24 → 24 3×3 at 40 × 40 330
    /// → 214 µs, 16 → 16 5×5 at 40 × 40 483 → 279, 96 → 24 3×3 at 80 × 80 6,741 → 4,314, 3 → 8 at 48 × 192 144 → 86,
    /// 48 → 48 at 24 × 24 483 → 407; but 128 → 128 at 28 × 28 3,617 → 3,884 and 256 → 256 at 14 × 14 3,543 → 3,983 (many
    /// row tiles re-reading taps from L2), 64 at 56 × 56 and 512 at 7 × 7 alike: those keep the gathered panels.
    /// </summary>
    public static bool Im2ColWideShape(ConvGeometry g) =>
        g.Stride == 1 && g.RowStride == 1 && !g.Pointwise && (g.OutChannels / Math.Max(1, g.Groups) <= 48 || g.FilterLength <= 512);

    /// <summary>Output positions counted along the padded width: <c>OutHeight × (Width + 2·Padding)</c>.</summary>
    public static int Im2ColWidePositions(ConvGeometry g) => checked(g.OutHeight * (g.Width + 2 * g.Padding));

    /// <summary>
    /// Wide positions per pass (whole panels): as many as keep a pass's products, <c>[out/groups, chunk]</c>, within
    /// <see cref="Im2ColChunkBytes"/>, at least one panel.
    /// </summary>
    public static int Im2ColWideChunk(ConvGeometry g)
    {
        int panels = (Im2ColWidePositions(g) + PanelLayout.PanelWidth - 1) / PanelLayout.PanelWidth;
        long fit = Im2ColChunkBytes / ((long)Math.Max(1, g.OutChannels / Math.Max(1, g.Groups)) * PanelLayout.PanelWidth * sizeof(float));
        return (int)Math.Max(1, Math.Min(panels, fit)) * PanelLayout.PanelWidth;
    }

    /// <summary>
    /// Floats after the padded planes that the wide computation reads for columns it drops: the last panel's columns past
    /// the last position and the last tap's reach, <c>(KernelWidth − 1)·Dilation</c>, past its row; zeroed.
    /// </summary>
    public static int Im2ColWideSlack(ConvGeometry g) => Im2ColWideShape(g) ? checked(PanelLayout.PanelWidth + (g.KernelWidth - 1) * g.Dilation) : 0;

    /// <summary>
    /// A pointwise layer whose output planes are a multiple of 1 KB apart (256 floats: 80 × 80, 160 × 160, 32 × 32), so
    /// that the same column of any 4 channels falls in at most 4 of the L1 cache's 64 sets: its GEMM stores into
    /// <see cref="Im2ColStaging"/>. Elsewhere (40 × 40, 20 × 20, 10 × 10) the copy was measured to cost more than it saves.
    /// </summary>
    public static bool Im2ColStaged(ConvGeometry g) => g.Pointwise && (long)g.OutHeight * g.OutWidth % 256 == 0;

    /// <summary>
    /// A pointwise layer's products of one chunk (<see cref="Im2ColStaged"/>), <c>[out/groups, chunk]</c>, rows
    /// <see cref="Im2ColStagingStride"/> apart: the GEMM stores there, not into the output planes, whose rows are then a
    /// multiple of 1 KB apart (160 × 160 floats is 25 × 4 KB), so that a tile's rows all fall in a few sets of the L1
    /// cache; the bias pass then copies them out. Measured on Zen 3 (1×1 layers of the PP-OCRv3 detector, alternating
    /// processes): 8 → 32 channels at 160 × 160 721–769 µs → 452–478, 8 → 8 241–257 → 198–200, 24 → 4 295 → 258–266,
    /// 24 → 96 at 80 × 80 512–684 → 496–516.
    /// </summary>
    public static int Im2ColStaging(int outChannels, int chunk) => checked(outChannels * Im2ColStagingStride(chunk));

    /// <summary>
    /// The floats between rows of <see cref="Im2ColStaging"/>: the chunk and one or two 64-byte lines more, an odd number
    /// of lines in all, so that consecutive rows start in different sets of the L1 cache.
    /// </summary>
    public static int Im2ColStagingStride(int chunk) => chunk + PanelLayout.PanelWidth * (chunk / PanelLayout.PanelWidth % 2 == 0 ? 1 : 2);

    /// <summary>
    /// Direct convolution: one sample's zero-padded input planes and two vectors for a partial store; with a fused pool,
    /// also one sample's unpooled output (the scalar form's). At least what the im2col GEMM needs, which the kernel hands
    /// the layer to where registers are too few for its channel blocks (256-bit x86): pooled, after one sample's unpooled
    /// output, which the pool then reads.
    /// </summary>
    public static int Direct(ConvGeometry g)
    {
        int unpooled = g.Pooled ? g.OutChannels * g.OutHeight * g.OutWidth : 0;
        int size = Math.Max(DirectPlanes(g) + unpooled, unpooled + Im2Col(g));
        if (!DirectWinogradShape(g)) return size;
        int tile = WinogradTile(g.Channels, g.OutChannels, g.OutHeight, g.OutWidth);
        return Math.Max(size, (tile + 2) * (tile + 2) * g.OutChannels * g.Channels + Winograd(g.Channels, g.OutChannels, g.OutHeight, g.OutWidth, tile));
    }

    /// <summary>
    /// A direct layer the kernel may hand to Winograd (the tile <see cref="WinogradTile"/> picks), its filters transformed at each call, where it would
    /// otherwise go to the im2col GEMM (<c>DirectConvolution.ThroughWinograd</c>): 3×3, stride 1, dilation 1, ungrouped,
    /// unpooled, the same padding on every side, at least 8 input and output channels, rows of at least 12 tiles (23
    /// outputs; narrower layers were measured no faster). The scratch then holds the filters and Winograd's own.
    /// </summary>
    public static bool DirectWinogradShape(ConvGeometry g) =>
        !g.Pooled && g.KernelHeight == 3 && g.KernelWidth == 3 && g.Stride == 1 && g.RowStride == 1 && g.Dilation == 1 && g.Groups == 1
        && g.VerticalPadding == g.Padding && g.Channels >= 8 && g.OutChannels >= 8 && ((long)g.OutWidth + 1) / 2 >= 12;

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

    /// <summary>
    /// Winograd with m×m output tiles, by chunks of tile rows: the columns a tile row takes, its tiles rounded up to whole
    /// 16-column panels, or for F(4×4) rows of fewer than 12 tiles to 4, 8 or 16 (<see cref="WinogradFlatRowTiles"/>, so
    /// that several rows share a panel: 28 × 28's rows of 7 tiles would leave 9 of each 16 columns empty); and tile rows
    /// multiplied together (F(2×2): about 32 tiles, measured best; F(4×4), whose 36 products and transforms take 2.25
    /// times the scratch per tile: <see cref="WinogradF4ChunkTiles"/>).
    /// </summary>
    public static (int TilesPerRow, int RowsPerChunk) WinogradChunking(int outWidth, int tile = 2)
    {
        long tiles = WinogradTiles(outWidth, tile);
        int padded = tile == 4 && tiles < 12 ? WinogradFlatRowTiles(outWidth, tile) : (int)Math.Min((tiles + 15) / 16 * 16, int.MaxValue / 2);
        return (padded, Math.Max(1, (tile == 2 ? 32 : WinogradF4ChunkTiles) / padded));
    }

    /// <summary>
    /// Winograd: floats of one phase of a padded input row (the row's columns dealt into m phases): the tiles a row takes
    /// (<see cref="WinogradChunking"/>'s, or with every tile at once <see cref="WinogradFlatRowTiles"/>), one more that the
    /// last tile reads, and <see cref="WinogradSlack"/> for vector loads past them.
    /// </summary>
    public static int WinogradPhase(int outHeight, int outWidth, int tile) =>
        (WinogradFlatColumns(outHeight, outWidth, tile) > 0 ? WinogradFlatRowTiles(outWidth, tile) : WinogradChunking(outWidth, tile).TilesPerRow) + 1 + WinogradSlack;

    /// <summary>F(4×4): the tiles a chunk multiplies together (<see cref="WinogradChunking"/>).</summary>
    public const int WinogradF4ChunkTiles = 16;

    /// <summary>Tiles along a side of <paramref name="outputs"/> outputs, m to a tile.</summary>
    public static long WinogradTiles(long outputs, int tile) => (outputs + tile - 1) / tile;

    /// <summary>
    /// Winograd: how many tile columns a layer with rows of fewer than 12 tiles multiplies at once: every tile row, each
    /// padded to 4, 8 or 16 tiles so that whole rows share a 16-column panel, rounded up to whole panels (a panel per tile
    /// row would leave most of it empty: at F(2×2), 7 of 16 columns at 14 × 14, 4 at 7 × 7; packed, 49 of 64 and 16 of
    /// 16). 0 for wider rows, which go by chunks of tile rows (<see cref="WinogradChunking"/>), and for more than
    /// <see cref="WinogradFlatMaxColumns"/>.
    /// </summary>
    public static int WinogradFlatColumns(int outHeight, int outWidth, int tile = 2)
    {
        long columns = WinogradTiles(outHeight, tile) * WinogradFlatRowTiles(outWidth, tile);
        return WinogradTiles(outWidth, tile) >= 12 || columns > (tile == 2 ? WinogradFlatMaxColumns : WinogradF4FlatMaxColumns) ? 0 : (int)((columns + 15) / 16 * 16);
    }

    /// <summary>
    /// F(4×4): the most tile columns a layer multiplies at once; more go by chunks of packed tile rows, whose products stay
    /// in L2 (28 × 28 with 128 channels: 36 products of 64 columns at once ran no faster than F(2×2)).
    /// </summary>
    public const int WinogradF4FlatMaxColumns = 32;

    /// <summary>Winograd with every tile at once: the tiles a row takes, its tiles rounded up to 4, 8 or 16 (a divisor of the panel width).</summary>
    public static int WinogradFlatRowTiles(int outWidth, int tile = 2)
    {
        long tiles = WinogradTiles(outWidth, tile);
        return tiles <= 4 ? 4 : tiles <= 8 ? 8 : 16;
    }

    /// <summary>The most tile columns a layer multiplies at once (<see cref="WinogradFlatColumns"/>): taller layers go by im2col.</summary>
    public const int WinogradFlatMaxColumns = 256;

    /// <summary>
    /// Whether Winograd takes a 3×3 stride-1 layer of this output size: by chunks of tile rows when rows hold at least 12
    /// F(2×2) tiles, else with every tile at once when its sixteen products (16 multiply-adds per tile column) come to at
    /// most 60 % of im2col's 9 per output column, with room left for the transforms (14 × 14: 1,024 against 1,872; 7 × 7:
    /// 256 against 576; 4 × 4: 256 against 144, so that stays im2col). <see cref="WinogradTile"/> then picks the tile.
    /// </summary>
    public static bool WinogradFits(int outHeight, int outWidth)
    {
        if (((long)outWidth + 1) / 2 >= 12) return true;
        long flat = WinogradFlatColumns(outHeight, outWidth), im2col = ((long)outHeight * outWidth + 15) / 16 * 16;
        return flat > 0 && 16 * flat * 10 <= 9 * im2col * 6;
    }

    /// <summary>
    /// The output tile side, 2 or 4, for a layer <see cref="WinogradFits"/> takes: F(4×4, 3×3) where its 36 products over
    /// its (padded) tile columns come to at most 3/4 of F(2×2)'s 16 over its own, the rest paying for its costlier
    /// transforms (multiply-adds per channel pair, F(4×4) against F(2×2): 56 × 56 8,064 against 14,336; 28 × 28 2,304
    /// against 3,584; 14 × 14 576 against 1,024; 80 × 80 23,040 against 30,720; 7 × 7 576 against 256, so F(2×2)), and
    /// where one chunk's transformed input and products, 36 × (C + out) × its columns (at least 16), take at most
    /// <see cref="WinogradF4ChunkBytes"/>. That also bounds its filters, 36 matrices [out, C] against F(2×2)'s 16, to
    /// under 1 MB: a model's weights come from memory at every call, and each chunk reads them all again.
    /// Measured on Zen 3, one thread, F(4×4) ÷ F(2×2) with filters in cache / read from memory: 64 channels at 56 × 56
    /// 0.73–0.81 / 0.65; 48 at 40 × 40 0.66–0.79 / 0.70; 24 at 80 × 80 0.87–0.99 / 0.95; 16 at 160 × 160 0.80–0.94 / 0.89;
    /// 96 → 24 at 40 × 40 (276 KB a chunk) 0.66–0.74; but 96 → 24 at 80 × 80 (553 KB) 1.01–1.05, 128 at 28 × 28
    /// (590 KB, filters of 2.4 MB) 0.80–0.91 / 0.99 and 256 at 14 × 14 (1.2 MB, 9.4 MB) 0.89–1.07 / 0.96–0.99; 512 at
    /// 7 × 7 2.2–2.4.
    /// </summary>
    public static int WinogradTile(int channels, int outChannels, int outHeight, int outWidth) =>
        36.0 * ((double)channels + outChannels) * WinogradChunkColumns(outHeight, outWidth, 4) * sizeof(float) <= WinogradF4ChunkBytes
        && 4.0 * WinogradProductColumns(outHeight, outWidth, 4) * 36 <= 3.0 * WinogradProductColumns(outHeight, outWidth, 2) * 16 ? 4 : 2;

    /// <summary>
    /// The most bytes of one F(4×4) chunk's transformed input and products <see cref="WinogradTile"/> takes: within a
    /// core's L2 (512 KB on Zen 3), with room for the planes' rows and a filter panel.
    /// </summary>
    public const int WinogradF4ChunkBytes = 384 << 10;

    /// <summary>The columns one product multiplies: every tile's at once, or one chunk's.</summary>
    private static long WinogradChunkColumns(int outHeight, int outWidth, int tile)
    {
        long flat = WinogradFlatColumns(outHeight, outWidth, tile);
        (int tilesPerRow, int rowsPerChunk) = WinogradChunking(outWidth, tile);
        return flat > 0 ? flat : (long)tilesPerRow * rowsPerChunk;
    }

    /// <summary>The tile columns a layer's products multiply, as the kernel pads them: every tile at once, or the chunks' rows.</summary>
    private static long WinogradProductColumns(int outHeight, int outWidth, int tile)
    {
        long flat = WinogradFlatColumns(outHeight, outWidth, tile);
        if (flat > 0) return flat;
        (int tilesPerRow, int rowsPerChunk) = WinogradChunking(outWidth, tile);
        return (WinogradTiles(outHeight, tile) + rowsPerChunk - 1) / rowsPerChunk * rowsPerChunk * tilesPerRow;
    }

    /// <summary>
    /// Winograd with m×m tiles: the padded input in m phases, zeros for the GEMM's bias, then, for a layer whose tiles go
    /// all at once (<see cref="WinogradFlatColumns"/>), the transformed input and the products (shared by the threads), and
    /// one chunk's scratch (<see cref="WinogradChunk"/>, the calling thread's; each worker that shares the call has its own).
    /// </summary>
    public static int Winograd(int channels, int outChannels, int outHeight, int outWidth, int tile = 2)
    {
        (int tilesPerRow, int rowsPerChunk) = WinogradChunking(outWidth, tile);
        int positions = (tile + 2) * (tile + 2), rowFloats = tile * WinogradPhase(outHeight, outWidth, tile), n = tilesPerRow * rowsPerChunk;
        int paddedRows = (int)(tile * WinogradTiles(outHeight, tile) + 2);
        int flat = WinogradFlatColumns(outHeight, outWidth, tile), planes = channels * paddedRows * rowFloats;
        return flat > 0
            ? planes + flat + positions * channels * flat + positions * outChannels * flat + WinogradSlack + WinogradChunk(channels, outChannels, outHeight, outWidth, tile)
            : planes + n + WinogradChunk(channels, outChannels, outHeight, outWidth, tile);
    }

    /// <summary>
    /// Winograd, per thread: by chunks of tile rows, the transformed input and the products for one chunk; then the m + 2
    /// rows of the vertical transform and <see cref="WinogradTemp"/> (with every tile at once, only those).
    /// </summary>
    public static int WinogradChunk(int channels, int outChannels, int outHeight, int outWidth, int tile = 2)
    {
        (int tilesPerRow, int rowsPerChunk) = WinogradChunking(outWidth, tile);
        int positions = (tile + 2) * (tile + 2), n = tilesPerRow * rowsPerChunk;
        int vertical = (tile + 2) * tile * WinogradPhase(outHeight, outWidth, tile) + WinogradTemp(tile);
        return WinogradFlatColumns(outHeight, outWidth, tile) > 0 ? vertical : positions * channels * n + positions * outChannels * n + vertical;
    }

    /// <summary>
    /// Winograd, per thread, last: vectors (of up to 16 floats) for the output transform and the input's copy, two for
    /// F(2×2)'s partial stores; 32 for F(4×4)'s (its 24 intermediate rows, four for the interleave, two for a partial store).
    /// </summary>
    public static int WinogradTemp(int tile) => (tile == 2 ? 2 : 32) * 16;
}
