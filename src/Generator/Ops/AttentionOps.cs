using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Ops;

/// <summary>Attention: scaled dot-product attention on separate tensors, and the core of MultiHeadAttention on its packed projection.</summary>
internal static class AttentionOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Attention, OpKind.Attention);
        catalogue.Shape(MultiHeadAttention, OpKind.AttentionCore);
        catalogue.Evaluate(EvaluateMultiHeadAttention, OpKind.AttentionCore);
        catalogue.Evaluate(EvaluateAttention, OpKind.Attention);
        catalogue.Lower(c => c.Root.Kind == OpKind.AttentionCore ? LowerMultiHeadAttention(c) : LowerAttention(c), KernelKind.Attention);
    }

    /// <summary>ScaledDotProductAttention: queries <c>[h…, L, e]</c>, keys <c>[h…, S, e]</c>, values <c>[h…, S, ev]</c>, an optional <c>[L, S]</c> mask.</summary>
    private static Node? Attention(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node q = inputs[0], k = inputs[1], v = inputs[2];
        if (q.IsConstant || k.IsConstant || v.IsConstant) return c.NotOnConstants();
        int rank = q.Shape.Length;
        if (rank < 2 || k.Shape.Length != rank || v.Shape.Length != rank
            || k.Shape[rank - 1] != q.Shape[rank - 1] || v.Shape[rank - 2] != k.Shape[rank - 2]
            || !q.Shape.Take(rank - 2).SequenceEqual(k.Shape.Take(rank - 2)) || !q.Shape.Take(rank - 2).SequenceEqual(v.Shape.Take(rank - 2)))
            return c.Mismatch($"ScaledDotProductAttention: queries {c.Shape(q)}, keys {c.Shape(k)} and values {c.Shape(v)} do not fit together (expected [h…, L, e], [h…, S, e], [h…, S, ev])");
        if (inputs.Length > 3 && ShapeContext.MaskError(inputs[3], q.Shape[rank - 2], k.Shape[rank - 2]) is { } error) return c.Mismatch("ScaledDotProductAttention: " + error);
        int[] shape = (int[])q.Shape.Clone();
        shape[rank - 1] = v.Shape[rank - 1];
        return new Node(op, shape, isConstant: false);
    }

    /// <summary>MultiHeadAttention's core on the packed projection <c>[sequence, 3·features]</c>.</summary>
    private static Node? MultiHeadAttention(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node qkv = inputs[0];
        int heads = ((AttentionSettings)op.Settings!).Heads;
        int width = qkv.Shape.Length == 0 ? 0 : qkv.Shape[qkv.Shape.Length - 1];
        if (qkv.Shape.Length != 2)
            return c.Mismatch($"MultiHeadAttention '{op.Name}' needs samples of [sequence, features], but gets {c.Shape(qkv)} after its input projection");
        if (heads <= 0 || width % 3 != 0 || width / 3 % heads != 0)
            return c.Mismatch($"MultiHeadAttention '{op.Name}': {width / 3} features do not split into {heads} heads");
        if (inputs.Length > 1 && ShapeContext.MaskError(inputs[1], qkv.Shape[0], qkv.Shape[0]) is { } error) return c.Mismatch($"MultiHeadAttention '{op.Name}': " + error);
        int[] shape = (int[])qkv.Shape.Clone();
        shape[shape.Length - 1] = width / 3;
        return new Node(op, shape, isConstant: false);
    }

    /// <summary>MultiHeadAttention's core through ReferenceOps.Attention on the packed projection.</summary>
    private static double[] EvaluateMultiHeadAttention(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        int samples = context.Samples;
        double[][] values = context.Values;
        (int heads, bool causal) = (AttentionSettings)context.Node.Source.Settings!;
        int model = context.Node.Shape[1], sequence = context.Node.Shape[0];
        Node? mask = inputsOf.Length > 1 ? context.Graph.Nodes[inputsOf[1]] : null;
        float[] qkv = EvaluationContext.Floats(x), y = new float[samples * sequence * model];
        ReferenceOps.Attention(qkv, qkv, model, qkv, 2 * model, mask is null ? null : EvaluationContext.Floats(values[mask.Id]), y, samples,
            AttentionGeometry.Packed(sequence, heads, model / heads, mask is { IsConstant: false } ? sequence * sequence : 0, causal));
        return EvaluationContext.Doubles(y);
    }

    /// <summary>ScaledDotProductAttention through ReferenceOps.Attention.</summary>
    private static double[] EvaluateAttention(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        int samples = context.Samples;
        double[][] values = context.Values;
        Node q = context.Graph.Nodes[inputsOf[0]], key = context.Graph.Nodes[inputsOf[1]], value = context.Graph.Nodes[inputsOf[2]];
        Node? mask = inputsOf.Length > 3 ? context.Graph.Nodes[inputsOf[3]] : null;
        int rank = q.Shape.Length, queries = q.Shape[rank - 2], keys = key.Shape[rank - 2];
        var y = new float[samples * context.Node.ElementCount];
        ReferenceOps.Attention(EvaluationContext.Floats(x), EvaluationContext.Floats(values[key.Id]), 0, EvaluationContext.Floats(values[value.Id]), 0, mask is null ? null : EvaluationContext.Floats(values[mask.Id]), y, samples,
            AttentionGeometry.Separate(q.ElementCount / (queries * q.Shape[rank - 1]), queries, keys, q.Shape[rank - 1], value.Shape[rank - 1],
                mask is { IsConstant: false } ? queries * keys : 0, ((AttentionSettings)context.Node.Source.Settings!).Causal));
        return EvaluationContext.Doubles(y);
    }

    /// <summary>MultiHeadAttention's core: queries, keys and values side by side in the packed projection.</summary>
    private static KernelPlan LowerMultiHeadAttention(LoweringContext context)
    {
        // MultiHeadAttention: queries, keys and values side by side in the packed projection.
        (int heads, bool causal) = (AttentionSettings)context.Root.Source.Settings!;
        int sequence = context.Input.Shape[0], features = context.Root.Shape[1];
        Node? mask = context.Root.Inputs.Length > 1 ? context.Graph.Nodes[context.Root.Inputs[1]] : null;
        var geometry = AttentionGeometry.Packed(sequence, heads, features / heads, mask is { IsConstant: false } ? sequence * sequence : 0, causal);
        Operand qkv = context.Where(context.Input);
        return new KernelPlan(context.Index,
            $"Attention \"{context.Root.Source.Name}\": {heads} heads of {features / heads} over {sequence} positions, softmax(q·kᵀ/√d{(mask is null ? "" : " + mask")})·v{(causal ? ", causal" : "")}, {Strategy(sequence, features / heads)}",
            context.Sources.ToEquatableArray(), qkv, qkv with { Offset = qkv.Offset + features, RowOffset = qkv.RowOffset + features }, context.Output,
            new AttentionOp(geometry), EquatableArray<EpilogueStep>.Empty, 4L * sequence * sequence * features)
        { C = qkv with { Offset = qkv.Offset + 2 * features, RowOffset = qkv.RowOffset + 2 * features }, Mask = mask is null ? null : context.Where(mask) };
    }

    /// <summary>How the kernel will run these keys and values (<see cref="KernelScratch.AttentionByBlocks"/>), for the header.</summary>
    private static string Strategy(int keys, int valueSize) =>
        KernelScratch.AttentionByBlocks(keys, valueSize) ? $"by blocks of {KernelScratch.AttentionBlockRows} queries through the GEMM" : "flash-style";

    /// <summary>ScaledDotProductAttention on separate tensors.</summary>
    private static KernelPlan LowerAttention(LoweringContext context)
    {
        Node q = context.Input, key = context.Graph.Nodes[context.Root.Inputs[1]], value = context.Graph.Nodes[context.Root.Inputs[2]];
        Node? mask = context.Root.Inputs.Length > 3 ? context.Graph.Nodes[context.Root.Inputs[3]] : null;
        int rank = q.Shape.Length, queries = q.Shape[rank - 2], headSize = q.Shape[rank - 1], keys = key.Shape[rank - 2], valueSize = value.Shape[rank - 1];
        int heads = q.Shape.Take(rank - 2).Aggregate(1, (p, d) => p * d);
        bool causal = ((AttentionSettings)context.Root.Source.Settings!).Causal;
        var geometry = AttentionGeometry.Separate(heads, queries, keys, headSize, valueSize, mask is { IsConstant: false } ? queries * keys : 0, causal);
        return new KernelPlan(context.Index,
            $"ScaledDotProductAttention: {heads} head{(heads == 1 ? "" : "s")}, {queries} queries × {keys} keys of {headSize}, softmax(q·kᵀ/√e{(mask is null ? "" : " + mask")})·v{(causal ? ", causal" : "")}, {Strategy(keys, valueSize)}",
            context.Sources.ToEquatableArray(), context.Where(q), context.Where(key), context.Output, new AttentionOp(geometry), EquatableArray<EpilogueStep>.Empty,
            2L * heads * queries * keys * (headSize + valueSize))
        { C = context.Where(value), Mask = mask is null ? null : context.Where(mask) };
    }
}
