using System;
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Graph;

/// <summary>
/// Builds the graph IR from the recorded ops and the weights file's header: looks every weight up and infers
/// and checks every shape, with the same rules as the eager <c>Tensor</c> ops. Errors point at the call.
/// </summary>
internal static class ShapeInference
{
    public static ModelGraph? Build(ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics)
    {
        var nodes = new List<Node>();
        foreach (RecordedOp op in model.Ops)
        {
            Node? node = Infer(op, nodes, model, weights, diagnostics);
            if (node is null) return null; // the first error stops inference: later shapes would only repeat it
            nodes.Add(node);
        }
        Node output = nodes[model.OutputOp];
        if (output.IsConstant)
        {
            // Everything Forward returns would be computed from weights alone: the same for every input.
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, output.Source.Location, output.Source.Text,
                "Forward must return a value computed from its input, not from weight tensors alone"));
            return null;
        }
        return new ModelGraph(nodes, model.OutputOp);
    }

    /// <summary>
    /// The node of one more op, given the nodes before it; null (with a diagnostic) when its shapes do not fit. The ONNX
    /// importer calls it as it records ops, where ONNX needs a shape to lower a node (Shape, asymmetric padding).
    /// </summary>
    public static Node? Infer(RecordedOp op, List<Node> nodes, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics)
    {
        Node? node;
        try
        {
            node = InferShape(op, nodes, model, weights, diagnostics);
        }
        catch (OverflowException)
        {
            // The generator computes sizes in checked arithmetic: a wrap is a shape no tensor can have, never a small one.
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, op.Location,
                $"{OpKinds.MethodName(op.Kind)}: its sizes overflow (a dimension, padding or count past 2^31)"));
            return null;
        }
        if (node is null) return null;
        // Every tensor fits one span: each dimension at least 1, at most SizeMath.MaxElements values (per sample, or for a
        // weight the whole tensor). Past this point every element count, stride and offset is a safe int.
        long count = SizeMath.Product(node.Shape);
        if (!SizeMath.Fits(count))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, op.Location, count < 1
                ? $"{OpKinds.MethodName(op.Kind)} gives {Node.Format(node.Shape)}, which holds no values"
                : $"{OpKinds.MethodName(op.Kind)} gives {Node.Format(node.Shape)}{(node.IsConstant ? "" : " per sample")}: {SizeMath.Format(count)} values, more than the {SizeMath.Format(SizeMath.MaxElements)} one tensor can hold"));
            return null;
        }
        return node;
    }

    private static Node? InferShape(RecordedOp op, List<Node> nodes, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics)
    {
        Node? Mismatch(string message)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, op.Location, message + DeclaredInput(op, nodes, model)));
            return null;
        }

        Node? NotOnConstants()
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, op.Location, op.Text,
                $"{OpKinds.MethodName(op.Kind)} applies to the model's activations, not to a weight tensor alone"));
            return null;
        }

        Node[] inputs = op.Inputs.Select(i => nodes[i]).ToArray();
        string Shape(Node n) => Node.Format(n.Shape);

        switch (op.Kind)
        {
            case OpKind.Input:
                return new Node(op, model.InputShape.ToArray(), isConstant: false);

            case OpKind.Parameter:
            {
                SafeTensorEntry? entry = Find(op.Name!, op, model, weights, diagnostics);
                return entry is null ? null : new Node(op, entry.Shape, isConstant: true) { Weight = entry };
            }

            case OpKind.Linear:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                SafeTensorEntry? weight = Find(op.WeightName ?? op.Name + ".weight", op, model, weights, diagnostics);
                if (weight is null) return null;
                if (weight.Shape.Length != 2)
                    return Mismatch($"Linear '{op.Name}': {op.Name}.weight must be [out, in] but is {Node.Format(weight.Shape)}");
                int outFeatures = weight.Shape[0], inFeatures = weight.Shape[1];
                if (x.Shape.Length == 0 || x.Shape[x.Shape.Length - 1] != inFeatures)
                    return Mismatch($"Linear '{op.Name}' expects {inFeatures} input features ({op.Name}.weight is {Node.Format(weight.Shape)}), but its input is {Shape(x)}");
                SafeTensorEntry? bias = Optional(op.BiasName ?? op.Name + ".bias", op, model, weights, diagnostics, out bool badBias);
                if (badBias) return null;
                if (bias is not null && (bias.Shape.Length != 1 || bias.Shape[0] != outFeatures))
                    return Mismatch($"Linear '{op.Name}': {op.Name}.bias must be [{outFeatures}] but is {Node.Format(bias.Shape)}");
                int[] shape = (int[])x.Shape.Clone();
                shape[shape.Length - 1] = outFeatures;
                return new Node(op, shape, isConstant: false) { Weight = weight, Bias = bias };
            }

            case OpKind.Relu or OpKind.Sigmoid or OpKind.Tanh or OpKind.Gelu or OpKind.GeluTanh or OpKind.Silu or OpKind.Erf
                or OpKind.Sqrt or OpKind.Exp or OpKind.Reciprocal or OpKind.QuantizeLinear
                or OpKind.LeakyRelu or OpKind.ClampMin or OpKind.ClampMax
                or OpKind.AddScalar or OpKind.MulScalar or OpKind.Dropout:
                // On a weight tensor: a constant, computed at build time (Passes/FoldConstants).
                return new Node(op, inputs[0].Shape, isConstant: inputs[0].IsConstant);

            case OpKind.LayerNorm:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                if (x.Shape.Length == 0) return Mismatch("LayerNorm needs at least one dimension per sample");
                int width = x.Shape[x.Shape.Length - 1];
                SafeTensorEntry? gamma = Find(op.Name + ".weight", op, model, weights, diagnostics);
                if (gamma is null) return null;
                if (gamma.Shape.Length != 1 || gamma.Shape[0] != width)
                    return Mismatch($"LayerNorm '{op.Name}' normalizes {width} values ({Shape(x)}), but {op.Name}.weight is {Node.Format(gamma.Shape)}");
                SafeTensorEntry? beta = Optional(op.Name + ".bias", op, model, weights, diagnostics, out bool badBeta);
                if (badBeta) return null;
                if (beta is not null && (beta.Shape.Length != 1 || beta.Shape[0] != width))
                    return Mismatch($"LayerNorm '{op.Name}': {op.Name}.bias must be [{width}] but is {Node.Format(beta.Shape)}");
                return new Node(op, x.Shape, isConstant: false) { Weight = gamma, Bias = beta };
            }

            case OpKind.Conv2d or OpKind.Conv1d:
            {
                bool oneD = op.Kind == OpKind.Conv1d;
                string what = $"{op.Kind} '{op.Name}'";
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                if (x.Shape.Length != (oneD ? 2 : 3))
                    return Mismatch($"{what} needs samples of {(oneD ? "[channels, length]" : "[channels, height, width]")}, but gets {Shape(x)}");
                SafeTensorEntry? weight = Find(op.Name + ".weight", op, model, weights, diagnostics);
                if (weight is null) return null;
                (int stride, int padding, int dilation, int groups) = (ConvSettings)op.Settings!;
                if (weight.Shape.Length != (oneD ? 3 : 4))
                    return Mismatch($"{what}: {op.Name}.weight must be {(oneD ? "[out, in/groups, k]" : "[out, in/groups, kh, kw]")} but is {Node.Format(weight.Shape)}");
                if (groups <= 0 || x.Shape[0] % groups != 0 || weight.Shape[0] % groups != 0)
                    return Mismatch($"{what}: {x.Shape[0]} input and {weight.Shape[0]} output channels do not split into {groups} groups");
                if (weight.Shape[1] * groups != x.Shape[0])
                    return Mismatch($"{what} expects {weight.Shape[1] * groups} input channels ({op.Name}.weight is {Node.Format(weight.Shape)}{(groups == 1 ? "" : $", groups {groups}")}), but its input is {Shape(x)}");
                SafeTensorEntry? bias = Optional(op.Name + ".bias", op, model, weights, diagnostics, out bool badBias);
                if (badBias) return null;
                if (bias is not null && (bias.Shape.Length != 1 || bias.Shape[0] != weight.Shape[0]))
                    return Mismatch($"{what}: {op.Name}.bias must be [{weight.Shape[0]}] but is {Node.Format(bias.Shape)}");
                if (stride <= 0 || padding < 0 || dilation <= 0) return Mismatch($"{what}: stride and dilation must be positive and padding not negative");
                int kw = weight.Shape[weight.Shape.Length - 1], width = x.Shape[x.Shape.Length - 1];
                long ow = SizeMath.WindowPositions(width, padding, kw, stride, dilation);
                long oh = oneD ? 1 : SizeMath.WindowPositions(x.Shape[1], padding, weight.Shape[2], stride, dilation);
                if (oh <= 0 || ow <= 0) return Mismatch($"{what}: a kernel of {Node.Format(weight.Shape.Skip(2).ToArray())} does not fit {Shape(x)}");
                return new Node(op, oneD ? new[] { weight.Shape[0], (int)ow } : new[] { weight.Shape[0], (int)oh, (int)ow }, isConstant: false) { Weight = weight, Bias = bias };
            }

            case OpKind.MaxPool2d or OpKind.AvgPool2d:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                if (x.Shape.Length != 3) return Mismatch($"{op.Kind} needs samples of [channels, height, width], but gets {Shape(x)}");
                (int kernel, int stride, int padding) = (PoolSettings)op.Settings!;
                if (kernel <= 0 || stride <= 0 || padding < 0 || padding * 2 > kernel) return Mismatch($"{op.Kind}: kernel and stride must be positive, padding at most half the kernel");
                long oh = SizeMath.WindowPositions(x.Shape[1], padding, kernel, stride), ow = SizeMath.WindowPositions(x.Shape[2], padding, kernel, stride);
                if (oh <= 0 || ow <= 0) return Mismatch($"{op.Kind}: a {kernel}×{kernel} window does not fit {Shape(x)}");
                return new Node(op, new[] { x.Shape[0], (int)oh, (int)ow }, isConstant: false);
            }

            case OpKind.Transpose or OpKind.Permute:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                int rank = x.Shape.Length;
                int[] order;
                if (op.Kind == OpKind.Transpose)
                {
                    var transpose = (TransposeSettings)op.Settings!;
                    int? a = Axis(transpose.First, rank), b = Axis(transpose.Second, rank);
                    if (a is null || b is null) return Mismatch($"Transpose: a sample of {Shape(x)} has no dimension {(a is null ? transpose.First : transpose.Second)}");
                    order = Enumerable.Range(0, rank).ToArray();
                    (order[a.Value], order[b.Value]) = (order[b.Value], order[a.Value]);
                }
                else
                {
                    EquatableArray<int> requested = ((PermuteSettings)op.Settings!).Order;
                    int?[] axes = requested.Select(d => Axis(d, rank)).ToArray();
                    if (axes.Length != rank || axes.Any(a => a is null) || axes.Distinct().Count() != rank)
                        return Mismatch($"Permute: [{string.Join(", ", requested)}] is not an order of the {rank} dimensions of a sample of {Shape(x)}");
                    order = axes.Select(a => a!.Value).ToArray();
                }
                return new Node(op, order.Select(d => x.Shape[d]).ToArray(), isConstant: false) { Resolved = new PermuteSettings(new EquatableArray<int>(order)) };
            }

            case OpKind.Unsqueeze:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                int requested = ((AxisSettings)op.Settings!).Axis, rank = x.Shape.Length, d = requested < 0 ? requested + rank + 1 : requested;
                if (d < 0 || d > rank) return Mismatch($"Unsqueeze: a sample of {Shape(x)} takes a new dimension at 0 to {rank}, not {requested}");
                var shape = new List<int>(x.Shape);
                shape.Insert(d, 1);
                return new Node(op, shape.ToArray(), isConstant: false);
            }

            case OpKind.Squeeze:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                int requested = ((AxisSettings)op.Settings!).Axis;
                int? axis = Axis(requested, x.Shape.Length);
                if (axis is null || x.Shape[axis.Value] != 1)
                    return Mismatch($"Squeeze: dimension {requested} of a sample of {Shape(x)} {(axis is null ? "does not exist" : $"has size {x.Shape[axis.Value]}, not 1")}");
                return new Node(op, x.Shape.Where((_, i) => i != axis.Value).ToArray(), isConstant: false);
            }

            case OpKind.Slice:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                var slice = (SliceSettings)op.Settings!;
                int? axis = Axis(slice.Axis, x.Shape.Length);
                if (axis is null) return Mismatch($"{(slice.Origin == SliceOrigin.Split ? "Split" : "Slice")}: a sample of {Shape(x)} has no dimension {slice.Axis}");
                int size = x.Shape[axis.Value], start = slice.Start < 0 ? slice.Start + size : slice.Start, end = slice.End < 0 ? slice.End + size : slice.End;
                if (slice.Origin == SliceOrigin.Clamped)
                {
                    // ONNX Slice: bounds past either end are clamped to the dimension.
                    start = Math.Max(0, Math.Min(start, size));
                    end = Math.Max(0, Math.Min(end, size));
                }
                if (slice.Origin == SliceOrigin.Split && slice.SplitTotal != size)
                    return Mismatch($"Split: the sizes add up to {slice.SplitTotal}, but dimension {slice.Axis} of {Shape(x)} has {size}");
                if (start < 0 || end > size || start >= end)
                    return Mismatch($"Slice: [{slice.Start}, {slice.End}) is not a non-empty range of dimension {slice.Axis} of {Shape(x)}");
                int[] shape = (int[])x.Shape.Clone();
                shape[axis.Value] = end - start;
                return new Node(op, shape, isConstant: false) { Resolved = slice with { Axis = axis.Value, Start = start, End = end } };
            }

            case OpKind.Concat:
            {
                Node a = inputs[0], b = inputs[1];
                if (a.IsConstant || b.IsConstant) return NotOnConstants();
                int requested = ((AxisSettings)op.Settings!).Axis;
                int? axis = Axis(requested, a.Shape.Length);
                if (axis is null) return Mismatch($"Concat: a sample of {Shape(a)} has no dimension {requested}");
                if (b.Shape.Length != a.Shape.Length || Enumerable.Range(0, a.Shape.Length).Any(d => d != axis && a.Shape[d] != b.Shape[d]))
                    return Mismatch($"Concat: {Shape(a)} and {Shape(b)} differ outside dimension {requested}");
                int[] shape = (int[])a.Shape.Clone();
                shape[axis.Value] += b.Shape[axis.Value];
                return new Node(op, shape, isConstant: false) { Resolved = new AxisSettings(axis.Value) };
            }

            case OpKind.MatMul:
            {
                Node a = inputs[0], b = inputs[1];
                if (a.IsConstant) return NotOnConstants();
                if (a.Shape.Length < 2) return Mismatch($"MatMul needs samples of at least [m, k], but gets {Shape(a)}");
                int k = a.Shape[a.Shape.Length - 1];
                bool fits = b.IsConstant
                    ? b.Shape.Length == 2 && b.Shape[0] == k
                    : b.Shape.Length == a.Shape.Length && b.Shape[b.Shape.Length - 2] == k && a.Shape.Take(a.Shape.Length - 2).SequenceEqual(b.Shape.Take(b.Shape.Length - 2));
                if (!fits)
                    return Mismatch($"MatMul: {Shape(a)} times {(b.IsConstant ? $"weight '{b.Source.Name ?? b.Source.Text}' " : "")}{Shape(b)} does not multiply (expected {(b.IsConstant ? $"a [{k}, n] weight" : $"[…, {k}, n] with the same leading dimensions")})");
                int[] shape = (int[])a.Shape.Clone();
                shape[shape.Length - 1] = b.Shape[b.Shape.Length - 1];
                return new Node(op, shape, isConstant: false);
            }

            case OpKind.Attention:
            {
                Node q = inputs[0], k = inputs[1], v = inputs[2];
                if (q.IsConstant || k.IsConstant || v.IsConstant) return NotOnConstants();
                int rank = q.Shape.Length;
                if (rank < 2 || k.Shape.Length != rank || v.Shape.Length != rank
                    || k.Shape[rank - 1] != q.Shape[rank - 1] || v.Shape[rank - 2] != k.Shape[rank - 2]
                    || !q.Shape.Take(rank - 2).SequenceEqual(k.Shape.Take(rank - 2)) || !q.Shape.Take(rank - 2).SequenceEqual(v.Shape.Take(rank - 2)))
                    return Mismatch($"ScaledDotProductAttention: queries {Shape(q)}, keys {Shape(k)} and values {Shape(v)} do not fit together (expected [h…, L, e], [h…, S, e], [h…, S, ev])");
                if (inputs.Length > 3 && MaskError(inputs[3], q.Shape[rank - 2], k.Shape[rank - 2]) is { } error) return Mismatch("ScaledDotProductAttention: " + error);
                int[] shape = (int[])q.Shape.Clone();
                shape[rank - 1] = v.Shape[rank - 1];
                return new Node(op, shape, isConstant: false);
            }

            case OpKind.BatchNorm:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                if (x.Shape.Length == 0) return Mismatch($"BatchNorm '{op.Name}' needs samples with a channel dimension");
                int channels = x.Shape[0];
                SafeTensorEntry? weight = null;
                foreach (string part in new[] { "weight", "bias", "running_mean", "running_var" })
                {
                    SafeTensorEntry? entry = Find(op.Name + "." + part, op, model, weights, diagnostics);
                    if (entry is null) return null;
                    if (entry.Shape.Length != 1 || entry.Shape[0] != channels)
                        return Mismatch($"BatchNorm '{op.Name}' normalizes {channels} channels ({Shape(x)}), but {op.Name}.{part} is {Node.Format(entry.Shape)}");
                    weight ??= entry;
                }
                return new Node(op, x.Shape, isConstant: false) { Weight = weight };
            }

            case OpKind.Embedding:
            {
                Node ids = inputs[0];
                if (ids.IsConstant) return NotOnConstants();
                SafeTensorEntry? table = Find(op.Name + ".weight", op, model, weights, diagnostics);
                if (table is null) return null;
                if (table.Shape.Length != 2) return Mismatch($"Embedding '{op.Name}': {op.Name}.weight must be [count, d] but is {Node.Format(table.Shape)}");
                return new Node(op, ids.Shape.Concat(new[] { table.Shape[1] }).ToArray(), isConstant: false) { Weight = table };
            }

            case OpKind.Mean:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                int dimension = ((AxisSettings)op.Settings!).Axis;
                if (dimension < 0 || dimension >= x.Shape.Length)
                    return Mismatch($"Mean: a sample of {Shape(x)} has no dimension {dimension}");
                return new Node(op, x.Shape.Where((_, d) => d != dimension).ToArray(), isConstant: false);
            }

            case OpKind.GlobalAvgPool:
                if (inputs[0].IsConstant) return NotOnConstants();
                return inputs[0].Shape.Length != 3
                    ? Mismatch($"GlobalAvgPool needs samples of [channels, height, width], but gets {Shape(inputs[0])}")
                    : new Node(op, new[] { inputs[0].Shape[0] }, isConstant: false);

            case OpKind.AttentionCore:
            {
                Node qkv = inputs[0];
                int heads = ((AttentionSettings)op.Settings!).Heads;
                int width = qkv.Shape.Length == 0 ? 0 : qkv.Shape[qkv.Shape.Length - 1];
                if (qkv.Shape.Length != 2)
                    return Mismatch($"MultiHeadAttention '{op.Name}' needs samples of [sequence, features], but gets {Shape(qkv)} after its input projection");
                if (heads <= 0 || width % 3 != 0 || width / 3 % heads != 0)
                    return Mismatch($"MultiHeadAttention '{op.Name}': {width / 3} features do not split into {heads} heads");
                if (inputs.Length > 1 && MaskError(inputs[1], qkv.Shape[0], qkv.Shape[0]) is { } error) return Mismatch($"MultiHeadAttention '{op.Name}': " + error);
                int[] shape = (int[])qkv.Shape.Clone();
                shape[shape.Length - 1] = width / 3;
                return new Node(op, shape, isConstant: false);
            }

            case OpKind.Softmax or OpKind.LogSoftmax:
                if (inputs[0].IsConstant) return NotOnConstants();
                return inputs[0].Shape.Length == 0
                    ? Mismatch($"{op.Kind} needs at least one dimension per sample")
                    : new Node(op, inputs[0].Shape, isConstant: false);

            case OpKind.Add or OpKind.Mul:
            {
                Node a = inputs[0], b = inputs[1];
                // Activations carry a leading batch dimension; a weight tensor does not. Broadcasting is NumPy's on
                // the full shapes, so two activations need the same rank and a weight tensor may not reach the batch.
                if (!a.IsConstant && !b.IsConstant && a.Shape.Length != b.Shape.Length)
                    return Mismatch($"{op.Kind}: shapes {Shape(a)} and {Shape(b)} do not broadcast (per-sample ranks differ)");
                Node activation = a.IsConstant ? b : a, other = a.IsConstant ? a : b;
                if (other.IsConstant && other.Shape.Length > activation.Shape.Length)
                    return Mismatch($"{op.Kind}: weight '{other.Source.Name ?? other.Source.Text}' {Shape(other)} has more dimensions than a sample {Shape(activation)}");
                int rank = Math.Max(a.Shape.Length, b.Shape.Length);
                var shape = new int[rank];
                for (int d = 0; d < rank; d++)
                {
                    int da = DimFromRight(a.Shape, rank - 1 - d), db = DimFromRight(b.Shape, rank - 1 - d);
                    if (da != db && da != 1 && db != 1)
                        return Mismatch($"{op.Kind}: shapes {Shape(a)} and {Shape(b)} do not broadcast");
                    shape[d] = da == 1 ? db : da;
                }
                // Two weight tensors: a constant, computed at build time (Passes/FoldConstants).
                return new Node(op, shape, isConstant: a.IsConstant && b.IsConstant);
            }

            case OpKind.Flatten:
                if (inputs[0].IsConstant) return NotOnConstants();
                return new Node(op, new[] { inputs[0].ElementCount }, isConstant: false);

            case OpKind.Reshape:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                int[] dims = ((ReshapeSettings)op.Settings!).Dimensions.ToArray();
                int inferred = Array.IndexOf(dims, -1);
                if (dims.Length == 0 || dims.Any(d => d == 0 || d < -1) || dims.Count(d => d == -1) > 1)
                    return Mismatch($"Reshape: [{string.Join(", ", dims)}] is not a valid shape (positive dimensions, at most one -1)");
                long known = SizeMath.Product(dims.Where(d => d > 0));
                if (inferred >= 0)
                {
                    if (x.ElementCount % known != 0)
                        return Mismatch($"Reshape: a sample of {Shape(x)} has {x.ElementCount} values, which [{string.Join(", ", dims)}] cannot hold");
                    dims[inferred] = (int)(x.ElementCount / known);
                }
                else if (known != x.ElementCount)
                    return Mismatch($"Reshape: a sample of {Shape(x)} has {x.ElementCount} values, but [{string.Join(", ", dims)}] has {known}");
                return new Node(op, dims, isConstant: false);
            }

            default:
                throw new InvalidOperationException($"no shape rule for {op.Kind}");
        }
    }

    /// <summary>
    /// Where an activation's shape comes from, for a shape error three ops after a wrong <c>[Shape]</c>: the declared input
    /// shape and the line that declares it (or the ONNX file's input). Empty for an op on weights alone.
    /// </summary>
    private static string DeclaredInput(RecordedOp op, List<Node> nodes, ModelDeclaration model)
    {
        if (nodes.Count == 0 || !op.Inputs.Any(i => i < nodes.Count && !nodes[i].IsConstant)) return "";
        string dims = string.Join(", ", model.InputShape);
        if (model.IsOnnx || nodes[0].Source.Location is not { } at)
            return $" (it follows from input '{model.InputName}', [N, {dims}] in the ONNX file)";
        return $" (it follows from input '{model.InputName}', declared [Shape({dims})] at {System.IO.Path.GetFileName(at.FilePath)}({at.LineSpan.Start.Line + 1}))";
    }

    /// <summary>An optional tensor (a bias): absent is fine; present but not a float tensor is MC0003.</summary>
    private static SafeTensorEntry? Optional(string name, RecordedOp op, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics, out bool bad)
    {
        bad = false;
        if (weights.Find(name) is null) return null;
        SafeTensorEntry? entry = Find(name, op, model, weights, diagnostics);
        bad = entry is null;
        return entry;
    }

    /// <summary>A sample dimension, negative ones counted from the end; null when there is no such dimension.</summary>
    private static int? Axis(int dimension, int rank)
    {
        int d = dimension < 0 ? dimension + rank : dimension;
        return d >= 0 && d < rank ? d : null;
    }

    /// <summary>What is wrong with an attention mask, if anything: it must be [queries, keys], a weight or per sample.</summary>
    private static string? MaskError(Node mask, int queries, int keys) =>
        mask.Shape.Length == 2 && mask.Shape[0] == queries && mask.Shape[1] == keys ? null
            : $"the mask must be [{queries}, {keys}] ({(mask.IsConstant ? "a weight" : "per sample")}), but is {Node.Format(mask.Shape)}";

    private static int DimFromRight(int[] shape, int fromRight) => fromRight < shape.Length ? shape[shape.Length - 1 - fromRight] : 1;

    private static SafeTensorEntry? Find(string name, RecordedOp op, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics)
    {
        SafeTensorEntry? entry = weights.Find(name);
        if (entry is not null && !SafeTensorsHeader.IsFloat(entry))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightsFileInvalid, op.NameLocation ?? op.Location, model.WeightsFile ?? "",
                $"tensor '{name}' has dtype {entry.DType}; ModelCompiler reads F32, F16 and BF16 weights"));
            return null;
        }
        if (entry is null)
        {
            List<string> nearest = NameSuggestions.Nearest(name, weights.Entries.Select(e => e.Name));
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WeightNotFound, op.NameLocation ?? op.Location, name,
                model.WeightsFile ?? "", nearest.Count == 0 ? "(the file holds no tensors)" : string.Join(", ", nearest)));
        }
        return entry;
    }
}
