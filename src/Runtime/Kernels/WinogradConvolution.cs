using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// 3×3, stride-1 convolution through Winograd's minimal filtering, F(2×2, 3×3) (Lavin and Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2016; NN-512 and most inference engines use it): each 2×2 output tile is
/// <c>Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A</c>, so the multiplications become sixteen matrix products
/// <c>U_p · V_p</c> (<c>[out, C] · [C, tiles]</c>, one per position p of the 4×4 transform) of 16·C·out multiply-adds per
/// tile instead of the direct 36·C·out. The filters are transformed at build time (<c>WeightLayoutKind.WinogradFilters</c>;
/// a direct layer handed here at run time transforms them at the call, <see cref="TransformFilters"/>); the input is
/// transformed in scratch, tile row by tile row, vectorized along the tiles (the padded input is kept with
/// its even and odd columns apart, so a tile's four columns are two aligned loads and two loads one further); the
/// products run on <see cref="PackedLinear"/> with the transformed input as its 16-column panels; the output transform
/// adds the bias, applies the epilogue and interleaves each tile's two columns back into <c>[out, oh, ow]</c>. Rows of at
/// least 12 tiles go by chunks of tile rows, each row padded to whole panels; narrower layers go with every tile at once,
/// rows packed 4, 8 or 16 to a panel (<c>KernelScratch.WinogradFlatColumns</c>).
/// </summary>
public static class WinogradConvolution
{
    private const int Slack = KernelScratch.WinogradSlack;

    /// <summary>
    /// Scratch floats <see cref="Run{TEpilogue}"/> needs: the padded input with even and odd columns apart, zeros for the
    /// GEMM's bias, the transformed input and the products (for one chunk of tile rows, or for every tile at once), four
    /// rows of the vertical transform, and two vectors (<c>KernelScratch.Winograd</c>).
    /// </summary>
    public static int ScratchFloats(int channels, int outChannels, int outHeight, int outWidth) =>
        KernelScratch.Winograd(channels, outChannels, outHeight, outWidth);

    /// <summary>
    /// Effectively computes PyTorch's <c>conv2d</c> with a 3×3 kernel, stride 1, dilation 1, groups 1 and zero padding,
    /// followed by <typeparamref name="TEpilogue"/>. <paramref name="filters"/> are the sixteen <c>[out, C]</c> matrices
    /// <c>G g Gᵀ</c>; <paramref name="bias"/> has one value per output channel; <c>geometry</c> is as for
    /// <see cref="Convolution.Conv2d{TEpilogue}"/>. Agrees with direct convolution to a few float roundings (the
    /// transforms add and subtract inputs before multiplying).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float filters, ref float bias, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator
    {
        // The chunks reach the operands through pointers (they may run on other threads): pinned for the call.
        fixed (float* pinnedInput = &input, pinnedOutput = &output, pinnedFilters = &filters, pinnedBias = &bias, pinnedScratch = &scratch)
        {
                if (Vector512.IsHardwareAccelerated) Core<TEpilogue, Lanes512>(ref input, ref output, samples, geometry, ref filters, ref bias, ref scratch, workers);
            else if (Vector256.IsHardwareAccelerated) Core<TEpilogue, Lanes256>(ref input, ref output, samples, geometry, ref filters, ref bias, ref scratch, workers);
            else if (Vector128.IsHardwareAccelerated) Core<TEpilogue, Lanes128>(ref input, ref output, samples, geometry, ref filters, ref bias, ref scratch, workers);
            else Core<TEpilogue, Lanes1>(ref input, ref output, samples, geometry, ref filters, ref bias, ref scratch, workers);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Core<TEpilogue, TLanes>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float filters, ref float bias, ref float scratch, KernelWorkers? workers)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, padding = geometry.Padding, oh = geometry.OutHeight, ow = geometry.OutWidth;
        int th = (oh + 1) / 2;
        (int twp, int rowsPerChunk) = KernelScratch.WinogradChunking(ow);
        int flat = KernelScratch.WinogradFlatColumns(oh, ow);
        int half = twp + 1 + Slack, ph = 2 * th + 2, rowFloats = 2 * half, planeFloats = ph * rowFloats, n = flat > 0 ? flat : twp * rowsPerChunk;
        ref float planes = ref scratch;
        ref float zeros = ref Unsafe.Add(ref planes, c * planeFloats);               // the GEMM's bias
        ref float transformed = ref Unsafe.Add(ref zeros, n);                        // every tile at once: V_p, 16 × [C, n] (shared)
        ref float products = ref Unsafe.Add(ref transformed, 16 * c * n);            // and M_p, 16 × [out, n], then slack
        // Otherwise one chunk's transforms and products, per thread; every tile at once, one tile row's transform.
        ref float chunkScratch = ref flat > 0 ? ref Unsafe.Add(ref products, 16 * outC * n + Slack) : ref transformed;
        int chunkFloats = KernelScratch.WinogradChunk(c, outC, oh, ow);
        MemoryMarshal.CreateSpan(ref zeros, n).Clear();
        workers = KernelWorkers.For(workers, 4L * c * outC * oh * ow);
        // Padded planes: each padded row holds its even columns, then its odd columns (padded column px = input column +
        // padding). Only the padding that real outputs read must be zero: the rows above and below the input and the
        // columns beside it. Anything further right (or below) reaches only tiles and rows that are not stored; the
        // products keep it to them (each output of a product depends on one tile's column). The interior is rewritten
        // for every sample, so the zeros are written once per call (the scratch is shared with other kernels).
        for (int i = 0; i < c; i++)
        for (int py = 0; py < ph; py++)
        {
            ref float row = ref Unsafe.Add(ref planes, i * planeFloats + py * rowFloats);
            if (py < padding || py >= padding + h)
            {
                MemoryMarshal.CreateSpan(ref row, (w + 2 * padding + 1) / 2 + 1).Clear();
                MemoryMarshal.CreateSpan(ref Unsafe.Add(ref row, half), (w + 2 * padding + 1) / 2 + 1).Clear();
                continue;
            }
            for (int px = 0; px < padding; px++) Unsafe.Add(ref row, (px & 1) * half + (px >> 1)) = 0f;
            for (int px = padding + w; px < w + 2 * padding; px++) Unsafe.Add(ref row, (px & 1) * half + (px >> 1)) = 0f;
        }
        for (nint s = 0; s < samples; s++)
        {
            for (int i = 0; i < c; i++)
            for (int y = 0; y < h; y++)
            {
                ref float source = ref Unsafe.Add(ref input, ((s * c + i) * h + y) * w);
                ref float row = ref Unsafe.Add(ref planes, i * planeFloats + (y + padding) * rowFloats);
                // Input column x goes to padded column x + padding: with even padding, even x to the even half, else crossed.
                bool evenPadding = (padding & 1) == 0;
                int x = Deinterleave<TLanes>(ref source, w,
                    ref Unsafe.Add(ref row, evenPadding ? padding / 2 : half + (padding - 1) / 2),
                    ref Unsafe.Add(ref row, evenPadding ? half + padding / 2 : (padding + 1) / 2));
                for (; x < w; x++)
                {
                    int px = x + padding;
                    Unsafe.Add(ref row, (px & 1) * half + (px >> 1)) = Unsafe.Add(ref source, x);
                }
            }
            if (flat > 0)
            {
                // Every tile at once, in three shared steps: the input transform by channels, the sixteen products by
                // product (each M_p written by one thread), the output transform by output channels.
                KernelWorkers? transformers = KernelWorkers.For(workers, 16L * c * n);
                float* rowScratch = (float*)Unsafe.AsPointer(ref chunkScratch), planesAt = (float*)Unsafe.AsPointer(ref planes), transformedAt = (float*)Unsafe.AsPointer(ref transformed);
                int rowTiles = KernelScratch.WinogradFlatRowTiles(ow);
                // Vectors no wider than a padded tile row (4 or 8 tiles), so that a row's stores stay in its panel.
                if (rowTiles >= TLanes.Count)
                    KernelWorkers.Split(transformers, c, new FlatInput<TLanes> { Planes = planesAt, Transformed = transformedAt, Geometry = geometry }, rowScratch, chunkFloats);
                else if (rowTiles >= 8)
                    KernelWorkers.Split(transformers, c, new FlatInput<Lanes256> { Planes = planesAt, Transformed = transformedAt, Geometry = geometry }, rowScratch, chunkFloats);
                else
                    KernelWorkers.Split(transformers, c, new FlatInput<Lanes128> { Planes = planesAt, Transformed = transformedAt, Geometry = geometry }, rowScratch, chunkFloats);
                var multiply = new FlatProducts
                {
                    Transformed = transformedAt,
                    Products = (float*)Unsafe.AsPointer(ref products),
                    Filters = (float*)Unsafe.AsPointer(ref filters),
                    Zeros = (float*)Unsafe.AsPointer(ref zeros),
                    Geometry = geometry,
                };
                KernelWorkers.Split(workers, 16, multiply, rowScratch, chunkFloats);
                var outputs = new FlatOutput<TEpilogue, TLanes>
                {
                    Products = multiply.Products,
                    Bias = (float*)Unsafe.AsPointer(ref bias),
                    Result = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref output, s * outC * oh * ow)),
                    Geometry = geometry,
                };
                KernelWorkers.Split(KernelWorkers.For(workers, 16L * outC * n), outC, outputs, rowScratch, chunkFloats);
                continue;
            }
            var body = new TileRows<TEpilogue, TLanes>
            {
                Planes = (float*)Unsafe.AsPointer(ref planes),
                Filters = (float*)Unsafe.AsPointer(ref filters),
                Bias = (float*)Unsafe.AsPointer(ref bias),
                Result = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref output, s * outC * oh * ow)),
                Zeros = (float*)Unsafe.AsPointer(ref zeros),
                Geometry = geometry,
            };
            KernelWorkers.Split(workers, (th + rowsPerChunk - 1) / rowsPerChunk, body, (float*)Unsafe.AsPointer(ref chunkScratch), chunkFloats);
        }
    }

    /// <summary>
    /// One sample's chunks of tile rows, each chunk with the scratch of the thread that computes it (the padded planes are
    /// shared, read only): the input transform, the sixteen products, and the output transform into the output planes.
    /// </summary>
    private unsafe struct TileRows<TEpilogue, TLanes> : KernelWorkers.IChunks
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        public float* Planes, Filters, Bias, Result, Zeros;
        public ConvGeometry Geometry;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int firstChunk, int lastChunk, float* scratch)
        {
            int c = Geometry.Channels, outC = Geometry.OutChannels, oh = Geometry.OutHeight, ow = Geometry.OutWidth;
            int lanes = TLanes.Count, th = (oh + 1) / 2;
            (int twp, int rowsPerChunk) = KernelScratch.WinogradChunking(ow);
            int half = twp + 1 + Slack, rowFloats = 2 * half, planeFloats = (2 * th + 2) * rowFloats, n = twp * rowsPerChunk;
            int kPanelsStride = 16 * c * n / 16;                                          // floats of one V_p
            ref float planes = ref *Planes, filters = ref *Filters, bias = ref *Bias, result = ref *Result, zeros = ref *Zeros;
            ref float transformed = ref *scratch;                                        // V_p: 16 × [C, n] in 16-column panels
            ref float products = ref Unsafe.Add(ref transformed, 16 * c * n);            // M_p: 16 × [out, n]
            ref float vertical = ref Unsafe.Add(ref products, 16 * outC * n);            // te_0..3, to_0..3, one tile row
            ref float temp = ref Unsafe.Add(ref vertical, 8 * half);                     // two vectors for a partial store
            for (int ty0 = firstChunk * rowsPerChunk; ty0 < Math.Min(th, lastChunk * rowsPerChunk); ty0 += rowsPerChunk)
            {
                int chunkRows = Math.Min(rowsPerChunk, th - ty0);
                // Input transform V = Bᵀ d B, Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]], per channel and tile row.
                for (int r = 0; r < rowsPerChunk; r++)
                for (int i = 0; i < c; i++)
                {
                    if (r >= chunkRows)
                    {
                        // Past the last tile row: zeros, so the products of this chunk's padding are finite and unused.
                        for (int p = 0; p < 16; p++)
                            for (int tx = 0; tx < twp; tx += 16)
                                MemoryMarshal.CreateSpan(ref Unsafe.Add(ref transformed, p * kPanelsStride + (((r * twp + tx) / 16) * c + i) * 16), 16).Clear();
                        continue;
                    }
                    TransformTileRow<TLanes>(ref Unsafe.Add(ref planes, i * planeFloats + 2 * (ty0 + r) * rowFloats), half, twp, ref vertical,
                        ref Unsafe.Add(ref transformed, (r * twp / 16 * c + i) * 16), kPanelsStride, 16 * c);
                }
                // Sixteen products M_p = U_p · V_p: [out, C] · [C, n].
                for (int p = 0; p < 16; p++)
                {
                    PackedLinear.Run<IdentityOperator>(ref Unsafe.Add(ref filters, p * outC * c), c, outC,
                        ref Unsafe.Add(ref transformed, p * kPanelsStride), ref zeros, c, n, ref Unsafe.Add(ref products, p * outC * n), n);
                }
                OutputTransform<TEpilogue, TLanes>(ref products, n, twp, ref bias, ref result, Geometry, ty0, chunkRows, 0, outC, ref temp);
            }
        }
    }

    /// <summary>
    /// Every tile at once, the input transform: channels <c>[first, last)</c>, each tile row straight into V_p, its tiles at
    /// columns <c>ty·rowTiles + tx</c> (rows padded to 4, 8 or 16 tiles, so a row never crosses a panel; the vectors are
    /// no wider than a row). The rows past the last are zeros, so their products are finite and unused.
    /// </summary>
    private unsafe struct FlatInput<TLanes> : KernelWorkers.IChunks
        where TLanes : struct, ILanes<TLanes>
    {
        public float* Planes, Transformed;
        public ConvGeometry Geometry;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int first, int last, float* scratch)
        {
            int c = Geometry.Channels, oh = Geometry.OutHeight, ow = Geometry.OutWidth, th = (oh + 1) / 2;
            (int twp, _) = KernelScratch.WinogradChunking(ow);
            int half = twp + 1 + Slack, rowFloats = 2 * half, planeFloats = (2 * th + 2) * rowFloats;
            int n = KernelScratch.WinogradFlatColumns(oh, ow), rowTiles = KernelScratch.WinogradFlatRowTiles(ow), pStride = c * n;
            ref float planes = ref *Planes, transformed = ref *Transformed;
            for (int i = first; i < last; i++)
            {
                for (int ty = 0; ty < th; ty++)
                {
                    int column = ty * rowTiles;
                    TransformTileRow<TLanes>(ref Unsafe.Add(ref planes, i * planeFloats + 2 * ty * rowFloats), half, rowTiles, ref *scratch,
                        ref Unsafe.Add(ref transformed, (column / 16 * c + i) * 16 + column % 16), pStride, 16 * c);
                }
                for (int p = 0; p < 16; p++)
                    for (int column = th * rowTiles; column < n; column += rowTiles)
                        MemoryMarshal.CreateSpan(ref Unsafe.Add(ref transformed, p * pStride + (column / 16 * c + i) * 16 + column % 16), rowTiles).Clear();
            }
        }
    }

    /// <summary>
    /// Every tile at once, products <c>[first, last)</c> of the sixteen, M_p = U_p · V_p, each over every output channel
    /// (so a panel of V_p stays in L1 while all the channels' row tiles read it; sixteen pieces share evenly among threads).
    /// </summary>
    private unsafe struct FlatProducts : KernelWorkers.IChunks
    {
        public float* Transformed, Products, Filters, Zeros;
        public ConvGeometry Geometry;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int first, int last, float* scratch)
        {
            int c = Geometry.Channels, outC = Geometry.OutChannels, n = KernelScratch.WinogradFlatColumns(Geometry.OutHeight, Geometry.OutWidth);
            for (int p = first; p < last; p++)
                PackedLinear.Run<IdentityOperator>(ref Filters[p * outC * c], c, outC, ref Transformed[p * c * n], ref *Zeros, c, n, ref Products[p * outC * n], n);
        }
    }

    /// <summary>Every tile at once, the output transform of output channels <c>[first, last)</c>.</summary>
    private unsafe struct FlatOutput<TEpilogue, TLanes> : KernelWorkers.IChunks
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        public float* Products, Bias, Result;
        public ConvGeometry Geometry;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int first, int last, float* scratch)
        {
            int oh = Geometry.OutHeight, ow = Geometry.OutWidth;
            OutputTransform<TEpilogue, TLanes>(ref *Products, KernelScratch.WinogradFlatColumns(oh, ow), KernelScratch.WinogradFlatRowTiles(ow), ref *Bias, ref *Result,
                Geometry, 0, (oh + 1) / 2, first, last, ref *scratch);
        }
    }

    /// <summary>
    /// Bᵀ d B for one channel's tile row, Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]: the four padded
    /// input rows from <paramref name="d0"/> (even columns, then odd ones), their vertical transform into
    /// <paramref name="vertical"/>, and V_p for p = 4t + q, tiles <c>[0, twp)</c>, stored at
    /// <c>destination + p·pStride + (tx / 16)·panelStep + tx % 16</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TransformTileRow<TLanes>(ref float d0, int half, int twp, ref float vertical, ref float destination, nint pStride, nint panelStep)
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, rowFloats = 2 * half;
        ref float d1 = ref Unsafe.Add(ref d0, rowFloats), d2 = ref Unsafe.Add(ref d0, 2 * rowFloats), d3 = ref Unsafe.Add(ref d0, 3 * rowFloats);
        // Rows of Bᵀ d, the columns [0, twp] the tiles read of the even half, then of the odd half.
        for (int j = 0; j < 2 * half; j = j < half ? j + lanes < twp + 1 ? j + lanes : half : j + lanes)
        {
            if (j >= half + twp + 1) break;
            TLanes a = TLanes.Load(ref Unsafe.Add(ref d0, j)), b = TLanes.Load(ref Unsafe.Add(ref d1, j));
            TLanes e = TLanes.Load(ref Unsafe.Add(ref d2, j)), f = TLanes.Load(ref Unsafe.Add(ref d3, j));
            TLanes.Store(TLanes.Subtract(a, e), ref Unsafe.Add(ref vertical, 0 * 2 * half + j));
            TLanes.Store(TLanes.Add(b, e), ref Unsafe.Add(ref vertical, 1 * 2 * half + j));
            TLanes.Store(TLanes.Subtract(e, b), ref Unsafe.Add(ref vertical, 2 * 2 * half + j));
            TLanes.Store(TLanes.Subtract(b, f), ref Unsafe.Add(ref vertical, 3 * 2 * half + j));
        }
        for (int t = 0; t < 4; t++)
        {
            ref float te = ref Unsafe.Add(ref vertical, t * 2 * half), to = ref Unsafe.Add(ref te, half);
            for (int tx = 0; tx < twp; tx += lanes)
            {
                // Columns of the tile: E[tx], O[tx], E[tx + 1], O[tx + 1].
                TLanes c0 = TLanes.Load(ref Unsafe.Add(ref te, tx)), c1 = TLanes.Load(ref Unsafe.Add(ref to, tx));
                TLanes c2 = TLanes.Load(ref Unsafe.Add(ref te, tx + 1)), c3 = TLanes.Load(ref Unsafe.Add(ref to, tx + 1));
                ref float at = ref Unsafe.Add(ref destination, t * 4 * pStride + tx / 16 * panelStep + tx % 16);
                TLanes.Store(TLanes.Subtract(c0, c2), ref at);
                TLanes.Store(TLanes.Add(c1, c2), ref Unsafe.Add(ref at, pStride));
                TLanes.Store(TLanes.Subtract(c2, c1), ref Unsafe.Add(ref at, 2 * pStride));
                TLanes.Store(TLanes.Subtract(c1, c3), ref Unsafe.Add(ref at, 3 * pStride));
            }
        }
    }

    /// <summary>
    /// Output transform Y = Aᵀ M A, Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], then the bias and the epilogue, into the output
    /// planes: output channels <c>[k0, k1)</c>, tile rows <c>[ty0, ty0 + rows)</c>, tile <c>(r, tx)</c> of the products at
    /// column <c>r·rowTiles + tx</c> of rows <c>n</c> long (vector loads may read up to a vector past the last tile).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void OutputTransform<TEpilogue, TLanes>(ref float products, int n, int rowTiles, ref float bias, ref float result,
        ConvGeometry geometry, int ty0, int rows, int k0, int k1, ref float temp)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, outC = geometry.OutChannels, oh = geometry.OutHeight, ow = geometry.OutWidth;
        for (int k = k0; k < k1; k++)
        {
            TLanes b = TLanes.Broadcast(Unsafe.Add(ref bias, k));
            ref float plane = ref Unsafe.Add(ref result, k * oh * ow);
            for (int r = 0; r < rows; r++)
            {
                int y = 2 * (ty0 + r);
                for (int tx = 0; 2 * tx < ow; tx += lanes)
                {
                    ref float m = ref Unsafe.Add(ref products, k * n + r * rowTiles + tx);
                    int stride = outC * n;
                    TLanes m00 = TLanes.Load(ref m), m01 = TLanes.Load(ref Unsafe.Add(ref m, stride)), m02 = TLanes.Load(ref Unsafe.Add(ref m, 2 * stride)), m03 = TLanes.Load(ref Unsafe.Add(ref m, 3 * stride));
                    TLanes m10 = TLanes.Load(ref Unsafe.Add(ref m, 4 * stride)), m11 = TLanes.Load(ref Unsafe.Add(ref m, 5 * stride)), m12 = TLanes.Load(ref Unsafe.Add(ref m, 6 * stride)), m13 = TLanes.Load(ref Unsafe.Add(ref m, 7 * stride));
                    TLanes m20 = TLanes.Load(ref Unsafe.Add(ref m, 8 * stride)), m21 = TLanes.Load(ref Unsafe.Add(ref m, 9 * stride)), m22 = TLanes.Load(ref Unsafe.Add(ref m, 10 * stride)), m23 = TLanes.Load(ref Unsafe.Add(ref m, 11 * stride));
                    TLanes m30 = TLanes.Load(ref Unsafe.Add(ref m, 12 * stride)), m31 = TLanes.Load(ref Unsafe.Add(ref m, 13 * stride)), m32 = TLanes.Load(ref Unsafe.Add(ref m, 14 * stride)), m33 = TLanes.Load(ref Unsafe.Add(ref m, 15 * stride));
                    // S = Aᵀ M (two rows), then Y = S A (two columns).
                    TLanes s00 = TLanes.Add(TLanes.Add(m00, m10), m20), s01 = TLanes.Add(TLanes.Add(m01, m11), m21);
                    TLanes s02 = TLanes.Add(TLanes.Add(m02, m12), m22), s03 = TLanes.Add(TLanes.Add(m03, m13), m23);
                    TLanes s10 = TLanes.Subtract(TLanes.Subtract(m10, m20), m30);
                    TLanes s11 = TLanes.Subtract(TLanes.Subtract(m11, m21), m31);
                    TLanes s12 = TLanes.Subtract(TLanes.Subtract(m12, m22), m32);
                    TLanes s13 = TLanes.Subtract(TLanes.Subtract(m13, m23), m33);
                    TLanes y00 = TLanes.Apply<TEpilogue>(TLanes.Add(TLanes.Add(TLanes.Add(s00, s01), s02), b));
                    TLanes y01 = TLanes.Apply<TEpilogue>(TLanes.Add(TLanes.Subtract(TLanes.Subtract(s01, s02), s03), b));
                    TLanes y10 = TLanes.Apply<TEpilogue>(TLanes.Add(TLanes.Add(TLanes.Add(s10, s11), s12), b));
                    TLanes y11 = TLanes.Apply<TEpilogue>(TLanes.Add(TLanes.Subtract(TLanes.Subtract(s11, s12), s13), b));
                    int count = Math.Min(2 * lanes, ow - 2 * tx);
                    TLanes.StoreInterleaved(y00, y01, ref Unsafe.Add(ref plane, y * ow + 2 * tx), count, ref temp);
                    if (y + 1 < oh) TLanes.StoreInterleaved(y10, y11, ref Unsafe.Add(ref plane, (y + 1) * ow + 2 * tx), count, ref temp);
                }
            }
        }
    }

    /// <summary>
    /// The sixteen <c>[out, C]</c> matrices <c>U = G g Gᵀ</c> from PyTorch's filters <c>[out, C, 3, 3]</c>, as the build-time
    /// layout holds them (<c>WeightLayoutKind.WinogradFilters</c>, there computed in double): for a direct layer handed to this
    /// kernel at run time. G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformFilters(ref float weights, int outChannels, int channels, ref float filters)
    {
        int pairs = outChannels * channels;
        Span<float> gg = stackalloc float[12];
        for (int pair = 0; pair < pairs; pair++)
        {
            ref float g = ref Unsafe.Add(ref weights, pair * 9);
            // G g: four rows of three.
            for (int j = 0; j < 3; j++)
            {
                float g0 = Unsafe.Add(ref g, j), g1 = Unsafe.Add(ref g, 3 + j), g2 = Unsafe.Add(ref g, 6 + j);
                gg[j] = g0;
                gg[3 + j] = 0.5f * (g0 + g1 + g2);
                gg[6 + j] = 0.5f * (g0 - g1 + g2);
                gg[9 + j] = g2;
            }
            // (G g) Gᵀ: position i·4 + j of the pair's sixteen, each in its own matrix.
            for (int i = 0; i < 4; i++)
            {
                float a = gg[3 * i], b = gg[3 * i + 1], c = gg[3 * i + 2];
                Unsafe.Add(ref filters, (i * 4 + 0) * pairs + pair) = a;
                Unsafe.Add(ref filters, (i * 4 + 1) * pairs + pair) = 0.5f * (a + b + c);
                Unsafe.Add(ref filters, (i * 4 + 2) * pairs + pair) = 0.5f * (a - b + c);
                Unsafe.Add(ref filters, (i * 4 + 3) * pairs + pair) = c;
            }
        }
    }

    /// <summary>Copies x[0..2L·m) apart: even positions to <paramref name="evens"/>, odd ones to <paramref name="odds"/>; returns how many it copied.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Deinterleave<TLanes>(ref float source, int count, ref float evens, ref float odds)
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count, x = 0;
        for (; x + 2 * lanes <= count; x += 2 * lanes)
        {
            TLanes.StoreDeinterleaved(TLanes.Load(ref Unsafe.Add(ref source, x)), TLanes.Load(ref Unsafe.Add(ref source, x + lanes)),
                ref Unsafe.Add(ref evens, x / 2), ref Unsafe.Add(ref odds, x / 2));
        }
        return x;
    }
}
