using System;
using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Ops;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// Constant folding: an op whose inputs are all weight tensors (or constants folded before it) is computed here, at
/// build time, and its result becomes a weight tensor of its own, embedded like any other; no kernel runs it. Covers
/// what shape inference lets through on constants: the element-wise activations, scalar <c>+</c> and <c>×</c>,
/// broadcasting <c>+</c> and <c>×</c> of two constants, and Dropout. The arithmetic is the eager reference's
/// (<c>ReferenceMath</c> in double, one rounding to float per op), so folded and eager results are the same floats.
/// </summary>
internal static class FoldConstants
{
    public static void Run(ModelGraph graph, bool[] live, Func<string, float[]> readTensor)
    {
        foreach (Node node in graph.Nodes)
        {
            if (!live[node.Id] || !node.IsConstant || node.Kind == OpKind.Parameter) continue;
            float[] x = Values(graph.Nodes[node.Inputs[0]], readTensor);
            node.Values = node.Kind is OpKind.Add or OpKind.Mul
                ? Broadcast(node, graph.Nodes[node.Inputs[0]], x, graph.Nodes[node.Inputs[1]], Values(graph.Nodes[node.Inputs[1]], readTensor))
                : Map(x, ElementwiseOps.Function(node.Source)); // the catalogue's one definition, which calibration uses too
        }
    }

    /// <summary>A constant's values: a weight tensor's, read from the file, or a folded node's.</summary>
    public static float[] Values(Node constant, Func<string, float[]> readTensor) =>
        constant.Kind == OpKind.Parameter ? readTensor(constant.Weight!.Name) : constant.Values!;

    private static float[] Map(float[] x, Func<double, double> f)
    {
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = (float)f(x[i]);
        return y;
    }

    /// <summary>NumPy broadcasting of two constants to <paramref name="node"/>'s shape, in float as the eager Add and Mul.</summary>
    private static float[] Broadcast(Node node, Node a, float[] va, Node b, float[] vb)
    {
        int[] shape = node.Shape;
        int[] sa = ElementwiseOps.BroadcastStrides(a, shape), sb = ElementwiseOps.BroadcastStrides(b, shape);
        var y = new float[node.ElementCount];
        for (int f = 0; f < y.Length; f++)
        {
            int oa = 0, ob = 0, rest = f;
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                int index = rest % shape[d];
                rest /= shape[d];
                oa += index * sa[d + 1];
                ob += index * sb[d + 1];
            }
            y[f] = node.Kind == OpKind.Add ? va[oa] + vb[ob] : va[oa] * vb[ob];
        }
        return y;
    }
}
