using System.Collections.Generic;

namespace ModelCompiler.Generator.Graph;

/// <summary>A model as the graph IR: nodes in program order (inputs before users) and the node Forward returns.</summary>
internal sealed class ModelGraph
{
    public ModelGraph(List<Node> nodes, int output)
    {
        Nodes = nodes;
        Output = output;
    }

    public List<Node> Nodes { get; }
    public int Output { get; }
    public Node OutputNode => Nodes[Output];

    /// <summary>For each node, the nodes that read it.</summary>
    public List<int>[] Consumers()
    {
        var consumers = new List<int>[Nodes.Count];
        for (int i = 0; i < consumers.Length; i++) consumers[i] = new List<int>();
        foreach (Node node in Nodes)
        {
            foreach (int input in node.Inputs) consumers[input].Add(node.Id);
        }
        return consumers;
    }
}
