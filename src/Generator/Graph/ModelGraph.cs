using System.Collections.Generic;
using System.Linq;

namespace ModelCompiler.Generator.Graph;

/// <summary>A model as the graph IR: nodes in program order (inputs before users) and the node Forward returns.</summary>
internal sealed class ModelGraph
{
    public ModelGraph(List<Node> nodes, int[] outputs)
    {
        Nodes = nodes;
        Outputs = outputs;
    }

    public List<Node> Nodes { get; }

    /// <summary>The nodes the model returns, in order (one node may be returned twice).</summary>
    public int[] Outputs { get; }

    /// <summary>Whether the model is a decoder (<see cref="Model.OpKinds.IsDecoder"/>): looked up once, asked per Linear.</summary>
    public bool IsDecoder => _isDecoder ??= Nodes.Any(n => Model.OpKinds.IsDecoder(n.Kind));

    /// <summary>Tokens a decoder's sequence holds at most: the rows of its learned-position tables (int.MaxValue when it has none).</summary>
    public int PositionLimit => Nodes.Where(n => n.Kind == Model.OpKind.PositionEmbedding && n.Weight is not null).Select(n => n.Weight!.Shape[0]).DefaultIfEmpty(int.MaxValue).Min();
    private bool? _isDecoder;

    /// <summary>The first output.</summary>
    public int Output => Outputs[0];
    public Node OutputNode => Nodes[Output];

    /// <summary>
    /// For each node, the nodes that read it. A model output that other nodes read also lists itself, so that no pass
    /// fuses it into a reader (or folds it away) as if the reader were its only use: its value must be stored.
    /// </summary>
    public List<int>[] Consumers()
    {
        var consumers = new List<int>[Nodes.Count];
        for (int i = 0; i < consumers.Length; i++) consumers[i] = new List<int>();
        foreach (Node node in Nodes)
        {
            foreach (int input in node.Inputs) consumers[input].Add(node.Id);
        }
        foreach (int output in Outputs.Distinct())
            if (consumers[output].Count > 0) consumers[output].Add(output);
        return consumers;
    }

    /// <summary>
    /// For each node, the node whose storage holds its value: views (and nodes folded into the node before them) share
    /// their input's storage; every other node is its own root. Passes key what is stored, and by which kernel, by root.
    /// </summary>
    public int[] StorageRoots()
    {
        var root = new int[Nodes.Count];
        foreach (Node node in Nodes)
            root[node.Id] = Model.OpKinds.IsView(node.Kind) || node.Folded ? root[node.Inputs[0]] : node.Id;
        return root;
    }
}
