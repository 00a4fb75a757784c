using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// 3×3, stride-1 convolution through Winograd's minimal filtering, F(2×2, 3×3) and F(4×4, 3×3) (Lavin and Gray, "Fast
/// Algorithms for Convolutional Neural Networks", 2016; NN-512, NNPACK and most inference engines use them): each m×m
/// output tile is <c>Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A</c> over an (m + 2)² input tile, so the multiplications become
/// (m + 2)² matrix products <c>U_p · V_p</c> (<c>[out, C] · [C, tiles]</c>, one per position p of the transform): per
/// output, 4 multiply-adds per channel pair at m = 2 and 2.25 at m = 4, against direct's 9. The matrices are
/// <c>WinogradMatrices</c>'. The filters are transformed at build time (<c>WeightLayoutKind.WinogradFilters</c>,
/// <c>WinogradF4Filters</c>; a direct layer handed here at run time transforms them at the call, F(2×2) only,
/// <see cref="TransformFilters"/>); the input is transformed in scratch, tile row by tile row, vectorized along the tiles
/// (the padded input is kept with its columns dealt into m phases, so the m + 2 columns of a vector of tiles are aligned
/// loads from the phases); the products run on <see cref="PackedLinear"/> with the transformed input as its 16-column
/// panels; the output transform adds the bias, applies the epilogue and interleaves each tile's m columns back into
/// <c>[out, oh, ow]</c>. Rows of at least 12 tiles go by chunks of tile rows, each row padded to whole panels; narrower
/// layers go with every tile at once, rows packed 4, 8 or 16 to a panel (<c>KernelScratch.WinogradFlatColumns</c>).
/// </summary>
public static class WinogradConvolution
{
    private const int Slack = KernelScratch.WinogradSlack;

    /// <summary>
    /// Scratch floats <see cref="Run{TEpilogue}"/> needs: the padded input in phases, zeros for the GEMM's bias, the
    /// transformed input and the products (for one chunk of tile rows, or for every tile at once), the rows of the vertical
    /// transform, and a few vectors (<c>KernelScratch.Winograd</c>).
    /// </summary>
    public static int ScratchFloats(int channels, int outChannels, int outHeight, int outWidth) =>
        KernelScratch.Winograd(channels, outChannels, outHeight, outWidth);

    /// <summary>Scratch floats <see cref="Run4x4{TEpilogue}"/> needs (<c>KernelScratch.Winograd</c> with tiles of 4).</summary>
    public static int ScratchFloats4x4(int channels, int outChannels, int outHeight, int outWidth) =>
        KernelScratch.Winograd(channels, outChannels, outHeight, outWidth, 4);

    /// <summary>
    /// Effectively computes PyTorch's <c>conv2d</c> with a 3×3 kernel, stride 1, dilation 1, groups 1 and zero padding,
    /// followed by <typeparamref name="TEpilogue"/>, by F(2×2, 3×3). <paramref name="filters"/> are the sixteen
    /// <c>[out, C]</c> matrices <c>G g Gᵀ</c>; <paramref name="bias"/> has one value per output channel; <c>geometry</c> is
    /// as for <see cref="Convolution.Conv2d{TEpilogue}"/>. Agrees with direct convolution to a few float roundings (the
    /// transforms add and subtract inputs before multiplying).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float filters, ref float bias, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator =>
        Dispatch<TEpilogue, Tile2>(ref input, ref output, samples, geometry, ref filters, ref bias, ref Unsafe.NullRef<float>(), ref scratch, workers);

    /// <summary>
    /// <see cref="Run{TEpilogue}"/>
    /// with a residual added before the epilogue, <c>output = epilogue((conv + bias) + residual)</c>, as
    /// <c>Convolution.Conv2d</c>'s: each band of output rows gets it while still in cache.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void RunWithResidual<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float filters, ref float bias, ref float residual, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator =>
        Dispatch<TEpilogue, Tile2>(ref input, ref output, samples, geometry, ref filters, ref bias, ref residual, ref scratch, workers);

    /// <summary>
    /// As <see cref="Run{TEpilogue}"/>, by F(4×4, 3×3): <paramref name="filters"/> are the 36 <c>[out, C]</c> matrices
    /// <c>G g Gᵀ</c> of <c>WeightLayoutKind.WinogradF4Filters</c>. Its transforms multiply by up to 8 and its filters
    /// by 1/24, so it agrees with direct convolution to somewhat more roundings than F(2×2) (about 1e-6 relative per
    /// tile, measured).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run4x4<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float filters, ref float bias, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator =>
        Dispatch<TEpilogue, Tile4>(ref input, ref output, samples, geometry, ref filters, ref bias, ref Unsafe.NullRef<float>(), ref scratch, workers);

    /// <summary>As <see cref="Run4x4{TEpilogue}"/>, with a residual added before the epilogue.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run4x4WithResidual<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float filters, ref float bias, ref float residual, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator =>
        Dispatch<TEpilogue, Tile4>(ref input, ref output, samples, geometry, ref filters, ref bias, ref residual, ref scratch, workers);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dispatch<TEpilogue, TTile>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float filters, ref float bias, ref float residual, ref float scratch, KernelWorkers? workers)
        where TEpilogue : struct, IUnaryOperator
        where TTile : struct, IWinogradTile
    {
        // The chunks reach the operands through pointers (they may run on other threads): pinned for the call.
        fixed (float* pinnedInput = &input, pinnedOutput = &output, pinnedFilters = &filters, pinnedBias = &bias, pinnedResidual = &residual, pinnedScratch = &scratch)
        {
                if (Vector512.IsHardwareAccelerated) Core<TEpilogue, TTile, Lanes512>(ref input, ref output, samples, geometry, ref filters, ref bias, pinnedResidual, ref scratch, workers);
            else if (Vector256.IsHardwareAccelerated) Core<TEpilogue, TTile, Lanes256>(ref input, ref output, samples, geometry, ref filters, ref bias, pinnedResidual, ref scratch, workers);
            else if (Vector128.IsHardwareAccelerated) Core<TEpilogue, TTile, Lanes128>(ref input, ref output, samples, geometry, ref filters, ref bias, pinnedResidual, ref scratch, workers);
            else Core<TEpilogue, TTile, Lanes1>(ref input, ref output, samples, geometry, ref filters, ref bias, pinnedResidual, ref scratch, workers);
        }
    }

    /// <summary>The layout of one call's scratch, from the geometry and the tile size (as <c>KernelScratch.Winograd</c> sizes it).</summary>
    private readonly struct Layout
    {
        /// <summary>Outputs per tile side, transform size (m + 2), positions ((m + 2)²).</summary>
        public readonly int M, T, P;
        /// <summary>Tile rows; tiles per row as the padded planes and the chunks hold them; tile rows per chunk.</summary>
        public readonly int TileRows, TilesPerRow, RowsPerChunk;
        /// <summary>Floats of one phase of a padded row, of a padded row (m phases), of a padded plane.</summary>
        public readonly int Phase, RowFloats, PlaneFloats;
        /// <summary>Every tile at once: the GEMM's columns (0 when by chunks) and the tiles a row takes there.</summary>
        public readonly int Flat, FlatRowTiles;
        /// <summary>Columns of one product: every tile's, or one chunk's.</summary>
        public readonly int N;

        public Layout(ConvGeometry g, int m)
        {
            M = m;
            T = m + 2;
            P = T * T;
            TileRows = (g.OutHeight + m - 1) / m;
            (TilesPerRow, RowsPerChunk) = KernelScratch.WinogradChunking(g.OutWidth, m);
            Phase = KernelScratch.WinogradPhase(g.OutHeight, g.OutWidth, m);
            RowFloats = m * Phase;
            PlaneFloats = (m * TileRows + 2) * RowFloats;
            Flat = KernelScratch.WinogradFlatColumns(g.OutHeight, g.OutWidth, m);
            FlatRowTiles = KernelScratch.WinogradFlatRowTiles(g.OutWidth, m);
            N = Flat > 0 ? Flat : TilesPerRow * RowsPerChunk;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Core<TEpilogue, TTile, TLanes>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float filters, ref float bias, float* residual, ref float scratch, KernelWorkers? workers)
        where TEpilogue : struct, IUnaryOperator
        where TTile : struct, IWinogradTile
        where TLanes : struct, ILanes<TLanes>
    {
        int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, padding = geometry.Padding, oh = geometry.OutHeight, ow = geometry.OutWidth;
        var layout = new Layout(geometry, TTile.Size);
        int m = layout.M, n = layout.N, flat = layout.Flat, phase = layout.Phase, rowFloats = layout.RowFloats, planeFloats = layout.PlaneFloats;
        ref float planes = ref scratch;
        ref float zeros = ref Unsafe.Add(ref planes, c * planeFloats);               // the GEMM's bias
        ref float transformed = ref Unsafe.Add(ref zeros, n);                        // every tile at once: V_p, P × [C, n] (shared)
        ref float products = ref Unsafe.Add(ref transformed, layout.P * c * n);      // and M_p, P × [out, n], then slack
        // Otherwise one chunk's transforms and products, per thread; every tile at once, one tile row's transform.
        ref float chunkScratch = ref flat > 0 ? ref Unsafe.Add(ref products, layout.P * outC * n + Slack) : ref transformed;
        int chunkFloats = KernelScratch.WinogradChunk(c, outC, oh, ow, m);
        ref float copyTemp = ref Unsafe.Add(ref chunkScratch, chunkFloats - KernelScratch.WinogradTemp(m)); // the calling thread's, before any chunk runs
        MemoryMarshal.CreateSpan(ref zeros, n).Clear();
        workers = KernelWorkers.For(workers, 4L * c * outC * oh * ow);
        // Padded planes: each padded row holds its columns dealt into m phases (padded column px = input column + padding
        // at phase px mod m, index px / m). Only what real outputs read must be zero: the rows above and below the input,
        // and in its rows the columns left of it and right of it up to the last real tile's last column, m·tiles + 2
        // (at m = 4 every column of a tile reaches every output of it). Anything further right (or below) reaches only
        // tiles that are not stored; the products keep it to them (each output of a product depends on one tile's column).
        // The interior is rewritten for every sample, so the zeros are written once per call (the scratch is shared with
        // other kernels).
        int realTiles = (ow + m - 1) / m, readColumns = m * realTiles + 2;
        for (int i = 0; i < c; i++)
        for (int py = 0; py < m * layout.TileRows + 2; py++)
        {
            ref float row = ref Unsafe.Add(ref planes, i * planeFloats + py * rowFloats);
            if (py < padding || py >= padding + h)
            {
                for (int q = 0; q < m; q++) MemoryMarshal.CreateSpan(ref Unsafe.Add(ref row, q * phase), realTiles + 1).Clear();
                continue;
            }
            for (int px = 0; px < padding; px++) Unsafe.Add(ref row, px % m * phase + px / m) = 0f;
            for (int px = padding + w; px < readColumns; px++) Unsafe.Add(ref row, px % m * phase + px / m) = 0f;
        }
        for (nint s = 0; s < samples; s++)
        {
            for (int i = 0; i < c; i++)
            for (int y = 0; y < h; y++)
            {
                CopyRow<TTile, TLanes>(ref Unsafe.Add(ref input, ((s * c + i) * h + y) * w), w, padding,
                    ref Unsafe.Add(ref planes, i * planeFloats + (y + padding) * rowFloats), phase, ref copyTemp);
            }
            if (flat > 0)
            {
                // Every tile at once, in three shared steps: the input transform by channels, the products by product
                // (each M_p written by one thread), the output transform by output channels.
                KernelWorkers? transformers = KernelWorkers.For(workers, (long)layout.P * c * n);
                float* rowScratch = (float*)Unsafe.AsPointer(ref chunkScratch), planesAt = (float*)Unsafe.AsPointer(ref planes), transformedAt = (float*)Unsafe.AsPointer(ref transformed);
                int rowTiles = layout.FlatRowTiles;
                // Vectors no wider than a padded tile row (4 or 8 tiles), so that a row's stores stay in its panel.
                if (rowTiles >= TLanes.Count)
                    KernelWorkers.Split(transformers, c, new FlatInput<TTile, TLanes> { Planes = planesAt, Transformed = transformedAt, Geometry = geometry }, rowScratch, chunkFloats);
                else if (rowTiles >= 8)
                    KernelWorkers.Split(transformers, c, new FlatInput<TTile, Lanes256> { Planes = planesAt, Transformed = transformedAt, Geometry = geometry }, rowScratch, chunkFloats);
                else
                    KernelWorkers.Split(transformers, c, new FlatInput<TTile, Lanes128> { Planes = planesAt, Transformed = transformedAt, Geometry = geometry }, rowScratch, chunkFloats);
                var multiply = new FlatProducts
                {
                    Transformed = transformedAt,
                    Products = (float*)Unsafe.AsPointer(ref products),
                    Filters = (float*)Unsafe.AsPointer(ref filters),
                    Zeros = (float*)Unsafe.AsPointer(ref zeros),
                    Geometry = geometry,
                    N = n,
                };
                KernelWorkers.Split(workers, layout.P, multiply, rowScratch, chunkFloats);
                var outputs = new FlatOutput<TEpilogue, TTile, TLanes>
                {
                    Products = multiply.Products,
                    Bias = (float*)Unsafe.AsPointer(ref bias),
                    Result = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref output, s * outC * oh * ow)),
                    Residual = residual == null ? null : residual + s * outC * oh * ow,
                    Geometry = geometry,
                };
                KernelWorkers.Split(KernelWorkers.For(workers, (long)layout.P * outC * n), outC, outputs, rowScratch, chunkFloats);
                if (m == 4) ExactWhereNotFinite<TEpilogue>(ref Unsafe.Add(ref input, s * c * h * w), ref Unsafe.Add(ref output, s * outC * oh * ow), geometry, ref filters, ref bias,
                    residual == null ? null : residual + s * outC * oh * ow);
                continue;
            }
            var operands = new TileRows<TEpilogue, TTile, TLanes>
            {
                Planes = (float*)Unsafe.AsPointer(ref planes),
                Filters = (float*)Unsafe.AsPointer(ref filters),
                Bias = (float*)Unsafe.AsPointer(ref bias),
                Result = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref output, s * outC * oh * ow)),
                Residual = residual == null ? null : residual + s * outC * oh * ow,
                Zeros = (float*)Unsafe.AsPointer(ref zeros),
                Geometry = geometry,
            };
            int chunks = (layout.TileRows + layout.RowsPerChunk - 1) / layout.RowsPerChunk;
            float* chunkAt = (float*)Unsafe.AsPointer(ref chunkScratch);
            // Vectors no wider than a packed tile row (F(4×4)'s 4 or 8 tiles), so that a row's stores stay in its panel.
            if (layout.TilesPerRow >= TLanes.Count) KernelWorkers.Split(workers, chunks, operands, chunkAt, chunkFloats);
            else if (layout.TilesPerRow >= 8) KernelWorkers.Split(workers, chunks, operands.As<Lanes256>(), chunkAt, chunkFloats);
            else KernelWorkers.Split(workers, chunks, operands.As<Lanes128>(), chunkAt, chunkFloats);
            if (m == 4) ExactWhereNotFinite<TEpilogue>(ref Unsafe.Add(ref input, s * c * h * w), ref Unsafe.Add(ref output, s * outC * oh * ow), geometry, ref filters, ref bias,
                    residual == null ? null : residual + s * outC * oh * ow);
        }
    }

    /// <summary>
    /// F(4×4)'s outputs where one sample's input is not finite, recomputed directly. F(2×2)'s transforms are banded as
    /// the 3×3 window is (an input column reaches only the outputs whose window holds it), so NaN and ±Inf reach the
    /// outputs direct convolution gives them; F(4×4)'s are not: every column of a 6×6 input tile reaches all 16 of its
    /// outputs, and Inf·0 or Inf − Inf there makes NaN of outputs whose windows hold no special value. So every 4×4 tile
    /// whose input holds a NaN or ±Inf is computed again as the eager convolution computes it, from the filters
    /// recovered from G g Gᵀ (g₀ = 4·U₀, g₁ = 6·(U₃ − U₄), g₂ = U₅ along each axis: rows 0, 3 − 4 and 5 of G). Finite
    /// inputs cost one pass that finds none.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ExactWhereNotFinite<TEpilogue>(ref float input, ref float output, ConvGeometry geometry, ref float filters, ref float bias, float* residual)
        where TEpilogue : struct, IUnaryOperator
    {
        int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, padding = geometry.Padding;
        int oh = geometry.OutHeight, ow = geometry.OutWidth, plane = h * w;
        if (AllFinite(ref input, c * plane)) return;
        int tilesDown = (oh + 3) / 4, tilesAcross = (ow + 3) / 4, pairs = outC * c;
        Span<float> g = stackalloc float[9], sums = stackalloc float[16];
        for (int ty = 0; ty < tilesDown; ty++)
        for (int tx = 0; tx < tilesAcross; tx++)
        {
            // The tile's 6×6 input window, rows 4·ty − padding + [0, 6) and the same for columns, over every channel.
            int y0 = 4 * ty - padding, x0 = 4 * tx - padding;
            bool special = false;
            for (int i = 0; i < c && !special; i++)
                for (int y = Math.Max(0, y0); y < Math.Min(h, y0 + 6) && !special; y++)
                    special = !AllFinite(ref Unsafe.Add(ref input, i * plane + y * w + Math.Max(0, x0)), Math.Min(w, x0 + 6) - Math.Max(0, x0));
            if (!special) continue;
            for (int o = 0; o < outC; o++)
            {
                sums.Fill(Unsafe.Add(ref bias, o));
                for (int i = 0; i < c; i++)
                {
                    // U at position 6·a + b of pair (o, i); g[k, l] = Σ rows(k)·U·rows(l)ᵀ.
                    ref float u = ref Unsafe.Add(ref filters, o * c + i);
                    for (int k = 0; k < 3; k++)
                        for (int l = 0; l < 3; l++)
                            g[3 * k + l] = Recovered(ref u, pairs, k, l);
                    ref float source = ref Unsafe.Add(ref input, i * plane);
                    for (int dy = 0; dy < 4; dy++)
                    for (int dx = 0; dx < 4; dx++)
                    {
                        float sum = sums[4 * dy + dx];
                        for (int ky = 0; ky < 3; ky++)
                        {
                            int y = y0 + dy + ky;
                            if ((uint)y >= (uint)h) continue;
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int x = x0 + dx + kx;
                                if ((uint)x < (uint)w) sum += g[3 * ky + kx] * Unsafe.Add(ref source, y * w + x);
                            }
                        }
                        sums[4 * dy + dx] = sum;
                    }
                }
                for (int dy = 0; dy < 4 && 4 * ty + dy < oh; dy++)
                    for (int dx = 0; dx < 4 && 4 * tx + dx < ow; dx++)
                    {
                        int at = (o * oh + 4 * ty + dy) * ow + 4 * tx + dx;
                        Unsafe.Add(ref output, at) = TEpilogue.Invoke(residual == null ? sums[4 * dy + dx] : sums[4 * dy + dx] + residual[at]);
                    }
            }
        }
    }

    /// <summary>g[k, l] of one pair's filter from its 36 transformed values (<paramref name="pairs"/> apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Recovered(ref float u, int pairs, int k, int l)
    {
        // Along one axis: index 0 weighs row 0 by 4; index 1 rows 3 and 4 by 6 and −6; index 2 row 5 by 1.
        float sum = 0f;
        for (int a = 0; a < 2; a++)
        {
            (int row, float weight) = Axis(k, a);
            if (weight == 0f) continue;
            for (int b = 0; b < 2; b++)
            {
                (int column, float weight2) = Axis(l, b);
                if (weight2 != 0f) sum += weight * weight2 * Unsafe.Add(ref u, (row * 6 + column) * pairs);
            }
        }
        return sum;

        static (int Row, float Weight) Axis(int index, int term) => index switch
        {
            0 => term == 0 ? (0, 4f) : (0, 0f),
            1 => term == 0 ? (3, 6f) : (4, -6f),
            _ => term == 0 ? (5, 1f) : (0, 0f),
        };
    }

    /// <summary>Whether every one of <paramref name="count"/> floats is finite (x − x is 0 for those, NaN for NaN and ±Inf).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool AllFinite(ref float values, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (; i + 8 <= count; i += 8)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref values, (nuint)i);
                acc += v - v;
            }
            if (!Vector256.EqualsAll(acc, Vector256<float>.Zero)) return false;
        }
        for (; i < count; i++)
            if (!float.IsFinite(Unsafe.Add(ref values, i))) return false;
        return true;
    }

    /// <summary>
    /// One input row into its padded row, dealt into the m phases: input column x to phase (x + padding) mod m at index
    /// (x + padding) / m. Vectorized: m = 2 one deinterleave per two vectors; m = 4 two levels of it, through
    /// <paramref name="temp"/> (four vectors), at 128 bits where a row is narrower than four of the widest vectors, the
    /// last block overlapping the one before (it writes the same values again); the rest one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow<TTile, TLanes>(ref float source, int w, int padding, ref float row, int phase, ref float temp)
        where TTile : struct, IWinogradTile
        where TLanes : struct, ILanes<TLanes>
    {
        int m = TTile.Size, lanes = TLanes.Count, x = 0;
        if (m == 2)
        {
            // Input column x goes to padded column x + padding: with even padding, even x to the even phase, else crossed.
            bool evenPadding = (padding & 1) == 0;
            ref float evens = ref Unsafe.Add(ref row, evenPadding ? padding / 2 : phase + (padding - 1) / 2);
            ref float odds = ref Unsafe.Add(ref row, evenPadding ? phase + padding / 2 : (padding + 1) / 2);
            for (; x + 2 * lanes <= w; x += 2 * lanes)
            {
                TLanes.StoreDeinterleaved(TLanes.Load(ref Unsafe.Add(ref source, x)), TLanes.Load(ref Unsafe.Add(ref source, x + lanes)),
                    ref Unsafe.Add(ref evens, x / 2), ref Unsafe.Add(ref odds, x / 2));
            }
        }
        else if (w >= 4 * lanes) x = CopyQuarters<TLanes>(ref source, w, padding, ref row, phase, ref temp);
        else if (lanes > 4 && w >= 16 && Vector128.IsHardwareAccelerated) x = CopyQuarters<Lanes128>(ref source, w, padding, ref row, phase, ref temp);
        for (; x < w; x++)
        {
            int px = x + padding;
            Unsafe.Add(ref row, px % m * phase + px / m) = Unsafe.Add(ref source, x);
        }
    }

    /// <summary>
    /// F(4×4)'s copy of a row at least four vectors wide into its four phases, by blocks of four vectors, the last block
    /// moved back over the one before to end at the last whole group of four columns; returns the columns copied.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CopyQuarters<TLanes>(ref float source, int w, int padding, ref float row, int phase, ref float temp)
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, block = 4 * lanes, end = w / 4 * 4;
        // Source phase r (columns x ≡ r mod 4) goes to padded phase (r + padding) mod 4, from index (r + padding) / 4.
        ref float s0 = ref Unsafe.Add(ref row, padding % 4 * phase + padding / 4);
        ref float s1 = ref Unsafe.Add(ref row, (1 + padding) % 4 * phase + (1 + padding) / 4);
        ref float s2 = ref Unsafe.Add(ref row, (2 + padding) % 4 * phase + (2 + padding) / 4);
        ref float s3 = ref Unsafe.Add(ref row, (3 + padding) % 4 * phase + (3 + padding) / 4);
        for (int x = 0; ; x += block)
        {
            if (x + block > end) x = end - block;
            // Evens to temp[0, 2L), odds to temp[2L, 4L); then each apart again.
            ref float at = ref Unsafe.Add(ref source, x);
            TLanes.StoreDeinterleaved(TLanes.Load(ref at), TLanes.Load(ref Unsafe.Add(ref at, lanes)), ref temp, ref Unsafe.Add(ref temp, 2 * lanes));
            TLanes.StoreDeinterleaved(TLanes.Load(ref Unsafe.Add(ref at, 2 * lanes)), TLanes.Load(ref Unsafe.Add(ref at, 3 * lanes)),
                ref Unsafe.Add(ref temp, lanes), ref Unsafe.Add(ref temp, 3 * lanes));
            int i = x / 4;
            TLanes.StoreDeinterleaved(TLanes.Load(ref temp), TLanes.Load(ref Unsafe.Add(ref temp, lanes)), ref Unsafe.Add(ref s0, i), ref Unsafe.Add(ref s2, i));
            TLanes.StoreDeinterleaved(TLanes.Load(ref Unsafe.Add(ref temp, 2 * lanes)), TLanes.Load(ref Unsafe.Add(ref temp, 3 * lanes)),
                ref Unsafe.Add(ref s1, i), ref Unsafe.Add(ref s3, i));
            if (x + block >= end) return end;
        }
    }

    /// <summary>
    /// One sample's chunks of tile rows, each chunk with the scratch of the thread that computes it (the padded planes are
    /// shared, read only): the input transform, the products, and the output transform into the output planes.
    /// </summary>
    private unsafe struct TileRows<TEpilogue, TTile, TLanes> : KernelWorkers.IChunks
        where TEpilogue : struct, IUnaryOperator
        where TTile : struct, IWinogradTile
        where TLanes : struct, ILanes<TLanes>
    {
        public float* Planes, Filters, Bias, Result, Residual, Zeros;
        public ConvGeometry Geometry;

        /// <summary>The same operands, at another vector width.</summary>
        public readonly TileRows<TEpilogue, TTile, TOther> As<TOther>() where TOther : struct, ILanes<TOther> =>
            new() { Planes = Planes, Filters = Filters, Bias = Bias, Result = Result, Residual = Residual, Zeros = Zeros, Geometry = Geometry };

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int firstChunk, int lastChunk, float* scratch)
        {
            int c = Geometry.Channels, outC = Geometry.OutChannels;
            var layout = new Layout(Geometry, TTile.Size);
            int m = layout.M, p = layout.P, th = layout.TileRows, twp = layout.TilesPerRow, rowsPerChunk = layout.RowsPerChunk, n = layout.N;
            int pStride = c * n;                                                         // floats of one V_p
            ref float planes = ref *Planes, filters = ref *Filters, bias = ref *Bias, result = ref *Result, zeros = ref *Zeros;
            ref float transformed = ref *scratch;                                        // V_p: P × [C, n] in 16-column panels
            ref float products = ref Unsafe.Add(ref transformed, p * c * n);             // M_p: P × [out, n]
            ref float vertical = ref Unsafe.Add(ref products, p * outC * n);             // the vertical transform of one tile row
            ref float temp = ref Unsafe.Add(ref vertical, layout.T * layout.RowFloats);  // vectors for the output transform
            // The transforms cover the real tiles in whole vectors; the columns from there to the row's padded end are zeros,
            // written once for the call (each chunk rewrites only the others), so their products are finite and unused
            // (80 × 80 at F(4×4): 24 of 32 columns transformed; 40 tiles at F(2×2): 40 of 48).
            int used = Math.Min(twp, ((Geometry.OutWidth + m - 1) / m + TLanes.Count - 1) / TLanes.Count * TLanes.Count);
            if (used < twp)
            {
                for (int r = 0; r < rowsPerChunk; r++)
                for (int i = 0; i < c; i++)
                for (int q = 0; q < p; q++)
                    for (int tx = used; tx < twp; tx++)
                    {
                        int column = r * twp + tx;
                        Unsafe.Add(ref transformed, q * pStride + (column / 16 * c + i) * 16 + column % 16) = 0f;
                    }
            }
            for (int ty0 = firstChunk * rowsPerChunk; ty0 < Math.Min(th, lastChunk * rowsPerChunk); ty0 += rowsPerChunk)
            {
                int chunkRows = Math.Min(rowsPerChunk, th - ty0);
                for (int r = 0; r < rowsPerChunk; r++)
                for (int i = 0; i < c; i++)
                {
                    // Tile row r at columns [r·twp, (r + 1)·twp): whole panels, or (F(4×4), narrow rows) part of one.
                    int column = r * twp;
                    if (r >= chunkRows)
                    {
                        // Past the last tile row: zeros, so the products of this chunk's padding are finite and unused.
                        for (int q = 0; q < p; q++)
                            for (int tx = 0; tx < twp; tx += 16)
                                MemoryMarshal.CreateSpan(ref Unsafe.Add(ref transformed, q * pStride + ((column + tx) / 16 * c + i) * 16 + column % 16), Math.Min(16, twp)).Clear();
                        continue;
                    }
                    TransformTileRow<TTile, TLanes>(ref Unsafe.Add(ref planes, i * layout.PlaneFloats + m * (ty0 + r) * layout.RowFloats), layout.Phase, used, ref vertical,
                        ref Unsafe.Add(ref transformed, (column / 16 * c + i) * 16 + column % 16), pStride, 16 * c);
                }
                // The products M_p = U_p · V_p: [out, C] · [C, n].
                for (int q = 0; q < p; q++)
                {
                    PackedLinear.Run<IdentityOperator>(ref Unsafe.Add(ref filters, q * outC * c), c, outC,
                        ref Unsafe.Add(ref transformed, q * pStride), ref zeros, c, n, ref Unsafe.Add(ref products, q * outC * n), n);
                }
                OutputTransform<TEpilogue, TTile, TLanes>(ref products, n, twp, ref bias, ref result, Residual, Geometry, ty0, chunkRows, 0, outC, ref temp);
            }
        }
    }

    /// <summary>
    /// Every tile at once, the input transform: channels <c>[first, last)</c>, each tile row straight into V_p, its tiles at
    /// columns <c>ty·rowTiles + tx</c> (rows padded to 4, 8 or 16 tiles, so a row never crosses a panel; the vectors are
    /// no wider than a row). The rows past the last are zeros, so their products are finite and unused.
    /// </summary>
    private unsafe struct FlatInput<TTile, TLanes> : KernelWorkers.IChunks
        where TTile : struct, IWinogradTile
        where TLanes : struct, ILanes<TLanes>
    {
        public float* Planes, Transformed;
        public ConvGeometry Geometry;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int first, int last, float* scratch)
        {
            int c = Geometry.Channels;
            var layout = new Layout(Geometry, TTile.Size);
            int th = layout.TileRows, n = layout.N, rowTiles = layout.FlatRowTiles, pStride = c * n;
            ref float planes = ref *Planes, transformed = ref *Transformed;
            for (int i = first; i < last; i++)
            {
                for (int ty = 0; ty < th; ty++)
                {
                    int column = ty * rowTiles;
                    TransformTileRow<TTile, TLanes>(ref Unsafe.Add(ref planes, i * layout.PlaneFloats + layout.M * ty * layout.RowFloats), layout.Phase, rowTiles, ref *scratch,
                        ref Unsafe.Add(ref transformed, (column / 16 * c + i) * 16 + column % 16), pStride, 16 * c);
                }
                for (int p = 0; p < layout.P; p++)
                    for (int column = th * rowTiles; column < n; column += rowTiles)
                        MemoryMarshal.CreateSpan(ref Unsafe.Add(ref transformed, p * pStride + (column / 16 * c + i) * 16 + column % 16), rowTiles).Clear();
            }
        }
    }

    /// <summary>
    /// Every tile at once, products <c>[first, last)</c>, M_p = U_p · V_p, each over every output channel (so a panel of
    /// V_p stays in L1 while all the channels' row tiles read it; the products share evenly among threads).
    /// </summary>
    private unsafe struct FlatProducts : KernelWorkers.IChunks
    {
        public float* Transformed, Products, Filters, Zeros;
        public ConvGeometry Geometry;
        public int N;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int first, int last, float* scratch)
        {
            int c = Geometry.Channels, outC = Geometry.OutChannels, n = N;
            for (int p = first; p < last; p++)
                PackedLinear.Run<IdentityOperator>(ref Filters[p * outC * c], c, outC, ref Transformed[p * c * n], ref *Zeros, c, n, ref Products[p * outC * n], n);
        }
    }

    /// <summary>Every tile at once, the output transform of output channels <c>[first, last)</c>.</summary>
    private unsafe struct FlatOutput<TEpilogue, TTile, TLanes> : KernelWorkers.IChunks
        where TEpilogue : struct, IUnaryOperator
        where TTile : struct, IWinogradTile
        where TLanes : struct, ILanes<TLanes>
    {
        public float* Products, Bias, Result, Residual;
        public ConvGeometry Geometry;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int first, int last, float* scratch)
        {
            var layout = new Layout(Geometry, TTile.Size);
            // The output transform's vectors sit after the vertical transform's rows in the thread's scratch.
            OutputTransform<TEpilogue, TTile, TLanes>(ref *Products, layout.N, layout.FlatRowTiles, ref *Bias, ref *Result, Residual,
                Geometry, 0, layout.TileRows, first, last, ref Unsafe.Add(ref *scratch, layout.T * layout.RowFloats));
        }
    }

    /// <summary>
    /// Bᵀ d B for one channel's tile row: the m + 2 padded input rows from <paramref name="d0"/> (each its m phases), their
    /// vertical transform into <paramref name="vertical"/> (m + 2 rows laid out the same), and V_p for p = (m + 2)·t + q,
    /// tiles <c>[0, tiles)</c>, stored at <c>destination + p·pStride + (tx / 16)·panelStep + tx % 16</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TransformTileRow<TTile, TLanes>(ref float d0, int phase, int tiles, ref float vertical, ref float destination, nint pStride, nint panelStep)
        where TTile : struct, IWinogradTile
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, m = TTile.Size, t = m + 2, rowFloats = m * phase;
        // Rows of Bᵀ d: in each phase, the indices [0, tiles] the tiles read.
        for (int q = 0; q < m; q++)
            for (int j = q * phase; j < q * phase + tiles + 1; j += lanes)
                TTile.Vertical<TLanes>(ref Unsafe.Add(ref d0, j), rowFloats, ref Unsafe.Add(ref vertical, j));
        // Then · B along each row, a vector of tiles at a time.
        for (int r = 0; r < t; r++)
        {
            ref float row = ref Unsafe.Add(ref vertical, r * rowFloats);
            for (int tx = 0; tx < tiles; tx += lanes)
                TTile.Horizontal<TLanes>(ref Unsafe.Add(ref row, tx), phase, ref Unsafe.Add(ref destination, r * t * pStride + tx / 16 * panelStep + tx % 16), pStride);
        }
    }

    /// <summary>
    /// Output transform Y = Aᵀ M A, then the bias and the epilogue, into the output planes: output channels
    /// <c>[k0, k1)</c>, tile rows <c>[ty0, ty0 + rows)</c>, tile <c>(r, tx)</c> of the products at column
    /// <c>r·rowTiles + tx</c> of rows <c>n</c> long (vector loads may read up to a vector past the last tile).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void OutputTransform<TEpilogue, TTile, TLanes>(ref float products, int n, int rowTiles, ref float bias, ref float result,
        float* residual, ConvGeometry geometry, int ty0, int rows, int k0, int k1, ref float temp)
        where TEpilogue : struct, IUnaryOperator
        where TTile : struct, IWinogradTile
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, m = TTile.Size, outC = geometry.OutChannels, oh = geometry.OutHeight, ow = geometry.OutWidth;
        nint stride = (nint)outC * n;
        for (int k = k0; k < k1; k++)
        {
            TLanes b = TLanes.Broadcast(Unsafe.Add(ref bias, k));
            ref float plane = ref Unsafe.Add(ref result, k * oh * ow);
            for (int r = 0; r < rows; r++)
            {
                int y = m * (ty0 + r), outRows = Math.Min(m, oh - y);
                if (residual == null)
                {
                    for (int tx = 0; m * tx < ow; tx += lanes)
                    {
                        TTile.Output<TEpilogue, TLanes>(ref Unsafe.Add(ref products, k * n + r * rowTiles + tx), stride, b,
                            ref Unsafe.Add(ref plane, y * ow + m * tx), ow, outRows, Math.Min(m * lanes, ow - m * tx), ref temp);
                    }
                    continue;
                }
                // With a residual: the band's m rows without the epilogue, then, while they are in cache, plus the residual
                // and through the epilogue.
                for (int tx = 0; m * tx < ow; tx += lanes)
                {
                    TTile.Output<IdentityOperator, TLanes>(ref Unsafe.Add(ref products, k * n + r * rowTiles + tx), stride, b,
                        ref Unsafe.Add(ref plane, y * ow + m * tx), ow, outRows, Math.Min(m * lanes, ow - m * tx), ref temp);
                }
                Convolution.ResidualRow<TEpilogue>(ref Unsafe.Add(ref plane, y * ow), ref residual[(long)k * oh * ow + y * ow], outRows * ow);
            }
        }
    }

    /// <summary>
    /// The (m + 2)² <c>[out, C]</c> matrices <c>U = G g Gᵀ</c> of F(m×m, 3×3), m = <paramref name="tile"/>, from PyTorch's
    /// filters <c>[out, C, 3, 3]</c>, as the build-time layouts hold them (<c>WeightLayoutKind.WinogradFilters</c>,
    /// <c>WinogradF4Filters</c>, there computed in double from <c>WinogradMatrices</c>): for a direct layer handed to this
    /// kernel at run time. F(2×2): G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]; F(4×4): G = [[¼, 0, 0],
    /// [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformFilters(ref float weights, int outChannels, int channels, ref float filters, int tile = 2)
    {
        int pairs = outChannels * channels, t = tile + 2;
        Span<float> gg = stackalloc float[18];
        for (int pair = 0; pair < pairs; pair++)
        {
            ref float g = ref Unsafe.Add(ref weights, pair * 9);
            // G g: t rows of three (a column of g at a time).
            for (int j = 0; j < 3; j++)
                Filter1D(tile, Unsafe.Add(ref g, j), Unsafe.Add(ref g, 3 + j), Unsafe.Add(ref g, 6 + j), gg.Slice(j), 3);
            // (G g) Gᵀ: position i·t + j of the pair's t², each in its own matrix.
            for (int i = 0; i < t; i++)
                Filter1D(tile, gg[3 * i], gg[3 * i + 1], gg[3 * i + 2], MemoryMarshal.CreateSpan(ref Unsafe.Add(ref filters, i * t * pairs + pair), (t - 1) * pairs + 1), pairs);
        }
    }

    /// <summary>G·(a, b, c): the t values, <paramref name="step"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Filter1D(int tile, float a, float b, float c, Span<float> destination, int step)
    {
        if (tile == 2)
        {
            destination[0] = a;
            destination[step] = 0.5f * (a + b + c);
            destination[2 * step] = 0.5f * (a - b + c);
            destination[3 * step] = c;
            return;
        }
        float ac = a + c, near = a / 24f + c / 6f, far = b / 12f;
        destination[0] = a / 4f;
        destination[step] = -(ac + b) / 6f;
        destination[2 * step] = -(ac - b) / 6f;
        destination[3 * step] = near + far;
        destination[4 * step] = near - far;
        destination[5 * step] = c;
    }
}
