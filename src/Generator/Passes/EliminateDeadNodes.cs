using ModelCompiler.Generator.Graph;

namespace ModelCompiler.Generator.Passes;

/// <summary>Marks the nodes the output depends on; everything else is not computed.</summary>
internal static class EliminateDeadNodes
{
    public static bool[] Run(ModelGraph graph)
    {
        var live = new bool[graph.Nodes.Count];
        foreach (int output in graph.Outputs) live[output] = true;
        // Inputs always have smaller ids than their users, so one backward sweep finds every live node.
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            if (!live[i]) continue;
            foreach (int input in graph.Nodes[i].Inputs) live[input] = true;
        }
        return live;
    }
}
