using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelCompiler.Kernels;

/// <summary>Convolution and pooling over samples laid out <c>[channels, height, width]</c> (PyTorch's NCHW).</summary>
public static class Convolution
{
    /// <summary>
    /// Scratch floats <see cref="Conv2d"/> needs for <paramref name="geometry"/>: one group's padded input, a chunk of its
    /// patches, packed, and for a 1×1 layer a chunk of its products.
    /// </summary>
    public static int ScratchFloats(ConvGeometry geometry) => KernelScratch.Im2Col(geometry);

    /// <summary>
    /// Effectively computes PyTorch's <c>conv2d</c> (zero padding, groups) followed by <typeparamref name="TEpilogue"/>, as a
    /// GEMM in the layout the output already has: per sample and group, the weights <c>[out/groups, c/groups·kh·kw]</c>
    /// (row-major, as PyTorch stores them) times the patches <c>[c/groups·kh·kw, oh·ow]</c> is the output
    /// <c>[out/groups, oh·ow]</c>, channel after channel. The group's input planes are first copied with their zero padding
    /// around them, so that gathering the patches (im2col) needs no bounds test: each filter tap reads every output
    /// position through one table of offsets, straight into the panel layout <see cref="PackedLinear"/> reads its
    /// right-hand side in (16 positions side by side per tap). Then the bias and the epilogue go over each output
    /// channel's row. (Patches gathered into rows instead, weights on the right, and the product transposed back cost
    /// ResNet-18 a third of its time: scattered reads, then scattered writes.) A 1-D convolution is this with height 1
    /// and no vertical padding (<see cref="ConvGeometry"/>). With <paramref name="workers"/>, each sample's chunks of output
    /// positions are shared among the threads, each gathering into its own scratch.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Conv2d<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float weights, ref float bias, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator =>
        Conv2dWithResidual<TEpilogue>(ref input, ref output, samples, geometry, ref weights, ref bias, ref Unsafe.NullRef<float>(), ref scratch, workers);

    /// <summary>
    /// <see cref="Conv2d{TEpilogue}"/>
    /// with a residual added in the store: <c>output = epilogue((conv + bias) + residual)</c>, <paramref name="residual"/>
    /// laid out as the output (a ResNet block's skip connection, a MobileNet block's); a null reference adds nothing. It
    /// must not overlap the output (the arena never places a kernel's output over its inputs).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Conv2dWithResidual<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float weights, ref float bias, ref float residual, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator
    {
        // The chunks reach the operands through pointers (they may run on other threads): pinned for the call.
        fixed (float* pinnedInput = &input, pinnedOutput = &output, pinnedWeights = &weights, pinnedBias = &bias, pinnedResidual = &residual, pinnedScratch = &scratch)
            Conv2dPinned<TEpilogue>(ref input, ref output, samples, geometry, ref weights, ref bias, pinnedResidual, ref scratch, workers);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Conv2dPinned<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float weights, ref float bias, float* residual, ref float scratch, KernelWorkers? workers)
        where TEpilogue : struct, IUnaryOperator
    {
        int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, kh = geometry.KernelHeight, kw = geometry.KernelWidth;
        int padding = geometry.Padding, oh = geometry.OutHeight, ow = geometry.OutWidth;
        int groups = geometry.Groups, padTop = geometry.VerticalPadding;
        int cg = c / groups, outG = outC / groups, k = cg * kh * kw, positions = oh * ow;
        int padded = PanelLayout.PaddedBiasLength(positions), hp = h + 2 * padTop, wp = w + 2 * padding;
        int chunkPanels = KernelScratch.Im2ColChunkPanels(k, positions), chunk = chunkPanels * PanelLayout.PanelWidth;
        workers = KernelWorkers.For(workers, (long)outG * k * positions);
        // Each thread's part: a chunk of patches, then (pointwise) of products; the calling thread's first in the scratch.
        int part = KernelScratch.Im2ColPart(geometry);
        ref float patches = ref scratch;
        ref float zeros = ref Unsafe.Add(ref patches, part);
        ref float planes = ref Unsafe.Add(ref zeros, chunk);
        int slack = KernelScratch.Im2ColWideSlack(geometry);
        ref int offsets = ref Unsafe.As<float, int>(ref Unsafe.Add(ref planes, cg * hp * wp + slack));
        if (IndirectGemm.IsSupported && KernelScratch.Im2ColWideShape(geometry))
        {
            WideConv2d<TEpilogue>(ref input, samples, geometry, ref weights, ref bias, residual, ref scratch, ref planes, ref offsets, output: ref output, workers);
            return;
        }
        Unsafe.InitBlockUnaligned(ref Unsafe.As<float, byte>(ref zeros), 0, (uint)(chunk * sizeof(float)));
        // Where each output position's window starts in a padded plane, row by row (no division per position); the spare
        // lanes of the last panel read its first.
        int q = 0;
        for (int y = 0; y < oh; y++)
        {
            int rowStart = y * geometry.RowStride * wp;
            for (int x = 0; x < ow; x++, q++) Unsafe.Add(ref offsets, q) = rowStart + x * geometry.Stride;
        }
        for (; q < padded; q++) Unsafe.Add(ref offsets, q) = 0;
        // Without padding the planes are the input itself: nothing is copied (a 1×1 convolution reads its input in place).
        bool inPlace = padding == 0 && padTop == 0;
        for (nint n = 0; n < samples; n++)
        for (int g = 0; g < groups; g++)
        {
            ref float x = ref Unsafe.Add(ref input, (n * c + g * cg) * h * w);
            ref float source = ref inPlace ? ref x : ref planes;
            if (!inPlace) CopyPadded(ref x, ref planes, cg, h, w, padTop, padding);
            var body = new Im2ColChunks<TEpilogue>
            {
                Source = (float*)Unsafe.AsPointer(ref source),
                Weights = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref weights, g * outG * k)),
                Bias = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref bias, g * outG)),
                Output = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref output, (n * outC + g * outG) * positions)),
                Residual = residual == null ? null : residual + (n * outC + g * outG) * positions,
                Zeros = (float*)Unsafe.AsPointer(ref zeros),
                Offsets = (int*)Unsafe.AsPointer(ref offsets),
                Geometry = geometry,
                Chunk = chunk,
            };
            // Shared among threads by panels (each thread an even, contiguous share, gathered a chunk at a time).
            KernelWorkers.Split(workers, padded / PanelLayout.PanelWidth, body, (float*)Unsafe.AsPointer(ref patches), part);
        }
    }

    /// <summary>
    /// <paramref name="channels"/> planes of <c>[h, w]</c> from <paramref name="x"/> into <paramref name="planes"/> with
    /// <paramref name="padTop"/> zero rows above and below and <paramref name="padding"/> zero columns either side, every
    /// float of the padded planes written (a call per row to a block copy and two block fills cost more than the copy itself
    /// on rows of 32 floats: 3 × 1,776 calls for one of the speech embedding's layers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyPadded(ref float x, ref float planes, int channels, int h, int w, int padTop, int padding)
    {
        int wp = w + 2 * padding;
        ref float to = ref planes;
        for (int i = 0; i < channels; i++)
        {
            for (int j = 0; j < padTop * wp; j++) Unsafe.Add(ref to, j) = 0f;
            to = ref Unsafe.Add(ref to, padTop * wp);
            for (int y = 0; y < h; y++)
            {
                for (int j = 0; j < padding; j++) Unsafe.Add(ref to, j) = 0f;
                ref float row = ref Unsafe.Add(ref to, padding);
                int q = 0;
                if (Vector256.IsHardwareAccelerated)
                    for (; q + 8 <= w; q += 8) Vector256.LoadUnsafe(ref x, (nuint)q).StoreUnsafe(ref row, (nuint)q);
                else if (Vector128.IsHardwareAccelerated)
                    for (; q + 4 <= w; q += 4) Vector128.LoadUnsafe(ref x, (nuint)q).StoreUnsafe(ref row, (nuint)q);
                for (; q < w; q++) Unsafe.Add(ref row, q) = Unsafe.Add(ref x, q);
                for (int j = 0; j < padding; j++) Unsafe.Add(ref row, w + j) = 0f;
                x = ref Unsafe.Add(ref x, w);
                to = ref Unsafe.Add(ref to, wp);
            }
            for (int j = 0; j < padTop * wp; j++) Unsafe.Add(ref to, j) = 0f;
            to = ref Unsafe.Add(ref to, padTop * wp);
        }
    }

    /// <summary>
    /// A stride-1 layer (<see cref="KernelScratch.Im2ColWideShape"/>) on a CPU with <see cref="IndirectGemm"/>'s tiles:
    /// per sample and group, the input copied into zero-padded planes (with <see cref="KernelScratch.Im2ColWideSlack"/>
    /// zeros after them), then the GEMM over wide positions (<c>oh × wp</c>, counted along the padded width), each filter
    /// tap reading the planes at one offset: nothing is gathered. Each chunk's products go to the thread's scratch and the
    /// bias pass copies the real columns out (<see cref="Im2ColWide{TEpilogue}"/>). Same sums, in the same order, as the
    /// gathered GEMM. Measured on Zen 3 (AVX2), the speech embedding's 1×3 and 3×1 layers: see docs/performance.md.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WideConv2d<TEpilogue>(ref float input, nint samples, ConvGeometry geometry, ref float weights, ref float bias, float* residual,
        ref float scratch, ref float planes, ref int offsets, ref float output, KernelWorkers? workers)
        where TEpilogue : struct, IUnaryOperator
    {
        int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, kh = geometry.KernelHeight, kw = geometry.KernelWidth;
        int padding = geometry.Padding, padTop = geometry.VerticalPadding, dilation = geometry.Dilation, groups = geometry.Groups;
        int cg = c / groups, outG = outC / groups, k = cg * kh * kw, positions = geometry.OutHeight * geometry.OutWidth;
        int hp = h + 2 * padTop, wp = w + 2 * padding;
        int panels = (KernelScratch.Im2ColWidePositions(geometry) + PanelLayout.PanelWidth - 1) / PanelLayout.PanelWidth;
        workers = KernelWorkers.For(workers, (long)outG * k * positions);
        // Filter tap (i, u, v), in the filters' order, reads every wide position at one offset into the planes.
        for (int i = 0, tap = 0; i < cg; i++)
            for (int u = 0; u < kh; u++)
                for (int v = 0; v < kw; v++, tap++)
                    Unsafe.Add(ref offsets, tap) = (i * hp + u * dilation) * wp + v * dilation;
        // The slack the last panel reads past the planes: zero.
        Unsafe.InitBlockUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref planes, cg * hp * wp)), 0, (uint)(KernelScratch.Im2ColWideSlack(geometry) * sizeof(float)));
        for (nint n = 0; n < samples; n++)
        for (int g = 0; g < groups; g++)
        {
            CopyPadded(ref Unsafe.Add(ref input, (n * c + g * cg) * h * w), ref planes, cg, h, w, padTop, padding);
            var body = new Im2ColWide<TEpilogue>
            {
                Planes = (float*)Unsafe.AsPointer(ref planes),
                Weights = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref weights, g * outG * k)),
                Bias = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref bias, g * outG)),
                Output = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref output, (n * outC + g * outG) * positions)),
                Residual = residual == null ? null : residual + (n * outC + g * outG) * positions,
                Offsets = (int*)Unsafe.AsPointer(ref offsets),
                Geometry = geometry,
                Chunk = KernelScratch.Im2ColWideChunk(geometry),
            };
            // Shared among threads by panels of wide positions: each real position is one thread's.
            KernelWorkers.Split(workers, panels, body, (float*)Unsafe.AsPointer(ref scratch), KernelScratch.Im2ColPart(geometry));
        }
    }

    /// <summary>
    /// Panels <c>[first, last)</c> of wide positions (16 each) of one group of one sample, a chunk at a time: the chunk's
    /// products by <see cref="IndirectGemm"/> into the thread's scratch (rows an odd number of cache lines apart), then
    /// each output row's real columns out through the bias, the residual and the epilogue.
    /// </summary>
    private unsafe struct Im2ColWide<TEpilogue> : KernelWorkers.IChunks
        where TEpilogue : struct, IUnaryOperator
    {
        public float* Planes, Weights, Bias, Output, Residual;
        public int* Offsets;
        public ConvGeometry Geometry;
        public int Chunk;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int firstPanel, int lastPanel, float* scratch)
        {
            ConvGeometry geometry = Geometry;
            int outG = geometry.OutChannels / geometry.Groups, k = geometry.FilterLength;
            int oh = geometry.OutHeight, ow = geometry.OutWidth, wp = geometry.Width + 2 * geometry.Padding, positions = oh * ow;
            int stride = KernelScratch.Im2ColStagingStride(Chunk);
            ref float staging = ref *scratch;
            ref float o = ref *Output;
            for (int first = firstPanel * PanelLayout.PanelWidth, stop = lastPanel * PanelLayout.PanelWidth; first < stop; first += Chunk)
            {
                int columns = Math.Min(Chunk, stop - first);
                IndirectGemm.Run(ref *Weights, k, outG, ref Planes[first], ref *Offsets, k, columns / PanelLayout.PanelWidth, ref staging, stride);
                for (int j = 0; j < outG; j++)
                {
                    ref float products = ref Unsafe.Add(ref staging, j * stride);
                    for (int y = first / wp; y < oh && y * wp < first + columns; y++)
                    {
                        int x0 = Math.Max(0, first - y * wp), x1 = Math.Min(ow, first + columns - y * wp);
                        if (x1 <= x0) continue;
                        int at = j * positions + y * ow + x0;
                        WideRow(ref Unsafe.Add(ref products, y * wp + x0 - first), ref Unsafe.Add(ref o, at), Bias[j],
                            ref Unsafe.AsRef<float>(Residual == null ? null : Residual + at), x1 - x0);
                    }
                }
            }
        }
        /// <summary>
        /// <c>to[i] = epilogue((from[i] + b) + residual[i])</c> over a stretch of an output row, every value through the
        /// 256-bit epilogue (a vectorized epilogue and its scalar form may round differently, and where a row is cut
        /// between chunks or threads depends on the split): the last vector overlaps the one before, and a stretch shorter
        /// than a vector is computed as a whole vector (the staging row has room past it) and stored lane by lane.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void WideRow(ref float from, ref float to, float b, ref float residual, int length)
        {
            Vector256<float> bias = Vector256.Create(b);
            bool hasResidual = !Unsafe.IsNullRef(ref residual);
            if (length >= 8)
            {
                for (int i = 0; ; i += 8)
                {
                    if (i + 8 > length) i = length - 8;
                    Vector256<float> v = Vector256.LoadUnsafe(ref from, (nuint)i) + bias;
                    if (hasResidual) v += Vector256.LoadUnsafe(ref residual, (nuint)i);
                    TEpilogue.Invoke(v).StoreUnsafe(ref to, (nuint)i);
                    if (i + 8 >= length) return;
                }
            }
            Vector256<float> sum = Vector256.LoadUnsafe(ref from) + bias;
            if (hasResidual)
            {
                Vector256<float> r = Vector256<float>.Zero;
                for (int i = 0; i < length; i++) r = r.WithElement(i, Unsafe.Add(ref residual, i));
                sum += r;
            }
            Vector256<float> result = TEpilogue.Invoke(sum);
            for (int i = 0; i < length; i++) Unsafe.Add(ref to, i) = result.GetElement(i);
        }
    }

    /// <summary>
    /// Panels <c>[first, last)</c> of one group of one sample (16 output positions each), a chunk of positions at a time:
    /// the chunk's patches gathered into panels, then multiplied while they are still in cache (gathering every patch
    /// first, 22 MB for a 96-channel 3×3 layer on 80 × 80, left the GEMM streaming them back from memory), then the bias
    /// and the epilogue over each channel's row.
    /// </summary>
    private unsafe struct Im2ColChunks<TEpilogue> : KernelWorkers.IChunks
        where TEpilogue : struct, IUnaryOperator
    {
        public float* Source, Weights, Bias, Output, Residual, Zeros;
        public int* Offsets;
        public ConvGeometry Geometry;
        public int Chunk;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int firstPanel, int lastPanel, float* scratch)
        {
            ConvGeometry geometry = Geometry;
            int kh = geometry.KernelHeight, kw = geometry.KernelWidth, stride = geometry.Stride;
            int cg = geometry.Channels / geometry.Groups, outG = geometry.OutChannels / geometry.Groups, k = cg * kh * kw;
            int positions = geometry.OutHeight * geometry.OutWidth;
            ref float source = ref *Source;
            ref float patches = ref *scratch;
            ref float o = ref *Output;
            int stop = Math.Min(positions, lastPanel * PanelLayout.PanelWidth);
            // A 1×1, stride-1 convolution without padding reads its input in place, channels by positions: the GEMM takes
            // its whole panels straight from there instead of a gathered copy of the same values, and (KernelScratch.Im2ColStaged)
            // stores its products in the thread's scratch, from where the bias pass copies them out.
            bool pointwise = geometry.Pointwise, staged = KernelScratch.Im2ColStaged(geometry);
            ref float staging = ref Unsafe.Add(ref patches, Chunk * k);
            int stagingStride = KernelScratch.Im2ColStagingStride(Chunk);
            for (int first = firstPanel * PanelLayout.PanelWidth; first < stop; first += Chunk)
            {
                int columns = Math.Min(Chunk, stop - first), direct = pointwise ? columns / PanelLayout.PanelWidth * PanelLayout.PanelWidth : 0;
                if (direct > 0)
                {
                    // The products into the staging rows (or, where the planes' rows do not share L1 sets, in place).
                    ref float products = ref staged ? ref staging : ref Unsafe.Add(ref o, first);
                    nint productStride = staged ? stagingStride : positions;
                    PackedLinear.RunRowMajor<IdentityOperator>(ref *Weights, k, outG, ref Unsafe.Add(ref source, first), positions, ref *Zeros, k, direct,
                        ref products, productStride);
                    for (int j = 0; j < outG; j++)
                        BiasRow<TEpilogue>(ref Unsafe.Add(ref products, j * productStride), ref Unsafe.Add(ref o, j * positions + first), Bias[j],
                            ref Unsafe.AsRef<float>(Residual == null ? null : Residual + j * positions + first), direct);
                }
                if (direct < columns)
                {
                    int rest = columns - direct, at = first + direct;
                    Gather(at, rest, ref patches);
                    PackedLinear.Run<IdentityOperator>(ref *Weights, k, outG, ref patches, ref *Zeros, k, rest, ref Unsafe.Add(ref o, at), positions);
                    for (int j = 0; j < outG; j++)
                        BiasRow<TEpilogue>(ref Unsafe.Add(ref o, j * positions + at), ref Unsafe.Add(ref o, j * positions + at), Bias[j],
                            ref Unsafe.AsRef<float>(Residual == null ? null : Residual + j * positions + at), rest);
                }
            }
        }

        /// <summary>The patches of output positions <c>[first, first + columns)</c> into panels at <paramref name="patches"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Gather(int first, int columns, ref float patches)
        {
            ConvGeometry geometry = Geometry;
            int kh = geometry.KernelHeight, kw = geometry.KernelWidth, stride = geometry.Stride, dilation = geometry.Dilation;
            int cg = geometry.Channels / geometry.Groups, k = cg * kh * kw;
            int ow = geometry.OutWidth, positions = geometry.OutHeight * ow;
            int hp = geometry.Height + 2 * geometry.VerticalPadding, wp = geometry.Width + 2 * geometry.Padding;
            ref float source = ref *Source;
            ref int offsets = ref *Offsets;
            for (int i = 0; i < cg; i++)
            for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++)
            {
                int tap = (i * kh + u) * kw + v;
                ref float window = ref Unsafe.Add(ref source, (i * hp + u * dilation) * wp + v * dilation);
                for (int panel = first; panel < first + columns; panel += PanelLayout.PanelWidth)
                {
                    ref float destination = ref Unsafe.Add(ref patches, ((panel - first) / PanelLayout.PanelWidth * k + tap) * PanelLayout.PanelWidth);
                    if (stride == 1)
                    {
                        // Positions on one output row read neighbours: one block copy per stretch of a row in the panel.
                        int q = panel, end = Math.Min(panel + PanelLayout.PanelWidth, positions);
                        while (q < end)
                        {
                            int run = Math.Min(end, (q / ow + 1) * ow) - q;
                            ref float from = ref Unsafe.Add(ref window, Unsafe.Add(ref offsets, q));
                            if (run == PanelLayout.PanelWidth)
                                Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref destination), ref Unsafe.As<float, byte>(ref from), PanelLayout.PanelWidth * sizeof(float));
                            else CopyRun(ref Unsafe.Add(ref destination, q - panel), ref from, run);
                            q += run;
                        }
                        for (; q < panel + PanelLayout.PanelWidth; q++) Unsafe.Add(ref destination, q - panel) = window;
                        continue;
                    }
                    if (stride == 2 && (Avx2.IsSupported || AdvSimd.Arm64.IsSupported))
                    {
                        // Positions on one output row read every other input: the even lanes of two loads per vector,
                        // while both loads stay inside the padded row (its last columns one at a time).
                        int q = panel, end = Math.Min(panel + PanelLayout.PanelWidth, positions);
                        while (q < end)
                        {
                            int run = Math.Min(end, (q / ow + 1) * ow) - q, column = q % ow * 2 + v * dilation, j = 0;
                            ref float from = ref Unsafe.Add(ref window, Unsafe.Add(ref offsets, q));
                            ref float to = ref Unsafe.Add(ref destination, q - panel);
                            if (Avx2.IsSupported)
                            {
                                for (; j + 8 <= run && column + 2 * j + 16 <= wp; j += 8)
                                    EvenLanes256(ref Unsafe.Add(ref from, 2 * j)).StoreUnsafe(ref to, (nuint)j);
                            }
                            else
                            {
                                for (; j + 4 <= run && column + 2 * j + 8 <= wp; j += 4)
                                    EvenLanes128(ref Unsafe.Add(ref from, 2 * j)).StoreUnsafe(ref to, (nuint)j);
                            }
                            for (; j < run; j++) Unsafe.Add(ref to, j) = Unsafe.Add(ref from, 2 * j);
                            q += run;
                        }
                        for (; q < panel + PanelLayout.PanelWidth; q++) Unsafe.Add(ref destination, q - panel) = window;
                        continue;
                    }
                    for (int lane = 0; lane < PanelLayout.PanelWidth; lane++)
                        Unsafe.Add(ref destination, lane) = Unsafe.Add(ref window, Unsafe.Add(ref offsets, panel + lane));
                }
            }
        }
    }

    /// <summary>The floats at even offsets among the 16 from <paramref name="at"/>, in order (AVX2: a shuffle within each half, then the halves' middle quarters swapped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> EvenLanes256(ref float at)
    {
        Vector256<float> pairs = Avx.Shuffle(Vector256.LoadUnsafe(ref at), Vector256.LoadUnsafe(ref at, 8), 0b10_00_10_00);
        return Avx2.Permute4x64(pairs.AsDouble(), 0b11_01_10_00).AsSingle();
    }

    /// <summary>The floats at even offsets among the 8 from <paramref name="at"/>, in order (Arm64).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> EvenLanes128(ref float at) => AdvSimd.Arm64.UnzipEven(Vector128.LoadUnsafe(ref at), Vector128.LoadUnsafe(ref at, 4));

    /// <summary>Copies <paramref name="count"/> (below 16) floats: 4-float vectors, the last one overlapping the one before.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRun(ref float destination, ref float source, int count)
    {
        if (count < 4)
        {
            for (int j = 0; j < count; j++) Unsafe.Add(ref destination, j) = Unsafe.Add(ref source, j);
            return;
        }
        int i = 0;
        for (; i + 4 <= count; i += 4) Vector128.LoadUnsafe(ref source, (nuint)i).StoreUnsafe(ref destination, (nuint)i);
        if (i < count) Vector128.LoadUnsafe(ref source, (nuint)(count - 4)).StoreUnsafe(ref destination, (nuint)(count - 4));
    }

    /// <summary>
    /// <c>row[i] = epilogue(row[i] + residual[i])</c>, in place: the residual added to values that already hold their bias (the
    /// direct and Winograd kernels' rows, just stored without the epilogue, still in cache).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ResidualRow<TEpilogue>(ref float row, ref float residual, int length)
        where TEpilogue : struct, IUnaryOperator
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= length; i += 16)
                TEpilogue.Invoke(Vector512.LoadUnsafe(ref row, (nuint)i) + Vector512.LoadUnsafe(ref residual, (nuint)i)).StoreUnsafe(ref row, (nuint)i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= length; i += 8)
                TEpilogue.Invoke(Vector256.LoadUnsafe(ref row, (nuint)i) + Vector256.LoadUnsafe(ref residual, (nuint)i)).StoreUnsafe(ref row, (nuint)i);
        else if (Vector128.IsHardwareAccelerated)
            for (; i + 4 <= length; i += 4)
                TEpilogue.Invoke(Vector128.LoadUnsafe(ref row, (nuint)i) + Vector128.LoadUnsafe(ref residual, (nuint)i)).StoreUnsafe(ref row, (nuint)i);
        for (; i < length; i++) Unsafe.Add(ref row, i) = TEpilogue.Invoke(Unsafe.Add(ref row, i) + Unsafe.Add(ref residual, i));
    }

    /// <summary>
    /// One output channel's row, from <paramref name="from"/> (the products, or the row itself) to <paramref name="to"/>:
    /// plus its bias, plus the residual's row where there is one, then the epilogue: <c>to[i] = epilogue((from[i] + b) +
    /// residual[i])</c>, rounded as the convolution's store and a separate Add would.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BiasRow<TEpilogue>(ref float from, ref float to, float b, ref float residual, int length)
        where TEpilogue : struct, IUnaryOperator
    {
        if (!Unsafe.IsNullRef(ref residual))
        {
            BiasResidualRow<TEpilogue>(ref from, ref to, b, ref residual, length);
            return;
        }
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> bv = Vector512.Create(b);
            for (; i + 16 <= length; i += 16) TEpilogue.Invoke(Vector512.LoadUnsafe(ref from, (nuint)i) + bv).StoreUnsafe(ref to, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> bv = Vector256.Create(b);
            for (; i + 8 <= length; i += 8) TEpilogue.Invoke(Vector256.LoadUnsafe(ref from, (nuint)i) + bv).StoreUnsafe(ref to, (nuint)i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> bv = Vector128.Create(b);
            for (; i + 4 <= length; i += 4) TEpilogue.Invoke(Vector128.LoadUnsafe(ref from, (nuint)i) + bv).StoreUnsafe(ref to, (nuint)i);
        }
        for (; i < length; i++) Unsafe.Add(ref to, i) = TEpilogue.Invoke(Unsafe.Add(ref from, i) + b);
    }

    /// <summary><see cref="BiasRow{TEpilogue}"/> with a residual row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BiasResidualRow<TEpilogue>(ref float from, ref float to, float b, ref float residual, int length)
        where TEpilogue : struct, IUnaryOperator
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> bv = Vector512.Create(b);
            for (; i + 16 <= length; i += 16)
                TEpilogue.Invoke(Vector512.LoadUnsafe(ref from, (nuint)i) + bv + Vector512.LoadUnsafe(ref residual, (nuint)i)).StoreUnsafe(ref to, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> bv = Vector256.Create(b);
            for (; i + 8 <= length; i += 8)
                TEpilogue.Invoke(Vector256.LoadUnsafe(ref from, (nuint)i) + bv + Vector256.LoadUnsafe(ref residual, (nuint)i)).StoreUnsafe(ref to, (nuint)i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> bv = Vector128.Create(b);
            for (; i + 4 <= length; i += 4)
                TEpilogue.Invoke(Vector128.LoadUnsafe(ref from, (nuint)i) + bv + Vector128.LoadUnsafe(ref residual, (nuint)i)).StoreUnsafe(ref to, (nuint)i);
        }
        for (; i < length; i++) Unsafe.Add(ref to, i) = TEpilogue.Invoke(Unsafe.Add(ref from, i) + b + Unsafe.Add(ref residual, i));
    }

    /// <summary>
    /// Effectively computes a depthwise <c>conv2d</c> (groups = channels, one input channel per group) followed by
    /// <typeparamref name="TEpilogue"/>: output channel o reads input channel <c>o / (out / channels)</c> through its own
    /// <c>kh×kw</c> filter (<c>weights</c>: <c>[out, kh·kw]</c>, as PyTorch stores them) plus
    /// <c>bias[o]</c>. Direct: each output sums its taps in a register and is stored once, through the epilogue; at stride 1
    /// the interior of each output row (every tap inside the row) is vectorized along it. <c>geometry</c> is as for
    /// <see cref="Conv2d{TEpilogue}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Depthwise<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float weights, ref float bias, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator
    {
        // The planes reach the operands through pointers (they may run on other threads): pinned for the call.
        fixed (float* pinnedInput = &input, pinnedOutput = &output, pinnedWeights = &weights, pinnedBias = &bias)
        {
            var planes = new DepthwisePlanes<TEpilogue>
            {
                Input = pinnedInput,
                Output = pinnedOutput,
                Weights = pinnedWeights,
                Bias = pinnedBias,
                Geometry = geometry,
            };
            // Each output plane is independent: with workers, runs of planes are shared among the threads (no scratch).
            long work = (long)samples * geometry.OutChannels * geometry.OutHeight * geometry.OutWidth * geometry.KernelHeight * geometry.KernelWidth;
            KernelWorkers.Split(KernelWorkers.For(workers, work), checked((int)(samples * geometry.OutChannels)), planes, null, 0);
        }
    }

    /// <summary>Output planes <c>[first, last)</c> of a depthwise convolution, plane p being sample p / out's channel p % out.</summary>
    private unsafe struct DepthwisePlanes<TEpilogue> : KernelWorkers.IChunks
        where TEpilogue : struct, IUnaryOperator
    {
        public float* Input, Output, Weights, Bias;
        public ConvGeometry Geometry;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int firstPlane, int lastPlane, float* scratch)
        {
            ConvGeometry geometry = Geometry;
            int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, kh = geometry.KernelHeight, kw = geometry.KernelWidth;
            int stride = geometry.Stride, padding = geometry.Padding, dilation = geometry.Dilation, oh = geometry.OutHeight, ow = geometry.OutWidth, padTop = geometry.VerticalPadding;
            int multiplier = outC / c;
            ref float input = ref *Input, output = ref *Output, weights = ref *Weights, bias = ref *Bias;
            // At stride 1, output columns [lo, hi) read only columns inside the row for every filter tap; at stride 2, columns
            // from lo do until their last tap leaves the row (each vector of outputs takes the even lanes of two loads).
            int lo = stride == 1 ? Math.Min(padding, ow) : stride == 2 ? Math.Min((padding + 1) / 2, ow) : ow;
            int hi = stride == 1 ? Math.Max(lo, Math.Min(ow, w + padding - (kw - 1) * dilation)) : ow;
            int reach = (kw - 1) * dilation - padding; // the last tap's column, less the first output's (xo·stride)
            if (SmallPlane(geometry))
            {
                RunSmall(firstPlane, lastPlane);
                return;
            }
            for (int p = firstPlane; p < lastPlane; p++)
            {
                nint n = p / outC;
                int o = p % outC;
                ref float x = ref Unsafe.Add(ref input, (n * c + o / multiplier) * h * w);
                ref float filter = ref Unsafe.Add(ref weights, o * kh * kw);
                ref float plane = ref Unsafe.Add(ref output, (n * outC + o) * oh * ow);
                float b = Unsafe.Add(ref bias, o);
                for (int y = 0; y < oh; y++)
                {
                    ref float row = ref Unsafe.Add(ref plane, y * ow);
                    // The filter rows that fall inside the plane for this output row.
                    int top = y * geometry.RowStride - padTop, uLo = 0, uHi = kh;
                    while (uLo < kh && top + uLo * dilation < 0) uLo++;
                    while (uHi > uLo && top + (uHi - 1) * dilation >= h) uHi--;
                    int xo = 0;
                    for (; xo < lo; xo++) Unsafe.Add(ref row, xo) = TEpilogue.Invoke(Window(ref x, ref filter, b, top, uLo, uHi, xo * stride - padding, w, kw, dilation));
                    if (uLo < uHi)
                    {
                        // The interior: each vector of outputs sums every tap in a register, then is stored once.
                        ref float first = ref Unsafe.Add(ref x, (nint)(top + uLo * dilation) * w);
                        if (stride == 2 && Avx2.IsSupported)
                        {
                            // Eight outputs read sixteen neighbours per tap: the even lanes of two vectors, in order. The last
                            // vector whose taps all stay inside the row starts at `end` − 8; a shorter remainder is covered by
                            // one more vector ending there, overlapping the one before (each lane sums the same taps in the
                            // same order, so the overlap stores the same values).
                            // Lane x reads up to column 2x + reach + 1 (the odd neighbour of its last tap): inside while x ≤ (w − 2 − reach) / 2.
                            int end = w - 2 - reach < 0 ? 0 : Math.Min(ow, (w - 2 - reach) / 2 + 1);
                            for (; xo + 16 <= end; xo += 16)
                                StrideTwoVectors<TEpilogue>(ref first, ref filter, ref row, b, xo, uLo, uHi, kw, dilation, w, padding, pair: true);
                            for (; xo + 8 <= end; xo += 8)
                                StrideTwoVectors<TEpilogue>(ref first, ref filter, ref row, b, xo, uLo, uHi, kw, dilation, w, padding, pair: false);
                            if (xo < end && end - 8 >= lo)
                            {
                                StrideTwoVectors<TEpilogue>(ref first, ref filter, ref row, b, end - 8, uLo, uHi, kw, dilation, w, padding, pair: false);
                                xo = end;
                            }
                        }
                        else if (stride == 2 && AdvSimd.Arm64.IsSupported)
                        {
                            for (; xo + 4 <= ow && 2 * (xo + 3) + 1 + reach < w; xo += 4)
                            {
                                Vector128<float> sum = Vector128.Create(b);
                                for (int u = uLo; u < uHi; u++)
                                {
                                    ref float line = ref Unsafe.Add(ref first, (nint)(u - uLo) * dilation * w + 2 * xo - padding);
                                    for (int v = 0; v < kw; v++)
                                    {
                                        ref float at = ref Unsafe.Add(ref line, v * dilation);
                                        sum = Vector128.MultiplyAddEstimate(Vector128.Create(Unsafe.Add(ref filter, u * kw + v)), EvenLanes128(ref at), sum);
                                    }
                                }
                                TEpilogue.Invoke(sum).StoreUnsafe(ref row, (nuint)xo);
                            }
                        }
                        else if (stride == 1 && Vector512.IsHardwareAccelerated)
                            xo = DepthwiseInteriorToEnd<TEpilogue, Lanes512>(ref first, ref filter, ref row, b, xo, lo, hi, uLo, uHi, kw, dilation, w, padding);
                        else if (stride == 1 && Vector256.IsHardwareAccelerated)
                            xo = DepthwiseInteriorToEnd<TEpilogue, Lanes256>(ref first, ref filter, ref row, b, xo, lo, hi, uLo, uHi, kw, dilation, w, padding);
                        else if (stride == 1 && Vector128.IsHardwareAccelerated)
                            xo = DepthwiseInteriorToEnd<TEpilogue, Lanes128>(ref first, ref filter, ref row, b, xo, lo, hi, uLo, uHi, kw, dilation, w, padding);
                    }
                    for (; xo < ow; xo++) Unsafe.Add(ref row, xo) = TEpilogue.Invoke(Window(ref x, ref filter, b, top, uLo, uHi, xo * stride - padding, w, kw, dilation));
                }
            }
        }

        /// <summary>
        /// Planes <c>[first, last)</c> of a layer <see cref="SmallPlane"/> takes: each input plane copied into a zero-padded
        /// plane on the stack, then every output row in whole vectors with no bounds to test (the padding adds zeros in place
        /// of the taps the edges skip).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void RunSmall(int firstPlane, int lastPlane)
        {
            ConvGeometry geometry = Geometry;
            int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, kh = geometry.KernelHeight, kw = geometry.KernelWidth;
            int padding = geometry.Padding, padTop = geometry.VerticalPadding, dilation = geometry.Dilation, oh = geometry.OutHeight, ow = geometry.OutWidth;
            int multiplier = outC / c, padW = w + 2 * padding;
            Span<float> padded = stackalloc float[SmallPlaneFloats];
            padded.Clear();
            ref float pad = ref padded[0];
            ref float input = ref *Input, output = ref *Output, weights = ref *Weights, bias = ref *Bias;
            for (int p = firstPlane; p < lastPlane; p++)
            {
                nint n = p / outC;
                int o = p % outC;
                ref float x = ref Unsafe.Add(ref input, (n * c + o / multiplier) * h * w);
                // Only the interior is rewritten: the border stays zero from the clear above.
                for (int y = 0; y < h; y++)
                    Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref pad, (y + padTop) * padW + padding)),
                        ref Unsafe.As<float, byte>(ref Unsafe.Add(ref x, y * w)), (uint)(w * sizeof(float)));
                ref float filter = ref Unsafe.Add(ref weights, o * kh * kw);
                ref float plane = ref Unsafe.Add(ref output, (n * outC + o) * oh * ow);
                float b = Unsafe.Add(ref bias, o);
                for (int y = 0; y < oh; y++)
                {
                    // Only the filter rows that fall inside the input (those on the zero border would add zeros).
                    int uLo = 0, uHi = kh;
                    while (uLo < kh && y - padTop + uLo * dilation < 0) uLo++;
                    while (uHi > uLo && y - padTop + (uHi - 1) * dilation >= h) uHi--;
                    SmallRow<TEpilogue>(ref Unsafe.Add(ref pad, (y + uLo * dilation) * padW), ref filter, ref Unsafe.Add(ref plane, y * ow), b, ow, uLo, uHi, kw, dilation, padW);
                }
            }
        }
    }

    /// <summary>Floats of the zero-padded plane a small stride-1 depthwise plane is copied into (on the stack).</summary>
    private const int SmallPlaneFloats = 4096;

    /// <summary>
    /// Whether a depthwise layer goes through <see cref="DepthwisePlanes{TEpilogue}.RunSmall"/>: stride 1, rows of at least four
    /// outputs, and a padded plane of at most <see cref="SmallPlaneFloats"/>. Such rows have little or no interior where
    /// every tap stays inside the row (none for 10 × 10 with a 5 × 5 filter), and the edges went output by output with a
    /// bounds test per tap: the PP-OCRv3 detector's 480-channel 10 × 10 layers spent 1.5 ms each on 1.2 M multiply-adds.
    /// </summary>
    private static bool SmallPlane(ConvGeometry g) =>
        g.Stride == 1 && g.RowStride == 1 && g.OutWidth >= 4 && Vector128.IsHardwareAccelerated
        && (long)(g.Height + 2 * g.VerticalPadding) * (g.Width + 2 * g.Padding) <= SmallPlaneFloats
        // Every tap of every output inside the padded plane (its rows and columns as the geometry pads them).
        && (long)g.OutHeight + (long)(g.KernelHeight - 1) * g.Dilation <= g.Height + 2L * g.VerticalPadding
        && (long)g.OutWidth + (long)(g.KernelWidth - 1) * g.Dilation <= g.Width + 2L * g.Padding;

    /// <summary>
    /// One output row of a small plane from its zero-padded copy (rows <paramref name="padW"/> long, <paramref name="first"/>
    /// at filter row <paramref name="uLo"/>'s input row; filter rows [uLo, uHi) are those inside the input): whole vectors, the last one overlapping the one before where the row is not a whole
    /// number of vectors (each lane sums the same taps in the same order, so the overlap stores the same values).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallRow<TEpilogue>(ref float first, ref float filter, ref float row, float b, int ow, int uLo, int uHi, int kw, int dilation, int padW)
        where TEpilogue : struct, IUnaryOperator
    {
        if (Vector512.IsHardwareAccelerated && ow >= 16) SmallRow<TEpilogue, Lanes512>(ref first, ref filter, ref row, b, ow, uLo, uHi, kw, dilation, padW);
        else if (Vector256.IsHardwareAccelerated && ow >= 8) SmallRow<TEpilogue, Lanes256>(ref first, ref filter, ref row, b, ow, uLo, uHi, kw, dilation, padW);
        else SmallRow<TEpilogue, Lanes128>(ref first, ref filter, ref row, b, ow, uLo, uHi, kw, dilation, padW);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SmallRow<TEpilogue, TLanes>(ref float first, ref float filter, ref float row, float b, int ow, int uLo, int uHi, int kw, int dilation, int padW)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        int xo = DepthwiseInterior<TEpilogue, TLanes>(ref first, ref filter, ref row, b, 0, ow, uLo, uHi, kw, dilation, padW, 0);
        if (xo < ow) DepthwiseInterior<TEpilogue, TLanes>(ref first, ref filter, ref row, b, ow - TLanes.Count, ow, uLo, uHi, kw, dilation, padW, 0);
    }

    /// <summary>
    /// A depthwise output row's interior at stride 1, from column <paramref name="xo"/> while a whole vector fits before
    /// <paramref name="hi"/>: each vector of outputs sums every tap of filter rows [<paramref name="uLo"/>, <paramref name="uHi"/>)
    /// in a register (<paramref name="first"/> is row uLo's input line), then is stored once. Returns the first column left.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DepthwiseInterior<TEpilogue, TLanes>(ref float first, ref float filter, ref float row, float b, int xo, int hi,
        int uLo, int uHi, int kw, int dilation, int w, int padding)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count;
        // Four vectors at a time: four independent sums, where one sum's taps would wait on each other's FMA latency.
        for (; xo + 4 * lanes <= hi; xo += 4 * lanes)
        {
            TLanes s0 = TLanes.Broadcast(b), s1 = s0, s2 = s0, s3 = s0;
            for (int u = uLo; u < uHi; u++)
            {
                ref float line = ref Unsafe.Add(ref first, (nint)(u - uLo) * dilation * w + xo - padding);
                for (int v = 0; v < kw; v++)
                {
                    TLanes f = TLanes.Broadcast(Unsafe.Add(ref filter, u * kw + v));
                    ref float at = ref Unsafe.Add(ref line, v * dilation);
                    s0 = TLanes.MultiplyAdd(f, TLanes.Load(ref at), s0);
                    s1 = TLanes.MultiplyAdd(f, TLanes.Load(ref Unsafe.Add(ref at, lanes)), s1);
                    s2 = TLanes.MultiplyAdd(f, TLanes.Load(ref Unsafe.Add(ref at, 2 * lanes)), s2);
                    s3 = TLanes.MultiplyAdd(f, TLanes.Load(ref Unsafe.Add(ref at, 3 * lanes)), s3);
                }
            }
            ref float o = ref Unsafe.Add(ref row, xo);
            TLanes.Store(TLanes.Apply<TEpilogue>(s0), ref o);
            TLanes.Store(TLanes.Apply<TEpilogue>(s1), ref Unsafe.Add(ref o, lanes));
            TLanes.Store(TLanes.Apply<TEpilogue>(s2), ref Unsafe.Add(ref o, 2 * lanes));
            TLanes.Store(TLanes.Apply<TEpilogue>(s3), ref Unsafe.Add(ref o, 3 * lanes));
        }
        for (; xo + TLanes.Count <= hi; xo += TLanes.Count)
        {
            TLanes sum = TLanes.Broadcast(b);
            for (int u = uLo; u < uHi; u++)
            {
                ref float line = ref Unsafe.Add(ref first, (nint)(u - uLo) * dilation * w + xo - padding);
                for (int v = 0; v < kw; v++)
                    sum = TLanes.MultiplyAdd(TLanes.Broadcast(Unsafe.Add(ref filter, u * kw + v)), TLanes.Load(ref Unsafe.Add(ref line, v * dilation)), sum);
            }
            TLanes.Store(TLanes.Apply<TEpilogue>(sum), ref Unsafe.Add(ref row, xo));
        }
        return xo;
    }

    /// <summary>
    /// <see cref="DepthwiseInterior{TEpilogue, TLanes}"/> up to <paramref name="hi"/>, then, where less than a vector is left
    /// and a vector ending at <paramref name="hi"/> starts at or after <paramref name="lo"/>, that vector too, overlapping
    /// the one before (each lane sums the same taps in the same order, so the overlap stores the same values): only the
    /// columns whose taps leave the row are left to the scalar edge.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DepthwiseInteriorToEnd<TEpilogue, TLanes>(ref float first, ref float filter, ref float row, float b, int xo, int lo, int hi,
        int uLo, int uHi, int kw, int dilation, int w, int padding)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        xo = DepthwiseInterior<TEpilogue, TLanes>(ref first, ref filter, ref row, b, xo, hi, uLo, uHi, kw, dilation, w, padding);
        if (xo < hi && hi - TLanes.Count >= lo)
            xo = DepthwiseInterior<TEpilogue, TLanes>(ref first, ref filter, ref row, b, hi - TLanes.Count, hi, uLo, uHi, kw, dilation, w, padding);
        return xo;
    }

    /// <summary>
    /// Eight (or with <paramref name="pair"/> sixteen) stride-2 depthwise outputs from column <paramref name="xo"/>, every tap
    /// inside the row: each tap's sixteen (thirty-two) neighbours are the even lanes of two (four) loads. Two sums at once
    /// keep two FMA chains in flight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StrideTwoVectors<TEpilogue>(ref float first, ref float filter, ref float row, float b, int xo, int uLo, int uHi, int kw,
        int dilation, int w, int padding, bool pair)
        where TEpilogue : struct, IUnaryOperator
    {
        Vector256<float> s0 = Vector256.Create(b), s1 = s0;
        for (int u = uLo; u < uHi; u++)
        {
            ref float line = ref Unsafe.Add(ref first, (nint)(u - uLo) * dilation * w + 2 * xo - padding);
            for (int v = 0; v < kw; v++)
            {
                Vector256<float> f = Vector256.Create(Unsafe.Add(ref filter, u * kw + v));
                ref float at = ref Unsafe.Add(ref line, v * dilation);
                s0 = Vector256.MultiplyAddEstimate(f, EvenLanes256(ref at), s0);
                if (pair) s1 = Vector256.MultiplyAddEstimate(f, EvenLanes256(ref Unsafe.Add(ref at, 16)), s1);
            }
        }
        TEpilogue.Invoke(s0).StoreUnsafe(ref row, (nuint)xo);
        if (pair) TEpilogue.Invoke(s1).StoreUnsafe(ref row, (nuint)xo + 8);
    }

    /// <summary>
    /// One depthwise output: the bias plus every tap of filter rows [<paramref name="uLo"/>, <paramref name="uHi"/>) whose
    /// column <c>left + v·dilation</c> is inside the row, in the order the vectorized interior sums them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Window(ref float x, ref float filter, float b, int top, int uLo, int uHi, int left, int w, int kw, int dilation)
    {
        float sum = b;
        for (int u = uLo; u < uHi; u++)
        {
            ref float line = ref Unsafe.Add(ref x, (nint)(top + u * dilation) * w);
            for (int v = 0; v < kw; v++)
            {
                int ix = left + v * dilation;
                if ((uint)ix < (uint)w) sum = float.MultiplyAddEstimate(Unsafe.Add(ref filter, u * kw + v), Unsafe.Add(ref line, ix), sum);
            }
        }
        return sum;
    }

    /// <summary>Effectively computes PyTorch's <c>max_pool2d</c> (padding counts as −∞) on <paramref name="planes"/> planes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void MaxPool2d(ref float input, ref float output, nint planes, int height, int width, int kernel, int stride, int padding,
        int outHeight, int outWidth, KernelWorkers? workers = null)
    {
        if (PoolPlanes.Shared(ref input, ref output, planes, height, width, kernel, stride, padding, outHeight, outWidth, max: true, workers)) return;
        int h = height, w = width, oh = outHeight, ow = outWidth;
        if (padding == 0 && kernel == 2)
        {
            // The common 2×2 window without padding: always inside the plane, no bounds to check.
            for (nint p = 0; p < planes; p++)
            {
                ref float x = ref Unsafe.Add(ref input, p * h * w);
                ref float o = ref Unsafe.Add(ref output, p * oh * ow);
                for (int y = 0; y < oh; y++)
                {
                    ref float top = ref Unsafe.Add(ref x, y * stride * w);
                    ref float bottom = ref Unsafe.Add(ref top, w);
                    int xo = 0;
                    if (stride == 2)
                        xo = MaxPoolPairs(ref top, ref bottom, ref Unsafe.Add(ref o, y * ow), ow, w);
                    for (; xo < ow; xo++)
                    {
                        int ix = xo * stride;
                        Unsafe.Add(ref o, y * ow + xo) = MathF.Max(MathF.Max(Unsafe.Add(ref top, ix), Unsafe.Add(ref top, ix + 1)),
                            MathF.Max(Unsafe.Add(ref bottom, ix), Unsafe.Add(ref bottom, ix + 1)));
                    }
                }
            }
            return;
        }
        // Any window (ResNet's 3×3, stride 2, padding 1): max is separable. Per output row, the window's input rows are
        // reduced to one row, vectorized along it; then each output takes the maximum of its columns of that row.
        // Padding is −∞: only positions inside the plane are read.
        // One row of maxima per thread, allocated on its first call (as the arena is): nothing per call.
        float[] column = t_poolRow is { } row && row.Length >= w ? row : t_poolRow = new float[w];
        ref float m = ref column[0];
        for (nint p = 0; p < planes; p++)
        {
            ref float x = ref Unsafe.Add(ref input, p * h * w);
            ref float o = ref Unsafe.Add(ref output, p * oh * ow);
            for (int y = 0; y < oh; y++)
            {
                int r0 = Math.Max(0, y * stride - padding), r1 = Math.Min(h, y * stride - padding + kernel);
                Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref m), ref Unsafe.As<float, byte>(ref Unsafe.Add(ref x, r0 * w)), (uint)(w * sizeof(float)));
                for (int r = r0 + 1; r < r1; r++) MaxInto(ref m, ref Unsafe.Add(ref x, r * w), w);
                (int from, int to) = r0 < r1 ? StrideTwoColumns(w, ow, kernel, stride, padding) : (ow, ow);
                for (int xo = 0; xo < ow; xo++)
                {
                    if (xo == from)
                    {
                        // Eight outputs at a time: each window column's values for eight outputs are the even lanes of two
                        // loads; the maximum taken in the scalar loop's order. A last vector overlaps the one before.
                        for (; xo + 8 <= to; xo += 8) StrideTwoMaxima(ref m, 2 * xo - padding, kernel, ref Unsafe.Add(ref o, y * ow + xo));
                        if (xo < to)
                        {
                            StrideTwoMaxima(ref m, 2 * (to - 8) - padding, kernel, ref Unsafe.Add(ref o, y * ow + to - 8));
                            xo = to;
                        }
                        if (xo >= ow) break;
                    }
                    int c0 = Math.Max(0, xo * stride - padding), c1 = Math.Min(w, xo * stride - padding + kernel);
                    float scalarMax = r0 < r1 ? Unsafe.Add(ref m, c0) : float.NegativeInfinity;
                    for (int c = c0 + 1; c < c1; c++) scalarMax = MathF.Max(scalarMax, Unsafe.Add(ref m, c));
                    Unsafe.Add(ref o, y * ow + xo) = scalarMax;
                }
            }
        }
    }

    /// <summary>
    /// The output columns <c>[from, to)</c> a stride-2 max pool row computes in 256-bit vectors (AVX2): every window column
    /// inside the row, and every load of sixteen floats too (from column 2·x − padding + j, j &lt; kernel). At least eight
    /// columns, or none (<c>from = to = ow</c>).
    /// </summary>
    private static (int From, int To) StrideTwoColumns(int w, int ow, int kernel, int stride, int padding)
    {
        if (stride != 2 || !Avx2.IsSupported) return (ow, ow);
        long first = (padding + 1) / 2, last = (long)w - 16 - kernel + padding; // a vector may start at x with 2x ≤ last
        if (last < 0) return (ow, ow);
        long to = Math.Min(ow, last / 2 + 8);
        return to - first >= 8 ? ((int)first, (int)to) : (ow, ow);
    }

    /// <summary>Eight stride-2 window maxima of <paramref name="kernel"/> columns, the first window at <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StrideTwoMaxima(ref float m, int start, int kernel, ref float destination)
    {
        ref float at = ref Unsafe.Add(ref m, start);
        Vector256<float> max = EvenLanes256(ref at);
        for (int j = 1; j < kernel; j++) max = Vector256.Max(max, EvenLanes256(ref Unsafe.Add(ref at, j)));
        max.StoreUnsafe(ref destination);
    }

    [ThreadStatic]
    private static float[]? t_poolRow;

    /// <summary>Planes <c>[first, last)</c> of a shared max or average pool: the one-thread kernel over that run of planes.</summary>
    private unsafe struct PoolPlanes : KernelWorkers.IChunks
    {
        public float* Input, Output;
        public int Height, Width, Kernel, Stride, Padding, OutHeight, OutWidth;
        public bool Max;

        /// <summary>Runs the pool shared among <paramref name="workers"/> by runs of planes when it has work enough; false if it did not.</summary>
        public static bool Shared(ref float input, ref float output, nint planes, int height, int width, int kernel, int stride, int padding,
            int outHeight, int outWidth, bool max, KernelWorkers? workers)
        {
            workers = KernelWorkers.For(workers, planes * outHeight * outWidth * kernel * kernel);
            if (workers is null) return false;
            // Pinned: the parts hold pointers.
            fixed (float* from = &input, to = &output)
            {
                var runs = new PoolPlanes
                {
                    Input = from, Output = to, Height = height, Width = width, Kernel = kernel, Stride = stride, Padding = padding,
                    OutHeight = outHeight, OutWidth = outWidth, Max = max,
                };
                KernelWorkers.Split(workers, checked((int)planes), runs, null, 0);
            }
            return true;
        }

        public readonly void Run(int first, int last, float* scratch)
        {
            ref float input = ref *(Input + (nint)first * Height * Width);
            ref float output = ref *(Output + (nint)first * OutHeight * OutWidth);
            if (Max) MaxPool2d(ref input, ref output, last - first, Height, Width, Kernel, Stride, Padding, OutHeight, OutWidth);
            else AvgPool2d(ref input, ref output, last - first, Height, Width, Kernel, Stride, Padding, OutHeight, OutWidth);
        }
    }

    /// <summary><c>m[i] = max(m[i], row[i])</c> over a row, NaN-propagating as <see cref="MathF.Max(float, float)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxInto(ref float m, ref float row, int length)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= length; i += 16) Vector512.Max(Vector512.LoadUnsafe(ref m, (nuint)i), Vector512.LoadUnsafe(ref row, (nuint)i)).StoreUnsafe(ref m, (nuint)i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= length; i += 8) Vector256.Max(Vector256.LoadUnsafe(ref m, (nuint)i), Vector256.LoadUnsafe(ref row, (nuint)i)).StoreUnsafe(ref m, (nuint)i);
        else if (Vector128.IsHardwareAccelerated)
            for (; i + 4 <= length; i += 4) Vector128.Max(Vector128.LoadUnsafe(ref m, (nuint)i), Vector128.LoadUnsafe(ref row, (nuint)i)).StoreUnsafe(ref m, (nuint)i);
        for (; i < length; i++) Unsafe.Add(ref m, i) = MathF.Max(Unsafe.Add(ref m, i), Unsafe.Add(ref row, i));
    }

    // Even and odd lanes, for the 2×2 stride-2 max pool: the maximum of each horizontal pair lands in the low half.
    private static readonly Vector512<int> Evens512 = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
    private static readonly Vector512<int> Odds512 = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);
    private static readonly Vector256<int> Evens256 = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
    private static readonly Vector256<int> Odds256 = Vector256.Create(1, 3, 5, 7, 1, 3, 5, 7);

    /// <summary>
    /// The vectorized part of a 2×2, stride-2 max pool row: <c>out[x] = max(top[2x], top[2x+1], bottom[2x], bottom[2x+1])</c>
    /// while whole vectors fit in the input row; returns how many outputs it wrote (the rest are left to scalar code).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MaxPoolPairs(ref float top, ref float bottom, ref float output, int ow, int w)
    {
        int xo = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; xo + 8 <= ow && 2 * xo + 16 <= w; xo += 8)
            {
                Vector512<float> m = Vector512.Max(Vector512.LoadUnsafe(ref top, (nuint)(2 * xo)), Vector512.LoadUnsafe(ref bottom, (nuint)(2 * xo)));
                Vector512.Max(Vector512.Shuffle(m, Evens512), Vector512.Shuffle(m, Odds512)).GetLower().StoreUnsafe(ref output, (nuint)xo);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; xo + 4 <= ow && 2 * xo + 8 <= w; xo += 4)
            {
                Vector256<float> m = Vector256.Max(Vector256.LoadUnsafe(ref top, (nuint)(2 * xo)), Vector256.LoadUnsafe(ref bottom, (nuint)(2 * xo)));
                Vector256.Max(Vector256.Shuffle(m, Evens256), Vector256.Shuffle(m, Odds256)).GetLower().StoreUnsafe(ref output, (nuint)xo);
            }
        }
        return xo;
    }

    /// <summary>
    /// Effectively computes PyTorch's <c>avg_pool2d</c> with <c>count_include_pad=True</c> (padding counts as zeros: every
    /// window is divided by kernel²) on <paramref name="planes"/> planes.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void AvgPool2d(ref float input, ref float output, nint planes, int height, int width, int kernel, int stride, int padding,
        int outHeight, int outWidth, KernelWorkers? workers = null)
    {
        if (PoolPlanes.Shared(ref input, ref output, planes, height, width, kernel, stride, padding, outHeight, outWidth, max: false, workers)) return;
        int h = height, w = width, oh = outHeight, ow = outWidth;
        float inverse = 1f / (kernel * kernel);
        for (nint p = 0; p < planes; p++)
        {
            ref float x = ref Unsafe.Add(ref input, p * h * w);
            ref float o = ref Unsafe.Add(ref output, p * oh * ow);
            for (int y = 0; y < oh; y++)
            for (int xo = 0; xo < ow; xo++)
            {
                float sum = 0f;
                for (int u = 0; u < kernel; u++)
                {
                    int iy = y * stride - padding + u;
                    if (iy < 0 || iy >= h) continue;
                    for (int v = 0; v < kernel; v++)
                    {
                        int ix = xo * stride - padding + v;
                        if (ix >= 0 && ix < w) sum += Unsafe.Add(ref x, iy * w + ix);
                    }
                }
                Unsafe.Add(ref o, y * ow + xo) = sum * inverse;
            }
        }
    }

    /// <summary>
    /// Effectively computes the mean of each of <paramref name="planes"/> planes of <paramref name="area"/> values (summed in
    /// vector lanes, so in another order than one by one: the result may differ in the last bits).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAvgPool(ref float input, ref float output, nint planes, int area)
    {
        for (nint p = 0; p < planes; p++)
        {
            ref float x = ref Unsafe.Add(ref input, p * area);
            int i = 0;
            float sum = 0f;
            if (Vector256.IsHardwareAccelerated && area >= 32)
            {
                // Four independent sums (one add's latency each), folded at the end: a plane of 6,400 values took a
                // chain of 6,400 dependent adds.
                Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
                for (; i + 32 <= area; i += 32)
                {
                    s0 += Vector256.LoadUnsafe(ref x, (nuint)i);
                    s1 += Vector256.LoadUnsafe(ref x, (nuint)(i + 8));
                    s2 += Vector256.LoadUnsafe(ref x, (nuint)(i + 16));
                    s3 += Vector256.LoadUnsafe(ref x, (nuint)(i + 24));
                }
                for (; i + 8 <= area; i += 8) s0 += Vector256.LoadUnsafe(ref x, (nuint)i);
                sum = Vector256.Sum((s0 + s1) + (s2 + s3));
            }
            else if (Vector128.IsHardwareAccelerated && area >= 16)
            {
                Vector128<float> s0 = Vector128<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
                for (; i + 16 <= area; i += 16)
                {
                    s0 += Vector128.LoadUnsafe(ref x, (nuint)i);
                    s1 += Vector128.LoadUnsafe(ref x, (nuint)(i + 4));
                    s2 += Vector128.LoadUnsafe(ref x, (nuint)(i + 8));
                    s3 += Vector128.LoadUnsafe(ref x, (nuint)(i + 12));
                }
                for (; i + 4 <= area; i += 4) s0 += Vector128.LoadUnsafe(ref x, (nuint)i);
                sum = Vector128.Sum((s0 + s1) + (s2 + s3));
            }
            for (; i < area; i++) sum += Unsafe.Add(ref x, i);
            Unsafe.Add(ref output, p) = sum / area;
        }
    }
}
