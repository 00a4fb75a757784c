using ModelCompiler.Generator.Graph;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Passes;

/// <summary>
/// Folds an inference BatchNorm into the Conv2d or Linear before it, at build time: with
/// <c>s = weight / √(running_var + eps)</c>, the layer's weights become <c>W·s</c> per output channel and its bias
/// <c>(b − running_mean)·s + bias</c> (Shared/WeightLayout.cs computes them). The BatchNorm then computes nothing.
/// Only when the layer's output has no other reader and is float32 (a quantized layer's weights are quantized from
/// the file as they are); a BatchNorm that cannot be folded runs as a per-channel scale and shift.
/// </summary>
internal static class FoldBatchNorm
{
    public static void Run(ModelGraph graph, bool[] live, System.Func<Node, bool> isFloat32)
    {
        var consumers = graph.Consumers();
        foreach (Node node in graph.Nodes)
        {
            if (!live[node.Id] || node.Kind != OpKind.BatchNorm) continue;
            Node layer = graph.Nodes[node.Inputs[0]];
            bool foldable = layer.Kind is OpKind.Conv2d or OpKind.Conv1d || (layer.Kind == OpKind.Linear && layer.Shape.Length == 1);
            if (!foldable || layer.FoldedNorm is not null || !isFloat32(layer)) continue;
            int readers = 0;
            foreach (int c in consumers[layer.Id]) if (live[c]) readers++;
            if (readers != 1) continue;
            layer.FoldedNorm = node.Source.Name;
            layer.FoldedEpsilon = node.Source.Scalar;
            node.Folded = true;
        }
    }
}
