using System.Linq;
using System;
using System.Collections.Generic;
using ModelCompiler.Generator.Diagnostics;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Ops;
using ModelCompiler.Kernels;
using ModelCompiler.Weights;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// Builds the graph IR from the recorded ops and the weights file's header: looks every weight up and infers and checks
/// every shape, with each op's rule from the catalogue (the same rules as the eager <c>Tensor</c> ops), then the limits
/// every tensor must keep. Errors point at the call.
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
        foreach (ModelOutput o in model.Outputs)
        {
            Node output = nodes[o.Op];
            if (!output.IsConstant) continue;
            // Everything Forward returns would be computed from weights alone: the same for every input.
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstruct, output.Source.Location, output.Source.Text,
                o.Name is null ? "Forward must return a value computed from its input, not from weight tensors alone"
                    : $"output '{o.Name}' is computed from weight tensors alone, the same for every input; a compiled model's outputs depend on its inputs"));
            return null;
        }
        return new ModelGraph(nodes, model.Outputs.Select(o => o.Op).ToArray());
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

    /// <summary>The op's rule from the catalogue (Ops/: one file per op family).</summary>
    private static Node? InferShape(RecordedOp op, List<Node> nodes, ModelDeclaration model, SafeTensorsHeader weights, List<DiagnosticInfo> diagnostics) =>
        OpCatalogue.Shape(op.Kind)(new ShapeContext(op, nodes, model, weights, diagnostics));
}
