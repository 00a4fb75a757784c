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
    private const int Slack = KernelScratch.DirectSlack;

    /// <summary>
    /// Scratch floats <see cref="Run{TEpilogue}"/> needs for <paramref name="geometry"/>: one sample's zero-padded input
    /// planes (and, with a fused pool, room for one sample's unpooled output, which only the scalar form uses); unpooled, at
    /// least what <see cref="Convolution.Conv2d{TEpilogue}"/> needs, which the kernel may hand the layer to (<see cref="ThroughGemm"/>).
    /// </summary>
    public static int ScratchFloats(ConvGeometry geometry) => KernelScratch.Direct(geometry);

    /// <summary>
    /// Whether <see cref="Run{TEpilogue}"/> hands this layer to the im2col GEMM on this machine (a fused 2×2 pool then
    /// runs after it, over one sample's unpooled output in scratch): layers of at least <see cref="GemmChannels"/> output
    /// channels where only
    /// 16 vector registers of 256 bits (x86 without AVX-512) hold the channel blocks. There a block keeps 4 channels of 16
    /// outputs, too little work per filter tap to hide the loop around it: measured on Zen 3 (AVX2), the direct kernel ran
    /// at 5–24 GFLOP/s where the GEMM, gathering its patches a cache-sized chunk at a time, ran at 20–73 on the same layers
    /// (`ModelCompiler.Benchmarks -- conv`, docs/performance.md). With 32 registers (AVX-512, Arm) the direct kernel keeps
    /// 8 channels and was measured faster than the GEMM on small layers. Unpooled 1×1 layers go to the GEMM whatever their
    /// channels (<see cref="Pointwise"/>): it reads their input in place, so the gathering that keeps layers of fewer than
    /// <see cref="GemmChannels"/> outputs direct costs nothing there.
    /// </summary>
    public static bool ThroughGemm(ConvGeometry geometry) =>
        (geometry.OutChannels >= GemmChannels || Pointwise(geometry)) && !Vector512.IsHardwareAccelerated && !System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported
        && (!geometry.Pooled || geometry.OutWidth < NarrowRow
            || (long)geometry.OutChannels * geometry.Channels * geometry.KernelHeight * geometry.KernelWidth * geometry.OutHeight * geometry.OutWidth >= PooledGemmWork);

    /// <summary>
    /// A 1×1, stride-1, unpadded, unpooled layer: the im2col GEMM multiplies its input where it lies (channels by positions),
    /// nothing gathered. With few outputs its 4-row tiles still beat the direct kernel's blocks of 4 channels, which load
    /// each input vector for 4 multiply-adds: measured on Zen 3 (`ModelCompiler.Benchmarks -- conv`), 24 → 4 channels at
    /// 160 × 160 705 against 351 µs, 24 → 6 at 80 × 80 233–252 against 64–80 µs, 64 → 4 at 20 × 20 41 against 6 µs.
    /// </summary>
    public static bool Pointwise(ConvGeometry geometry) =>
        geometry.KernelHeight == 1 && geometry.KernelWidth == 1 && geometry.Stride == 1 && geometry.RowStride == 1
        && geometry.Padding == 0 && geometry.VerticalPadding == 0 && !geometry.Pooled;

    /// <summary>
    /// Output rows narrower than this go to the GEMM even pooled and small: the direct kernel vectorizes along a row, so
    /// most of its 8 lanes would be empty (openWakeWord's last pooled layer, 96 → 96 channels with rows of 2 outputs, ran at
    /// 2.4 G multiply-adds per second, 8 % of the model).
    /// </summary>
    public const int NarrowRow = 8;

    /// <summary>
    /// Whether <see cref="Run{TEpilogue}"/> hands this layer to <see cref="WinogradConvolution"/> (its filters transformed at
    /// each call, into scratch): where it would go to the GEMM (<see cref="ThroughGemm"/>) and its shape allows
    /// (<c>KernelScratch.DirectWinogradShape</c>). Measured on Zen 3 against the GEMM: 96 → 24 channels at 80 × 80 3.3 against
    /// 5.5 ms, 8 → 8 at 160 × 160 0.52 against 1.1 ms, 24 → 24 at 40 × 40 226 against 302 µs (the PP-OCRv3 detector's
    /// feature-pyramid layers).
    /// </summary>
    public static bool ThroughWinograd(ConvGeometry geometry) => ThroughGemm(geometry) && KernelScratch.DirectWinogradShape(geometry);

    /// <summary>
    /// Fewest multiply-adds per sample for which a pooled layer goes to the GEMM (then a pool pass): below it, the patch
    /// gathering, the unpooled plane and the second pass cost more than the slow direct blocks (measured on Zen 3: LeNet-5's
    /// 6 → 16 5×5 layer, 240 K, was slower through the GEMM; openWakeWord's 24- and 72-channel layers, 4 M each, took half
    /// the time).
    /// </summary>
    public const long PooledGemmWork = 1_000_000;

    /// <summary>
    /// Fewest output channels <see cref="ThroughGemm"/> hands to the GEMM (but for <see cref="Pointwise"/> layers): gathering the patches copies the input once per
    /// filter tap whatever the number of outputs, so with fewer channels the copy costs more than the products it feeds (a
    /// transposed convolution's 24 → 1 layer over 320 × 320 spent most of its time gathering).
    /// </summary>
    public const int GemmChannels = 8;

    /// <summary>
    /// Effectively computes PyTorch's <c>conv2d</c> (stride 1, groups 1, zero padding, any dilation) followed by
    /// <typeparamref name="TEpilogue"/>: <c>out[o, y, x] = bias[o] + Σ w[o, c, u, v] · in[c, y − p + u·d, x − p + v·d]</c>, summed
    /// over c, then u, then v. <paramref name="weights"/> are <c>[out, c, kh, kw]</c> as PyTorch stores them; <paramref name="bias"/>
    /// has one value per output channel. <c>geometry</c> is as for <see cref="Convolution.Conv2d{TEpilogue}"/> (stride must be 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float weights, ref float bias, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator =>
        RunWithResidual<TEpilogue>(ref input, ref output, samples, geometry, ref weights, ref bias, ref Unsafe.NullRef<float>(), ref scratch, workers);

    /// <summary>
    /// <see cref="Run{TEpilogue}"/>
    /// with a residual added before the epilogue, <c>output = epilogue((conv + bias) + residual)</c>, laid out as the
    /// output (not pooled: a fused pool takes no residual); a null reference adds nothing. Each row of a channel block gets
    /// it as soon as the block has stored the row.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void RunWithResidual<TEpilogue>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float weights, ref float bias, ref float residual, ref float scratch, KernelWorkers? workers = null)
        where TEpilogue : struct, IUnaryOperator
    {
        bool added = !Unsafe.IsNullRef(ref residual);
        if (added && geometry.Pooled) throw new ArgumentException("A pooled direct convolution takes no residual.", nameof(residual));
        if (ThroughGemm(geometry))
        {
            if (ThroughWinograd(geometry))
            {
                // The filters into the Winograd domain first ((m + 2)²·out·C floats), then the layer as a Winograd one, with the
                // tile a build-time Winograd layer of its shape would take.
                int tile = KernelScratch.WinogradTile(geometry.Channels, geometry.OutChannels, geometry.OutHeight, geometry.OutWidth);
                ref float filters = ref scratch;
                ref float rest = ref Unsafe.Add(ref scratch, (tile + 2) * (tile + 2) * geometry.OutChannels * geometry.Channels);
                WinogradConvolution.TransformFilters(ref weights, geometry.OutChannels, geometry.Channels, ref filters, tile);
                if (tile == 4) WinogradConvolution.Run4x4WithResidual<TEpilogue>(ref input, ref output, samples, geometry, ref filters, ref bias, ref residual, ref rest, workers);
                else WinogradConvolution.RunWithResidual<TEpilogue>(ref input, ref output, samples, geometry, ref filters, ref bias, ref residual, ref rest, workers);
                return;
            }
            if (!geometry.Pooled)
            {
                Convolution.Conv2dWithResidual<TEpilogue>(ref input, ref output, samples, geometry, ref weights, ref bias, ref residual, ref scratch, workers);
                return;
            }
            // Pooled (the epilogue, then the 2×2 maximum, as the direct kernel's store does): each sample convolved into
            // scratch, then pooled into the output (PyTorch drops an odd last row and column).
            int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, oh = geometry.OutHeight, ow = geometry.OutWidth;
            ref float unpooled = ref scratch;
            for (nint n = 0; n < samples; n++)
            {
                Convolution.Conv2d<TEpilogue>(ref Unsafe.Add(ref input, n * c * h * w), ref unpooled, 1, geometry, ref weights, ref bias,
                    ref Unsafe.Add(ref scratch, outC * oh * ow), workers);
                Convolution.MaxPool2d(ref unpooled, ref Unsafe.Add(ref output, n * outC * (oh / 2) * (ow / 2)), outC, oh, ow, 2, 2, 0, oh / 2, ow / 2, workers);
            }
            return;
        }
        int block = ChannelBlock(geometry);
        workers = KernelWorkers.For(workers, (long)geometry.OutChannels * geometry.OutHeight * geometry.OutWidth * geometry.Channels * geometry.KernelHeight * geometry.KernelWidth);
        // The blocks reach the operands through pointers (they may run on other threads): pinned for the call.
        fixed (float* pinnedInput = &input, pinnedOutput = &output, pinnedWeights = &weights, pinnedBias = &bias, pinnedResidual = &residual, pinnedScratch = &scratch)
        {
            // Eight channels take 16 accumulators: only where there are 32 vector registers (AVX-512, and Arm's 32 NEON registers).
            if (block == 8 && (Vector512.IsHardwareAccelerated || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported))
                Run<TEpilogue, Block8>(ref input, ref output, samples, geometry, ref weights, ref bias, pinnedResidual, ref scratch, workers);
            else if (block == 6) Run<TEpilogue, Block6>(ref input, ref output, samples, geometry, ref weights, ref bias, pinnedResidual, ref scratch, workers);
            else Run<TEpilogue, Block4>(ref input, ref output, samples, geometry, ref weights, ref bias, pinnedResidual, ref scratch, workers);
        }
    }

    /// <summary>
    /// Output channels kept in registers at once: <see cref="ConvGeometry.ChannelBlock"/> when it is 6 or 8 (chosen at
    /// build time by <see cref="BestChannelBlock"/>), else 4.
    /// </summary>
    public static int ChannelBlock(ConvGeometry geometry) => geometry.ChannelBlock is 6 or 8 ? geometry.ChannelBlock : 4;

    /// <summary>Whether a 2×2, stride-2 max pool is fused into the store: the output is then <c>[out, oh/2, ow/2]</c>.</summary>
    public static bool Pooled(ConvGeometry geometry) => geometry.Pooled;

    /// <summary>
    /// The channel block that computes the fewest channels in vain for <paramref name="outChannels"/>, the larger on a tie
    /// (fewer passes over the input): 6 channels are one block of 6, 16 two of 8, 12 two of 6.
    /// </summary>
    public static int BestChannelBlock(int outChannels) => KernelScratch.DirectChannelBlock(outChannels);

    private static unsafe void Run<TEpilogue, TBlock>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float weights, ref float bias, float* residual, ref float scratch, KernelWorkers? workers)
        where TEpilogue : struct, IUnaryOperator
        where TBlock : struct, IChannelBlock
    {
        bool pooled = Pooled(geometry);
        if (Vector512.IsHardwareAccelerated) Core<TEpilogue, Lanes512, TBlock>(ref input, ref output, samples, geometry, ref weights, ref bias, residual, ref scratch, pooled, workers);
        else if (Vector256.IsHardwareAccelerated) Core<TEpilogue, Lanes256, TBlock>(ref input, ref output, samples, geometry, ref weights, ref bias, residual, ref scratch, pooled, workers);
        else if (Vector128.IsHardwareAccelerated) Core<TEpilogue, Lanes128, TBlock>(ref input, ref output, samples, geometry, ref weights, ref bias, residual, ref scratch, pooled, workers);
        else if (!pooled) Core<TEpilogue, Lanes1, TBlock>(ref input, ref output, samples, geometry, ref weights, ref bias, residual, ref scratch, false, workers);
        else
        {
            // Scalar, pooled: one lane has no pairs to pool, so each sample is convolved into scratch, then pooled.
            int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, oh = geometry.OutHeight, ow = geometry.OutWidth;
            ref float unpooled = ref Unsafe.Add(ref scratch, KernelScratch.DirectPlanes(geometry));
            for (nint n = 0; n < samples; n++)
            {
                Core<TEpilogue, Lanes1, TBlock>(ref Unsafe.Add(ref input, n * c * h * w), ref unpooled, 1, geometry, ref weights, ref bias, null, ref scratch, false, workers);
                Convolution.MaxPool2d(ref unpooled, ref Unsafe.Add(ref output, n * outC * (oh / 2) * (ow / 2)), outC, oh, ow, 2, 2, 0, oh / 2, ow / 2);
            }
        }
    }

    /// <summary>How many output channels one pass keeps in registers (a JIT-time constant: the unused ones compile away).</summary>
    private interface IChannelBlock
    {
        static abstract int Count { get; }
    }

    private readonly struct Block4 : IChannelBlock
    {
        public static int Count => 4;
    }

    private readonly struct Block6 : IChannelBlock
    {
        public static int Count => 6;
    }

    private readonly struct Block8 : IChannelBlock
    {
        public static int Count => 8;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Core<TEpilogue, TLanes, TBlock>(ref float input, ref float output, nint samples, ConvGeometry geometry,
        ref float weights, ref float bias, float* residual, ref float scratch, bool pooled, KernelWorkers? workers)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
        where TBlock : struct, IChannelBlock
    {
        int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, kh = geometry.KernelHeight, kw = geometry.KernelWidth;
        int padding = geometry.Padding, dilation = geometry.Dilation, oh = geometry.OutHeight, ow = geometry.OutWidth, padTop = geometry.VerticalPadding;
        int lanes = TLanes.Count, ph = h + 2 * padTop, pw = w + 2 * padding + Slack, taps = c * kh * kw, plane = oh * ow;
        // Pooled: each block holds two rows, which the store reduces to one row of 2×2 maxima.
        int poh = oh / 2, pow = ow / 2, outPlane = pooled ? poh * pow : plane;
        // Only the padding must be zero (it is read for real outputs); the slack right of it is read only for lanes past a
        // row's end, which are never kept. The scratch is shared with other kernels, so the padding is zeroed on every call.
        for (int i = 0; i < c; i++)
        {
            ref float planeStart = ref Unsafe.Add(ref scratch, i * ph * pw);
            for (int y = 0; y < ph; y++)
            {
                ref float row = ref Unsafe.Add(ref planeStart, y * pw);
                if (y < padTop || y >= padTop + h) MemoryMarshal.CreateSpan(ref row, w + 2 * padding).Clear();
                else if (padding > 0)
                {
                    MemoryMarshal.CreateSpan(ref row, padding).Clear();
                    MemoryMarshal.CreateSpan(ref Unsafe.Add(ref row, padding + w), padding).Clear();
                }
            }
        }
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
            ref float result = ref Unsafe.Add(ref output, n * outC * outPlane);
            var blocks = new ChannelBlocks<TEpilogue, TLanes, TBlock>
            {
                Planes = (float*)Unsafe.AsPointer(ref scratch),
                Result = (float*)Unsafe.AsPointer(ref Unsafe.Add(ref output, n * outC * outPlane)),
                Residual = residual == null ? null : residual + n * outC * outPlane,
                Weights = (float*)Unsafe.AsPointer(ref weights),
                Bias = (float*)Unsafe.AsPointer(ref bias),
                Geometry = geometry,
                Pooled = pooled,
            };
            // Each block of output channels is independent: with workers, runs of blocks are shared among the threads, each
            // with its own two vectors for partial stores.
            KernelWorkers.Split(workers, (outC + TBlock.Count - 1) / TBlock.Count, blocks, (float*)Unsafe.AsPointer(ref partial), 2 * 64);
        }
    }

    /// <summary>
    /// One sample's blocks of output channels <c>[first, last)</c> over the padded planes (shared, read only), each block
    /// held in registers across every filter tap, stored through the epilogue (and the fused pool).
    /// </summary>
    private unsafe struct ChannelBlocks<TEpilogue, TLanes, TBlock> : KernelWorkers.IChunks
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
        where TBlock : struct, IChannelBlock
    {
        public float* Planes, Result, Residual, Weights, Bias;
        public ConvGeometry Geometry;
        public bool Pooled;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int firstBlock, int lastBlock, float* partialStart)
        {
            ConvGeometry geometry = Geometry;
            bool pooled = Pooled;
            int c = geometry.Channels, h = geometry.Height, w = geometry.Width, outC = geometry.OutChannels, kh = geometry.KernelHeight, kw = geometry.KernelWidth;
            int padding = geometry.Padding, dilation = geometry.Dilation, oh = geometry.OutHeight, ow = geometry.OutWidth, padTop = geometry.VerticalPadding;
            int lanes = TLanes.Count, ph = h + 2 * padTop, pw = w + 2 * padding + Slack, taps = c * kh * kw, plane = oh * ow;
            int poh = oh / 2, pow = ow / 2, outPlane = pooled ? poh * pow : plane;
            ref float scratch = ref *Planes, result = ref *Result, weights = ref *Weights, bias = ref *Bias, partial = ref *partialStart;
            // With a residual, the rows are stored without the epilogue, then each row of the block gets the residual and the
            // epilogue once the block has stored it (still in cache).
            float* residual = Residual;
            bool plain = residual == null;
            int block = TBlock.Count;
            for (int o0 = firstBlock * block; o0 < Math.Min(outC, lastBlock * block); o0 += block)
            {
                // A block of channels at a time; past the last channel the last one is computed again and not stored.
                int count = Math.Min(block, outC - o0);
                ref float w0 = ref Unsafe.Add(ref weights, o0 * taps);
                ref float w1 = ref Unsafe.Add(ref weights, Math.Min(o0 + 1, outC - 1) * taps);
                ref float w2 = ref Unsafe.Add(ref weights, Math.Min(o0 + 2, outC - 1) * taps);
                ref float w3 = ref Unsafe.Add(ref weights, Math.Min(o0 + 3, outC - 1) * taps);
                ref float w4 = ref TBlock.Count >= 6 ? ref Unsafe.Add(ref weights, Math.Min(o0 + 4, outC - 1) * taps) : ref w3;
                ref float w5 = ref TBlock.Count >= 6 ? ref Unsafe.Add(ref weights, Math.Min(o0 + 5, outC - 1) * taps) : ref w3;
                ref float w6 = ref TBlock.Count == 8 ? ref Unsafe.Add(ref weights, Math.Min(o0 + 6, outC - 1) * taps) : ref w3;
                ref float w7 = ref TBlock.Count == 8 ? ref Unsafe.Add(ref weights, Math.Min(o0 + 7, outC - 1) * taps) : ref w3;
                TLanes b0 = TLanes.Broadcast(Unsafe.Add(ref bias, o0)), b1 = TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 1, outC - 1)));
                TLanes b2 = TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 2, outC - 1))), b3 = TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 3, outC - 1)));
                TLanes b4 = TBlock.Count >= 6 ? TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 4, outC - 1))) : b3;
                TLanes b5 = TBlock.Count >= 6 ? TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 5, outC - 1))) : b3;
                TLanes b6 = TBlock.Count == 8 ? TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 6, outC - 1))) : b3;
                TLanes b7 = TBlock.Count == 8 ? TLanes.Broadcast(Unsafe.Add(ref bias, Math.Min(o0 + 7, outC - 1))) : b3;
                // Each block is two vectors: side by side on one output row, or, when a row fits in one vector, the
                // same columns of two consecutive rows (so narrow rows do not leave most lanes idle).
                // Pooled: always two rows, and only whole pairs of them (PyTorch drops an odd last row).
                bool twoRows = pooled || ow <= lanes;
                for (int y = 0; pooled ? y + 1 < oh : y < oh; y += twoRows ? 2 : 1)
                {
                for (int x0 = 0; x0 < (pooled ? 2 * pow : ow); x0 += twoRows ? lanes : 2 * lanes)
                {
                    int yB = twoRows ? Math.Min(y + 1, oh - 1) : y, xB = twoRows ? x0 : x0 + lanes;
                    TLanes a00 = b0, a01 = b0, a10 = b1, a11 = b1, a20 = b2, a21 = b2, a30 = b3, a31 = b3, a40 = b4, a41 = b4, a50 = b5, a51 = b5, a60 = b6, a61 = b6, a70 = b7, a71 = b7;
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
                            if (TBlock.Count >= 6)
                            {
                                k = TLanes.Broadcast(Unsafe.Add(ref w4, t));
                                a40 = TLanes.MultiplyAdd(i0, k, a40); a41 = TLanes.MultiplyAdd(i1, k, a41);
                                k = TLanes.Broadcast(Unsafe.Add(ref w5, t));
                                a50 = TLanes.MultiplyAdd(i0, k, a50); a51 = TLanes.MultiplyAdd(i1, k, a51);
                            }
                            if (TBlock.Count == 8)
                            {
                                k = TLanes.Broadcast(Unsafe.Add(ref w6, t));
                                a60 = TLanes.MultiplyAdd(i0, k, a60); a61 = TLanes.MultiplyAdd(i1, k, a61);
                                k = TLanes.Broadcast(Unsafe.Add(ref w7, t));
                                a70 = TLanes.MultiplyAdd(i0, k, a70); a71 = TLanes.MultiplyAdd(i1, k, a71);
                            }
                        }
                    }
                    if (pooled)
                    {
                        // Pair maxima of the two rows' maxima: lanes/2 outputs of pooled row y/2, from column x0/2.
                        int validP = Spill(Math.Min(lanes / 2, pow - x0 / 2), y / 2, poh, pow, lanes / 2);
                        ref float atP = ref Unsafe.Add(ref result, o0 * outPlane + y / 2 * pow + x0 / 2);
                        Pool<TEpilogue, TLanes>(a00, a01, ref atP, validP, ref partial);
                        if (count > 1) Pool<TEpilogue, TLanes>(a10, a11, ref Unsafe.Add(ref atP, outPlane), validP, ref partial);
                        if (count > 2) Pool<TEpilogue, TLanes>(a20, a21, ref Unsafe.Add(ref atP, 2 * outPlane), validP, ref partial);
                        if (count > 3) Pool<TEpilogue, TLanes>(a30, a31, ref Unsafe.Add(ref atP, 3 * outPlane), validP, ref partial);
                        if (count > 4) Pool<TEpilogue, TLanes>(a40, a41, ref Unsafe.Add(ref atP, 4 * outPlane), validP, ref partial);
                        if (count > 5) Pool<TEpilogue, TLanes>(a50, a51, ref Unsafe.Add(ref atP, 5 * outPlane), validP, ref partial);
                        if (count > 6) Pool<TEpilogue, TLanes>(a60, a61, ref Unsafe.Add(ref atP, 6 * outPlane), validP, ref partial);
                        if (count > 7) Pool<TEpilogue, TLanes>(a70, a71, ref Unsafe.Add(ref atP, 7 * outPlane), validP, ref partial);
                        continue;
                    }
                    // Where the second vector goes, and how many of each vector's lanes are real outputs.
                    int validA = Math.Min(lanes, ow - x0), validB = twoRows ? (y + 1 < oh ? validA : 0) : Math.Max(0, Math.Min(lanes, ow - xB));
                    // A vector that runs past its row may be stored whole when the overrun lands in the next row of the same
                    // plane, which is written later (rows go in order, and A before B): only the last row needs a partial store.
                    validA = Spill(validA, y, oh, ow, lanes);
                    validB = Spill(validB, yB, oh, ow, lanes);
                    ref float atA = ref Unsafe.Add(ref result, o0 * plane + y * ow + x0);
                    ref float atB = ref Unsafe.Add(ref result, o0 * plane + yB * ow + xB);
                    StoreEither<TEpilogue, TLanes>(plain, a00, ref atA, validA, ref partial);
                    StoreEither<TEpilogue, TLanes>(plain, a01, ref atB, validB, ref partial);
                    if (count > 1)
                    {
                        StoreEither<TEpilogue, TLanes>(plain, a10, ref Unsafe.Add(ref atA, plane), validA, ref partial);
                        StoreEither<TEpilogue, TLanes>(plain, a11, ref Unsafe.Add(ref atB, plane), validB, ref partial);
                    }
                    if (count > 2)
                    {
                        StoreEither<TEpilogue, TLanes>(plain, a20, ref Unsafe.Add(ref atA, 2 * plane), validA, ref partial);
                        StoreEither<TEpilogue, TLanes>(plain, a21, ref Unsafe.Add(ref atB, 2 * plane), validB, ref partial);
                    }
                    if (count > 3)
                    {
                        StoreEither<TEpilogue, TLanes>(plain, a30, ref Unsafe.Add(ref atA, 3 * plane), validA, ref partial);
                        StoreEither<TEpilogue, TLanes>(plain, a31, ref Unsafe.Add(ref atB, 3 * plane), validB, ref partial);
                    }
                    if (count > 4)
                    {
                        StoreEither<TEpilogue, TLanes>(plain, a40, ref Unsafe.Add(ref atA, 4 * plane), validA, ref partial);
                        StoreEither<TEpilogue, TLanes>(plain, a41, ref Unsafe.Add(ref atB, 4 * plane), validB, ref partial);
                    }
                    if (count > 5)
                    {
                        StoreEither<TEpilogue, TLanes>(plain, a50, ref Unsafe.Add(ref atA, 5 * plane), validA, ref partial);
                        StoreEither<TEpilogue, TLanes>(plain, a51, ref Unsafe.Add(ref atB, 5 * plane), validB, ref partial);
                    }
                    if (count > 6)
                    {
                        StoreEither<TEpilogue, TLanes>(plain, a60, ref Unsafe.Add(ref atA, 6 * plane), validA, ref partial);
                        StoreEither<TEpilogue, TLanes>(plain, a61, ref Unsafe.Add(ref atB, 6 * plane), validB, ref partial);
                    }
                    if (count > 7)
                    {
                        StoreEither<TEpilogue, TLanes>(plain, a70, ref Unsafe.Add(ref atA, 7 * plane), validA, ref partial);
                        StoreEither<TEpilogue, TLanes>(plain, a71, ref Unsafe.Add(ref atB, 7 * plane), validB, ref partial);
                    }
                }
                if (plain) continue;
                for (int o = o0; o < o0 + count; o++)
                {
                    Convolution.ResidualRow<TEpilogue>(ref Unsafe.Add(ref result, o * plane + y * ow), ref residual[(long)o * plane + y * ow], ow);
                    if (twoRows && y + 1 < oh)
                        Convolution.ResidualRow<TEpilogue>(ref Unsafe.Add(ref result, o * plane + (y + 1) * ow), ref residual[(long)o * plane + (y + 1) * ow], ow);
                }
                }
            }
        }
    }

    /// <summary>Stores through the epilogue (<paramref name="plain"/>), or without it, for a residual pass to apply it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreEither<TEpilogue, TLanes>(bool plain, TLanes value, ref float destination, int valid, ref float partial)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        if (plain) Store<TEpilogue, TLanes>(value, ref destination, valid, ref partial);
        else Store<IdentityOperator, TLanes>(value, ref destination, valid, ref partial);
    }

    /// <summary>Through the epilogue, the maximum of the two rows, then of each pair of columns: <paramref name="valid"/> pooled outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pool<TEpilogue, TLanes>(TLanes top, TLanes bottom, ref float destination, int valid, ref float partial)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        TLanes.StorePairMaxima(TLanes.Max(TLanes.Apply<TEpilogue>(top), TLanes.Apply<TEpilogue>(bottom)), ref destination, valid, ref partial);
    }

    /// <summary>The lanes to store of a vector with <paramref name="valid"/> real outputs on row <paramref name="row"/>: all of them when the overrun fits in the next row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Spill(int valid, int row, int oh, int ow, int lanes) =>
        valid > 0 && valid < lanes && row + 1 < oh && lanes - valid <= ow ? lanes : valid;

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
