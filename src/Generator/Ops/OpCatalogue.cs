using System;
using System.Collections.Generic;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Ops;

/// <summary>An op's shape rule: its node from its inputs' nodes, or null after one diagnostic (<see cref="ShapeContext"/>).</summary>
internal delegate Node? ShapeRule(ShapeContext context);

/// <summary>A kernel kind's lowering: the fused group as a kernel of the plan (<see cref="LoweringContext"/>).</summary>
internal delegate KernelPlan LowerRule(LoweringContext context);

/// <summary>An op's reference evaluation at build time: its values for all the samples (<see cref="EvaluationContext"/>).</summary>
internal delegate double[] EvaluateRule(EvaluationContext context);

/// <summary>
/// The op catalogue: what each op is, in one place per op family (the files beside this one). Each family registers its
/// ops' rules here; the stages look them up by <see cref="OpKind"/> instead of switching over op kinds. It holds every
/// op's shape rule (what <c>Passes/ShapeInference</c> runs), reference evaluation (what <c>Passes/Calibrate</c> runs,
/// and, for the element-wise ops, <c>Passes/FoldConstants</c>) and lowering to a kernel of the plan (what
/// <c>Passes/LowerToPlan</c> runs); docs/architecture.md says what moves in next.
/// </summary>
internal static class OpCatalogue
{
    private static readonly Builder Rules = Build();
    private static Dictionary<OpKind, ShapeRule> ShapeRules => Rules.Shapes;

    /// <summary>The shape rule of <paramref name="kind"/>.</summary>
    public static ShapeRule Shape(OpKind kind) =>
        ShapeRules.TryGetValue(kind, out ShapeRule? rule) ? rule : throw new InvalidOperationException($"no shape rule for {kind}");

    /// <summary>The reference evaluation of <paramref name="kind"/> (the model's input and weights are the caller's).</summary>
    public static EvaluateRule Evaluate(OpKind kind) =>
        Rules.Evaluations.TryGetValue(kind, out EvaluateRule? rule) ? rule : throw new InvalidOperationException($"no evaluation for {kind}");

    /// <summary>The lowering of a fused group whose kernel is <paramref name="kind"/>.</summary>
    public static LowerRule Lower(KernelKind kind) =>
        Rules.Lowerings.TryGetValue(kind, out LowerRule? rule) ? rule : throw new InvalidOperationException($"no lowering for {kind}");

    /// <summary>Kernel kinds without a lowering, but the output copy LowerToPlan adds itself (a test holds the catalogue to none).</summary>
    public static IEnumerable<KernelKind> KernelKindsWithoutLowering()
    {
        foreach (KernelKind kind in (KernelKind[])Enum.GetValues(typeof(KernelKind)))
            if (kind != KernelKind.Copy && !Rules.Lowerings.ContainsKey(kind)) yield return kind;
    }

    /// <summary>Op kinds without a reference evaluation other than the input and weight sources (a test holds the catalogue to none).</summary>
    public static IEnumerable<OpKind> KindsWithoutEvaluation()
    {
        foreach (OpKind kind in (OpKind[])Enum.GetValues(typeof(OpKind)))
            if (kind is not (OpKind.Input or OpKind.Parameter) && !Rules.Evaluations.ContainsKey(kind)) yield return kind;
    }

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
        internal Dictionary<OpKind, EvaluateRule> Evaluations { get; } = new();
        internal Dictionary<KernelKind, LowerRule> Lowerings { get; } = new();

        public void Lower(LowerRule rule, params KernelKind[] kinds)
        {
            foreach (KernelKind kind in kinds)
            {
                if (Lowerings.ContainsKey(kind)) throw new InvalidOperationException($"{kind} has two lowerings");
                Lowerings.Add(kind, rule);
            }
        }

        public void Evaluate(EvaluateRule rule, params OpKind[] kinds)
        {
            foreach (OpKind kind in kinds)
            {
                if (Evaluations.ContainsKey(kind)) throw new InvalidOperationException($"{kind} has two evaluations");
                Evaluations.Add(kind, rule);
            }
        }

        public void Shape(ShapeRule rule, params OpKind[] kinds)
        {
            foreach (OpKind kind in kinds)
            {
                if (Shapes.ContainsKey(kind)) throw new InvalidOperationException($"{kind} has two shape rules");
                Shapes.Add(kind, rule);
            }
        }
    }

    private static Builder Build()
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
        return catalogue;
    }
}
