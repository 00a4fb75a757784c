using System;
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Parsing;
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
        foreach (DslOp op in model.Ops)
        {
            Node? node = Infer(op, nodes, model, weights, diagnostics);
            if (node is null) return null; // the first error stops inference: later shapes would only repeat it
            nodes.Add(node);
        }
        return new ModelGraph(nodes, model.OutputOp);
    }

    private static Node? Infer(DslOp op, List<Node> nodes, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics)
    {
        Node? Mismatch(string message)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, op.Location, message));
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

            case OpKind.Relu or OpKind.Sigmoid or OpKind.Tanh or OpKind.Gelu or OpKind.GeluTanh or OpKind.Silu
                or OpKind.AddScalar or OpKind.MulScalar or OpKind.Dropout:
                return inputs[0].IsConstant ? NotOnConstants() : new Node(op, inputs[0].Shape, isConstant: false);

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

            case OpKind.Conv2d:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                if (x.Shape.Length != 3) return Mismatch($"Conv2d '{op.Name}' needs samples of [channels, height, width], but gets {Shape(x)}");
                SafeTensorEntry? weight = Find(op.Name + ".weight", op, model, weights, diagnostics);
                if (weight is null) return null;
                if (weight.Shape.Length != 4 || weight.Shape[1] != x.Shape[0])
                    return Mismatch($"Conv2d '{op.Name}' expects {(weight.Shape.Length == 4 ? weight.Shape[1] : 0)} input channels ({op.Name}.weight is {Node.Format(weight.Shape)}), but its input is {Shape(x)}");
                SafeTensorEntry? bias = Optional(op.Name + ".bias", op, model, weights, diagnostics, out bool badBias);
                if (badBias) return null;
                if (bias is not null && (bias.Shape.Length != 1 || bias.Shape[0] != weight.Shape[0]))
                    return Mismatch($"Conv2d '{op.Name}': {op.Name}.bias must be [{weight.Shape[0]}] but is {Node.Format(bias.Shape)}");
                int stride = op.Ints[0], padding = op.Ints[1], dilation = op.Ints[2];
                if (stride <= 0 || padding < 0 || dilation <= 0) return Mismatch($"Conv2d '{op.Name}': stride and dilation must be positive and padding not negative");
                int oh = (x.Shape[1] + 2 * padding - dilation * (weight.Shape[2] - 1) - 1) / stride + 1;
                int ow = (x.Shape[2] + 2 * padding - dilation * (weight.Shape[3] - 1) - 1) / stride + 1;
                if (oh <= 0 || ow <= 0) return Mismatch($"Conv2d '{op.Name}': a {weight.Shape[2]}×{weight.Shape[3]} kernel does not fit {Shape(x)}");
                return new Node(op, new[] { weight.Shape[0], oh, ow }, isConstant: false) { Weight = weight, Bias = bias };
            }

            case OpKind.MaxPool2d:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                if (x.Shape.Length != 3) return Mismatch($"MaxPool2d needs samples of [channels, height, width], but gets {Shape(x)}");
                int kernel = op.Ints[0], stride = op.Ints[1], padding = op.Ints[2];
                if (kernel <= 0 || stride <= 0 || padding < 0 || padding * 2 > kernel) return Mismatch("MaxPool2d: kernel and stride must be positive, padding at most half the kernel");
                int oh = (x.Shape[1] + 2 * padding - kernel) / stride + 1, ow = (x.Shape[2] + 2 * padding - kernel) / stride + 1;
                if (oh <= 0 || ow <= 0) return Mismatch($"MaxPool2d: a {kernel}×{kernel} window does not fit {Shape(x)}");
                return new Node(op, new[] { x.Shape[0], oh, ow }, isConstant: false);
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
                int dimension = op.Ints[0];
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
                int heads = op.Ints[0];
                int width = qkv.Shape.Length == 0 ? 0 : qkv.Shape[qkv.Shape.Length - 1];
                if (qkv.Shape.Length < 2)
                    return Mismatch($"MultiHeadAttention '{op.Name}' needs samples of [sequence, features], but gets {Shape(qkv)} after its input projection");
                if (heads <= 0 || width % 3 != 0 || width / 3 % heads != 0)
                    return Mismatch($"MultiHeadAttention '{op.Name}': {width / 3} features do not split into {heads} heads");
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
                if (a.IsConstant && b.IsConstant) return NotOnConstants();
                // Activations carry a leading batch dimension; a weight tensor does not. Broadcasting is NumPy's on
                // the full shapes, so two activations need the same rank and a weight tensor may not reach the batch.
                if (!a.IsConstant && !b.IsConstant && a.Shape.Length != b.Shape.Length)
                    return Mismatch($"{op.Kind}: shapes {Shape(a)} and {Shape(b)} do not broadcast (per-sample ranks differ)");
                Node activation = a.IsConstant ? b : a, other = a.IsConstant ? a : b;
                if (other.IsConstant && other.Shape.Length > activation.Shape.Length)
                    return Mismatch($"{op.Kind}: weight '{other.Source.Name}' {Shape(other)} has more dimensions than a sample {Shape(activation)}");
                int rank = Math.Max(a.Shape.Length, b.Shape.Length);
                var shape = new int[rank];
                for (int d = 0; d < rank; d++)
                {
                    int da = DimFromRight(a.Shape, rank - 1 - d), db = DimFromRight(b.Shape, rank - 1 - d);
                    if (da != db && da != 1 && db != 1)
                        return Mismatch($"{op.Kind}: shapes {Shape(a)} and {Shape(b)} do not broadcast");
                    shape[d] = da == 1 ? db : da;
                }
                return new Node(op, shape, isConstant: false);
            }

            case OpKind.Flatten:
                if (inputs[0].IsConstant) return NotOnConstants();
                return new Node(op, new[] { inputs[0].ElementCount }, isConstant: false);

            case OpKind.Reshape:
            {
                Node x = inputs[0];
                if (x.IsConstant) return NotOnConstants();
                int[] dims = op.Ints.ToArray();
                int inferred = Array.IndexOf(dims, -1);
                if (dims.Length == 0 || dims.Any(d => d == 0 || d < -1) || dims.Count(d => d == -1) > 1)
                    return Mismatch($"Reshape: [{string.Join(", ", dims)}] is not a valid shape (positive dimensions, at most one -1)");
                int known = dims.Where(d => d > 0).Aggregate(1, (p, d) => p * d);
                if (inferred >= 0)
                {
                    if (x.ElementCount % known != 0)
                        return Mismatch($"Reshape: a sample of {Shape(x)} has {x.ElementCount} values, which [{string.Join(", ", dims)}] cannot hold");
                    dims[inferred] = x.ElementCount / known;
                }
                else if (known != x.ElementCount)
                    return Mismatch($"Reshape: a sample of {Shape(x)} has {x.ElementCount} values, but [{string.Join(", ", dims)}] has {known}");
                return new Node(op, dims, isConstant: false);
            }

            default:
                throw new InvalidOperationException($"no shape rule for {op.Kind}");
        }
    }

    /// <summary>An optional tensor (a bias): absent is fine; present but not a float tensor is MC0003.</summary>
    private static SafeTensorEntry? Optional(string name, DslOp op, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics, out bool bad)
    {
        bad = false;
        if (weights.Find(name) is null) return null;
        SafeTensorEntry? entry = Find(name, op, model, weights, diagnostics);
        bad = entry is null;
        return entry;
    }

    private static int DimFromRight(int[] shape, int fromRight) => fromRight < shape.Length ? shape[shape.Length - 1 - fromRight] : 1;

    private static SafeTensorEntry? Find(string name, DslOp op, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics)
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
