using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>
/// The decoder ops (docs/architecture.md, "Decoders"): RmsNorm, Rotary, AddPositions and CachedAttention. A model with a
/// Rotary, an AddPositions or a CachedAttention is a decoder: each sample is one token, and the samples of a call are
/// consecutive positions of one sequence, so these three read the token's position, and CachedAttention the keys and
/// values of earlier calls.
/// </summary>
internal static class DecoderOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(RmsNorm, OpKind.RmsNorm);
        catalogue.Shape(Rotary, OpKind.Rotary);
        catalogue.Shape(CachedAttention, OpKind.CachedAttention);
        catalogue.Shape(PositionEmbedding, OpKind.PositionEmbedding);
        catalogue.Evaluate(EvaluateRmsNorm, OpKind.RmsNorm);
        catalogue.Evaluate(EvaluateRotary, OpKind.Rotary);
        catalogue.Evaluate(EvaluateCachedAttention, OpKind.CachedAttention);
        catalogue.Evaluate(EvaluatePositionEmbedding, OpKind.PositionEmbedding);
        catalogue.Lower(LowerRmsNorm, KernelKind.RmsNorm);
        catalogue.Lower(LowerRotary, KernelKind.Rotary);
        catalogue.Lower(LowerCachedAttention, KernelKind.CachedAttention);
        catalogue.Lower(LowerPositionEmbedding, KernelKind.PositionEmbedding);
    }

    /// <summary>RmsNorm over the last dimension: <c>name.weight</c> of that width.</summary>
    private static Node? RmsNorm(ShapeContext c)
    {
        Node x = c.Inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        if (x.Shape.Length == 0) return c.Mismatch("RmsNorm needs at least one dimension per sample");
        int width = x.Shape[x.Shape.Length - 1];
        SafeTensorEntry? gamma = c.Find(c.Op.Name + ".weight");
        if (gamma is null) return null;
        if (gamma.Shape.Length != 1 || gamma.Shape[0] != width)
            return c.Mismatch($"RmsNorm '{c.Op.Name}' normalizes {width} values ({c.Shape(x)}), but {c.Op.Name}.weight is {Node.Format(gamma.Shape)}");
        return new Node(c.Op, x.Shape, isConstant: false) { Weight = gamma };
    }

    /// <summary>The width of a decoder value's samples, each one row; null after a diagnostic.</summary>
    private static int? Row(ShapeContext c, Node x, string what)
    {
        if (x.IsConstant) { c.NotOnConstants(); return null; }
        int width = x.Shape.Length == 0 ? 0 : x.Shape[x.Shape.Length - 1];
        if (width == 0 || x.ElementCount != width)
        {
            c.Mismatch($"{what} needs one row per sample (a decoder's sample is one token), but gets {c.Shape(x)}");
            return null;
        }
        return width;
    }

    /// <summary>Rotary: the row splits into heads of an even size.</summary>
    private static Node? Rotary(ShapeContext c)
    {
        var settings = (RotarySettings)c.Op.Settings!;
        if (Row(c, c.Inputs[0], "Rotary") is not int width) return null;
        if (settings.HeadSize <= 0 || settings.HeadSize % 2 != 0 || width % settings.HeadSize != 0 || settings.HeadSize > DecoderReference.MaxRotaryHeadSize)
            return c.Mismatch($"Rotary: heads of {settings.HeadSize} values (even, at most {DecoderReference.MaxRotaryHeadSize}) do not split a row of {width}");
        return new Node(c.Op, c.Inputs[0].Shape, isConstant: false);
    }

    /// <summary>CachedAttention: queries of heads × e, keys and values of kvHeads × e, kvHeads dividing heads.</summary>
    private static Node? CachedAttention(ShapeContext c)
    {
        (int heads, int kvHeads) = (CachedAttentionSettings)c.Op.Settings!;
        if (Row(c, c.Inputs[0], "CachedAttention's queries") is not int width
            || Row(c, c.Inputs[1], "CachedAttention's keys") is not int keys
            || Row(c, c.Inputs[2], "CachedAttention's values") is not int values) return null;
        if (heads <= 0 || width % heads != 0)
            return c.Mismatch($"CachedAttention: {width} query values do not split into {heads} heads");
        int headSize = width / heads;
        if (kvHeads <= 0 || heads % kvHeads != 0 || keys != kvHeads * headSize || values != keys)
            return c.Mismatch($"CachedAttention: {heads} heads of {headSize} need keys and values of {kvHeads} × {headSize} = {(long)kvHeads * headSize} values with {kvHeads} dividing {heads}; "
                + $"got keys {c.Shape(c.Inputs[1])} and values {c.Shape(c.Inputs[2])}");
        return new Node(c.Op, c.Inputs[0].Shape, isConstant: false);
    }

    /// <summary>AddPositions: <c>name.weight</c> is <c>[positions, width]</c>, a row per position.</summary>
    private static Node? PositionEmbedding(ShapeContext c)
    {
        if (Row(c, c.Inputs[0], "AddPositions") is not int width) return null;
        SafeTensorEntry? table = c.Find(c.Op.Name + ".weight");
        if (table is null) return null;
        if (table.Shape.Length != 2 || table.Shape[1] != width || table.Shape[0] == 0)
            return c.Mismatch($"AddPositions '{c.Op.Name}' adds a row of {width} per position, but {c.Op.Name}.weight is {Node.Format(table.Shape)} (expected [positions, {width}])");
        return new Node(c.Op, c.Inputs[0].Shape, isConstant: false) { Weight = table };
    }

    private static double[] EvaluateRmsNorm(EvaluationContext context)
    {
        int width = context.Node.Shape[context.Node.Shape.Length - 1];
        var y = new float[context.X.Length];
        DecoderReference.RmsNorm(EvaluationContext.Floats(context.X), context.Tensor(context.Node.Weight!.Name), context.Node.Source.Scalar, y, width);
        return EvaluationContext.Doubles(y);
    }

    /// <summary>Rotary with the samples as positions 0, 1, … (the eager reference's sequence).</summary>
    private static double[] EvaluateRotary(EvaluationContext context)
    {
        var settings = (RotarySettings)context.Node.Source.Settings!;
        var y = new float[context.X.Length];
        DecoderReference.Rotary(EvaluationContext.Floats(context.X), y, context.Node.ElementCount, settings.HeadSize, settings.Theta, position: 0);
        return EvaluationContext.Doubles(y);
    }

    /// <summary>
    /// AddPositions with the samples as positions 0, 1, … (the eager reference's sequence); samples past the table's rows
    /// (a calibration sequence longer than the model's context) are left at zero, and the pipeline keeps sequences within
    /// the table.
    /// </summary>
    private static double[] EvaluatePositionEmbedding(EvaluationContext context)
    {
        var y = new float[context.X.Length];
        DecoderReference.AddPositions(EvaluationContext.Floats(context.X), context.Tensor(context.Node.Weight!.Name), y, context.Node.ElementCount, position: 0);
        return EvaluationContext.Doubles(y);
    }

    /// <summary>CachedAttention with the samples as one sequence (the eager reference's).</summary>
    private static double[] EvaluateCachedAttention(EvaluationContext context)
    {
        (int heads, int kvHeads) = (CachedAttentionSettings)context.Node.Source.Settings!;
        int width = context.Node.ElementCount;
        var y = new float[context.X.Length];
        DecoderReference.CausalAttention(EvaluationContext.Floats(context.X), EvaluationContext.Floats(context.Values[context.Node.Inputs[1]]),
            EvaluationContext.Floats(context.Values[context.Node.Inputs[2]]), y, context.Samples, heads, kvHeads, width / heads);
        return EvaluationContext.Doubles(y);
    }

    private static KernelPlan LowerRmsNorm(LoweringContext context)
    {
        int width = context.Input.Shape[context.Input.Shape.Length - 1];
        WeightBlob gamma = context.Blob(WeightLayoutKind.Raw, context.Root.Weight!.Name, width, 0, 0, null, 0);
        return new KernelPlan(context.Index, $"RmsNorm \"{context.Root.Source.Name}\" over the last dimension of {Node.Format(context.Input.Shape)}",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output,
            new RmsNormOp(context.Input.ElementCount / width, width, gamma.Offset, context.Root.Source.Scalar),
            EquatableArray<EpilogueStep>.Empty, 4L * context.Input.ElementCount);
    }

    private static KernelPlan LowerRotary(LoweringContext context)
    {
        var settings = (RotarySettings)context.Root.Source.Settings!;
        int width = context.Input.ElementCount;
        return new KernelPlan(context.Index,
            $"Rotary position embeddings on {width / settings.HeadSize} heads of {settings.HeadSize}, θ = {settings.Theta.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}, at each token's position",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, new RotaryOp(width, settings.HeadSize, settings.Theta),
            EquatableArray<EpilogueStep>.Empty, 3L * width);
    }

    private static KernelPlan LowerPositionEmbedding(LoweringContext context)
    {
        int width = context.Input.ElementCount, positions = context.Root.Weight!.Shape[0];
        WeightBlob table = context.Blob(WeightLayoutKind.Raw, context.Root.Weight.Name, checked(positions * width), 0, 0, null, 0);
        return new KernelPlan(context.Index, $"AddPositions \"{context.Root.Source.Name}\": row p of [{positions}, {width}] added at each token's position p",
            context.Sources.ToEquatableArray(), context.Where(context.Input), null, context.Output, new PositionEmbeddingOp(width, positions, table.Offset),
            EquatableArray<EpilogueStep>.Empty, 3L * width);
    }

    /// <summary>CachedAttention; its cache slot, its place among the model's attention layers, is set when the plan is whole (Passes/LowerToPlan).</summary>
    private static KernelPlan LowerCachedAttention(LoweringContext context)
    {
        (int heads, int kvHeads) = (CachedAttentionSettings)context.Root.Source.Settings!;
        int width = context.Input.ElementCount, headSize = width / heads;
        Node key = context.Graph.Nodes[context.Root.Inputs[1]], value = context.Graph.Nodes[context.Root.Inputs[2]];
        return new KernelPlan(context.Index,
            $"CachedAttention: {heads} heads of {headSize} over {kvHeads} key/value head{(kvHeads == 1 ? "" : "s")}, causal over the cache, softmax(q·kᵀ/√e)·v",
            context.Sources.ToEquatableArray(), context.Where(context.Input), context.Where(key), context.Output, new CachedAttentionOp(heads, kvHeads, headSize, Slot: 0),
            EquatableArray<EpilogueStep>.Empty, 4L * width)
        { C = context.Where(value) };
    }
}
