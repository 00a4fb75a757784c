using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// The GPU backend's planning pass: decides, before Emit, how the GPU code runs each kernel of the plan (a tiled GEMM, an
/// implicit-GEMM convolution, a group per row, flash-style or group-per-query attention, or a thread per output), which
/// residual Adds a GEMM's store folds in, whether the whole model also runs as one kernel, and the device layout of
/// int4 weights. The GPU emitter prints these decisions and makes none; a fold needs the arena's consent
/// (<see cref="KernelPlan.InputsLiveThroughNext"/>, set by LowerToPlan), so the two cannot disagree.
/// </summary>
internal static class PlanGpu
{
    public static GpuPlan Run(ModelPlan plan)
    {
        List<KernelPlan> kernels = plan.Kernels.ToList();
        DeviceWeights? device = DeviceLayout(plan);
        var result = new GpuKernel[kernels.Count];
        var tables = new List<RotaryTable>();
        bool decoder = plan.IsDecoder;
        bool[] rounds = RoundingKernels(kernels, plan.ChunkRows);
        for (int i = 0; i < kernels.Count; i++)
        {
            KernelPlan k = kernels[i];
            int folded = ResidualAdd(kernels, k);
            int table = -1;
            if (k.Op is RotaryOp rotary)
            {
                var wanted = new RotaryTable(rotary.HeadSize, rotary.Theta);
                table = tables.IndexOf(wanted);
                if (table < 0)
                {
                    table = tables.Count;
                    tables.Add(wanted);
                }
            }
            result[i] = new GpuKernel(i, Form(k), folded)
            {
                Int4 = Int4Place(plan, k, device),
                // A decode step is one row: a GEMM's 64-row tile would leave 63 of 64 rows idle, so a decoder's float32 and
                // int4 layers also get a matrix-vector kernel (int8 ones run their integer GEMM).
                Gemv = decoder && k.Op is LinearOp { Weights: LinearWeights.Float32 or LinearWeights.Int4Packed },
                RotaryTable = table,
                RoundsRows = rounds[i],
            };
        }
        for (int i = 0; i < result.Length; i++)
            if (result[i].FoldedAdd >= 0) result[result[i].FoldedAdd] = result[result[i].FoldedAdd] with { FusedAway = true };
        return new GpuPlan(result.ToEquatableArray(), WholeModel(kernels), device) { RotaryTables = tables.ToEquatableArray() };
    }

    private static GpuForm Form(KernelPlan k) => k.Op switch
    {
        LinearOp => GpuForm.Gemm,
        // An ungrouped convolution without a fused pool: the tiled GEMM's shape, its right-hand tile gathered from the
        // input on the fly. Grouped, depthwise, pooled and Winograd layers stay a thread per output.
        ConvOp { Algorithm: ConvAlgorithm.Im2Col or ConvAlgorithm.Direct, Geometry: { Pooled: false, Groups: 1 } } => GpuForm.ImplicitGemm,
        SoftmaxOp or LayerNormOp or RmsNormOp => GpuForm.Rows,
        RotaryOp => GpuForm.Rotary,
        PositionEmbeddingOp => GpuForm.PositionEmbedding,
        CachedAttentionOp => GpuForm.CachedAttention,
        // At least 16 queries (or more keys than a group can score) with heads of at most 128 features: flash-style, a
        // group per block of queries. Fewer queries leave most of such a group idle (decoding, one query): a group per query.
        AttentionOp { Geometry: var g } when g.HeadSize <= GpuPlan.FlashFeatures && g.ValueSize <= GpuPlan.FlashFeatures
            && (g.Queries >= 16 || g.Keys > GpuPlan.AttentionKeys) => GpuForm.FlashAttention,
        AttentionOp { Geometry.Keys: <= GpuPlan.AttentionKeys } => GpuForm.GroupAttention,
        _ => GpuForm.PerOutput,
    };

    /// <summary>
    /// Which int4 Linear layers (a decoder's, reading rows rounded to int8 per block) launch their own rounding kernel: all
    /// but one that reads the same value as the int4 Linear before it, when no kernel between wrote to that value's place
    /// in the arena (so it is still the same value) or to the scratch (an int8 Linear's quantized rows).
    /// </summary>
    private static bool[] RoundingKernels(List<KernelPlan> kernels, int chunkRows)
    {
        var rounds = new bool[kernels.Count];
        int last = -1;
        for (int i = 0; i < kernels.Count; i++)
        {
            KernelPlan k = kernels[i];
            if (k.Quantized) last = -1; // its quantized rows overwrite the scratch
            if (k.Op is not LinearOp { Weights: LinearWeights.Int4Packed } l) continue;
            rounds[i] = !(last >= 0 && kernels[last].A == k.A && ((LinearOp)kernels[last].Op).K == l.K && Unwritten(kernels, last, i, k.A, chunkRows));
            last = i;
        }
        return rounds;
    }

    /// <summary>Whether no kernel strictly between <paramref name="from"/> and <paramref name="to"/> writes where value <paramref name="a"/> lies.</summary>
    private static bool Unwritten(List<KernelPlan> kernels, int from, int to, Operand a, int chunkRows)
    {
        if (a.Buffer == BufferKind.Input) return true;
        if (a.Buffer != BufferKind.Arena || a.SampleStride <= 0) return false;
        long start = a.Offset - a.RowOffset, end = start + (long)a.SampleStride * chunkRows;
        for (int j = from + 1; j < to; j++)
        {
            Operand o = kernels[j].Output;
            if (o.Buffer != BufferKind.Arena) continue;
            if (o.SampleStride <= 0) return false;
            long oStart = o.Offset - o.RowOffset, oEnd = oStart + (long)o.SampleStride * chunkRows;
            if (oStart < end && start < oEnd) return false;
        }
        return true;
    }

    /// <summary>
    /// The Add right after a GEMM-shaped kernel that adds the GEMM's output, element for element, to a value computed
    /// before it (a residual connection: ResNet's shortcut, a transformer's x + MLP(x)), when the arena keeps the GEMM's
    /// inputs live through it. The GEMM's store does the Add (and its epilogue), which saves a launch and a pass over both
    /// values; the GEMM's own output is still stored when a later kernel reads it (<see cref="KernelPlan.LastReader"/>).
    /// </summary>
    private static int ResidualAdd(List<KernelPlan> kernels, KernelPlan k)
    {
        // A convolution that already adds a skip connection in its store (its B) takes no second Add there.
        if (Form(k) is not (GpuForm.Gemm or GpuForm.ImplicitGemm) || !k.InputsLiveThroughNext || k.Index + 1 >= kernels.Count || k.B is not null) return -1;
        KernelPlan add = kernels[k.Index + 1];
        if (add.Op is not BroadcastOp { Operation: KernelKind.Add } broadcast || add.B is null || add.A == add.B || add.A != k.Output && add.B != k.Output) return -1;
        long count = k.Op switch
        {
            ConvOp conv => conv.OutputsPerSample,
            LinearOp l => (long)l.Rows * l.N,
            _ => -1,
        };
        int[] shape = broadcast.Shape.ToArray();
        bool Dense(int[] strides)
        {
            if (strides[0] != count) return false;
            long dense = 1;
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (strides[d + 1] != dense && shape[d] != 1) return false;
                dense *= shape[d];
            }
            return dense == count;
        }
        return Dense(broadcast.AStrides.ToArray()) && Dense(broadcast.BStrides.ToArray()) ? add.Index : -1;
    }

    /// <summary>
    /// An MLP that also runs as one kernel for small batches (the launch-bound regime): float32 Linear, element-wise and
    /// softmax kernels, one row per sample, each reading what the previous wrote, no layer wider than 4,096.
    /// </summary>
    private static bool WholeModel(List<KernelPlan> kernels)
    {
        if (kernels.Count == 0 || kernels[0].A != new Operand(BufferKind.Input, 0) || kernels[kernels.Count - 1].Output != new Operand(BufferKind.Output, 0)) return false;
        for (int i = 0; i < kernels.Count; i++)
        {
            KernelPlan k = kernels[i];
            if (k.Kind is not (KernelKind.Linear or KernelKind.Elementwise or KernelKind.Softmax or KernelKind.LogSoftmax) || k.Quantized
                || k.RowsPerSample != 1 || k.B is not null || k.Op.RowWidths.In > GpuPlan.WholeWidth || k.Op.RowWidths.Out > GpuPlan.WholeWidth) return false;
            if (i > 0 && k.A != kernels[i - 1].Output) return false;
        }
        return true;
    }

    /// <summary>
    /// The device weights of a model with int4 weights; null when it has none, or reads its weights from a file (then the
    /// GPU reads the float32 panels, as the CPU: the encoded form is embedded only).
    /// </summary>
    private static DeviceWeights? DeviceLayout(ModelPlan plan)
    {
        if (!plan.EmbedWeights) return null;
        List<WeightBlob> int4 = plan.Blobs.Where(b => b.Kind == WeightLayoutKind.Int4Linear).ToList();
        if (int4.Count == 0) return null;
        int prefix = int4.Min(b => b.Offset), at = prefix;
        var blobs = new List<DeviceBlob>();
        foreach (WeightBlob blob in int4)
        {
            blobs.Add(new DeviceBlob(blob.Identifier, at, blob.N, blob.K, blob.Tensor));
            at = checked(at + GpuPlan.DeviceLength(blob.N, blob.K));
        }
        return new DeviceWeights(prefix, at, blobs.ToEquatableArray());
    }

    /// <summary>The device form of an int4 Linear's weights; null for kernels that read float32 panels.</summary>
    private static Int4Place? Int4Place(ModelPlan plan, KernelPlan k, DeviceWeights? device)
    {
        if (device is null || k.Op is not LinearOp { Weights: LinearWeights.Int4 } l) return null;
        WeightBlob? blob = plan.Blobs.FirstOrDefault(b => b.Kind == WeightLayoutKind.Int4Linear && b.Offset == l.WeightOffset);
        DeviceBlob? placed = blob is null ? null : device.Blobs.FirstOrDefault(d => d.Identifier == blob.Identifier);
        if (placed is null) return null;
        int codes = placed.Offset, words = (l.K + 7) / 8;
        return new Int4Place(codes, codes + l.N * words, words, (l.K + 31) / 32);
    }
}
