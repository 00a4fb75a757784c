using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Ops;

/// <summary>Normalizations over a dimension: LayerNorm, BatchNorm (inference), Softmax and LogSoftmax.</summary>
internal static class NormalizationOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(LayerNorm, OpKind.LayerNorm);
        catalogue.Shape(BatchNorm, OpKind.BatchNorm);
        catalogue.Shape(Softmax, OpKind.Softmax, OpKind.LogSoftmax);
    }

    /// <summary>LayerNorm over the last dimension: <c>name.weight</c> and optional <c>name.bias</c> of that width.</summary>
    private static Node? LayerNorm(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        if (x.Shape.Length == 0) return c.Mismatch("LayerNorm needs at least one dimension per sample");
        int width = x.Shape[x.Shape.Length - 1];
        SafeTensorEntry? gamma = c.Find(op.Name + ".weight");
        if (gamma is null) return null;
        if (gamma.Shape.Length != 1 || gamma.Shape[0] != width)
            return c.Mismatch($"LayerNorm '{op.Name}' normalizes {width} values ({c.Shape(x)}), but {op.Name}.weight is {Node.Format(gamma.Shape)}");
        SafeTensorEntry? beta = c.Optional(op.Name + ".bias", out bool badBeta);
        if (badBeta) return null;
        if (beta is not null && (beta.Shape.Length != 1 || beta.Shape[0] != width))
            return c.Mismatch($"LayerNorm '{op.Name}': {op.Name}.bias must be [{width}] but is {Node.Format(beta.Shape)}");
        return new Node(op, x.Shape, isConstant: false) { Weight = gamma, Bias = beta };
    }

    /// <summary>BatchNorm (inference) over the channel dimension: weight, bias, running mean and variance, one per channel.</summary>
    private static Node? BatchNorm(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        if (x.Shape.Length == 0) return c.Mismatch($"BatchNorm '{op.Name}' needs samples with a channel dimension");
        int channels = x.Shape[0];
        SafeTensorEntry? weight = null;
        foreach (string part in new[] { "weight", "bias", "running_mean", "running_var" })
        {
            SafeTensorEntry? entry = c.Find(op.Name + "." + part);
            if (entry is null) return null;
            if (entry.Shape.Length != 1 || entry.Shape[0] != channels)
                return c.Mismatch($"BatchNorm '{op.Name}' normalizes {channels} channels ({c.Shape(x)}), but {op.Name}.{part} is {Node.Format(entry.Shape)}");
            weight ??= entry;
        }
        return new Node(op, x.Shape, isConstant: false) { Weight = weight };
    }

    /// <summary>Softmax, LogSoftmax over the last dimension.</summary>
    private static Node? Softmax(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        if (inputs[0].IsConstant) return c.NotOnConstants();
        return inputs[0].Shape.Length == 0
            ? c.Mismatch($"{op.Kind} needs at least one dimension per sample")
            : new Node(op, inputs[0].Shape, isConstant: false);
    }
}
