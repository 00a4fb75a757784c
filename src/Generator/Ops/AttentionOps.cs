using System;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Ops;

/// <summary>Attention: scaled dot-product attention on separate tensors, and the core of MultiHeadAttention on its packed projection.</summary>
internal static class AttentionOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Attention, OpKind.Attention);
        catalogue.Shape(MultiHeadAttention, OpKind.AttentionCore);
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
}
