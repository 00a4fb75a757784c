using System;
using System.Collections.Generic;
using System.Linq;
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

    /// <summary>
    /// The op a <c>Tensor</c> method records by its name alone (the method's name is the kind's; arguments, where it has
    /// any, do not change the compiled op): what the C# front end (Parsing/ForwardEvaluator) looks up before its table of
    /// methods with settings. Null for every other method.
    /// </summary>
    public static OpKind? ByMethod(string method) => Rules.Methods.TryGetValue(method, out OpKind kind) ? kind : null;

    /// <summary>
    /// The op an ONNX operator of one input and no attribute records by its name alone (the kind's name is the operator's):
    /// what the ONNX front end (Import/OnnxImporter.Operators) maps before its table of operators with settings.
    /// </summary>
    public static OpKind? ByOnnxName(string op) => Rules.OnnxOperators.TryGetValue(op, out OpKind kind) ? kind : null;

    /// <summary>The <c>Tensor</c> methods <see cref="ByMethod"/> maps, in ordinal order.</summary>
    public static IEnumerable<string> MethodNames => Rules.Methods.Keys.OrderBy(n => n, StringComparer.Ordinal);

    /// <summary>The ONNX operators <see cref="ByOnnxName"/> maps, in ordinal order.</summary>
    public static IEnumerable<string> OnnxNames => Rules.OnnxOperators.Keys.OrderBy(n => n, StringComparer.Ordinal);

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
        internal Dictionary<string, OpKind> Methods { get; } = new(StringComparer.Ordinal);
        internal Dictionary<string, OpKind> OnnxOperators { get; } = new(StringComparer.Ordinal);

        /// <summary>Ops recorded by name alone: the <c>Tensor</c> method of each kind's name, and with <paramref name="onnx"/> the ONNX operator of that name too.</summary>
        public void ByName(bool onnx, params OpKind[] kinds)
        {
            foreach (OpKind kind in kinds)
            {
                Methods.Add(kind.ToString(), kind);
                if (onnx) OnnxOperators.Add(kind.ToString(), kind);
            }
        }

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
        SamplingOps.Register(catalogue);
        GatherOps.Register(catalogue);
        ScatterOps.Register(catalogue);
        DecoderOps.Register(catalogue);
        return catalogue;
    }
}
