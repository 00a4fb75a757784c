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
    public static ModelPlan Run(ModelDeclaration model, long fileLength, string fileHash, ModelGraph graph, List<FusionGroup> groups,
        Func<string, float[]> readTensor, IReadOnlyDictionary<string, float>? staticRanges = null, bool gpu = false,
        IReadOnlyDictionary<string, Gptq.Result>? gptq = null)
    {
        // Storage root of each node: views share their input's storage.
        int[] root = graph.StorageRoots();

        // The kernel that computes each stored value.
        var producer = new Dictionary<int, int>();
        for (int k = 0; k < groups.Count; k++) producer[root[groups[k].Result.Id]] = k;

        // Each output is stored straight into its span when a kernel computes it; one returned unchanged from an input (or a
        // value returned a second time) is copied there by a kernel at the end.
        var outputAt = new Dictionary<int, int>();
        for (int o = 0; o < graph.Outputs.Length; o++)
        {
            int r = root[graph.Outputs[o]];
            if (producer.ContainsKey(r) && !outputAt.ContainsKey(r)) outputAt[r] = o;
        }

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
            if (kind is WeightLayoutKind.Int4Linear or WeightLayoutKind.Int4Panels && gptq is not null && gptq.TryGetValue(tensor, out Gptq.Result? rounded))
                blob = blob with { Int4Encoded = rounded.Encoded.ToEquatableArray() };
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
            if (outputAt.ContainsKey(stored)) continue;
            requestIndex[stored] = requests.Count;
            requests.Add(new ArenaRequest(result.ElementCount, k, lastRead.TryGetValue(stored, out int last) ? last : k));
        }
        int[] arenaOffsets = PlanArena.Run(requests, out int floatsPerRow);
        int liveFloatsPerRow = PlanArena.LiveBound(requests);
        long linearWeightBytes = 4L * graph.Nodes.Where(n => n.Kind == OpKind.Linear && n.Weight is not null).Sum(n => n.Weight!.ElementCount);
        int chunkRows = PlanArena.ChunkRows(floatsPerRow, linearWeightBytes);

        Operand Where(Node node)
        {
            int r = root[node.Id];
            if (outputAt.TryGetValue(r, out int output)) return new Operand(BufferKind.Output, 0) { Index = output };
            Node stored = graph.Nodes[r];
            if (stored.Kind == OpKind.Input) return new Operand(BufferKind.Input, 0) { Index = stored.Source.Settings is InputIndex i ? i.Index : 0 };
            if (stored.Kind == OpKind.Parameter)
                return new Operand(BufferKind.Weights, Blob(WeightLayoutKind.Raw, stored.Weight!.Name, stored.ElementCount, 0, 0, null, 0).Offset);
            if (stored.IsConstant)
                return new Operand(BufferKind.Weights, FoldedBlob(stored).Offset);
            return new Operand(BufferKind.Arena, arenaOffsets[requestIndex[r]] * chunkRows) { SampleStride = stored.ElementCount };
        }

        var kernels = new List<KernelPlan>();
        var int4Kernels = new List<int>();
        var gptqLayers = new List<Int4Layer>();
        foreach (FusionGroup group in groups)
        {
            bool int4 = false;
            KernelPlan kernel = Lower(kernels.Count, group, graph, model, Where,
                (kind, tensor, floats, n, k, norm, epsilon) => { int4 |= kind == WeightLayoutKind.Int4Linear; return Blob(kind, tensor, floats, n, k, norm, epsilon); },
                readTensor);
            if (int4) int4Kernels.Add(kernels.Count);
            if (kernel.Op is LinearOp { Weights: LinearWeights.Int8 } int8 && staticRanges is not null && staticRanges.TryGetValue(group.Root.Source.Name!, out float range))
                kernel = kernel with { Op = int8 with { StaticRange = range } };
            if (kernel.Op is LinearOp { Weights: LinearWeights.Int4 or LinearWeights.Int4Packed } int4Op && gptq is not null
                && gptq.TryGetValue(group.Root.Weight!.Name, out Gptq.Result? result))
            {
                WeightBlob codes = blobs.First(b => b.Tensor == group.Root.Weight.Name && b.Int4Encoded.Count > 0);
                gptqLayers.Add(new Int4Layer(group.Root.Source.Name!, codes.Identifier, codes.Kind == WeightLayoutKind.Int4Panels, int4Op.N, int4Op.K));
                kernel = kernel with
                {
                    Op = int4Op with
                    {
                        GptqError = result.Error,
                        RoundToNearestError = result.RoundToNearestError,
                        WeightError = LinearOps.WeightErrorOf(readTensor(group.Root.Weight.Name), Int4Quantization.Decode(result.Encoded, int4Op.N, int4Op.K)),
                    },
                };
            }
            int stored = root[group.Result.Id];
            if (!outputAt.ContainsKey(stored)) kernel = kernel with { LastReader = lastRead.TryGetValue(stored, out int last) ? last : kernels.Count };
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
        for (int o = 0; o < graph.Outputs.Length; o++)
        {
            Node output = graph.Nodes[graph.Outputs[o]];
            if (outputAt.TryGetValue(root[output.Id], out int written) && written == o) continue;
            // The source is an input or another output's span, never the arena: no arena slot has to outlive its kernels.
            string which = graph.Outputs.Length == 1 ? "the output" : $"output {o}" + (model.Outputs[o].Name is { } name ? $" ('{name}')" : "");
            kernels.Add(new KernelPlan(kernels.Count, $"Copy {Node.Format(output.Shape)} to {which}",
                LoweringContext.SourcesOf(output).ToEquatableArray(), Where(graph.Nodes[root[output.Id]]), null, new Operand(BufferKind.Output, 0) { Index = o },
                new CopyOp(output.ElementCount), EquatableArray<EpilogueStep>.Empty, 0));
        }

        // A decoder's attention layers take the cache's slots in order, and its Linear layers a LoRA adapter's (ModelEmitter.Decoder).
        for (int i = 0, slot = 0, linear = 0; i < kernels.Count; i++)
        {
            if (kernels[i].Op is CachedAttentionOp attention) kernels[i] = kernels[i] with { Op = attention with { Slot = slot++ } };
            else if (kernels[i].Op is LinearOp layer) kernels[i] = kernels[i] with { Op = layer with { Slot = linear++ } };
        }

        // The float32 size of the weight tensors the model uses, each counted once however often it is used.
        long float32Bytes = graph.Nodes.SelectMany(n => new[] { n.Weight, n.Bias })
            .Where(t => t is not null).GroupBy(t => t!.Name, StringComparer.Ordinal).Sum(g => 4 * g.First()!.ElementCount);

        Node outputNode = graph.OutputNode;
        PlanValue[] inputs = model.Inputs.Select(v => new PlanValue(v.Name, v.Shape, v.Shape.Aggregate(1, (p, d) => checked(p * d)), v.Type)).ToArray();
        PlanValue[] outputs = graph.Outputs.Select((id, o) => new PlanValue(model.Outputs[o].Name, new EquatableArray<int>(graph.Nodes[id].Shape), graph.Nodes[id].ElementCount, model.Outputs[o].Type)).ToArray();
        return new ModelPlan(model.Namespace, model.ContainingTypes, model.ClassName, model.SourceFileName, model.InputName,
            model.WeightsFile!, fileLength, fileHash,
            model.InputShape, new EquatableArray<int>(outputNode.Shape), inputs[0].Length, outputNode.ElementCount,
            chunkRows, floatsPerRow, kernels.Sum(k => k.FlopsPerSample), weightFloats,
            kernels.ToEquatableArray(), blobs.ToEquatableArray())
        {
            ScratchFloats = scratchFloats,
            Inputs = inputs.ToEquatableArray(),
            Outputs = outputs.ToEquatableArray(),
            LiveFloatsPerRow = liveFloatsPerRow,
            Quantize = model.Quantize,
            GptqActOrder = model.GptqActOrder,
            GptqLayers = gptqLayers.ToEquatableArray(),
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
        ConvOp { Algorithm: ConvAlgorithm.Im2Col, Geometry: var g } => KernelScratch.Im2Col(g),
        ConvOp { Algorithm: ConvAlgorithm.Winograd, Geometry: var g, WinogradTile: var tile } => KernelScratch.Winograd(g.Channels, g.OutChannels, g.OutHeight, g.OutWidth, tile),
        ConvOp { Algorithm: ConvAlgorithm.Direct, Geometry: var g } => KernelScratch.Direct(g),
        _ => 0,
    };

    /// <summary>The group's kernel, lowered by its op family in the catalogue (Ops/).</summary>
    private static KernelPlan Lower(int index, FusionGroup group, ModelGraph graph, ModelDeclaration model,
        Func<Node, Operand> where, BlobMaker blob, Func<string, float[]> readTensor) =>
        OpCatalogue.Lower(group.Kind)(new LoweringContext(index, group, graph, model, where, blob, readTensor));

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
