using System;
using System.Collections.Generic;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Ops;

/// <summary>An op's shape rule: its node from its inputs' nodes, or null after one diagnostic (<see cref="ShapeContext"/>).</summary>
internal delegate Node? ShapeRule(ShapeContext context);

/// <summary>
/// The op catalogue: what each op is, in one place per op family (the files beside this one). Each family registers its
/// ops' rules here; the stages look them up by <see cref="OpKind"/> instead of switching over op kinds. Today it holds
/// every op's shape rule (what <c>Passes/ShapeInference</c> runs); docs/architecture.md says what else moves in next.
/// </summary>
internal static class OpCatalogue
{
    private static readonly Dictionary<OpKind, ShapeRule> ShapeRules = Build();

    /// <summary>The shape rule of <paramref name="kind"/>.</summary>
    public static ShapeRule Shape(OpKind kind) =>
        ShapeRules.TryGetValue(kind, out ShapeRule? rule) ? rule : throw new InvalidOperationException($"no shape rule for {kind}");

    /// <summary>Whether every op kind has a shape rule (a test holds the catalogue to it).</summary>
    public static IEnumerable<OpKind> KindsWithoutShapeRule()
    {
        foreach (OpKind kind in (OpKind[])Enum.GetValues(typeof(OpKind)))
            if (!ShapeRules.ContainsKey(kind)) yield return kind;
    }

    /// <summary>What a family registers its ops into; an op registered twice is a bug in the catalogue.</summary>
    internal sealed class Builder
    {
        internal Dictionary<OpKind, ShapeRule> Shapes { get; } = new();

        public void Shape(ShapeRule rule, params OpKind[] kinds)
        {
            foreach (OpKind kind in kinds)
            {
                if (Shapes.ContainsKey(kind)) throw new InvalidOperationException($"{kind} has two shape rules");
                Shapes.Add(kind, rule);
            }
        }
    }

    private static Dictionary<OpKind, ShapeRule> Build()
    {
        var catalogue = new Builder();
        SourceOps.Register(catalogue);
        LinearOps.Register(catalogue);
        ElementwiseOps.Register(catalogue);
        NormalizationOps.Register(catalogue);
        ConvolutionOps.Register(catalogue);
        LayoutOps.Register(catalogue);
        AttentionOps.Register(catalogue);
        SequenceOps.Register(catalogue);
        return catalogue.Shapes;
    }
}
