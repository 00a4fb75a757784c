using System;
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Ops;

/// <summary>Ops that move values without computing: views (Reshape, Flatten, Unsqueeze, Squeeze) and strided copies (Transpose, Permute, Slice, Windows, Concat).</summary>
internal static class LayoutOps
{
    public static void Register(OpCatalogue.Builder catalogue)
    {
        catalogue.Shape(Permutation, OpKind.Transpose, OpKind.Permute);
        catalogue.Shape(Unsqueeze, OpKind.Unsqueeze);
        catalogue.Shape(Squeeze, OpKind.Squeeze);
        catalogue.Shape(Slice, OpKind.Slice);
        catalogue.Shape(Windows, OpKind.Windows);
        catalogue.Shape(Concat, OpKind.Concat);
        catalogue.Shape(Flatten, OpKind.Flatten);
        catalogue.ByName(onnx: false, OpKind.Flatten); // ONNX's has an axis (Import/OnnxImporter.Layout)
        catalogue.Shape(Reshape, OpKind.Reshape);
        catalogue.Evaluate(EvaluateCopy, OpKind.Transpose, OpKind.Permute, OpKind.Slice, OpKind.Windows, OpKind.Concat);
        catalogue.Evaluate(EvaluateView, OpKind.Flatten, OpKind.Reshape, OpKind.Unsqueeze, OpKind.Squeeze);
        catalogue.Lower(c => c.Group.Composed.Count > 0 ? LowerComposed(c) : LowerStrided(c), KernelKind.Strided);
        catalogue.Lower(LowerConcat, KernelKind.Concat);
    }

    /// <summary>Transpose, Permute: resolves the permutation (Node.Resolved).</summary>
    private static Node? Permutation(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        int rank = x.Shape.Length;
        int[] order;
        if (op.Kind == OpKind.Transpose)
        {
            var transpose = (TransposeSettings)op.Settings!;
            int? a = ShapeContext.Axis(transpose.First, rank), b = ShapeContext.Axis(transpose.Second, rank);
            if (a is null || b is null) return c.Mismatch($"Transpose: a sample of {c.Shape(x)} has no dimension {(a is null ? transpose.First : transpose.Second)}");
            order = Enumerable.Range(0, rank).ToArray();
            (order[a.Value], order[b.Value]) = (order[b.Value], order[a.Value]);
        }
        else
        {
            EquatableArray<int> requested = ((PermuteSettings)op.Settings!).Order;
            int?[] axes = requested.Select(d => ShapeContext.Axis(d, rank)).ToArray();
            if (axes.Length != rank || axes.Any(a => a is null) || axes.Distinct().Count() != rank)
                return c.Mismatch($"Permute: [{string.Join(", ", requested)}] is not an order of the {rank} dimensions of a sample of {c.Shape(x)}");
            order = axes.Select(a => a!.Value).ToArray();
        }
        return new Node(op, order.Select(d => x.Shape[d]).ToArray(), isConstant: false) { Resolved = new PermuteSettings(new EquatableArray<int>(order)) };
    }

    /// <summary>Unsqueeze: a new dimension of size 1.</summary>
    private static Node? Unsqueeze(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        int requested = ((AxisSettings)op.Settings!).Axis, rank = x.Shape.Length, d = requested < 0 ? requested + rank + 1 : requested;
        if (d < 0 || d > rank) return c.Mismatch($"Unsqueeze: a sample of {c.Shape(x)} takes a new dimension at 0 to {rank}, not {requested}");
        var shape = new List<int>(x.Shape);
        shape.Insert(d, 1);
        return new Node(op, shape.ToArray(), isConstant: false);
    }

    /// <summary>Squeeze: removes a dimension of size 1.</summary>
    private static Node? Squeeze(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        int requested = ((AxisSettings)op.Settings!).Axis;
        int? axis = ShapeContext.Axis(requested, x.Shape.Length);
        if (axis is null || x.Shape[axis.Value] != 1)
            return c.Mismatch($"Squeeze: dimension {requested} of a sample of {c.Shape(x)} {(axis is null ? "does not exist" : $"has size {x.Shape[axis.Value]}, not 1")}");
        return new Node(op, x.Shape.Where((_, i) => i != axis.Value).ToArray(), isConstant: false);
    }

    /// <summary>Slice (and each part of Split): resolves the dimension and the bounds (Node.Resolved).</summary>
    private static Node? Slice(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        var slice = (SliceSettings)op.Settings!;
        int? axis = ShapeContext.Axis(slice.Axis, x.Shape.Length);
        if (axis is null) return c.Mismatch($"{(slice.Origin == SliceOrigin.Split ? "Split" : "Slice")}: a sample of {c.Shape(x)} has no dimension {slice.Axis}");
        int size = x.Shape[axis.Value], start = slice.Start < 0 ? slice.Start + size : slice.Start, end = slice.End < 0 ? slice.End + size : slice.End;
        if (slice.Origin == SliceOrigin.Clamped)
        {
            // ONNX Slice: bounds past either end are clamped to the dimension.
            start = Math.Max(0, Math.Min(start, size));
            end = Math.Max(0, Math.Min(end, size));
        }
        if (slice.Origin == SliceOrigin.Split && slice.SplitTotal != size)
            return c.Mismatch($"Split: the sizes add up to {slice.SplitTotal}, but dimension {slice.Axis} of {c.Shape(x)} has {size}");
        if (start < 0 || end > size || start >= end)
            return c.Mismatch($"Slice: [{slice.Start}, {slice.End}) is not a non-empty range of dimension {slice.Axis} of {c.Shape(x)}");
        int[] shape = (int[])x.Shape.Clone();
        shape[axis.Value] = end - start;
        return new Node(op, shape, isConstant: false) { Resolved = slice with { Axis = axis.Value, Start = start, End = end } };
    }

    /// <summary>
    /// Windows: <c>[…, C, S₁…Sₛ]</c> → <c>[…, O₁…Oₛ, C, K₁…Kₛ]</c>, <c>O = (S − dilation·(K − 1) − 1) / stride + 1</c>; every
    /// window lies inside the input (padding is an op before it), and the copy is bounded like any other value.
    /// </summary>
    private static Node? Windows(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node x = c.Inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        var windows = (WindowsSettings)op.Settings!;
        int spatial = windows.Kernel.Count, lead = x.Shape.Length - 1 - spatial;
        if (spatial == 0 || lead < 0 || windows.Strides.Count != spatial || windows.Dilations.Count != spatial)
            return c.Mismatch($"Windows: {spatial}-D windows need a sample of [C, {spatial} sizes], not {c.Shape(x)}");
        var shape = new List<int>(x.Shape.Take(lead));
        var taps = new List<int>();
        for (int i = 0; i < spatial; i++)
        {
            int size = x.Shape[lead + 1 + i], k = windows.Kernel[i], stride = windows.Strides[i], dilation = windows.Dilations[i];
            long reach = (long)dilation * (k - 1) + 1;
            if (k < 1 || stride < 1 || dilation < 1 || reach > size)
                return c.Mismatch($"Windows: a window of {k} taps, dilation {dilation}, does not fit axis {lead + 1 + i} of {c.Shape(x)}");
            shape.Add((int)((size - reach) / stride + 1));
            taps.Add(k);
        }
        shape.Add(x.Shape[lead]);
        shape.AddRange(taps);
        if (SizeMath.Product(shape) > int.MaxValue)
            return c.Mismatch($"Windows: the windows of {c.Shape(x)} would hold more than {int.MaxValue} values");
        return new Node(op, shape.ToArray(), isConstant: false);
    }

    /// <summary>Concat of two values along one dimension.</summary>
    private static Node? Concat(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node a = inputs[0], b = inputs[1];
        if (a.IsConstant || b.IsConstant) return c.NotOnConstants();
        int requested = ((AxisSettings)op.Settings!).Axis;
        int? axis = ShapeContext.Axis(requested, a.Shape.Length);
        if (axis is null) return c.Mismatch($"Concat: a sample of {c.Shape(a)} has no dimension {requested}");
        if (b.Shape.Length != a.Shape.Length || Enumerable.Range(0, a.Shape.Length).Any(d => d != axis && a.Shape[d] != b.Shape[d]))
            return c.Mismatch($"Concat: {c.Shape(a)} and {c.Shape(b)} differ outside dimension {requested}");
        int[] shape = (int[])a.Shape.Clone();
        shape[axis.Value] += b.Shape[axis.Value];
        return new Node(op, shape, isConstant: false) { Resolved = new AxisSettings(axis.Value) };
    }

    /// <summary>Flatten: one dimension per sample.</summary>
    private static Node? Flatten(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        if (inputs[0].IsConstant) return c.NotOnConstants();
        return new Node(op, new[] { inputs[0].ElementCount }, isConstant: false);
    }

    /// <summary>Reshape: the per-sample dimensions, one of them -1 at most.</summary>
    private static Node? Reshape(ShapeContext c)
    {
        RecordedOp op = c.Op;
        Node[] inputs = c.Inputs;
        Node x = inputs[0];
        if (x.IsConstant) return c.NotOnConstants();
        int[] dims = ((ReshapeSettings)op.Settings!).Dimensions.ToArray();
        int inferred = Array.IndexOf(dims, -1);
        if (dims.Length == 0 || dims.Any(d => d == 0 || d < -1) || dims.Count(d => d == -1) > 1)
            return c.Mismatch($"Reshape: [{string.Join(", ", dims)}] is not a valid shape (positive dimensions, at most one -1)");
        long known = SizeMath.Product(dims.Where(d => d > 0));
        if (inferred >= 0)
        {
            if (x.ElementCount % known != 0)
                return c.Mismatch($"Reshape: a sample of {c.Shape(x)} has {x.ElementCount} values, which [{string.Join(", ", dims)}] cannot hold");
            dims[inferred] = (int)(x.ElementCount / known);
        }
        else if (known != x.ElementCount)
            return c.Mismatch($"Reshape: a sample of {c.Shape(x)} has {x.ElementCount} values, but [{string.Join(", ", dims)}] has {known}");
        return new Node(op, dims, isConstant: false);
    }

    /// <summary>Transpose, Permute, Slice, Windows, Concat: the compiled plan's own strides, through ReferenceOps.StridedCopy.</summary>
    private static double[] EvaluateCopy(EvaluationContext context)
    {
        int[] inputsOf = context.Node.Inputs;
        double[] x = context.X;
        int samples = context.Samples;
        double[][] values = context.Values;
        // The compiled plan's own strides (per sample first), run over the calibration samples.
        Node a = context.Graph.Nodes[inputsOf[0]];
        int[] inStrides = ReferenceOps.DenseStrides(a.Shape), outStrides = ReferenceOps.DenseStrides(context.Node.Shape);
        var y = new float[samples * context.Node.ElementCount];
        int[] Full(int sample, int[] strides) => new[] { sample }.Concat(strides).ToArray();
        int[] shape = new[] { samples }.Concat(context.Node.Kind == OpKind.Concat ? a.Shape : context.Node.Shape).ToArray();
        if (context.Node.Kind == OpKind.Windows)
        {
            LayoutView view = LayoutView.Dense(a.Shape).Then(context.Node)!;
            ReferenceOps.StridedCopy(EvaluationContext.Floats(x), view.Offset, Full(a.ElementCount, view.Strides), y, 0, Full(context.Node.ElementCount, outStrides), shape);
        }
        else if (context.Node.Kind == OpKind.Slice)
            ReferenceOps.StridedCopy(EvaluationContext.Floats(x), ((SliceSettings)context.Node.Resolved!).Start * inStrides[((SliceSettings)context.Node.Resolved).Axis], Full(a.ElementCount, inStrides), y, 0, Full(context.Node.ElementCount, outStrides), shape);
        else if (context.Node.Kind == OpKind.Concat)
        {
            Node b = context.Graph.Nodes[inputsOf[1]];
            int axis = ((AxisSettings)context.Node.Resolved!).Axis;
            ReferenceOps.StridedCopy(EvaluationContext.Floats(x), 0, Full(a.ElementCount, inStrides), y, 0, Full(context.Node.ElementCount, outStrides), shape);
            ReferenceOps.StridedCopy(EvaluationContext.Floats(values[b.Id]), 0, Full(b.ElementCount, ReferenceOps.DenseStrides(b.Shape)), y, a.Shape[axis] * outStrides[axis],
                Full(context.Node.ElementCount, outStrides), new[] { samples }.Concat(b.Shape).ToArray());
        }
        else
            ReferenceOps.StridedCopy(EvaluationContext.Floats(x), 0, Full(a.ElementCount, ((PermuteSettings)context.Node.Resolved!).Order.Select(d => inStrides[d]).ToArray()), y, 0, Full(context.Node.ElementCount, outStrides), shape);
        return EvaluationContext.Doubles(y);
    }

    /// <summary>Views: the same values.</summary>
    private static double[] EvaluateView(EvaluationContext context)
    {
        return context.X;
    }

    /// <summary>Several layout ops composed into one strided copy from the original value (LayoutView).</summary>
    private static KernelPlan LowerComposed(LoweringContext context)
    {
        // Several layout ops composed into one copy straight from the original value (ComposeLayout).
        Node origin = context.Graph.Nodes[context.Group.Composed[0].Inputs[0]];
        LayoutView view = LayoutView.Compose(context.Graph, context.Group.Composed, context.Root)!;
        int[] shape = context.Root.Shape;
        Operand source = context.Where(origin);
        source = source with { Offset = source.Offset + view.Offset, RowOffset = source.RowOffset + view.Offset };
        string steps = string.Join(", then ", context.Group.Composed.Concat(new[] { context.Root }).Where(n => !OpKinds.IsView(n.Kind)).Select(n => n.Kind.ToString()));
        (int[] walked, int[] from, int[] to) = LoweringContext.Collapse(shape, new[] { origin.ElementCount }.Concat(view.Strides).ToArray(),
            new[] { context.Root.ElementCount }.Concat(LoweringContext.DenseStrides(context.Root)).ToArray());
        var copy = new StridedOp(new EquatableArray<int>(walked), new EquatableArray<int>(from), new EquatableArray<int>(to));
        return new KernelPlan(context.Index, $"{steps}: {Node.Format(origin.Shape)} → {Node.Format(shape)}, composed into one strided copy",
            context.Sources.ToEquatableArray(), source, null, context.Output, copy, EquatableArray<EpilogueStep>.Empty, 0);
    }

    /// <summary>Transpose, Permute, Slice, Windows: one strided copy into a dense output.</summary>
    private static KernelPlan LowerStrided(LoweringContext context)
    {
        // Transpose, Permute, Slice: one strided copy; the output is dense.
        int[] sourceStrides = LoweringContext.DenseStrides(context.Input), shape = context.Root.Shape;
        int[] strides = new int[shape.Length + 1];
        strides[0] = context.Input.ElementCount;
        Operand source = context.Where(context.Input);
        string what;
        if (context.Root.Kind == OpKind.Slice)
        {
            (int axis, int start, int end, _, _) = (SliceSettings)context.Root.Resolved!;
            for (int d = 0; d < shape.Length; d++) strides[d + 1] = sourceStrides[d];
            source = source with { Offset = source.Offset + start * sourceStrides[axis], RowOffset = source.RowOffset + start * sourceStrides[axis] };
            what = $"Slice [{start}, {end}) of dimension {axis}";
        }
        else if (context.Root.Kind == OpKind.Windows)
        {
            LayoutView view = LayoutView.Dense(context.Input.Shape).Then(context.Root)!;
            for (int d = 0; d < shape.Length; d++) strides[d + 1] = view.Strides[d];
            source = source with { Offset = source.Offset + view.Offset, RowOffset = source.RowOffset + view.Offset };
            var settings = (WindowsSettings)context.Root.Source.Settings!;
            what = $"Windows {string.Join("×", settings.Kernel)}{(settings.Flipped ? " (flipped)" : "")}, strides {string.Join("×", settings.Strides)}, dilations {string.Join("×", settings.Dilations)} (im2col)";
        }
        else
        {
            EquatableArray<int> order = ((PermuteSettings)context.Root.Resolved!).Order;
            for (int d = 0; d < shape.Length; d++) strides[d + 1] = sourceStrides[order[d]];
            what = $"{context.Root.Kind} ({string.Join(", ", order)})";
        }
        (int[] walked, int[] from, int[] to) = LoweringContext.Collapse(shape, strides,
            new[] { context.Root.ElementCount }.Concat(LoweringContext.DenseStrides(context.Root)).ToArray());
        var copy = new StridedOp(new EquatableArray<int>(walked), new EquatableArray<int>(from), new EquatableArray<int>(to));
        return new KernelPlan(context.Index, $"{what}: {Node.Format(context.Input.Shape)} → {Node.Format(shape)}, a strided copy",
            context.Sources.ToEquatableArray(), source, null, context.Output, copy, EquatableArray<EpilogueStep>.Empty, 0);
    }

    /// <summary>Concat: two strided copies into one output.</summary>
    private static KernelPlan LowerConcat(LoweringContext context)
    {
        Node a = context.Input, b = context.Graph.Nodes[context.Root.Inputs[1]];
        int axis = ((AxisSettings)context.Root.Resolved!).Axis;
        int[] outStrides = LoweringContext.DenseStrides(context.Root);
        int[] Strides(Node n) => new[] { n.ElementCount }.Concat(LoweringContext.DenseStrides(n)).ToArray();
        var concat = new ConcatOp(new EquatableArray<int>(a.Shape), new EquatableArray<int>(Strides(a)), new EquatableArray<int>(b.Shape),
            new EquatableArray<int>(Strides(b)), new EquatableArray<int>(new[] { context.Root.ElementCount }.Concat(outStrides).ToArray()), a.Shape[axis] * outStrides[axis]);
        return new KernelPlan(context.Index, $"Concat along dimension {axis}: {Node.Format(a.Shape)} and {Node.Format(b.Shape)} → {Node.Format(context.Root.Shape)}",
            context.Sources.ToEquatableArray(), context.Where(a), context.Where(b), context.Output, concat, EquatableArray<EpilogueStep>.Empty, 0);
    }
}
