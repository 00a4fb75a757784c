using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Ops;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// Groups the live nodes into kernels: each Linear (or a chain of element-wise ops with no Linear before it)
/// absorbs the element-wise ops that follow it, as long as each intermediate value has no other reader, so
/// bias and activations are applied in the GEMM's registers instead of in passes over memory.
/// Views (Reshape, Flatten), the input and weight tensors get no kernel.
/// </summary>
internal static class FuseEpilogues
{
    /// <summary>The most element-wise steps one kernel applies in its store.</summary>
    public const int MaxEpilogueSteps = 32;

    public static List<FusionGroup> Run(ModelGraph graph, bool[] live)
    {
        List<int>[] consumers = graph.Consumers();
        var absorbed = new bool[graph.Nodes.Count];
        var groups = new List<FusionGroup>();
        // Storage root of each node, and the roots the groups so far store: a skip connection's other operand must be one
        // of them (or an input) to be read by a kernel that runs before the Add did.
        int[] root = graph.StorageRoots();
        var stored = new HashSet<int>();
        // Layout ops feeding only another layout op (through views) compose into that op's single strided copy.
        Dictionary<int, List<Node>> chains = LayoutView.Chains(graph, live, consumers);
        foreach (List<Node> chain in chains.Values)
            foreach (Node n in chain) absorbed[n.Id] = true;
        foreach (Node node in graph.Nodes)
        {
            if (!live[node.Id] || absorbed[node.Id] || node.Folded || node.IsConstant) continue; // constants were folded at build time
            if (node.Kind == OpKind.Add && ResidualBeforeLayerNorm(graph, consumers, live, node) is { } norm)
            {
                // a + b, then LayerNorm, with nothing else reading a + b: one kernel forms each row's sum and normalizes it.
                var fused = new FusionGroup(KernelKind.LayerNorm, norm) { Residual = node };
                fused.Absorbed.Add(node);
                absorbed[norm.Id] = true;
                groups.Add(fused);
                stored.Add(root[fused.Result.Id]);
                continue;
            }
            KernelKind? kind = node.Kind switch
            {
                OpKind.Linear => KernelKind.Linear,
                OpKind.Softmax => KernelKind.Softmax,
                OpKind.LogSoftmax => KernelKind.LogSoftmax,
                OpKind.LayerNorm => KernelKind.LayerNorm,
                OpKind.RmsNorm => KernelKind.RmsNorm,
                OpKind.Rotary => KernelKind.Rotary,
                OpKind.PositionEmbedding => KernelKind.PositionEmbedding,
                OpKind.CachedAttention => KernelKind.CachedAttention,
                OpKind.AttentionCore or OpKind.Attention => KernelKind.Attention,
                OpKind.Conv2d or OpKind.Conv1d => IsDepthwise(node) ? KernelKind.Depthwise : IsWinograd(node) ? KernelKind.Winograd : IsDirect(node) ? KernelKind.DirectConv : KernelKind.Conv2d,
                OpKind.AvgPool2d => KernelKind.AvgPool2d,
                OpKind.Transpose or OpKind.Permute or OpKind.Slice or OpKind.Windows => KernelKind.Strided,
                OpKind.Concat => KernelKind.Concat,
                OpKind.MatMul => KernelKind.MatMul,
                OpKind.MaxPool2d => KernelKind.MaxPool2d,
                OpKind.AxisPool => KernelKind.AxisPool,
                OpKind.AxisResample => KernelKind.AxisResample,
                OpKind.Hardmax => KernelKind.Hardmax,
                OpKind.GlobalAvgPool => KernelKind.GlobalAvgPool,
                OpKind.BatchNorm => KernelKind.BatchNorm,
                OpKind.Embedding => KernelKind.Embedding,
                OpKind.Reduce => KernelKind.Reduce,
                OpKind.Add => KernelKind.Add,
                OpKind.Mul => KernelKind.Mul,
                OpKind.Maximum => KernelKind.Maximum,
                OpKind.Binary => KernelKind.Binary,
                OpKind.GridSample => KernelKind.GridSample,
                OpKind.GatherAlong => KernelKind.Gather,
                OpKind.ScatterAlong => KernelKind.Scatter,
                OpKind.Minimum => KernelKind.Minimum,
                _ when OpKinds.IsUnaryElementwise(node.Kind) => KernelKind.Elementwise,
                _ => null,
            };
            if (kind is null) continue;

            var group = new FusionGroup(kind.Value, node);
            if (kind == KernelKind.Mul && ScaledResidual(graph, consumers, live, node) is { } residual)
            {
                // x · g, then x + that, with nothing else reading the product: one pass forms x + x · g.
                group = new FusionGroup(KernelKind.Binary, node) { ScaledResidual = residual, Result = residual };
                group.Absorbed.Add(residual);
                absorbed[residual.Id] = true;
                kind = KernelKind.Binary;
            }
            if (kind == KernelKind.Add && ChannelBiasBeforeBatchNorm(graph, consumers, live, node) is { } batchNorm)
            {
                // x + b[c], then a BatchNorm that could not be folded, with nothing else reading the sum: one pass.
                group = new FusionGroup(KernelKind.BatchNorm, batchNorm) { ChannelBias = node };
                group.Absorbed.Add(node);
                absorbed[batchNorm.Id] = true;
                kind = KernelKind.BatchNorm;
            }
            if (chains.TryGetValue(node.Id, out List<Node>? composed))
            {
                group.Composed.AddRange(composed);
                group.Absorbed.InsertRange(0, composed);
            }
            if (kind is KernelKind.Linear or KernelKind.Conv2d or KernelKind.Depthwise or KernelKind.DirectConv or KernelKind.Winograd or KernelKind.Add or KernelKind.Mul or KernelKind.Maximum or KernelKind.Minimum or KernelKind.Binary or KernelKind.MatMul or KernelKind.Elementwise or KernelKind.BatchNorm)
            {
                while (true)
                {
                    List<int> readers = LiveReaders(consumers, live, group.Result.Id);
                    if (readers.Count != 1) break;
                    Node next = graph.Nodes[readers[0]];
                    if (next.Folded)
                    {
                        // A BatchNorm folded into this layer: its value is the layer's, nothing to apply.
                        group.Result = next;
                        group.Absorbed.Add(next);
                        absorbed[next.Id] = true;
                        continue;
                    }
                    if (kind is KernelKind.Conv2d or KernelKind.DirectConv or KernelKind.Winograd && group.Epilogue.Count == 0 && group.SkipAdd is null
                        && SkipOperand(graph, next, group.Result, root, stored) is int other and >= 0)
                    {
                        // conv + other, with nothing else reading the layer's value: the store adds it; what follows the Add
                        // is the epilogue.
                        group.SkipAdd = next;
                        group.SkipOperand = other;
                        group.Absorbed.Add(next);
                        group.Result = next;
                        absorbed[next.Id] = true;
                        continue;
                    }
                    if (!OpKinds.IsUnaryElementwise(next.Kind)) break;
                    // A bounded epilogue: a longer chain continues in an element-wise kernel of its own, so no generated
                    // operator (inlined into every store of its kernel) grows with the model.
                    if (group.Epilogue.Count >= MaxEpilogueSteps) break;
                    group.Epilogue.Add(next);
                    group.Absorbed.Add(next);
                    group.Result = next;
                    absorbed[next.Id] = true;
                }
            }
            if (kind == KernelKind.DirectConv && node.Kind == OpKind.Conv2d)
            {
                // A 2×2, stride-2 max pool right after (LeNet's and most small CNNs' pattern): the kernel has both rows in
                // registers, so it stores the pooled value and the unpooled plane is never written.
                List<int> readers = LiveReaders(consumers, live, group.Result.Id);
                Node? next = readers.Count == 1 ? graph.Nodes[readers[0]] : null;
                if (group.SkipAdd is null && next is { Kind: OpKind.MaxPool2d, Source.Settings: PoolSettings { Window: 2, Stride: 2, Padding: 0 } })
                {
                    group.Pool = next;
                    group.Absorbed.Add(next);
                    group.Result = next;
                    absorbed[next.Id] = true;
                }
            }
            groups.Add(group);
            stored.Add(root[group.Result.Id]);
        }
        return groups;
    }

    /// <summary>
    /// The other operand of <paramref name="add"/> when it adds a convolution's value (<paramref name="value"/>) and another
    /// value of the same shape that is already stored when the convolution runs: the model's input, a weight, or a value a
    /// kernel before it computed (<paramref name="stored"/>, by storage root). -1 otherwise: a broadcast, a constant (folded
    /// into scalars and strides elsewhere), the value added to itself, or an operand computed later.
    /// </summary>
    private static int SkipOperand(ModelGraph graph, Node add, Node value, int[] root, HashSet<int> stored)
    {
        if (add.Kind != OpKind.Add || add.Inputs.Length != 2 || add.Inputs[0] == add.Inputs[1]) return -1;
        int other = add.Inputs[0] == value.Id ? add.Inputs[1] : add.Inputs[1] == value.Id ? add.Inputs[0] : -1;
        if (other < 0) return -1;
        Node operand = graph.Nodes[other], origin = graph.Nodes[root[other]];
        if (operand.IsConstant || origin.IsConstant || !operand.Shape.SequenceEqual(add.Shape) || !value.Shape.SequenceEqual(add.Shape)) return -1;
        return origin.Kind is OpKind.Input or OpKind.Parameter || stored.Contains(root[other]) ? other : -1;
    }

    /// <summary>The LayerNorm an Add of two same-shaped activations feeds, when it is the Add's only reader.</summary>
    private static Node? ResidualBeforeLayerNorm(ModelGraph graph, List<int>[] consumers, bool[] live, Node add)
    {
        Node a = graph.Nodes[add.Inputs[0]], b = graph.Nodes[add.Inputs[1]];
        if (a.IsConstant || b.IsConstant || !a.Shape.SequenceEqual(add.Shape) || !b.Shape.SequenceEqual(add.Shape)) return null;
        List<int> readers = LiveReaders(consumers, live, add.Id);
        Node? next = readers.Count == 1 ? graph.Nodes[readers[0]] : null;
        return next is { Kind: OpKind.LayerNorm } ? next : null;
    }

    /// <summary>
    /// The BatchNorm (not folded into a layer) that is the only reader of an Add of a computed value and a constant of one
    /// value per channel (<see cref="ElementwiseOps.ChannelConstant"/>); null otherwise.
    /// </summary>
    private static Node? ChannelBiasBeforeBatchNorm(ModelGraph graph, List<int>[] consumers, bool[] live, Node add)
    {
        if (ElementwiseOps.ChannelConstant(graph, add) < 0) return null;
        List<int> readers = LiveReaders(consumers, live, add.Id);
        Node? norm = readers.Count == 1 ? graph.Nodes[readers[0]] : null;
        return norm is { Kind: OpKind.BatchNorm, Folded: false } && norm.Inputs[0] == add.Id && norm.Shape.SequenceEqual(add.Shape) ? norm : null;
    }

    /// <summary>
    /// The Add that is the only reader of a broadcasting Mul and adds its product back to the Mul's full-sized operand
    /// (the same node, not a copy), so that the sum is x + x · g; null otherwise.
    /// </summary>
    private static Node? ScaledResidual(ModelGraph graph, List<int>[] consumers, bool[] live, Node mul)
    {
        List<int> readers = LiveReaders(consumers, live, mul.Id);
        if (readers.Count != 1) return null;
        Node add = graph.Nodes[readers[0]];
        if (add.Kind != OpKind.Add || add.Inputs.Length != 2 || !add.Shape.SequenceEqual(mul.Shape) || add.Inputs[0] == add.Inputs[1]) return null;
        return ElementwiseOps.ScaledOperand(graph, mul, add) >= 0 ? add : null;
    }

    /// <summary>A convolution with one input channel per group (and more than one group): run direct, not as a GEMM.</summary>
    public static bool IsDepthwise(Node conv) => conv.Source.Settings is ConvSettings { Groups: > 1 } && conv.Weight!.Shape[1] == 1;

    /// <summary>
    /// A stride-1, ungrouped convolution: computed directly, vectorized along output rows (Kernels/DirectConvolution),
    /// instead of as an im2col GEMM. Measured on this machine (docs/performance.md): LeNet-5's layers 2.6 µs against
    /// 27.6 µs and 4.2 µs against 20.0 µs; 64→64 at 28×28 359 µs against 805 µs; 128→128 at 14×14 349 against 495 µs.
    /// Not for rows narrower than a 16-lane vector with deep filters (≥ 2,048 inputs per output): ResNet-18's
    /// 256-channel 14×14 and 512-channel 7×7 layers fill a third to a half of each vector along a row, and the GEMM,
    /// vectorized along output channels, ran the whole model in 28.8 ms instead of 36.6 ms. Per layer
    /// (ConvolutionKernelBenchmark): 256→256 at 14×14 1,217 against 1,382 µs, 512→512 at 7×7 1,384 against 3,524 µs,
    /// but 128→128 at 14×14 (1,152 inputs) 368 against 342 µs: there the direct kernel still wins.
    /// </summary>
    public static bool IsDirect(Node conv) =>
        conv.Source.Settings is ConvSettings { Stride: 1, VerticalStride: -1, Groups: 1 }
        && !(conv.Shape[conv.Shape.Length - 1] < 16 && conv.Weight!.Shape.Skip(1).Aggregate(1, (p, d) => p * d) >= 2048);

    /// <summary>
    /// A 3×3, stride-1, ungrouped 2-D convolution wide enough for Winograd F(2×2, 3×3) to win (Kernels/WinogradConvolution):
    /// at least 64 input and output channels (its sixteen products are GEMMs over the channels) and an output size
    /// <c>KernelScratch.WinogradFits</c> takes: rows of at least 12 tiles (multiplied in 16-wide panels per row of tiles),
    /// or few enough tiles to multiply all at once with little of the last panel empty (ResNet's 14 × 14 and 7 × 7 layers).
    /// Measured: 64→64 at 28×28 243 µs against the direct kernel's 363 µs, at 56×56 915 against 1,523 µs; 32→32 at 14×14
    /// 43 against 23 µs, so smaller layers stay direct.
    /// </summary>
    public static bool IsWinograd(Node conv) =>
        conv.Kind == OpKind.Conv2d && conv.Weight!.Shape[2] == 3 && conv.Weight.Shape[3] == 3
        && conv.Source.Settings is ConvSettings { Stride: 1, VerticalStride: -1, Dilation: 1, Groups: 1 } settings && settings.Top == settings.Padding
        && conv.Weight.Shape[0] >= 64 && conv.Weight.Shape[1] >= 64
        && KernelScratch.WinogradFits(conv.Shape[conv.Shape.Length - 2], conv.Shape[conv.Shape.Length - 1]);

    private static List<int> LiveReaders(List<int>[] consumers, bool[] live, int id)
    {
        var readers = new List<int>();
        foreach (int c in consumers[id])
        {
            if (live[c]) readers.Add(c);
        }
        return readers;
    }
}
