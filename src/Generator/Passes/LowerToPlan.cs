using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Ops;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// Turns fused groups into the plan the emitter prints: lays out the weights buffer (packed panels, padded
/// biases, raw tensors), decides where every value lives (input, output, arena, weights; views share their
/// input's storage), places intermediates in the arena by liveness, and sizes the chunk of rows.
/// </summary>
internal static class LowerToPlan
{
    /// <summary>Places a tensor in the weights buffer in a layout (once per tensor, layout and fold) and says where.</summary>
    private delegate WeightBlob BlobMaker(WeightLayoutKind kind, string tensor, int floats, int n, int k, string? norm = null, float epsilon = 0f);

    public static ModelPlan Run(ModelDeclaration model, long fileLength, string fileHash, ModelGraph graph, List<FusionGroup> groups,
        Func<string, float[]> readTensor, IReadOnlyDictionary<string, float>? staticRanges = null, bool gpu = false)
    {
        // Storage root of each node: views share their input's storage.
        var root = new int[graph.Nodes.Count];
        foreach (Node node in graph.Nodes)
            root[node.Id] = OpKinds.IsView(node.Kind) || node.Folded ? root[node.Inputs[0]] : node.Id;

        // The kernel that computes each stored value.
        var producer = new Dictionary<int, int>();
        for (int k = 0; k < groups.Count; k++) producer[root[groups[k].Result.Id]] = k;

        int outputRoot = root[graph.Output];
        bool needsCopy = !producer.ContainsKey(outputRoot); // Forward returns its input (or a view of it) unchanged

        // Weights buffer.
        var blobs = new List<WeightBlob>();
        var blobByKey = new Dictionary<string, WeightBlob>(StringComparer.Ordinal);
        var identifiers = new HashSet<string>(StringComparer.Ordinal);
        int weightFloats = 0;
        // Int4 weights go after everything else (provisional offsets from their own count, moved when all is placed): the
        // GPU code uploads only what comes before them and reads the int4 codes themselves (GpuEmitter.Int4).
        int int4Floats = 0;
        WeightBlob Blob(WeightLayoutKind kind, string tensor, int floats, int n, int k, string? norm = null, float epsilon = 0f)
        {
            string key = kind + ":" + tensor + ":" + n + ":" + norm;
            if (blobByKey.TryGetValue(key, out WeightBlob? existing)) return existing;
            string id = Identifier(tensor.Length == 0 ? "ZeroBias" + n : tensor) + (norm is null ? "" : "With" + Identifier(norm))
                + kind switch { WeightLayoutKind.PackedLinear => "Packed", WeightLayoutKind.BatchNormScale => "Scale", WeightLayoutKind.BatchNormShift => "Shift", _ => "" };
            string unique = id;
            for (int i = 2; !identifiers.Add(unique); i++) unique = id + i.ToString(CultureInfo.InvariantCulture);
            bool late = kind == WeightLayoutKind.Int4Linear;
            var blob = new WeightBlob(unique, kind, tensor, late ? int4Floats : weightFloats, floats, n, k) { Norm = norm, Epsilon = epsilon };
            if (late) int4Floats += PlanArena.Align(floats);
            else weightFloats += PlanArena.Align(floats);
            blobs.Add(blob);
            blobByKey.Add(key, blob);
            return blob;
        }

        // A constant folded at build time: its values travel in the plan and are embedded whatever the weights storage.
        WeightBlob FoldedBlob(Node constant)
        {
            string key = "folded:" + constant.Id;
            if (blobByKey.TryGetValue(key, out WeightBlob? existing)) return existing;
            string id = "Folded" + constant.Id.ToString(CultureInfo.InvariantCulture);
            identifiers.Add(id);
            var blob = new WeightBlob(id, WeightLayoutKind.Raw, constant.Source.Text, weightFloats, constant.ElementCount, 0, 0)
            {
                Folded = new EquatableArray<float>(constant.Values!),
            };
            weightFloats += PlanArena.Align(constant.ElementCount);
            blobs.Add(blob);
            blobByKey.Add(key, blob);
            return blob;
        }

        // Arena requests, in kernel order: each stored value is live from the kernel that writes it to the
        // last kernel that reads it (a kernel reads its root op's inputs; its epilogue works in registers).
        var lastRead = new Dictionary<int, int>();
        var throughNext = new bool[groups.Count + 1];
        for (int k = 0; k < groups.Count; k++)
        {
            // The GPU code may run an Add of a kernel's result right after it in that kernel's store (Passes/PlanGpu): with a
            // GPU entry point, the kernel's inputs stay live through such an Add, so that the Add's output never takes their
            // place, and the kernel says so (InputsLiveThroughNext), which PlanGpu requires before it folds. A CPU-only
            // project's arena is not made larger for it.
            throughNext[k] = gpu && k + 1 < groups.Count && groups[k + 1].Root.Kind == OpKind.Add
                && groups[k + 1].Reads.Any(i => root[i] == root[groups[k].Result.Id]);
            foreach (int input in groups[k].Reads) lastRead[root[input]] = throughNext[k] ? k + 1 : k;
        }
        var requestIndex = new Dictionary<int, int>();
        var requests = new List<ArenaRequest>();
        for (int k = 0; k < groups.Count; k++)
        {
            // A group whose last node is a folded BatchNorm stores the layer's value: key everything by storage root.
            Node result = groups[k].Result;
            int stored = root[result.Id];
            if (stored == outputRoot) continue;
            requestIndex[stored] = requests.Count;
            requests.Add(new ArenaRequest(result.ElementCount, k, lastRead.TryGetValue(stored, out int last) ? last : k));
        }
        int[] arenaOffsets = PlanArena.Run(requests, out int floatsPerRow);
        int liveFloatsPerRow = PlanArena.LiveBound(requests);
        int chunkRows = PlanArena.ChunkRows(floatsPerRow);

        Operand Where(Node node)
        {
            int r = root[node.Id];
            if (r == outputRoot && !needsCopy) return new Operand(BufferKind.Output, 0);
            Node stored = graph.Nodes[r];
            if (stored.Kind == OpKind.Input) return new Operand(BufferKind.Input, 0);
            if (stored.Kind == OpKind.Parameter)
                return new Operand(BufferKind.Weights, Blob(WeightLayoutKind.Raw, stored.Weight!.Name, stored.ElementCount, 0, 0, null, 0).Offset);
            if (stored.IsConstant)
                return new Operand(BufferKind.Weights, FoldedBlob(stored).Offset);
            return new Operand(BufferKind.Arena, arenaOffsets[requestIndex[r]] * chunkRows);
        }

        var kernels = new List<KernelPlan>();
        var int4Kernels = new List<int>();
        foreach (FusionGroup group in groups)
        {
            bool int4 = false;
            KernelPlan kernel = Lower(kernels.Count, group, graph, model, Where,
                (kind, tensor, floats, n, k, norm, epsilon) => { int4 |= kind == WeightLayoutKind.Int4Linear; return Blob(kind, tensor, floats, n, k, norm, epsilon); },
                readTensor);
            if (int4) int4Kernels.Add(kernels.Count);
            if (kernel.Op is LinearOp { Weights: LinearWeights.Int8 } int8 && staticRanges is not null && staticRanges.TryGetValue(group.Root.Source.Name!, out float range))
                kernel = kernel with { Op = int8 with { StaticRange = range } };
            int stored = root[group.Result.Id];
            if (stored != outputRoot) kernel = kernel with { LastReader = lastRead.TryGetValue(stored, out int last) ? last : kernels.Count };
            if (throughNext[kernels.Count]) kernel = kernel with { InputsLiveThroughNext = true };
            kernels.Add(kernel);
        }
        // The int4 weights' place: after the rest.
        if (int4Floats > 0)
        {
            foreach (int i in int4Kernels)
            {
                var linear = (LinearOp)kernels[i].Op;
                kernels[i] = kernels[i] with { Op = linear with { WeightOffset = linear.WeightOffset + weightFloats } };
            }
            for (int i = 0; i < blobs.Count; i++)
                if (blobs[i].Kind == WeightLayoutKind.Int4Linear) blobs[i] = blobs[i] with { Offset = blobs[i].Offset + weightFloats };
            weightFloats += int4Floats;
        }
        // Int8 layers quantize a tile of activation rows into fixed scratch at the end of the arena.
        // Attention keeps one row of scores there.
        int scratchFloats = kernels.Select(k => PlanArena.Align(ScratchFloats(k.Op))).DefaultIfEmpty(0).Max();
        if (needsCopy)
        {
            Node output = graph.OutputNode;
            kernels.Add(new KernelPlan(kernels.Count, $"Copy {Node.Format(output.Shape)} to the output",
                Sources(model, output).ToEquatableArray(), Where(graph.Nodes[outputRoot]), null, new Operand(BufferKind.Output, 0), new CopyOp(output.ElementCount),
                EquatableArray<EpilogueStep>.Empty, 0));
        }

        // The float32 size of the weight tensors the model uses, each counted once however often it is used.
        long float32Bytes = graph.Nodes.SelectMany(n => new[] { n.Weight, n.Bias })
            .Where(t => t is not null).GroupBy(t => t!.Name, StringComparer.Ordinal).Sum(g => 4 * g.First()!.ElementCount);

        Node outputNode = graph.OutputNode;
        return new ModelPlan(model.Namespace, model.ContainingTypes, model.ClassName, model.SourceFileName, model.InputName,
            model.WeightsFile!, fileLength, fileHash,
            model.InputShape, new EquatableArray<int>(outputNode.Shape), graph.Nodes[0].ElementCount, outputNode.ElementCount,
            chunkRows, floatsPerRow, kernels.Sum(k => k.FlopsPerSample), weightFloats,
            kernels.ToEquatableArray(), blobs.ToEquatableArray())
        {
            ScratchFloats = scratchFloats,
            LiveFloatsPerRow = liveFloatsPerRow,
            Quantize = model.Quantize,
            FloatLayers = model.FloatLayers,
            Float32Bytes = float32Bytes,
            StaticRanges = staticRanges is null ? EquatableArray<LayerRange>.Empty
                : staticRanges.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => new LayerRange(r.Key, r.Value)).ToEquatableArray(),
        };
    }

    /// <summary>Floats of fixed scratch a kernel needs (Shared/KernelScratch: the same sizes the kernels' ScratchFloats give).</summary>
    private static int ScratchFloats(KernelOp op) => op switch
    {
        // Int8 layers quantize a tile of activation rows; attention keeps one head's keys, values and a tile of scores.
        LinearOp { Weights: LinearWeights.Int8 } l => (QuantizedPanelLayout.ScratchBytes(l.K) + 3) / 4,
        AttentionOp { Geometry: var g } => KernelScratch.Attention(g.Keys, g.HeadSize, g.ValueSize),
        ConvOp { Algorithm: ConvAlgorithm.Im2Col, Geometry: var g } => KernelScratch.Im2Col(g.Channels, g.Height, g.Width, g.KernelHeight, g.KernelWidth,
            g.Padding, g.VerticalPadding, g.OutHeight, g.OutWidth, g.Groups),
        ConvOp { Algorithm: ConvAlgorithm.Winograd, Geometry: var g } => KernelScratch.Winograd(g.Channels, g.OutChannels, g.OutHeight, g.OutWidth),
        ConvOp { Algorithm: ConvAlgorithm.Direct, Geometry: var g } => KernelScratch.Direct(g.Channels, g.Height, g.Width, g.Padding, g.VerticalPadding,
            g.Pooled ? g.OutChannels * g.OutHeight * g.OutWidth : 0),
        _ => 0,
    };

    /// <summary>An epilogue step from an element-wise node (QuantizeLinear: its codes).</summary>
    private static EpilogueStep Step(Node node) => new(node.Kind, node.Source.Scalar)
    {
        Codes = node.Source.Settings as QuantizeCodes,
    };

    /// <summary>Whether a Linear runs in int8: the model asks for it and does not keep this layer in float32.</summary>
    public static bool IsQuantized(ModelDeclaration model, Node linear) =>
        model.Quantize is Quantization.Int8 or Quantization.Int8Static && !model.FloatLayers.Contains(linear.Source.Name!);

    /// <summary>Whether a Linear's weights are stored as int4.</summary>
    public static bool IsInt4(ModelDeclaration model, Node linear) =>
        model.Quantize == Quantization.Int4 && !model.FloatLayers.Contains(linear.Source.Name!);

    private static double Int4Error(float[] weight, int n, int k)
    {
        float[] restored = Int4Quantization.RoundTrip(weight, n, k);
        double maxError = 0, maxWeight = 0;
        for (int i = 0; i < weight.Length; i++)
        {
            maxWeight = Math.Max(maxWeight, Math.Abs(weight[i]));
            maxError = Math.Max(maxError, Math.Abs(weight[i] - (double)restored[i]));
        }
        return maxWeight == 0 ? 0 : maxError / maxWeight;
    }

    private static double WeightError(float[] weight, int n, int k)
    {
        var scales = new float[n];
        sbyte[] codes = Int8Quantization.QuantizeWeights(weight, n, k, scales);
        double maxError = 0, maxWeight = 0;
        for (int j = 0; j < n; j++)
        {
            for (int i = 0; i < k; i++)
            {
                maxWeight = Math.Max(maxWeight, Math.Abs(weight[j * k + i]));
                maxError = Math.Max(maxError, Math.Abs(weight[j * k + i] - codes[j * k + i] * (double)scales[j]));
            }
        }
        return maxWeight == 0 ? 0 : maxError / maxWeight;
    }

    private static KernelPlan Lower(int index, FusionGroup group, ModelGraph graph, ModelDeclaration model,
        Func<Node, Operand> where, BlobMaker blob, Func<string, float[]> readTensor)
    {
        Node rootNode = group.Root;
        Node input = graph.Nodes[rootNode.Inputs[0]];
        var sources = new List<string>(Sources(model, rootNode));
        foreach (Node e in group.Absorbed) sources.AddRange(Sources(model, e));
        var epilogue = group.Epilogue.Select(Step).ToList();
        string after = epilogue.Count == 0 ? "" : ", then " + string.Join(", then ", epilogue.Select(Describe));
        Operand output = where(group.Result);

        switch (group.Kind)
        {
            case KernelKind.Linear:
            {
                int n = rootNode.Weight!.Shape[0], k = rootNode.Weight.Shape[1];
                int rowsPerSample = input.ElementCount / k;
                string weight = rootNode.Weight.Name;
                bool quantized = IsQuantized(model, rootNode);
                bool int4 = IsInt4(model, rootNode);
                int padded = QuantizedPanelLayout.PanelCount(n) * QuantizedPanelLayout.PanelWidth;
                // Float32: weights packed in 16-column panels. Int8: codes packed for the dot-product instructions,
                // one scale and one column sum per output. Then the bias, padded to whole panels.
                // Int4: embedded compactly, expanded at start-up into the float32 panel layout.
                string? norm = rootNode.FoldedNorm;
                float epsilon = rootNode.FoldedEpsilon;
                int weightOffset = quantized
                    ? blob(WeightLayoutKind.QuantizedLinear, weight, (QuantizedPanelLayout.PackedBytes(n, k) + 3) / 4, n, k, null, 0).Offset
                    : blob(int4 ? WeightLayoutKind.Int4Linear : WeightLayoutKind.PackedLinear, weight, PanelLayout.PackedLength(n, k), n, k, norm, epsilon).Offset;
                int scalesOffset = quantized ? blob(WeightLayoutKind.WeightScales, weight, padded, n, k, null, 0).Offset : 0;
                int sumsOffset = quantized ? blob(WeightLayoutKind.ColumnSums, weight, padded, n, k, null, 0).Offset : 0;
                WeightBlob bias = blob(WeightLayoutKind.PaddedBias, rootNode.Bias?.Name ?? "", PanelLayout.PaddedBiasLength(n), n, 0, norm, epsilon);
                string title = $"Linear{(quantized ? " (int8)" : int4 ? " (int4 weights)" : "")} \"{rootNode.Source.Name}\": {Node.Format(input.Shape)} → {Node.Format(rootNode.Shape)}"
                    + (rootNode.Bias is null ? "" : ", + bias") + (norm is null ? "" : $", BatchNorm \"{norm}\" folded in") + after;
                var linear = new LinearOp(rowsPerSample, k, n, quantized ? LinearWeights.Int8 : int4 ? LinearWeights.Int4 : LinearWeights.Float32, weightOffset, bias.Offset)
                {
                    ScalesOffset = scalesOffset,
                    SumsOffset = sumsOffset,
                    WeightError = quantized ? WeightError(readTensor(weight), n, k) : int4 ? Int4Error(readTensor(weight), n, k) : 0,
                };
                return new KernelPlan(index, title, sources.ToEquatableArray(), where(input), null, output, linear, epilogue.ToEquatableArray(), 2L * k * n * rowsPerSample);
            }
            case KernelKind.Elementwise:
            {
                epilogue.Insert(0, Step(rootNode));
                string title = string.Join(", then ", epilogue.Select(Describe)) + $" over {Node.Format(rootNode.Shape)}";
                return new KernelPlan(index, Capitalize(title), sources.ToEquatableArray(), where(input), null, output,
                    new ElementwiseOp(input.ElementCount), epilogue.ToEquatableArray(), (long)input.ElementCount * epilogue.Count);
            }
            case KernelKind.Embedding:
            {
                int[] table = rootNode.Weight!.Shape;
                WeightBlob rows = blob(WeightLayoutKind.Raw, rootNode.Weight.Name, table[0] * table[1], 0, 0, null, 0);
                return new KernelPlan(index, $"Embedding \"{rootNode.Source.Name}\": {input.ElementCount} ids → rows of {table[1]} from [{table[0]}, {table[1]}]",
                    sources.ToEquatableArray(), where(input), null, output, new EmbeddingOp(input.ElementCount, table[1], table[0], rows.Offset),
                    EquatableArray<EpilogueStep>.Empty, 0);
            }
            case KernelKind.Mean:
            {
                int dimension = ((AxisSettings)rootNode.Source.Settings!).Axis;
                int outer = input.Shape.Take(dimension).Aggregate(1, (p, d) => p * d), inner = input.Shape.Skip(dimension + 1).Aggregate(1, (p, d) => p * d);
                return new KernelPlan(index, $"Mean over dimension {dimension} of {Node.Format(input.Shape)} → {Node.Format(rootNode.Shape)}",
                    sources.ToEquatableArray(), where(input), null, output, new MeanOp(outer, input.Shape[dimension], inner),
                    EquatableArray<EpilogueStep>.Empty, input.ElementCount);
            }
            case KernelKind.BatchNorm:
            {
                string norm = rootNode.Source.Name!;
                int channels = input.Shape[0];
                WeightBlob scale = blob(WeightLayoutKind.BatchNormScale, norm + ".weight", channels, channels, 0, norm, rootNode.Source.Scalar);
                WeightBlob shift = blob(WeightLayoutKind.BatchNormShift, norm + ".weight", channels, channels, 0, norm, rootNode.Source.Scalar);
                return new KernelPlan(index, $"BatchNorm \"{norm}\" over {channels} channels of {Node.Format(input.Shape)}, as a scale and shift",
                    sources.ToEquatableArray(), where(input), null, output, new ChannelAffineOp(channels, input.ElementCount / channels, scale.Offset, shift.Offset),
                    EquatableArray<EpilogueStep>.Empty, 2L * input.ElementCount);
            }
            case KernelKind.Conv2d or KernelKind.Depthwise or KernelKind.DirectConv:
            {
                int[] w = rootNode.Weight!.Shape;
                bool oneD = rootNode.Kind == OpKind.Conv1d, depthwise = group.Kind == KernelKind.Depthwise;
                int c = input.Shape[0], h = oneD ? 1 : input.Shape[1], width = input.Shape[input.Shape.Length - 1];
                (int stride, int padding, int dilation, int groups) = (ConvSettings)rootNode.Source.Settings!;
                int kh = oneD ? 1 : w[2], kw = w[w.Length - 1], n = w[0], k = c / groups * kh * kw;
                int oh = oneD ? 1 : rootNode.Shape[1], ow = rootNode.Shape[rootNode.Shape.Length - 1];
                var geometry = new ConvGeometry(c, h, width, n, kh, kw, stride, padding, dilation, oh, ow, groups, oneD ? 0 : padding);
                // Direct: how many output channels the kernel keeps in registers (8, 6 or 4), and whether it pools.
                if (group.Kind == KernelKind.DirectConv)
                    geometry = geometry with { ChannelBlock = KernelScratch.DirectChannelBlock(n), Pooled = group.Pool is not null };
                string? norm = rootNode.FoldedNorm;
                // Every convolution kernel reads the filters as PyTorch stores them, [out, c/groups·kh·kw] (a folded
                // BatchNorm scales each output's row), and one bias per output channel.
                WeightBlob weights = blob(WeightLayoutKind.Raw, rootNode.Weight.Name, n * k, n, k, norm, rootNode.FoldedEpsilon);
                WeightBlob bias = blob(WeightLayoutKind.PaddedBias, rootNode.Bias?.Name ?? "", PanelLayout.PaddedBiasLength(n), n, 0, norm, rootNode.FoldedEpsilon);
                string kernelSize = oneD ? $"{kw}-wide" : $"{kh}×{kw}";
                string title = (norm is null ? "" : $"(BatchNorm \"{norm}\" folded in) ")
                    + $"{(depthwise ? "Depthwise " : group.Kind == KernelKind.DirectConv ? "Direct " : "")}{rootNode.Kind} \"{rootNode.Source.Name}\": {Node.Format(input.Shape)} → {Node.Format(rootNode.Shape)}, {kernelSize} kernel, stride {stride}, padding {padding}"
                    + (dilation == 1 ? "" : $", dilation {dilation}") + (groups == 1 || depthwise ? "" : $", {groups} groups") + (rootNode.Bias is null ? "" : ", + bias") + after
                    + (group.Pool is null ? "" : $", then MaxPool2d 2×2 in the store → {Node.Format(group.Pool.Shape)}");
                ConvAlgorithm algorithm = depthwise ? ConvAlgorithm.Depthwise : group.Kind == KernelKind.DirectConv ? ConvAlgorithm.Direct : ConvAlgorithm.Im2Col;
                return new KernelPlan(index, title, sources.ToEquatableArray(), where(input), null, output,
                    new ConvOp(algorithm, geometry, weights.Offset, bias.Offset), epilogue.ToEquatableArray(), 2L * k * n * oh * ow);
            }
            case KernelKind.Winograd:
            {
                int[] w = rootNode.Weight!.Shape;
                int c = input.Shape[0], n = w[0], padding = ((ConvSettings)rootNode.Source.Settings!).Padding, oh = rootNode.Shape[1], ow = rootNode.Shape[2];
                var geometry = new ConvGeometry(c, input.Shape[1], input.Shape[2], n, 3, 3, 1, padding, 1, oh, ow, 1, padding);
                string? norm = rootNode.FoldedNorm;
                // The filters in the Winograd domain, G g Gᵀ, computed at build time: sixteen [out, C] matrices.
                WeightBlob weights = blob(WeightLayoutKind.WinogradFilters, rootNode.Weight.Name, 16 * n * c, n, c, norm, rootNode.FoldedEpsilon);
                WeightBlob bias = blob(WeightLayoutKind.PaddedBias, rootNode.Bias?.Name ?? "", PanelLayout.PaddedBiasLength(n), n, 0, norm, rootNode.FoldedEpsilon);
                string title = (norm is null ? "" : $"(BatchNorm \"{norm}\" folded in) ")
                    + $"Winograd F(2×2, 3×3) Conv2d \"{rootNode.Source.Name}\": {Node.Format(input.Shape)} → {Node.Format(rootNode.Shape)}, padding {padding}"
                    + (rootNode.Bias is null ? "" : ", + bias") + after;
                return new KernelPlan(index, title, sources.ToEquatableArray(), where(input), null, output,
                    new ConvOp(ConvAlgorithm.Winograd, geometry, weights.Offset, bias.Offset), epilogue.ToEquatableArray(), 2L * 9 * c * n * oh * ow);
            }
            case KernelKind.MaxPool2d or KernelKind.AvgPool2d:
            {
                (int window, int stride, int padding) = (PoolSettings)rootNode.Source.Settings!;
                var pool = new PoolOp(group.Kind == KernelKind.MaxPool2d, input.Shape[0], input.Shape[1], input.Shape[2], window, stride, padding, rootNode.Shape[1], rootNode.Shape[2]);
                return new KernelPlan(index, $"{group.Kind} {window}×{window}, stride {stride}, padding {padding}: {Node.Format(input.Shape)} → {Node.Format(rootNode.Shape)}",
                    sources.ToEquatableArray(), where(input), null, output, pool, EquatableArray<EpilogueStep>.Empty, (long)rootNode.ElementCount * window * window);
            }
            case KernelKind.GlobalAvgPool:
                return new KernelPlan(index, $"GlobalAvgPool: {Node.Format(input.Shape)} → {Node.Format(rootNode.Shape)}",
                    sources.ToEquatableArray(), where(input), null, output, new GlobalAvgPoolOp(input.Shape[0], input.Shape[1] * input.Shape[2]),
                    EquatableArray<EpilogueStep>.Empty, input.ElementCount);
            case KernelKind.Attention when rootNode.Kind == OpKind.AttentionCore:
            {
                // MultiHeadAttention: queries, keys and values side by side in the packed projection.
                (int heads, bool causal) = (AttentionSettings)rootNode.Source.Settings!;
                int sequence = input.Shape[0], features = rootNode.Shape[1];
                Node? mask = rootNode.Inputs.Length > 1 ? graph.Nodes[rootNode.Inputs[1]] : null;
                var geometry = AttentionGeometry.Packed(sequence, heads, features / heads, mask is { IsConstant: false } ? sequence * sequence : 0, causal);
                Operand qkv = where(input);
                return new KernelPlan(index,
                    $"Attention \"{rootNode.Source.Name}\": {heads} heads of {features / heads} over {sequence} positions, softmax(q·kᵀ/√d{(mask is null ? "" : " + mask")})·v{(causal ? ", causal" : "")}, flash-style",
                    sources.ToEquatableArray(), qkv, qkv with { Offset = qkv.Offset + features, RowOffset = qkv.RowOffset + features }, output,
                    new AttentionOp(geometry), EquatableArray<EpilogueStep>.Empty, 4L * sequence * sequence * features)
                { C = qkv with { Offset = qkv.Offset + 2 * features, RowOffset = qkv.RowOffset + 2 * features }, Mask = mask is null ? null : where(mask) };
            }
            case KernelKind.Attention:
            {
                Node q = input, key = graph.Nodes[rootNode.Inputs[1]], value = graph.Nodes[rootNode.Inputs[2]];
                Node? mask = rootNode.Inputs.Length > 3 ? graph.Nodes[rootNode.Inputs[3]] : null;
                int rank = q.Shape.Length, queries = q.Shape[rank - 2], headSize = q.Shape[rank - 1], keys = key.Shape[rank - 2], valueSize = value.Shape[rank - 1];
                int heads = q.Shape.Take(rank - 2).Aggregate(1, (p, d) => p * d);
                bool causal = ((AttentionSettings)rootNode.Source.Settings!).Causal;
                var geometry = AttentionGeometry.Separate(heads, queries, keys, headSize, valueSize, mask is { IsConstant: false } ? queries * keys : 0, causal);
                return new KernelPlan(index,
                    $"ScaledDotProductAttention: {heads} head{(heads == 1 ? "" : "s")}, {queries} queries × {keys} keys of {headSize}, softmax(q·kᵀ/√e{(mask is null ? "" : " + mask")})·v{(causal ? ", causal" : "")}, flash-style",
                    sources.ToEquatableArray(), where(q), where(key), output, new AttentionOp(geometry), EquatableArray<EpilogueStep>.Empty,
                    2L * heads * queries * keys * (headSize + valueSize))
                { C = where(value), Mask = mask is null ? null : where(mask) };
            }
            case KernelKind.Strided when group.Composed.Count > 0:
            {
                // Several layout ops composed into one copy straight from the original value (ComposeLayout).
                Node origin = graph.Nodes[group.Composed[0].Inputs[0]];
                LayoutView view = LayoutView.Compose(graph, group.Composed, rootNode)!;
                int[] shape = rootNode.Shape;
                Operand source = where(origin);
                source = source with { Offset = source.Offset + view.Offset, RowOffset = source.RowOffset + view.Offset };
                string steps = string.Join(", then ", group.Composed.Concat(new[] { rootNode }).Where(n => !OpKinds.IsView(n.Kind)).Select(n => n.Kind.ToString()));
                var copy = new StridedOp(new EquatableArray<int>(shape), new EquatableArray<int>(new[] { origin.ElementCount }.Concat(view.Strides).ToArray()),
                    new EquatableArray<int>(new[] { rootNode.ElementCount }.Concat(DenseStrides(rootNode)).ToArray()));
                return new KernelPlan(index, $"{steps}: {Node.Format(origin.Shape)} → {Node.Format(shape)}, composed into one strided copy",
                    sources.ToEquatableArray(), source, null, output, copy, EquatableArray<EpilogueStep>.Empty, 0);
            }
            case KernelKind.Strided:
            {
                // Transpose, Permute, Slice: one strided copy; the output is dense.
                int[] sourceStrides = DenseStrides(input), shape = rootNode.Shape;
                int[] strides = new int[shape.Length + 1];
                strides[0] = input.ElementCount;
                Operand source = where(input);
                string what;
                if (rootNode.Kind == OpKind.Slice)
                {
                    (int axis, int start, int end, _, _) = (SliceSettings)rootNode.Resolved!;
                    for (int d = 0; d < shape.Length; d++) strides[d + 1] = sourceStrides[d];
                    source = source with { Offset = source.Offset + start * sourceStrides[axis], RowOffset = source.RowOffset + start * sourceStrides[axis] };
                    what = $"Slice [{start}, {end}) of dimension {axis}";
                }
                else
                {
                    EquatableArray<int> order = ((PermuteSettings)rootNode.Resolved!).Order;
                    for (int d = 0; d < shape.Length; d++) strides[d + 1] = sourceStrides[order[d]];
                    what = $"{rootNode.Kind} ({string.Join(", ", order)})";
                }
                var copy = new StridedOp(new EquatableArray<int>(shape), new EquatableArray<int>(strides),
                    new EquatableArray<int>(new[] { rootNode.ElementCount }.Concat(DenseStrides(rootNode)).ToArray()));
                return new KernelPlan(index, $"{what}: {Node.Format(input.Shape)} → {Node.Format(shape)}, a strided copy",
                    sources.ToEquatableArray(), source, null, output, copy, EquatableArray<EpilogueStep>.Empty, 0);
            }
            case KernelKind.Concat:
            {
                Node a = input, b = graph.Nodes[rootNode.Inputs[1]];
                int axis = ((AxisSettings)rootNode.Resolved!).Axis;
                int[] outStrides = DenseStrides(rootNode);
                int[] Strides(Node n) => new[] { n.ElementCount }.Concat(DenseStrides(n)).ToArray();
                var concat = new ConcatOp(new EquatableArray<int>(a.Shape), new EquatableArray<int>(Strides(a)), new EquatableArray<int>(b.Shape),
                    new EquatableArray<int>(Strides(b)), new EquatableArray<int>(new[] { rootNode.ElementCount }.Concat(outStrides).ToArray()), a.Shape[axis] * outStrides[axis]);
                return new KernelPlan(index, $"Concat along dimension {axis}: {Node.Format(a.Shape)} and {Node.Format(b.Shape)} → {Node.Format(rootNode.Shape)}",
                    sources.ToEquatableArray(), where(a), where(b), output, concat, EquatableArray<EpilogueStep>.Empty, 0);
            }
            case KernelKind.MatMul:
            {
                Node a = input, b = graph.Nodes[rootNode.Inputs[1]];
                int m = a.Shape[a.Shape.Length - 2], k = a.Shape[a.Shape.Length - 1], n = rootNode.Shape[rootNode.Shape.Length - 1];
                int count = a.ElementCount / (m * k);
                return new KernelPlan(index,
                    $"MatMul: {Node.Format(a.Shape)} · {Describe(b)} → {Node.Format(rootNode.Shape)}" + after,
                    sources.ToEquatableArray(), where(a), where(b), output, new MatMulOp(count, m, k, n, b.IsConstant ? 0 : k * n), epilogue.ToEquatableArray(),
                    2L * count * m * k * n);
            }
            case KernelKind.LayerNorm:
            {
                if (group.Residual is { } add) input = graph.Nodes[add.Inputs[0]];
                int width = input.Shape[input.Shape.Length - 1];
                WeightBlob gamma = blob(WeightLayoutKind.Raw, rootNode.Weight!.Name, width, 0, 0, null, 0);
                WeightBlob beta = rootNode.Bias is null
                    ? blob(WeightLayoutKind.PaddedBias, "", PanelLayout.PaddedBiasLength(width), width, 0, null, 0)
                    : blob(WeightLayoutKind.Raw, rootNode.Bias.Name, width, 0, 0, null, 0);
                return new KernelPlan(index,
                    (group.Residual is null ? "" : "Residual add, then ") + $"LayerNorm \"{rootNode.Source.Name}\" over the last dimension of {Node.Format(input.Shape)}" + (rootNode.Bias is null ? "" : ", + bias"),
                    sources.ToEquatableArray(), where(input), group.Residual is null ? null : where(graph.Nodes[group.Residual.Inputs[1]]), output,
                    new LayerNormOp(input.ElementCount / Math.Max(1, width), width, gamma.Offset, beta.Offset, rootNode.Source.Scalar),
                    EquatableArray<EpilogueStep>.Empty, 8L * input.ElementCount);
            }
            case KernelKind.Softmax or KernelKind.LogSoftmax:
            {
                int width = input.Shape[input.Shape.Length - 1];
                return new KernelPlan(index, $"{group.Kind} over the last dimension of {Node.Format(input.Shape)}",
                    sources.ToEquatableArray(), where(input), null, output, new SoftmaxOp(input.ElementCount / Math.Max(1, width), width, group.Kind == KernelKind.LogSoftmax),
                    EquatableArray<EpilogueStep>.Empty, 4L * input.ElementCount);
            }
            default: // Add, Mul
            {
                Node a = input, b = graph.Nodes[rootNode.Inputs[1]];
                int[] shape = rootNode.Shape;
                string title = $"{group.Kind}: {Describe(a)} {(group.Kind == KernelKind.Add ? "+" : "×")} {Describe(b)} → {Node.Format(shape)}" + after;
                var broadcast = new BroadcastOp(group.Kind == KernelKind.Mul, new EquatableArray<int>(shape),
                    new EquatableArray<int>(ElementwiseOps.BroadcastStrides(a, shape)), new EquatableArray<int>(ElementwiseOps.BroadcastStrides(b, shape)));
                return new KernelPlan(index, title, sources.ToEquatableArray(), where(a), where(b), output, broadcast, epilogue.ToEquatableArray(), rootNode.ElementCount);
            }
        }
    }

    /// <summary>Row-major strides of a node's per-sample shape.</summary>
    private static int[] DenseStrides(Node node) => ReferenceOps.DenseStrides(node.Shape);

    private static string Describe(Node n) => n.IsConstant ? $"\"{n.Source.Name}\" {Node.Format(n.Shape)}" : Node.Format(n.Shape);

    private static string Describe(EpilogueStep step) => step.Kind switch
    {
        OpKind.AddScalar => "+ " + step.Scalar.ToString("R", CultureInfo.InvariantCulture),
        OpKind.MulScalar => "× " + step.Scalar.ToString("R", CultureInfo.InvariantCulture),
        OpKind.LeakyRelu => "LeakyRelu(" + step.Scalar.ToString("R", CultureInfo.InvariantCulture) + ")",
        OpKind.ClampMin => "at least " + step.Scalar.ToString("R", CultureInfo.InvariantCulture),
        OpKind.ClampMax => "at most " + step.Scalar.ToString("R", CultureInfo.InvariantCulture),
        OpKind.GeluTanh => "Gelu (tanh)",
        _ => step.Kind.ToString(),
    };

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s.Substring(1);

    private static IEnumerable<string> Sources(ModelDeclaration model, Node node)
    {
        if (node.Source.Location is null) yield break;
        string file = System.IO.Path.GetFileName(node.Source.Location.FilePath);
        yield return $"{file}({node.Source.Location.Line}): {node.Source.Text}";
    }

    /// <summary>"fc1.weight" → "Fc1Weight": a C# identifier from a tensor name.</summary>
    public static string Identifier(string name)
    {
        var sb = new StringBuilder();
        bool upper = true;
        foreach (char c in name)
        {
            if (char.IsLetterOrDigit(c) && c < 128)
            {
                sb.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
            else upper = true;
        }
        if (sb.Length == 0 || char.IsDigit(sb[0])) sb.Insert(0, 'W');
        return sb.ToString();
    }
}
